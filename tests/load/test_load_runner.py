"""The wall-clock runner against a fake target (no processes): pacing, stopping, counting, the report."""

from __future__ import annotations

import io
import math
import threading
import time

import pandas as pd
import pytest

import lambdalab
from lambdalab import load
from tests.load.load_fakes import EventFunction, FakeFunction

PRICE_GB_S = 0.0000166667
PRICE_REQUEST = 0.20 / 1_000_000


def recompute(df: pd.DataFrame, duration_s: float) -> dict[str, float]:
    """Every summary number, recomputed by hand from the rows (independently of report.py)."""
    invoked = df[df["request_id"].notna()]
    cold = invoked[invoked["cold"].eq(True)]
    warm = invoked[invoked["cold"].eq(False)]
    out: dict[str, float] = {
        "requests": len(df),
        "invoked": len(invoked),
        "succeeded": int((df["status"] == "success").sum()),
        "errors": sum(1 for _, r in df.iterrows() if isinstance(r["error_type"], str) and not r["throttled"]),
        "throttles": int(df["throttled"].sum()),
        "cold_starts": len(cold),
        "cold_start_pct": 100 * len(cold) / len(invoked) if len(invoked) else math.nan,
        "environments_created": cold["environment_id"].nunique(),
        "environments_used": invoked["environment_id"].nunique(),
        "duration_s": duration_s,
        "throughput_per_s": len(df) / duration_s,
    }
    for prefix, rows in (("latency", invoked), ("cold_latency", cold), ("warm_latency", warm)):
        for q in (50, 90, 99):
            values = sorted(rows["latency_ms"].tolist())
            if not values:
                out[f"{prefix}_p{q}_ms"] = math.nan
                continue
            pos = (len(values) - 1) * q / 100  # linear interpolation between closest ranks
            lo, hi = math.floor(pos), math.ceil(pos)
            out[f"{prefix}_p{q}_ms"] = values[lo] + (values[hi] - values[lo]) * (pos - lo)
    gb_s = sum(
        int(m) / 1024 * int(b) / 1000
        for m, b in zip(invoked["memory_size_mb"], invoked["billed_duration_ms"], strict=True)
    )
    out["gb_s"] = gb_s
    out["duration_cost_usd"] = gb_s * PRICE_GB_S
    out["request_cost_usd"] = len(invoked) * PRICE_REQUEST
    out["cost_usd"] = out["duration_cost_usd"] + out["request_cost_usd"]
    error_types: dict[str, int] = {}  # the errors (not throttles) by error_type
    for _, r in df.iterrows():
        if isinstance(r["error_type"], str) and not r["throttled"]:
            error_types[r["error_type"]] = error_types.get(r["error_type"], 0) + 1
    out["error_types"] = error_types  # type: ignore[assignment]
    return out


def assert_summary_matches(report: load.LoadReport) -> None:
    expected = recompute(report.invocations, report.duration_s)
    actual = report.summary.as_dict()
    for name, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(actual[name]), name
        else:
            assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert set(actual) - set(expected) == {"price_label"}
    assert "list price" in actual["price_label"]


def test_summary_numbers_equal_their_recomputation_from_the_rows():
    fn = FakeFunction(throttle_every=5, error_every=7)
    report = load.run(fn, load.Constant(2000), count=60, progress=False)
    df = report.invocations
    assert len(df) == 60 and df["seq"].tolist() == list(range(60))
    assert report.summary.throttles == 12 and report.summary.errors > 0
    assert df.loc[df["throttled"], "error_type"].eq("TooManyRequestsException").all()
    assert df.loc[df["throttled"], "request_id"].isna().all()
    assert_summary_matches(report)
    table = report.summary.to_frame()
    assert table.set_index("metric").loc["throttles", "value"] == 12
    assert "throttles" in str(report.summary) and "list prices" in str(report.summary)


def test_rows_carry_the_record_fields_and_the_runner_columns():
    report = load.run(FakeFunction(), load.Constant(1000), count=5, progress=False)
    df = report.invocations
    for column in (
        "scheduled_at",
        "sent_at",
        "latency_ms",
        "throttled",
        "error_type",
        "request_id",
        "environment_id",
        "cold",
        "init_duration_ms",
        "billed_duration_ms",
        "memory_size_mb",
        "status",
        "submitted",
        "lag_ms",
    ):
        assert column in df.columns
    assert (df["sent_at"] >= df["scheduled_at"] - 1e-6).all()
    assert df["scheduled_at"].diff().dropna().round(6).eq(0.001).all()
    assert df["latency_ms"].tolist() == pytest.approx(((df["end"] - df["submitted"]) * 1000).tolist())


