"""Charts: asserted on fig.to_dict() for small hand-made spans/invocations tables."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

import lambdalab
from lambdalab import viz
from lambdalab.viz import COLD_WARM_COLOURS, PHASE_COLOURS, RESTORED_COLOUR, THROTTLE_COLOUR, TIMELINE_ORDER

T0 = 1_800_000_000.0


def arr(value) -> np.ndarray:
    """A to_dict() array: plotly sends numpy arrays as {"dtype", "bdata"[, "shape"]}."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            out = out.reshape([int(n) for n in str(value["shape"]).split(",")])
        return out
    return np.asarray(value if value is not None else [], dtype=float)


def by_name(fig) -> dict[str, dict]:
    return {t["name"]: t for t in fig.to_dict()["data"]}


def spans_table() -> pd.DataFrame:
    """Three environments: A is reused (frozen between invokes), B scales out, C has freeze=False (idle)."""
    rows = [
        ("A", "init", 0.00, 0.08, None),
        ("A", "invoke", 0.08, 0.10, "r1"),
        ("A", "frozen", 0.10, 0.50, None),
        ("A", "invoke", 0.50, 0.52, "r3"),
        ("A", "frozen", 0.52, 1.00, None),
        ("A", "shutdown", 1.00, 1.01, None),
        ("B", "init", 0.05, 0.14, None),
        ("B", "invoke", 0.14, 0.16, "r2"),
        ("B", "frozen", 0.16, 1.00, None),
        ("C", "init", 0.60, 0.66, None),
        ("C", "invoke", 0.66, 0.70, "r4"),
        ("C", "idle", 0.70, 0.90, None),
        ("C", "invoke", 0.90, 0.91, "r5"),
    ]
    df = pd.DataFrame(rows, columns=["environment_id", "phase", "start", "end", "request_id"])
    df["environment_id"] = df["environment_id"].map(lambda e: e * 32)
    df.insert(1, "function", "f")
    df.insert(2, "version", "$LATEST")
    df["start"] += T0
    df["end"] += T0
    df["duration_ms"] = (df["end"] - df["start"]) * 1000
    return df.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)


def invocations_table() -> pd.DataFrame:
    rows = [  # request, env, cold, init_ms, submitted, start, end, suppressed
        ("r1", "A", True, 80.0, 0.00, 0.08, 0.10, False),
        ("r2", "B", True, 90.0, 0.05, 0.14, 0.16, False),
        ("r3", "A", False, None, 0.50, 0.50, 0.52, False),
        ("r4", "C", True, 60.0, 0.60, 0.66, 0.70, True),
        ("r5", "C", False, None, 0.90, 0.90, 0.91, False),
    ]
    df = pd.DataFrame(
        rows,
        columns=[
            "request_id",
            "environment_id",
            "cold",
            "init_duration_ms",
            "submitted",
            "start",
            "end",
            "init_suppressed",
        ],
    )
    df["environment_id"] = df["environment_id"].map(lambda e: e * 32)
    for column in ("submitted", "start", "end"):
        df[column] += T0
    df["latency_ms"] = (df["end"] - df["submitted"]) * 1000
    df["status"] = "success"
    return df


def with_throttles(df: pd.DataFrame) -> pd.DataFrame:
    """Add two throttled rows, as lambdalab.load reports them (no record, scheduled_at set)."""
    df = df.copy()
    df["scheduled_at"] = df["submitted"]
    df["throttled"] = False
    extra = pd.DataFrame(
        {
            "request_id": [None, None],
            "environment_id": [None, None],
            "cold": [None, None],
            "scheduled_at": [T0 + 0.3, T0 + 0.31],
            "throttled": [True, True],
            "latency_ms": [0.2, 0.3],
            "error_type": ["TooManyRequestsException"] * 2,
        }
    )
    out = pd.concat([df, extra], ignore_index=True)
    out["cold"] = out["cold"].astype("boolean")
    return out


def test_timeline_has_one_row_per_environment_and_a_coloured_segment_per_span():
    spans = spans_table()
    fig = viz.timeline(spans)
    d = fig.to_dict()
    traces = by_name(fig)
    assert sorted(traces, key=lambda p: traces[p]["legendrank"]) == list(TIMELINE_ORDER)  # one per phase, in order
    rows = set()
    for phase, trace in traces.items():
        assert trace["line"]["color"] == PHASE_COLOURS[phase]
        x, y = arr(trace["x"]), arr(trace["y"])
        mine = spans[spans["phase"] == phase]
        assert len(x) == 3 * len(mine)  # start, end, gap per span
        assert np.isnan(x[2::3]).all() and (y[0::3] == y[1::3]).all()
        assert x[0::3] == pytest.approx((mine["start"] - T0).to_numpy())
        assert x[1::3] == pytest.approx((mine["end"] - T0).to_numpy())
        rows |= set(y[0::3].tolist())
    assert rows == {0.0, 1.0, 2.0}
    assert d["layout"]["yaxis"]["ticktext"] == ["A" * 8, "B" * 8, "C" * 8]  # by first start
    env_of_row = dict(zip(d["layout"]["yaxis"]["tickvals"], d["layout"]["yaxis"]["ticktext"], strict=True))
    for phase, trace in traces.items():  # each segment sits on its own environment's row
        mine = spans[spans["phase"] == phase]
        assert [env_of_row[int(r)] for r in arr(trace["y"])[0::3]] == [e[:8] for e in mine["environment_id"]]
    assert d["layout"]["meta"] == {"lambdalab": "timeline", "origin": T0}


