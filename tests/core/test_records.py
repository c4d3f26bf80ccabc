"""Lambda's platform lines byte for byte, billing, exit wording, error types and log streams.

Expected strings are copied from LAMBDA-SPEC §4.2 (line formats), §8.2 (billing), §5 (exit
wording) and §1.5 (error-type normalisation). Records are built by hand: no lifecycle, no clock.
"""

from __future__ import annotations

import re
import sys

import pytest

from lambdalab.core.logstream import LogStream
from lambdalab.core.outcomes import Status, billed_duration_ms, exit_reason
from lambdalab.core.records import (
    End,
    InitReport,
    InitStart,
    InvocationRecord,
    Report,
    Start,
    format_end,
    format_entry,
    format_init_report,
    format_init_start,
    format_report,
    format_start,
    log_stream_name,
)
from lambdalab.core.runtime_api import normalise_error_type

REQUEST_ID = "527cb862-1d4b-4a1f-9a0e-7f1c2b3d4e5f"


def record(**fields: object) -> InvocationRecord:
    """A record with plausible defaults; tests override what they are about."""
    values: dict[str, object] = {
        "request_id": REQUEST_ID,
        "function": "hello",
        "version": "$LATEST",
        "environment_id": "b33e12be6c054d53918d3142fbea7cef",
        "cold": False,
        "init_duration_ms": None,
        "init_suppressed": False,
        "duration_ms": 26.73,
        "billed_duration_ms": 27,
        "memory_size_mb": 128,
        "max_memory_used_mb": 75,
        "status": Status.SUCCESS,
        "error_type": None,
        "start": 1.0,
        "end": 1.02673,
        "submitted": 1.0,
        "reset": False,
    }
    values.update(fields)
    return InvocationRecord(**values)  # type: ignore[arg-type]


# -- REPORT ---------------------------------------------------------------------------------------
def test_successful_cold_report_matches_lambda_and_ends_with_a_tab() -> None:
    line = format_report(record(cold=True, init_duration_ms=116.67))

    assert line == (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 26.73 ms\tBilled Duration: 27 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 75 MB\tInit Duration: 116.67 ms\t"
    )


def test_successful_warm_report_has_no_init_duration_and_ends_with_a_tab() -> None:
    line = format_report(record())

    assert line == (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 26.73 ms\tBilled Duration: 27 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 75 MB\t"
    )


def test_suppressed_init_is_not_shown_as_init_duration() -> None:
    line = format_report(
        record(cold=True, init_duration_ms=500.0, init_suppressed=True, duration_ms=700.0, billed_duration_ms=700)
    )

    assert "Init Duration" not in line
    assert "\tDuration: 700.00 ms\tBilled Duration: 700 ms\t" in line


def test_timeout_report_ends_with_status_timeout_and_no_trailing_tab() -> None:
    line = format_report(
        record(
            cold=True,
            init_duration_ms=84.00,
            duration_ms=3016.78,
            billed_duration_ms=3101,
            max_memory_used_mb=31,
            status=Status.TIMEOUT,
            reset=True,
        )
    )

    assert line == (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 31 MB\tInit Duration: 84.00 ms\tStatus: timeout"
    )


def test_timeout_report_omits_error_type_even_when_the_record_has_one() -> None:
    """An init error posted before an init timeout leaves an error type on a timeout record."""
    line = format_report(record(status=Status.TIMEOUT, error_type="Runtime.ImportModuleError", reset=True))

    assert line.endswith("\tMax Memory Used: 75 MB\tStatus: timeout")


def test_crash_report_ends_with_status_error_and_error_type() -> None:
    line = format_report(
        record(
            cold=True,
            init_duration_ms=80.00,
            duration_ms=133.61,
            billed_duration_ms=214,
            max_memory_used_mb=31,
            status=Status.ERROR,
            error_type="Runtime.ExitError",
            reset=True,
        )
    )

    assert line == (
        f"REPORT RequestId: {REQUEST_ID}\tDuration: 133.61 ms\tBilled Duration: 214 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 31 MB\tInit Duration: 80.00 ms\t"
        "Status: error\tError Type: Runtime.ExitError"
    )


def test_out_of_memory_report_names_runtime_out_of_memory() -> None:
    line = format_report(
        record(max_memory_used_mb=128, status=Status.ERROR, error_type="Runtime.OutOfMemory", reset=True)
    )

    assert line.endswith(
        "\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory"
    )