def test_empty_run_has_a_summary_of_nans_and_zeros():
    stop = threading.Event()
    stop.set()
    report = load.run(FakeFunction(), load.Constant(10), duration_s=5, progress=False, stop=stop)
    assert report.stopped and len(report.invocations) == 0
    assert report.summary.requests == 0 and math.isnan(report.summary.latency_p50_ms)


def test_count_stops_the_run_and_the_event_factory_gets_the_index():
    fn = FakeFunction()
    report = load.run(fn, load.Constant(1000), duration_s=60, count=25, event=lambda i: {"i": i}, progress=False)
    assert report.summary.requests == 25
    assert fn.events == [{"i": i} for i in range(25)]
    fixed = FakeFunction()
    load.run(fixed, load.Burst(3), event={"x": 1}, progress=False)  # a one-shot burst ends by itself
    assert fixed.events == [{"x": 1}] * 3


@pytest.mark.slow
def test_the_runner_keeps_up_with_500_requests_per_second():
    fn = FakeFunction()
    t0 = time.monotonic()
    report = load.run(fn, load.Constant(500), duration_s=0.6, progress=False)
    elapsed = time.monotonic() - t0
    assert report.summary.requests == 300
    assert elapsed < 0.6 + 0.3
    lag = report.invocations["lag_ms"]
    assert lag.median() < 2.0, lag.describe()
    assert report.invocations["scheduled_at"].is_monotonic_increasing


@pytest.mark.slow
def test_closed_loop_never_exceeds_its_clients_with_a_fake():
    fn = FakeFunction(delay_s=0.01)
    report = load.run(fn, load.ClosedLoop(3, think_s=0.005), duration_s=0.3, progress=False)
    assert fn.max_in_flight == 3 and report.max_in_flight == 3
    assert set(report.invocations["client"]) == {0, 1, 2}
    assert report.summary.environments_created == 3


@pytest.mark.slow
def test_start_stop_snapshot_and_progress():
    seen: list[tuple[int, int | None]] = []
    handle = load.start(FakeFunction(), load.Constant(200), duration_s=30, on_progress=lambda d, t: seen.append((d, t)))
    time.sleep(0.3)
    snap = handle.snapshot()
    assert not snap.finished and snap.summary.requests > 0 and not handle.done
    handle.stop()
    report = handle.result(timeout=5)
    assert handle.done and report.finished and report.stopped and report.in_flight == 0
    assert report.summary.requests >= snap.summary.requests
    assert report.summary.requests < 200 * 5
    assert seen and seen[-1] == (report.summary.requests, None)

    out = io.StringIO()
    final = load.run(FakeFunction(), load.Constant(1000), count=40, progress=out)
    assert "load 40/40" in out.getvalue() and "100%" in out.getvalue()
    assert final.summary.requests == 40


def test_event_invocation_type_calls_invoke_or_raises():
    with pytest.raises(lambdalab.ConfigError, match="Event"):
        load.run(FakeFunction(), load.Constant(10), count=1, invocation_type="Event", progress=False)
    fn = EventFunction()
    report = load.run(fn, load.Constant(1000), count=3, event={"a": 1}, invocation_type="Event", progress=False)
    assert fn.invoked == [({"a": 1}, "Event")] * 3
    assert report.summary.requests == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pattern": load.Constant(1)},  # never ends
        {"pattern": load.Constant(1), "duration_s": 0},
        {"pattern": load.Constant(1), "count": 0},
        {"pattern": load.Constant(1), "count": 1, "invocation_type": "DryRun"},
        {"pattern": "constant:1", "count": 1},
    ],
)
def test_invalid_runs_raise_config_error(kwargs):
    with pytest.raises(lambdalab.ConfigError):
        load.run(FakeFunction(), progress=False, **kwargs)


def test_a_caller_error_ends_the_run():
    fn = FakeFunction(bad_event=True)
    with pytest.raises(lambdalab.ConfigError, match="bad"):
        load.run(fn, load.Constant(1000), count=10, event=lambda i: "bad" if i == 3 else {}, progress=False)
    assert len(fn.events) == 3
