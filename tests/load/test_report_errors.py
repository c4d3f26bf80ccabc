"""A load summary names its errors: each error type with its count, in str(), as_dict() and to_frame(), and a run
whose every request fails says which error. The counts are checked against the rows themselves."""

from __future__ import annotations

import lambdalab
from lambdalab import load
from tests.load.load_fakes import FakeFunction

CRASH_OR_RAISE = """import os
def handler(event, context):
    if event["i"] % 3 == 0:
        os._exit(3)                 # the runtime dies: Runtime.ExitError
    raise ValueError("bad input")   # a handler error: ValueError
"""


def by_type(report: load.LoadReport) -> dict[str, int]:
    """The errors counted by hand from the rows (throttles are not errors)."""
    rows = report.invocations
    errors = rows[rows["error_type"].notna() & ~rows["throttled"]]
    return {str(k): int(v) for k, v in errors["error_type"].value_counts().items()}


def test_every_request_failing_says_which_errors(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("fails", CRASH_OR_RAISE)
    report = load.run(fn, load.Constant(40), count=9, event=lambda i: {"i": i}, progress=False)
    summary = report.summary
    assert summary.requests == summary.errors == 9 and summary.succeeded == 0
    assert summary.error_types == by_type(report) == {"ValueError": 6, "Runtime.ExitError": 3}
    assert list(summary.error_types) == ["ValueError", "Runtime.ExitError"]  # most frequent first
    text = str(summary)
    assert "every request failed: 9 (ValueError 6, Runtime.ExitError 3)" in text
    assert text in str(report)
    assert summary.as_dict()["error_types"] == {"ValueError": 6, "Runtime.ExitError": 3}
    frame = summary.to_frame().set_index("metric")
    assert frame.loc["errors: ValueError", "value"] == 6 and frame.loc["errors: Runtime.ExitError", "value"] == 3
    metrics = list(frame.index)
    assert metrics[metrics.index("errors") + 1 : metrics.index("errors") + 3] == [
        "errors: ValueError",
        "errors: Runtime.ExitError",
    ]


def test_some_errors_and_throttles_are_listed_apart() -> None:
    report = load.run(FakeFunction(error_every=4, throttle_every=5), load.Constant(2000), count=40, progress=False)
    summary = report.summary
    assert summary.throttles == 8 and summary.errors == 8  # 4, 8, ... but not 20 or 40 (throttled first)
    assert summary.error_types == by_type(report) == {"ValueError": 8}
    assert "errors: 8 (ValueError 8)" in str(summary) and "every request failed" not in str(summary)
    assert "8 throttles" in str(summary)


def test_a_clean_run_prints_no_error_line_and_has_no_error_types() -> None:
    summary = load.run(FakeFunction(), load.Constant(2000), count=10, progress=False).summary
    assert summary.error_types == {} and "errors:" not in str(summary) and "failed" not in str(summary)
    assert not [m for m in summary.to_frame()["metric"] if m.startswith("errors: ")]


def test_every_request_throttled_says_so() -> None:
    summary = load.run(FakeFunction(throttle_every=1), load.Constant(2000), count=6, progress=False).summary
    assert summary.throttles == 6 and summary.errors == 0 and summary.error_types == {}
    assert "every request was throttled (TooManyRequestsException" in str(summary)


def test_a_summary_stays_hashable_and_compares_its_error_types() -> None:
    import dataclasses

    from lambdalab.load.report import LoadSummary

    fields = {f.name: 0 for f in dataclasses.fields(LoadSummary) if f.name not in ("price_label", "error_types")}
    one = LoadSummary(**fields, error_types={"ValueError": 2})
    assert hash(one) == hash(LoadSummary(**fields, error_types={"KeyError": 1}))
    assert one != LoadSummary(**fields, error_types={"KeyError": 1})
    assert one == LoadSummary(**fields, error_types={"ValueError": 2})