def test_handler_error_prints_no_status_and_keeps_the_trailing_tab() -> None:
    """A handler's own exception is a normal completion for the platform (record.reset is False)."""
    line = format_report(record(status=Status.ERROR, error_type="KeyError", reset=False))

    assert "Status" not in line
    assert "KeyError" not in line
    assert line.endswith("\tMax Memory Used: 75 MB\t")


def test_durations_are_printed_with_two_decimals() -> None:
    line = format_report(record(duration_ms=3016.7799999999997, init_duration_ms=84.0, cold=True))

    assert "\tDuration: 3016.78 ms\t" in line
    assert "\tInit Duration: 84.00 ms\t" in line


# -- INIT_START, INIT_REPORT, START, END ------------------------------------------------------------
def test_init_start_names_the_runtime_version_and_a_64_hex_arn() -> None:
    line = format_init_start(InitStart("python", 0.0))

    python = f"python:{sys.version_info.major}.{sys.version_info.minor}.v1"
    assert re.fullmatch(
        rf"INIT_START Runtime Version: {re.escape(python)}\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        line,
    )


def test_init_start_is_deterministic_per_runtime() -> None:
    assert format_init_start(InitStart("python", 0.0)) == format_init_start(InitStart("python", 9.0))
    assert format_init_start(InitStart("python", 0.0)) != format_init_start(InitStart("nodejs22.x", 0.0))


def test_init_start_of_an_unlisted_runtime_appends_v1() -> None:
    assert format_init_start(InitStart("ruby3.3", 0.0)).startswith("INIT_START Runtime Version: ruby3.3.v1\t")


@pytest.mark.parametrize(
    ("runtime", "version"),
    [
        ("nodejs22.x", "nodejs:22.v1"),
        ("nodejs20.x", "nodejs:20.v1"),
        ("provided.al2023", "provided:al2023.v1"),
        ("provided.al2", "provided:al2.v1"),
        ("python3.12", "python:3.12.v1"),
    ],
)
def test_init_start_names_lambdas_runtime_version(runtime: str, version: str) -> None:
    """As Lambda's INIT_START: ``Runtime Version: nodejs:22.v48``, ``provided:al2023.v97`` (LAMBDA-SPEC §3)."""
    assert format_init_start(InitStart(runtime, 0.0)).startswith(f"INIT_START Runtime Version: {version}\t")


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        (
            InitReport(duration_ms=1236.04, phase="init", status=Status.TIMEOUT, error_type=None, at=0.0),
            "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout",
        ),
        (
            InitReport(
                duration_ms=310.38, phase="init", status=Status.ERROR, error_type="Runtime.ImportModuleError", at=0.0
            ),
            "INIT_REPORT Init Duration: 310.38 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError",
        ),
        (
            InitReport(
                duration_ms=80.49, phase="invoke", status=Status.ERROR, error_type="Runtime.ImportModuleError", at=0.0
            ),
            "INIT_REPORT Init Duration: 80.49 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError",
        ),
        (
            InitReport(
                duration_ms=0.27, phase="init", status=Status.ERROR, error_type="Runtime.InvalidEntrypoint", at=0.0
            ),
            "INIT_REPORT Init Duration: 0.27 ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint",
        ),
    ],
)
def test_init_report_matches_lambda(entry: InitReport, line: str) -> None:
    assert format_init_report(entry) == line


def test_start_and_end_use_single_spaces() -> None:
    assert format_start(Start(REQUEST_ID, "$LATEST", 0.0)) == f"START RequestId: {REQUEST_ID} Version: $LATEST"
    assert format_end(End(REQUEST_ID, 0.0)) == f"END RequestId: {REQUEST_ID}"


def test_format_entry_dispatches_on_the_entry_type() -> None:
    rec = record()
    assert format_entry(Report(rec, 0.0)) == format_report(rec)
    assert format_entry(Start(REQUEST_ID, "7", 0.0)) == f"START RequestId: {REQUEST_ID} Version: 7"
    assert format_entry(End(REQUEST_ID, 0.0)) == f"END RequestId: {REQUEST_ID}"
    assert format_entry(InitStart("python", 0.0)) == format_init_start(InitStart("python", 0.0))
    report = InitReport(duration_ms=1.0, phase="init", status=Status.TIMEOUT, error_type=None, at=0.0)
    assert format_entry(report) == format_init_report(report)


