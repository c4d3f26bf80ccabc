"""Charts people would rather look at: readable log ticks, throttles as their own marks, binned
concurrency, cold starts over time, cascades, one time range for a panel's charts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lambdalab import viz
from lambdalab.viz import axes
from lambdalab.viz.colours import COLD_COLOUR, THROTTLE_COLOUR, WARM_COLOUR
from lambdalab.viz.rates import Cascade, explain_cascade, find_cascades
from tests.viz.test_viz_figures import T0, arr, by_name, invocations_table, spans_table, with_throttles


def test_log_ticks_are_1_2_5_with_units():
    ticks = axes.log_ticks(0.8, 60.0)
    assert ticks == [1, 2, 5, 10, 20, 50]
    assert [axes.ms_text(t) for t in ticks] == ["1 ms", "2 ms", "5 ms", "10 ms", "20 ms", "50 ms"]
    assert [axes.ms_text(v) for v in (0.5, 0.02, 1000, 2000, 1500)] == ["500 µs", "20 µs", "1 s", "2 s", "1.5 s"]
    assert axes.log_ticks(0.01, 100_000) == [0.01, 0.1, 1, 10, 100, 1000, 10_000, 100_000]  # decades only
    assert axes.log_ticks(300, 900) == [300, 400, 500, 600, 700, 800, 900]  # 1-2-5 would leave one
    assert axes.log_ticks(3.1, 3.4) == []  # too narrow for round ticks: plotly's own, with " ms"
    assert viz.latency_over_time(invocations_table().iloc[[3]]).layout.yaxis.ticksuffix == " ms"
    assert axes.log_ticks(0, 10) == []


def test_nice_steps_and_bins():
    assert [axes.nice_step(w) for w in (0.13, 0.6, 1.0, 3, 0.07)] == [0.2, 1, 1, 5, 0.1]
    edges = axes.bins(0.0, 1.0, 0.1, 600)
    assert edges[0] == 0 and edges[-1] >= 1.0 and len(edges) == 11  # ten bins: 1.0 closes the last one
    wide = axes.bins(0.0, 100.0, 0.1, 100)
    assert wide[1] - wide[0] == pytest.approx(1.0) and len(wide) - 1 <= 101


def test_latency_axis_reads_in_ms_and_throttles_are_not_latencies():
    fig = viz.latency_over_time(with_throttles(invocations_table()))
    layout = fig.to_dict()["layout"]
    assert layout["yaxis"]["type"] == "log"
    assert layout["yaxis"]["ticktext"] == ["10 ms", "20 ms", "50 ms", "100 ms"]  # the data: 10-110 ms
    traces = by_name(fig)
    assert traces["cold"]["marker"]["color"] == COLD_COLOUR and traces["warm"]["marker"]["color"] == WARM_COLOUR
    throttled = traces["throttled"]
    assert throttled["yaxis"] == "y2" and set(arr(throttled["y"]).tolist()) == {0.0}  # their own strip
    assert layout["yaxis2"]["ticktext"] == ["throttled"] and throttled["marker"]["color"] == THROTTLE_COLOUR
    assert layout["yaxis2"]["domain"][0] > layout["yaxis"]["domain"][1]  # above the latencies, not among them


def test_histogram_ticks_say_their_unit():
    layout = viz.latency_histogram(invocations_table()).to_dict()["layout"]
    assert layout["xaxis"]["ticktext"] == ["10 ms", "20 ms", "50 ms", "100 ms"]
    assert layout["xaxis"]["tickvals"] == pytest.approx([1, math.log10(20), math.log10(50), 2])


def test_steady_load_is_a_level_not_a_barcode():
    # one environment invoked for 20 ms every 100 ms, frozen in between, for 2 s
    starts = np.arange(20) * 0.1
    rows = []
    for s in starts:
        rows.append(("A" * 32, "invoke", s, s + 0.02))
        rows.append(("A" * 32, "frozen", s + 0.02, s + 0.1))
    spans = pd.DataFrame(rows, columns=["environment_id", "phase", "start", "end"])
    spans[["start", "end"]] += T0
    traces = by_name(viz.concurrency(spans))
    invoke = arr(traces["busy: invoke"]["y"])  # every bin, the last (partly covered) one too
    frozen = arr(traces["frozen"]["y"])
    assert invoke == pytest.approx(np.full(len(invoke), 0.2), abs=1e-5)  # 20 ms of every 100 ms
    assert invoke + frozen == pytest.approx(np.ones(len(invoke)), abs=1e-5)  # the stack's height: one environment


def test_reserved_concurrency_is_drawn_as_a_limit():
    layout = viz.concurrency(spans_table(), limit=2).to_dict()["layout"]
    assert [s["y0"] for s in layout["shapes"]] == [2] and "reserved concurrency 2" in layout["annotations"][0]["text"]
    assert viz.concurrency(spans_table()).to_dict()["layout"].get("shapes", []) in ([], None)


def test_cold_starts_over_time_counts_per_second():
    inv = with_throttles(invocations_table())
    fig = viz.cold_starts(inv, bin_s=0.5)
    traces = by_name(fig)
    assert list(traces) == ["cold", "warm", "restored", "throttled"]
    assert arr(traces["cold"]["x"]).tolist() == [0.0, 0.5]
    assert arr(traces["cold"]["y"]).tolist() == [4.0, 2.0]  # r1, r2 in the first 0.5 s, r4 in the second: per s
    assert arr(traces["warm"]["y"]).tolist() == [0.0, 4.0]  # r3, r5
    assert arr(traces["throttled"]["y"]).tolist() == [4.0, 0.0]
    assert "3 cold starts of 7 requests" in fig.layout.title.subtitle.text
    assert viz.KINDS["cold_starts"][1]  # a time chart: it takes the panel's origin and range


def test_reuse_reads_as_requests_per_environment():
    fig = viz.reuse(invocations_table())
    assert fig.layout.title.text == "Requests per environment"
    assert fig.layout.title.subtitle.text.startswith("3 environments served 5 requests: 3 cold, 2 warm")
    assert list(arr(by_name(fig)["cold"]["x"])) == [1, 2, 3]  # numbered by first use; the id is in the hover
    assert list(by_name(fig)["cold"]["customdata"]) == ["A" * 8, "B" * 8, "C" * 8]


def test_time_charts_share_one_range_and_update_keeps_the_size():
    inv, spans = with_throttles(invocations_table()), spans_table()
    for kind in ("timeline", "latency_over_time", "concurrency", "cold_starts"):
        fig = viz.figure(kind, spans=spans, invocations=inv, origin=T0, x_range=(0, 5), widget=False)
        assert list(fig.layout.xaxis.range) == [0, 5], kind
        fig.update_layout(height=250, width=600)
        viz.update(fig, kind, spans=spans, invocations=inv, origin=T0, x_range=(0, 6))
        assert list(fig.layout.xaxis.range) == [0, 6] and (fig.layout.height, fig.layout.width) == (250, 600)
    assert viz.figure("reuse", invocations=inv, x_range=(0, 5)).layout.xaxis.range is None  # not a time chart


def _colds(times: list[float], init_ms: float = 200.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(len(times))],
            "environment_id": [f"e{i}" for i in range(len(times))],
            "cold": True,
            "submitted": [T0 + t for t in times],
            "init_duration_ms": init_ms,
        }
    )


def test_find_cascades_needs_five_cold_starts_within_a_second():
    assert find_cascades(_colds([0.0, 0.2, 0.4, 0.6])) == []  # four
    assert find_cascades(_colds([0.0, 0.3, 0.6, 0.9, 1.2, 1.5])) == []  # never five in one second
    burst = [0.0 + i * 0.025 for i in range(20)]  # 20 in 0.475 s
    later = [5.0, 5.1, 5.2, 5.3, 5.4, 5.45]
    found = find_cascades(_colds([*burst, 3.0, *later]))
    got = [(c.count, round(c.start - T0, 3), round(c.end - T0, 3)) for c in found]
    assert got == [(20, 0.0, 0.475), (6, 5.0, 5.45)]
    assert found[0].init_ms == 200.0


def test_a_cascade_is_explained_by_what_came_before_it():
    cascade = Cascade(T0 + 0.1, T0 + 0.6, 20, 250.0)
    text = explain_cascade(cascade, load_start=T0, redeploys=[T0 - 0.05])
    assert text.startswith("20 environments started cold within 0.5 s (about 250 ms of init each): after a redeploy")
    assert "each concurrent request needs its own init" in text
    fresh = explain_cascade(cascade, load_start=T0, warm_at_start=0)
    assert "when the load started no warm environment existed" in fresh
    few = explain_cascade(cascade, load_start=T0, warm_at_start=2)
    assert "only 2 warm environments existed" in few
    elsewhere = explain_cascade(Cascade(T0 + 4.0, T0 + 4.3, 9, 80.0), load_start=T0, shutdowns=[T0 + 3.9])
    assert "4.0 s into the load: its warm environments had just shut down (a redeploy" in elsewhere
    later = explain_cascade(Cascade(T0 + 4.0, T0 + 4.05, 6, math.nan), load_start=T0, warm_at_start=3)
    assert later.startswith("6 environments started cold within 50 ms, 4.0 s into the load: requests arrived faster")


def test_a_narrow_latency_range_gets_round_ticks_not_its_raw_ends():
    """100.7-168.8 ms (a 100 ms handler with 160 ms cold starts) is too narrow for 1-2-5 log ticks: round ones."""
    import numpy as np
    import pandas as pd

    from lambdalab.viz import latency as latency_module

    invocations = pd.DataFrame(
        {"latency_ms": np.linspace(100.678, 168.84, 20), "cold": [True] + [False] * 19, "request_id": ["r"] * 20}
    )
    _traces, layout = latency_module.parts_latency_histogram(None, invocations, log_x=True)
    assert list(layout["xaxis"]["ticktext"]) == ["120 ms", "140 ms", "160 ms"]


def test_concurrency_and_reuse_still_take_their_older_arguments():
    """max_points (now max_bins), bin_s=None (the default) and reuse's max_labels keep working; bad bins are
    a ConfigError, not a TypeError or a division by zero."""
    import pandas as pd

    from lambdalab import viz
    from lambdalab.errors import ConfigError

    spans = pd.DataFrame(
        {"environment_id": ["e" * 32] * 2, "function": ["f"] * 2, "phase": ["init", "invoke"],
         "start": [0.0, 0.1], "end": [0.1, 0.3], "duration_ms": [100.0, 200.0]}
    )
    invocations = pd.DataFrame({"environment_id": ["e" * 32], "cold": [True], "request_id": ["r"],
                                "start": [0.0], "end": [0.3], "latency_ms": [300.0]})
    assert viz.concurrency(spans, max_points=100).data
    assert viz.concurrency(spans, bin_s=None).data
    assert viz.reuse(invocations, max_labels=10).data
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="bin_s"):
            viz.concurrency(spans, bin_s=bad)