def test_latency_over_time_separates_cold_and_warm():
    inv = with_throttles(invocations_table())
    traces = by_name(viz.latency_over_time(inv))
    assert list(traces) == ["cold", "warm", "restored", "throttled"]
    assert traces["restored"]["marker"]["color"] == RESTORED_COLOUR and not traces["restored"]["showlegend"]
    assert traces["cold"]["marker"]["color"] == COLD_WARM_COLOURS["cold"]
    assert traces["warm"]["marker"]["color"] == COLD_WARM_COLOURS["warm"]
    assert traces["throttled"]["marker"]["color"] == THROTTLE_COLOUR
    assert arr(traces["cold"]["y"]) == pytest.approx([100.0, 110.0, 100.0], abs=1e-3)
    assert arr(traces["warm"]["y"]) == pytest.approx([20.0, 10.0], abs=1e-3)
    assert arr(traces["warm"]["x"]) == pytest.approx([0.5, 0.9])
    assert arr(traces["throttled"]["x"]) == pytest.approx([0.3, 0.31])


def test_latency_histogram_counts_every_request_once():
    inv = invocations_table()
    traces = viz.latency_histogram(inv, bins=10).to_dict()["data"]
    assert [t["marker"]["color"] for t in traces] == [
        COLD_WARM_COLOURS["cold"],
        COLD_WARM_COLOURS["warm"],
        RESTORED_COLOUR,
    ]
    assert [int(arr(t["y"]).sum()) for t in traces] == [3, 2, 0]
    linear = viz.latency_histogram(inv, log_x=False).to_dict()["data"]
    assert [int(arr(t["y"]).sum()) for t in linear] == [3, 2, 0]


def test_concurrency_steps_and_throttles():
    spans, inv = spans_table(), with_throttles(invocations_table())
    traces = by_name(viz.concurrency(spans, inv))
    assert list(traces) == ["busy: init", "busy: invoke", "frozen", "idle", "throttled"]  # stacked, bottom up
    assert {t.get("stackgroup") for t in traces.values()} == {"environments"}  # one axis, no y2
    x = arr(traces["frozen"]["x"])
    assert x[:3] == pytest.approx([0.0, 0.1, 0.2]) and traces["frozen"]["line"]["shape"] == "hv"  # 100 ms bins
    init = arr(traces["busy: init"]["y"])
    assert init[0] == pytest.approx(1.3)  # A's init 80 ms + B's 50 ms of the first 100 ms
    assert arr(traces["frozen"]["y"]).max() == pytest.approx(2.0)  # A and B frozen through 0.2-0.5 s
    assert arr(traces["idle"]["y"])[7] == pytest.approx(1.0)  # C idle 0.7-0.9 s
    throttled = arr(traces["throttled"]["y"])
    assert throttled[:-1].sum() == 2 and throttled[2:4].sum() == 2  # 2 throttles at 0.30 and 0.31 s
    assert traces["throttled"]["line"]["color"] == THROTTLE_COLOUR
    assert traces["busy: invoke"]["line"]["color"] == PHASE_COLOURS["invoke"]
    # long runs: wider bins (a 1-2-5 step), never more than max_bins
    binned = by_name(viz.concurrency(spans, max_bins=4))
    assert len(arr(binned["frozen"]["x"])) <= 5 and arr(binned["frozen"]["x"])[1] == pytest.approx(0.5)


def test_reuse_counts_invocations_per_environment():
    traces = by_name(viz.reuse(invocations_table()))
    assert list(traces) == ["cold", "restored", "warm"]
    assert arr(traces["cold"]["y"]).tolist() == [1, 1, 1] and arr(traces["warm"]["y"]).tolist() == [1, 0, 1]
    assert arr(traces["restored"]["y"]).tolist() == [0, 0, 0] and not traces["restored"]["showlegend"]
    assert traces["warm"]["marker"]["color"] == COLD_WARM_COLOURS["warm"]


def test_init_durations_one_point_per_cold_start():
    traces = viz.init_durations(with_throttles(invocations_table())).to_dict()["data"]
    assert arr(traces[0]["y"]).tolist() == [80.0, 90.0] and arr(traces[1]["y"]).tolist() == [60.0]
    assert all(t["marker"]["color"] == PHASE_COLOURS["init"] for t in traces)