def test_log_stream_name_is_date_version_and_environment_id() -> None:
    name = log_stream_name("2025/12/28", "$LATEST", "b33e12be6c054d53918d3142fbea7cef")

    assert name == "2025/12/28/[$LATEST]b33e12be6c054d53918d3142fbea7cef"


def test_latency_runs_from_submission_to_completion() -> None:
    assert record(submitted=1.0, end=1.25).latency_ms == pytest.approx(250.0)


# -- billing (LAMBDA-SPEC §8.2) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("duration", "init", "billed"),
    [
        (3016.78, 84.00, 3101),  # AWS doc's timeout example
        (133.61, 80.00, 214),  # AWS doc's crash example
        (1233.96, 463.512, 1698),  # observed 2026 log
        (26.73, None, 27),
        (26.0, None, 26),
        (0.01, None, 1),
        (0.0, None, 1),  # never below 1 ms
        (100.0, 0.0, 100),
    ],
)
def test_billed_duration_is_the_ceiling_of_duration_plus_init(duration: float, init: float | None, billed: int) -> None:
    assert billed_duration_ms(duration, init) == billed


@pytest.mark.parametrize(
    ("duration", "init", "billed"),
    [
        (0.1 * 3 * 1000, None, 300),  # 300.00000000000006
        ((1.3 - 1.0) * 1000, None, 300),  # 300.00000000000006
        (26.000000001, None, 26),
        (0.1 * 3 * 1000, 0.7 * 100, 370),  # sums to 370.00000000000006
    ],
)
def test_exact_integer_durations_are_not_rounded_up_by_float_noise(
    duration: float, init: float | None, billed: int
) -> None:
    assert billed_duration_ms(duration, init) == billed


def test_a_real_microsecond_over_is_billed_up() -> None:
    assert billed_duration_ms(26.001) == 27


# -- exit wording (LAMBDA-SPEC §3.3, §5; Go's syscall signal names) ----------------------------------
@pytest.mark.parametrize(
    ("returncode", "words"),
    [
        (0, "exit status 0"),
        (1, "exit status 1"),
        (2, "exit status 2"),
        (137, "exit status 137"),
        (-9, "signal: killed"),
        (-11, "signal: segmentation fault"),
        (-6, "signal: aborted"),
        (-15, "signal: terminated"),
        (-7, "signal: bus error"),
        (-8, "signal: floating point exception"),
        (-4, "signal: illegal instruction"),
        (-2, "signal: interrupt"),
        (-1, "signal: hangup"),
        (-13, "signal: broken pipe"),
        (-200, "signal: signal 200"),  # no such signal: Go prints "signal N"
    ],
)
def test_exit_reason_words_match_the_runtime_api(returncode: int, words: str) -> None:
    assert exit_reason(returncode) == words


@pytest.mark.parametrize(
    ("returncode", "words"),
    [  # Go's syscall table for Linux
        (-3, "signal: quit"),
        (-5, "signal: trace/breakpoint trap"),
        (-10, "signal: user defined signal 1"),
        (-14, "signal: alarm clock"),
        (-24, "signal: CPU time limit exceeded"),
        (-25, "signal: file size limit exceeded"),
        (-31, "signal: bad system call"),
    ],
)
def test_exit_reason_uses_gos_name_for_every_standard_signal(returncode: int, words: str) -> None:
    assert exit_reason(returncode) == words


# -- Lambda-Runtime-Function-Error-Type (LAMBDA-SPEC §1.5) ----------------------------------------
@pytest.mark.parametrize(
    ("header", "normalised"),
    [
        (None, "Runtime.Unknown"),
        ("", "Runtime.Unknown"),
        ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
        ("Runtime.MyCustomErrorTypeHere", "Runtime.MyCustomErrorTypeHere"),
        ("Function.MyCustomErrorTypeHere", "Function.MyCustomErrorTypeHere"),
        ("Runtime.Ab", "Runtime.Ab"),
        ("MyCustomError", "Runtime.Unknown"),
        ("MyCustomError.Error", "Runtime.Unknown"),
        ("Sandbox.Timedout", "Runtime.Unknown"),
        ("runtime.ImportModuleError", "Runtime.Unknown"),
        ("Runtime.", "Runtime.Unknown"),
        ("Runtime.lowercase", "Runtime.Unknown"),
        ("Function.lowercase", "Function.Unknown"),
        ("Function.", "Function.Unknown"),
        ("Function.Has Space", "Function.Unknown"),
        ("Runtime.Error2", "Runtime.Unknown"),  # anchored, as in RIE's current fuzz test
    ],
)
def test_error_type_header_is_normalised_as_the_runtime_api_does(header: str | None, normalised: str) -> None:
    assert normalise_error_type(header) == normalised


