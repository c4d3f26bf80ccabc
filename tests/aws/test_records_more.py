"""lambdalab.aws.records, continued: what a review found read wrongly from Lambda's lines.

An init error's type is the REPORT's (as the local record's), an init retried inside an invoke is an init span
(as the local spans), old-style timeout and crash lines are failures, a request the client timed keeps the client's
clock, and a log tail without REPORT gives a record whose numbers are unknown, not an exception.
"""

from __future__ import annotations

import math

import pytest

import lambdalab
from lambdalab.aws import records
from lambdalab.core.outcomes import Status

STREAM = "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef"
BAD = "raise RuntimeError('init')\ndef handler(e, c):\n    return 1\n"


def events_of(lines: list[str], start_ms: int = 1_800_000_000_000, step_ms: int = 1) -> list[dict]:
    return [{"logStreamName": STREAM, "timestamp": start_ms + i * step_ms, "message": m} for i, m in enumerate(lines)]


@pytest.fixture(scope="module")
def init_error_run() -> dict:
    """A function that raises at import, invoked twice on a local Lab: its results, records, spans and lines."""
    with lambdalab.Lab() as lab:
        fn = lab.create_function("bad", source=BAD)
        results = [fn.invoke({}), fn.invoke({})]
        return {
            "results": results,
            "spans": lab.spans(),
            "events": events_of(lab.logs("bad").splitlines()),
        }


def test_an_init_errors_type_is_the_reports_as_in_the_local_record(init_error_run: dict) -> None:
    first = init_error_run["results"][0]
    payload_type = first.error["errorType"]
    assert payload_type == "RuntimeError" and first.record.error_type == "Runtime.Unknown"
    got = records.record_from_tail(
        first.log, function="bad", version="$LATEST", request_id=first.request_id,
        submitted=1.0, end=2.0, error_type=payload_type,
    )  # fmt: skip
    assert (got.status, got.error_type, got.reset) == (Status.ERROR, "Runtime.Unknown", True)
    known = {r.request_id: {"submitted": 1.0, "error_type": payload_type} for r in init_error_run["results"]}
    from_logs = records.records_from_events(init_error_run["events"], function="bad", known=known)
    assert [r.error_type for r in from_logs] == [r.record.error_type for r in init_error_run["results"]]


def test_an_init_retried_inside_the_invoke_is_an_init_span_as_locally(init_error_run: dict) -> None:
    spans = records.spans_from_events(init_error_run["events"], function="bad")
    local = init_error_run["spans"]
    assert [s.phase for s in spans] == list(local["phase"]) == ["init", "init", "init"]
    durations = sorted((s.end - s.start) * 1000.0 for s in spans)  # the lines here are 1 ms apart: not in order
    assert durations == pytest.approx(sorted(local["duration_ms"]), abs=0.01)


def test_an_init_report_of_phase_invoke_ends_its_span_at_the_line() -> None:
    lines = [
        "INIT_REPORT Init Duration: 80.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError",
        "START RequestId: r Version: $LATEST",
        "END RequestId: r",
        "REPORT RequestId: r\tDuration: 81.00 ms\tBilled Duration: 81 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB"
        "\tStatus: error\tError Type: Runtime.ImportModuleError",
    ]
    (span,) = records.spans_from_events(events_of(lines, start_ms=10_000), function="f")
    assert (span.phase, span.start, span.end) == ("init", pytest.approx(9.92), 10.0)


OLD_STYLE = [
    "START RequestId: t Version: $LATEST",
    "2024-03-04T17:22:38.033Z t Task timed out after 3.00 seconds",
    "END RequestId: t",
    "REPORT RequestId: t\tDuration: 3003.45 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB",
    "START RequestId: k Version: $LATEST",
    "RequestId: k Error: Runtime exited with error: signal: killed",
    "Runtime.ExitError",
    "END RequestId: k",
    "REPORT RequestId: k\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB",
    "START RequestId: w Version: $LATEST",
    "END RequestId: w",
    "REPORT RequestId: w\tDuration: 2.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB",
]


