"""The durable package's pure parts: the scaled clock, what a replay skipped and ran, Lab(time_scale=) checks."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

import lambdalab
from lambdalab.durable.clock import ScaledClock, caption, check_time_scale
from lambdalab.durable.replays import ReplayLog
from lambdalab.errors import ConfigError


def test_scaled_clock_runs_faster_and_arms_in_real_seconds() -> None:
    clock = ScaledClock(3600)
    start = clock.now()
    assert clock.arm(start + datetime.timedelta(hours=2)) == pytest.approx(2.0, abs=0.05)
    assert clock.arm(start - datetime.timedelta(seconds=1)) == 0.0
    assert clock.real_seconds(86_400) == 24.0
    real = ScaledClock(1)
    assert abs((real.now() - datetime.datetime.now(datetime.UTC)).total_seconds()) < 0.5


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "10"])
def test_time_scale_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(ConfigError, match="time_scale"):
        check_time_scale(bad)
    with pytest.raises(ConfigError, match="time_scale"):
        lambdalab.Lab(time_scale=bad)  # type: ignore[arg-type]


def test_caption_says_when_the_clock_is_virtual() -> None:
    assert caption(1) == ""
    assert "60× faster" in caption(60) and "Lab(time_scale=60)" in caption(60)


def _op(op_id: str, name: str, status: str, kind: str = "STEP") -> SimpleNamespace:
    return SimpleNamespace(
        operation_id=op_id,
        name=name,
        operation_type=SimpleNamespace(value=kind),
        sub_type=None,
        status=SimpleNamespace(value=status),
        parent_id=None,
    )


def test_a_replay_skips_what_had_completed_and_runs_what_changed() -> None:
    log = ReplayLog()
    now = datetime.datetime.now(datetime.UTC)
    record = SimpleNamespace(
        request_id="r2", environment_id="e", cold=False, start=1.0, end=2.0, duration_ms=5.0, billed_duration_ms=5
    )
    before = [
        _op("x", "run", "STARTED", "EXECUTION"),
        _op("a", "validate", "SUCCEEDED"),
        _op("w", "hold", "SUCCEEDED", "WAIT"),
    ]
    log.starting("arn", before)
    after = [*before, _op("b", "price", "SUCCEEDED")]
    replay = log.finished("arn", record, "SUCCEEDED", after, (now, now))
    assert [v[1] for v in replay.skipped] == ["validate", "hold"]  # the EXECUTION operation is the execution itself
    assert [v[1] for v in replay.ran] == ["price"]
    assert replay.replay == 1 and log.count("arn") == 1 and log.of("arn") == [replay]


def _history(operations: list[str], n_replays: int, caption: str) -> object:
    import pandas as pd

    from lambdalab.durable.tables import replay_rows

    record = SimpleNamespace(request_id="r", environment_id="e", cold=True, start=1.0, end=1.2, duration_ms=200.0,
                             billed_duration_ms=200)  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    replays = []
    log = ReplayLog()
    for n in range(n_replays):
        done = [_op(str(i), name, "SUCCEEDED") for i, name in enumerate(operations[: n + 1])]
        log.starting("arn", done[:-1])
        replays.append(log.finished("arn", record, "PENDING", done, (now, now)))
    frame = pd.DataFrame()
    frame.attrs.update(
        function="order-workflow",
        execution_name="0f8fad5b-d9cb-469f-a165-70867728950e",
        status="SUCCEEDED",
        replays=replay_rows(replays),
        caption=caption,
    )
    return frame


@pytest.mark.parametrize(
    ("operations", "n_replays"),
    [(["validate", "cool-off", "price"], 2), (["a-very-long-step-name"] + [f"square-{i}" for i in range(12)], 13)],
)
def test_replays_chart_gives_title_subplot_titles_and_legend_their_own_bands(operations: list, n_replays: int) -> None:
    """Layout arithmetic (kaleido is not installed to render it): from the figure's top, plotly's toolbar (30 px),
    the title and its subtitle lines, the subplot titles on the plot area's top edge; the legend at the foot, under
    the x axes' labels; nothing overlaps."""
    pytest.importorskip("plotly")
    from lambdalab.viz.durable import replays

    fig = replays(_history(operations, n_replays, caption(10)))
    layout = fig.layout
    height, top, bottom = layout.height, layout.margin.t, layout.margin.b
    title = layout.title
    assert title.yref == "container" and title.y == 1 and title.yanchor == "top"
    assert title.pad.t >= 30  # the title starts under the toolbar, however long it is
    subtitle_lines = title.subtitle.text.count("<br>") + 1
    assert "10× faster" in title.subtitle.text and "0f8fad5b" in title.subtitle.text
    title_bottom = title.pad.t + 1.3 * title.font.size + subtitle_lines * 1.3 * title.subtitle.font.size
    subplot_titles = [a for a in layout.annotations if a.yref == "paper" and a.y == 1]
    assert len(subplot_titles) == 2 and all(a.yanchor == "bottom" for a in subplot_titles)
    assert top - 1.3 * subplot_titles[0].font.size >= title_bottom  # the subplot titles under the title's lines
    legend = layout.legend
    assert legend.yref == "container" and legend.y == 0 and legend.yanchor == "bottom"  # at the foot, not on top
    entries = [t.name for t in fig.data]
    legend_px = 24 * (1 + sum(40 + 7.2 * len(name) for name in entries) // 680)
    shown = fig.layout.xaxis2.categoryarray
    tick_px = 50 if not fig.layout.xaxis2.tickangle else 22 + 7.2 * 0.71 * max(map(len, shown))
    assert bottom >= tick_px + legend_px  # the axes' labels, then the legend, inside the foot
    assert height - top - bottom >= 45 * min(n_replays, 2)  # the replays keep their rows