@pytest.mark.parametrize(
    ("header", "normalised"),
    [  # [A-Z][a-zA-Z]+: two or more ASCII letters
        ("Runtime.A", "Runtime.Unknown"),
        ("Function.A", "Function.Unknown"),
        ("Runtime.Éclair", "Runtime.Unknown"),
        ("Function.Straße", "Function.Unknown"),
    ],
)
def test_error_type_reason_must_be_two_or_more_ascii_letters(header: str, normalised: str) -> None:
    assert normalise_error_type(header) == normalised


# -- LogStream -------------------------------------------------------------------------------------
def test_log_stream_renders_platform_lines_and_output_in_arrival_order() -> None:
    stream = LogStream("2025/12/28/[$LATEST]abc")
    stream.add(Start(REQUEST_ID, "$LATEST", 0.0))
    stream.write(b"hello\n")
    stream.write(b"world")
    stream.add(End(REQUEST_ID, 0.1))

    assert stream.text() == (
        f"START RequestId: {REQUEST_ID} Version: $LATEST\nhello\nworld\nEND RequestId: {REQUEST_ID}\n"
    )


def test_consecutive_output_is_joined_into_one_entry() -> None:
    stream = LogStream("s")
    stream.write(b"a")
    stream.write(b"b\n")
    stream.write(b"c")

    assert len(stream.entries) == 1
    assert stream.text() == "ab\nc\n"


def test_add_returns_the_entry_index_for_slicing() -> None:
    stream = LogStream("s")
    first = stream.add(Start("r1", "$LATEST", 0.0))
    stream.write(b"one\n")
    stream.add(End("r1", 0.1))
    second = stream.add(Start("r2", "$LATEST", 0.2))
    stream.write(b"two\n")
    stream.add(End("r2", 0.3))

    assert (first, second) == (0, 3)
    assert stream.text(second) == "START RequestId: r2 Version: $LATEST\ntwo\nEND RequestId: r2\n"
    assert stream.text(first, second) == "START RequestId: r1 Version: $LATEST\none\nEND RequestId: r1\n"


def test_invalid_utf8_output_is_replaced_not_raised() -> None:
    stream = LogStream("s")
    stream.write(b"caf\xc3")

    assert stream.text() == "caf\ufffd\n"


def test_output_over_the_limit_is_cut_with_one_notice_and_counted() -> None:
    stream = LogStream("s", max_output_bytes=10)
    stream.write(b"123456")
    stream.write(b"abcdefghij")
    stream.write(b"more")
    stream.write(b"and more")

    text = stream.text()
    assert text.startswith("123456abcd\n[lambdalab] log output over the stream's limit was dropped\n")
    assert text.count("[lambdalab]") == 1
    assert "more" not in text
    assert stream.dropped_bytes == 6 + 4 + 8


def test_output_up_to_the_limit_is_kept_whole() -> None:
    stream = LogStream("s", max_output_bytes=10)
    stream.write(b"0123456789")

    assert stream.text() == "0123456789\n"
    assert stream.dropped_bytes == 0


def test_platform_lines_are_kept_after_output_is_cut() -> None:
    stream = LogStream("s", max_output_bytes=4)
    stream.write(b"too long")
    stream.add(End("r1", 0.0))
    stream.write(b"dropped")

    assert stream.text().endswith("was dropped\nEND RequestId: r1\n")


def test_output_past_a_limit_that_was_hit_exactly_still_leaves_one_notice() -> None:
    stream = LogStream("s", max_output_bytes=10)
    stream.write(b"0123456789")
    stream.write(b"x")

    stream.write(b"y")

    assert stream.dropped_bytes == 2
    assert stream.text() == "0123456789\n[lambdalab] log output over the stream's limit was dropped\n"


def test_a_stream_never_holds_more_than_its_entry_bound_whatever_mixes_it() -> None:
    stream = LogStream("s", max_entries=10)
    for i in range(100):
        stream.add(Start(f"r{i}", "$LATEST", float(i)))
        stream.write(b"out\n")
        stream.add(End(f"r{i}", float(i)))
    assert len(stream.entries) == 10 and stream.end == 300
    assert stream.text(290).count("END RequestId") == 4