def test_old_style_timeout_and_crash_lines_are_failures_with_a_reset() -> None:
    timed_out, crashed, after = records.records_from_events(events_of(OLD_STYLE), function="f")
    assert (timed_out.status, timed_out.error_type, timed_out.reset) == (Status.TIMEOUT, None, True)
    assert (crashed.status, crashed.error_type, crashed.reset) == (Status.ERROR, "Runtime.ExitError", True)
    assert (after.status, after.cold, after.init_suppressed) == (Status.SUCCESS, True, True)  # re-init after reset
    tail = "\n".join(OLD_STYLE[:4]) + "\n"
    got = records.record_from_tail(
        tail, function="f", version="$LATEST", request_id="t", submitted=0.0, end=3.1, error_type="Sandbox.Timedout"
    )
    assert (got.status, got.reset) == (Status.TIMEOUT, True)
    tail = "\n".join(OLD_STYLE[4:9]) + "\n"
    got = records.record_from_tail(
        tail, function="f", version="$LATEST", request_id="k", submitted=0.0, end=1.0, error_type="Runtime.ExitError"
    )
    assert (got.status, got.error_type, got.reset) == (Status.ERROR, "Runtime.ExitError", True)


def test_a_handler_printing_the_words_for_another_request_is_output() -> None:
    lines = [*OLD_STYLE[9:10], "someone else Task timed out after 3.00 seconds", *OLD_STYLE[10:]]
    (got,) = records.records_from_events(events_of(lines), function="f")
    assert (got.status, got.reset) == (Status.SUCCESS, False)


def test_a_request_the_client_timed_keeps_the_clients_end() -> None:
    """CloudWatch's timestamps are AWS's clock; the client's submitted and end are this machine's: not mixed."""
    lines = [
        "START RequestId: a Version: $LATEST",
        "END RequestId: a",
        "REPORT RequestId: a\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB",
    ]
    aws_clock = events_of(lines, start_ms=1_000_000)  # AWS's clock 5 s behind this machine's
    (got,) = records.records_from_events(aws_clock, function="f", known={"a": {"submitted": 1004.95, "end": 1005.0}})
    assert (got.submitted, got.end, got.start) == (1004.95, 1005.0, pytest.approx(1004.98))
    assert got.latency_ms == pytest.approx(50.0)
    (span,) = records.spans_from_events(aws_clock, function="f")  # spans stay on the logs' own clock
    assert span.end == pytest.approx(1000.002)


def test_a_tail_without_report_gives_a_record_of_unknown_numbers() -> None:
    got = records.record_without_report(
        function="f", version="$LATEST", request_id="r", submitted=1.0, end=1.2, error_type=None, memory_size_mb=256
    )
    assert math.isnan(got.duration_ms) and not records.has_report(got)
    assert (got.status, got.cold, got.init_duration_ms, got.memory_size_mb) == (Status.SUCCESS, False, None, 256)
    assert (got.start, got.end) == (1.0, 1.2) and got.latency_ms == pytest.approx(200.0)
    failed = records.record_without_report(
        function="f", version="1", request_id="e", submitted=1.0, end=1.2, error_type="ValueError", memory_size_mb=128
    )
    assert (failed.status, failed.error_type) == (Status.ERROR, "ValueError")
    frame = records.invocations_frame([got, failed])
    assert frame["duration_ms"].isna().all() and str(frame["billed_duration_ms"].dtype) == "int64"


def test_an_init_start_in_the_invocations_own_tail_without_init_duration_is_a_suppressed_init() -> None:
    """After a reset the next invoke re-inits inside itself: no Init Duration in its REPORT, an INIT_START before."""
    earlier = (
        "INIT_START Runtime Version: python:3.12.v38\n"
        "START RequestId: a Version: $LATEST\nEND RequestId: a\n"
        "REPORT RequestId: a\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 90.00 ms\tStatus: timeout\n"
    )
    this = (
        "INIT_START Runtime Version: python:3.12.v38\n"
        "START RequestId: b Version: $LATEST\nEND RequestId: b\n"
        "REPORT RequestId: b\tDuration: 95.00 ms\tBilled Duration: 95 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\n"
    )
    warm = "START RequestId: c Version: $LATEST\nEND RequestId: c\nREPORT RequestId: c\tDuration: 2.00 ms\t" + (
        "Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\n"
    )

    def read(tail: str, request_id: str) -> tuple[bool, bool, float | None]:
        got = records.record_from_tail(
            tail, function="f", version="$LATEST", request_id=request_id, submitted=0.0, end=1.0, error_type=None
        )
        return got.cold, got.init_suppressed, got.init_duration_ms

    assert read(earlier, "a") == (True, False, 90.0)
    assert read(this, "b") == (True, True, None)  # the init's own duration is unknown (in the Duration)
    assert read(earlier + this, "b") == (True, True, None)
    assert read(this + warm, "c") == (False, False, None)  # the INIT_START before an earlier REPORT is not c's