@pytest.mark.parametrize("kind", list(viz.KINDS))
def test_every_chart_draws_empty_tables(kind):
    spans = spans_table().iloc[0:0]
    inv = invocations_table().iloc[0:0]
    fig = viz.figure(kind, spans=spans, invocations=inv)
    assert len(fig.to_dict()["data"]) == len(
        viz.figure(kind, spans=spans_table(), invocations=invocations_table()).data
    )


@pytest.mark.parametrize("kind", list(viz.KINDS))
def test_update_in_place_equals_a_fresh_figure(kind):
    spans, inv = spans_table(), with_throttles(invocations_table())
    fig = viz.figure(kind, spans=spans.iloc[:4], invocations=inv.iloc[:2], origin=T0)
    traces_before = list(fig.data)
    same = viz.update(fig, kind, spans=spans, invocations=inv)
    assert same is fig and all(a is b for a, b in zip(fig.data, traces_before, strict=True))  # updated, not replaced
    fresh = viz.figure(kind, spans=spans, invocations=inv, origin=T0)
    for got, want in zip(fig.to_dict()["data"], fresh.to_dict()["data"], strict=True):
        for key in ("x", "y"):
            assert arr(got.get(key)) == pytest.approx(arr(want.get(key)), nan_ok=True)
    assert fig.layout.meta["lambdalab"] == kind


def test_update_uses_batch_update_and_keeps_the_origin(monkeypatch):
    import plotly.graph_objects as go

    calls = []
    original = go.Figure.batch_update

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(go.Figure, "batch_update", counting)
    spans = spans_table()
    fig = viz.timeline(spans.iloc[4:])
    origin = fig.layout.meta["origin"]
    viz.update(fig, "timeline", spans=spans)  # earlier spans arrive: the origin stays put
    assert calls and fig.layout.meta["origin"] == origin  # plotly nests its own batch_update calls inside
    assert arr(by_name(fig)["init"]["x"])[0] == pytest.approx(T0 - origin)
    with pytest.raises(lambdalab.ConfigError):
        viz.update(fig, "reuse", invocations=invocations_table())
    with pytest.raises(lambdalab.ConfigError):
        viz.figure("nope")


def test_update_a_figure_widget():
    import plotly.graph_objects as go

    widget = viz.figure("latency_over_time", invocations=invocations_table().iloc[:1], widget=True)
    assert isinstance(widget, go.FigureWidget)
    viz.update(widget, invocations=invocations_table())  # kind from the figure's meta
    assert len(widget.data[0].x) == 3 and len(widget.data[1].x) == 2


def test_write_html(tmp_path):
    path = viz.write_html(
        [viz.timeline(spans_table()), viz.reuse(invocations_table())], tmp_path / "c.html", include_plotlyjs="cdn"
    )
    text = path.read_text()
    assert text.count("Plotly.newPlot") == 2 and "Execution environments" in text


def test_window_keeps_the_last_seconds_and_the_origin():
    spans = spans_table()
    fig = viz.timeline(spans, window_s=0.2)  # data ends at 1.01: spans ending at or after 0.81
    kept = spans[spans["end"] >= T0 + 1.01 - 0.2]
    assert sum(len(arr(t["x"])) // 3 for t in fig.to_dict()["data"]) == len(kept)
    assert fig.layout.meta["origin"] == T0
    traces = by_name(viz.latency_over_time(invocations_table(), window_s=0.35))
    assert len(arr(traces["cold"]["x"])) == 1 and len(arr(traces["warm"]["x"])) == 1


def test_timeline_drops_hover_durations_above_the_limit():
    fig = viz.timeline(spans_table(), hover_limit=5)
    assert all("customdata" not in t for t in fig.to_dict()["data"])


def test_reuse_with_many_environments_draws_webgl_segments():
    traces = by_name(viz.reuse(invocations_table(), bar_limit=2))
    assert {t["type"] for t in traces.values()} == {"scattergl"}
    cold_y, warm_y = arr(traces["cold"]["y"]), arr(traces["warm"]["y"])
    assert (cold_y[1::3] - cold_y[0::3]).tolist() == [1, 1, 1]
    assert (warm_y[1::3] - warm_y[0::3]).tolist() == [1, 0, 1] and warm_y[0::3].tolist() == [1, 1, 1]
    assert arr(traces["cold"]["x"])[0::3].tolist() == [1, 2, 3]


def test_large_timelines_merge_segments_closer_than_a_pixel():
    spans = spans_table()
    # A's two frozen spans are 0.02 s apart: merged at a resolution coarser than that, kept apart otherwise
    merged = by_name(viz.timeline(spans, merge_above=0, resolution=10))  # gap = 1.01 s / 10
    x = arr(merged["frozen"]["x"])
    assert len(x) // 3 == 2  # A: one merged frozen segment, B: its own
    assert x[0:2] == pytest.approx([0.10, 1.00])
    kept = by_name(viz.timeline(spans, merge_above=0, resolution=1000))
    assert len(arr(kept["frozen"]["x"])) // 3 == 3
