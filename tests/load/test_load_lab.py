"""Load runs against a real Lab (real environments): closed-loop concurrency and the summary."""

from __future__ import annotations

import pytest

import lambdalab
from lambdalab import load, viz
from tests.load.test_load_runner import assert_summary_matches

SLEEPY = "import time\ndef handler(event, context):\n    time.sleep(0.05)\n    return event\n"
FLAKY = (
    "def handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return {'ok': event.get('i')}\n"
)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])  # ends sort first at ties
    level = peak = 0
    for _, delta in points:
        level += delta
        peak = max(peak, level)
    return peak


@pytest.mark.slow
def test_closed_loop_never_has_more_than_n_in_flight():
    with lambdalab.Lab() as lab:
        fn = lab.create_function("sleepy", SLEEPY)
        report = load.run(fn, load.ClosedLoop(3), duration_s=1.0, progress=False)
        df = report.invocations
        assert report.summary.errors == 0 and len(df) >= 3 * 8
        assert report.max_in_flight == 3
        assert max_overlap(list(zip(df["submitted"], df["end"], strict=True))) <= 3
        assert max_overlap(list(zip(df["start"], df["end"], strict=True))) <= 3
        assert report.summary.environments_used == 3
        assert df.groupby("client").size().min() >= 8


@pytest.mark.slow
def test_summary_equals_its_recomputation_on_a_real_run():
    with lambdalab.Lab() as lab:
        fn = lab.create_function("flaky", FLAKY, memory_mb=256)
        report = load.run(fn, load.Constant(40), count=16, event=lambda i: {"i": i, "fail": i % 4 == 3}, progress=False)
        df = report.invocations
        s = report.summary
        assert s.requests == 16 and s.errors == 4 and s.throttles == 0 and s.cold_starts >= 1
        assert set(df.loc[df["status"] == "error", "error_type"]) == {"ValueError"}
        assert (df["memory_size_mb"] == 256).all()
        assert_summary_matches(report)
        # the rows agree with the Lab's own table
        lab_rows = lab.invocations().set_index("request_id")
        assert lab_rows.loc[df["request_id"], "billed_duration_ms"].tolist() == df["billed_duration_ms"].tolist()
        # and every chart draws from them
        for fig in (
            viz.timeline(lab.spans()),
            viz.latency_over_time(df),
            viz.latency_histogram(df),
            viz.concurrency(lab.spans(), df),
            viz.reuse(df),
            viz.init_durations(df),
        ):
            assert fig.to_dict()["data"]
