"""lambdalab.aws.records: Lambda's REPORT lines, log tails and CloudWatch Logs events read back into records.

Lines come from two places: a local Lab (its Text and JSON log formats, the lines lambdalab writes as Lambda
does) and hand-written Lambda lines (the REPORT example of AWS's "Lambda function logging" pages, SnapStart's
Restore Duration, X-Ray fields).
"""

from __future__ import annotations

import pandas as pd
import pytest

import lambdalab
from lambdalab.aws import records
from lambdalab.core.outcomes import Status
from lambdalab.core.records import InvocationRecord, PhaseSpan, format_report

SOURCE = """
import os, time
def handler(event, context):
    print("hello", event)
    if event.get("err"):
        raise ValueError("boom")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    return event
"""
BATCH_COLUMNS = ["event_source_arn", "shard_id", "batch_size"]  # the event source columns (None, None, 0 on AWS)
EVENTS = [{"x": 1}, {"err": 1}, {"sleep": 3}, {"x": 2}, {"exit": 1}, {}]
AWS_DOCS_REPORT = (
    "REPORT RequestId: c793869b-ee49-115b-a5b6-4fd21e8dedac\tDuration: 170.19 ms\tBilled Duration: 171 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 173.16 ms\t\n"
)
STREAM = "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef"


def run(fmt: str) -> dict:
    """One function run through cold, error, timeout, reset, exit: results, records and events of its logs."""
    with lambdalab.Lab() as lab:
        fn = lab.create_function("f", source=SOURCE, timeout_s=1, log_format=fmt)
        results = [fn.invoke(event) for event in EVENTS]
        bad = lab.create_function("bad", source="raise RuntimeError('init')\ndef handler(e, c):\n    return 1\n")
        bad_result = bad.invoke({})
        (stream,) = lab.log_streams("f")
        return {
            "results": results,
            "bad": bad_result,
            "frame": lab.invocations(),
            "spans": lab.spans(),
            "stream": stream,
            "events": as_events(stream, lab.logs("f")),
            "bad_events": as_events(lab.log_streams("bad")[0], lab.logs("bad")),
        }


def as_events(stream: str, text: str, start_ms: int = 1_800_000_000_000) -> list[dict]:
    """A stream's lines as CloudWatch events, one millisecond apart (only their order matters here)."""
    lines = text.splitlines()
    return [{"logStreamName": stream, "timestamp": start_ms + i, "message": m} for i, m in enumerate(lines)]


@pytest.fixture(scope="module")
def text_run() -> dict:
    return run("Text")


@pytest.fixture(scope="module")
def json_run() -> dict:
    return run("JSON")


# -- parse_report ---------------------------------------------------------------------------------------------
def test_parse_report_reads_the_line_of_awss_docs() -> None:
    got = records.parse_report(AWS_DOCS_REPORT)
    assert got == {
        "request_id": "c793869b-ee49-115b-a5b6-4fd21e8dedac",
        "duration_ms": 170.19,
        "billed_duration_ms": 171,
        "memory_size_mb": 128,
        "max_memory_used_mb": 70,
        "init_duration_ms": 173.16,
        "restore_duration_ms": None,
        "billed_restore_duration_ms": None,
        "status": None,
        "error_type": None,
    }


def test_parse_report_reads_snapstart_xray_timeout_and_error_fields() -> None:
    line = (
        "REPORT RequestId: r1\tDuration: 12.50 ms\tBilled Duration: 300 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 90 MB\tRestore Duration: 261.47 ms\tBilled Restore Duration: 287 ms\t"
        "XRAY TraceId: 1-5e8f1c9b-8e3b2a0c\tSegmentId: 0a1b2c3d\tSampled: true"
    )
    got = records.parse_report(line)
    assert (got["restore_duration_ms"], got["billed_restore_duration_ms"], got["init_duration_ms"]) == (
        261.47,
        287,
        None,
    )
    timeout = records.parse_report(
        "REPORT RequestId: r2\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tStatus: timeout"
    )
    assert (timeout["status"], timeout["error_type"]) == ("timeout", None)
    error = records.parse_report(
        "REPORT RequestId: r3\tDuration: 3.36 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 13 MB\tStatus: error\tError Type: Runtime.ExitError"
    )
    assert (error["status"], error["error_type"]) == ("error", "Runtime.ExitError")


def test_parse_report_takes_spaces_where_a_copy_lost_the_tabs() -> None:
    got = records.parse_report(AWS_DOCS_REPORT.replace("\t", " "))
    assert (got["duration_ms"], got["billed_duration_ms"], got["init_duration_ms"]) == (170.19, 171, 173.16)


def test_parse_report_reads_what_lambdalab_writes_for_every_record(text_run: dict) -> None:
    for result in text_run["results"]:
        line = format_report(result.record)
        got = records.parse_report(line)
        assert got["request_id"] == result.request_id
        assert got["duration_ms"] == pytest.approx(result.record.duration_ms, abs=0.005)
        assert got["billed_duration_ms"] == result.record.billed_duration_ms
        assert got["max_memory_used_mb"] == result.record.max_memory_used_mb
    assert records.parse_report(format_report(text_run["results"][2].record))["status"] == "timeout"
    assert records.parse_report(format_report(text_run["results"][4].record))["error_type"] == "Runtime.ExitError"


def test_parse_report_reads_the_json_formats_platform_report(json_run: dict) -> None:
    lines = [e["message"] for e in json_run["events"] if '"platform.report"' in e["message"]]
    got = [records.parse_report(line) for line in lines]
    assert [g["request_id"] for g in got] == [r.request_id for r in json_run["results"]]
    assert got[0]["init_duration_ms"] == pytest.approx(json_run["results"][0].record.init_duration_ms, abs=0.001)
    assert [g["status"] for g in got] == [None, None, "timeout", None, "error", None]
    assert got[4]["error_type"] == "Runtime.ExitError"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("START RequestId: r Version: $LATEST", "not a REPORT line"),
        ("hello world", "not a REPORT line"),
        ("REPORT RequestId: r\tDuration: 1.00 ms\tMemory Size: 128 MB", "no Billed Duration, Max Memory Used"),
        (
            "REPORT RequestId: r\tDuration: fast ms\tBilled Duration: 1 ms\tMemory Size: 1 MB\tMax Memory Used: 1 MB",
            "Duration 'fast ms' is not a number",
        ),
        ('{"time":"x","type":"platform.report","record":{"requestId":"r"}}', "no requestId or metrics"),
        ('{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1}}}', "no billedDurationMs"),
        ('{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":"1"}}}', "is not a number"),
    ],
)  # fmt: skip
def test_parse_report_refuses_what_is_not_a_whole_report(line: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        records.parse_report(line)


def test_platform_line_tells_platform_lines_from_output() -> None:
    assert records.platform_line("START RequestId: r Version: 7") == (
        "start",
        {"request_id": "r", "version": "7", "phase": None, "status": None, "error_type": None, "duration_ms": None},
    )
    assert records.platform_line("START the engine") is None  # a handler's print
    assert records.platform_line('{"level": "INFO", "message": "hi"}') is None
    assert records.platform_line("{not json") is None
    kind, facts = records.platform_line("INIT_REPORT Init Duration: 39.93 ms\tPhase: invoke\tStatus: error")  # type: ignore[misc]
    assert (kind, facts["duration_ms"], facts["phase"]) == ("init_report", 39.93, "invoke")


# -- record_from_tail ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text_run", "json_run"])
def test_record_from_tail_agrees_with_the_local_record(fmt: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fmt)
    for result in data["results"]:
        error_type = result.error.get("errorType") if result.function_error else None
        got = records.record_from_tail(
            result.log, function="f", version="$LATEST", request_id=result.request_id,
            submitted=10.0, end=11.0, error_type=error_type,
        )  # fmt: skip
        local = result.record
        assert (got.request_id, got.environment_id, got.submitted, got.end) == (result.request_id, "", 10.0, 11.0)
        assert got.duration_ms == pytest.approx(local.duration_ms, abs=0.005)
        assert got.start == pytest.approx(11.0 - got.duration_ms / 1000.0)
        assert (got.status, got.error_type, got.reset) == (local.status, local.error_type, local.reset)
        assert (got.billed_duration_ms, got.memory_size_mb) == (local.billed_duration_ms, local.memory_size_mb)
        if not local.init_suppressed:  # a re-init after a reset leaves no line in the tail (see the events)
            assert got.cold == local.cold
    first = records.record_from_tail(
        data["results"][0].log, function="f", version="$LATEST", request_id=data["results"][0].request_id,
        submitted=0.0, end=1.0, error_type=None,
    )  # fmt: skip
    assert first.cold and first.init_duration_ms == pytest.approx(data["results"][0].record.init_duration_ms, abs=0.01)


def test_record_from_tail_reads_an_init_run_inside_the_invoke() -> None:
    tail = (
        "INIT_REPORT Init Duration: 57.27 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown\n"
        "START RequestId: r Version: 3\nEND RequestId: r\n"
        "REPORT RequestId: r\tDuration: 57.27 ms\tBilled Duration: 58 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 14 MB\tStatus: error\tError Type: Runtime.Unknown\n"
    )
    got = records.record_from_tail(
        tail, function="f", version="3", request_id="r", submitted=1.0, end=2.0, error_type="Runtime.Unknown"
    )
    assert (got.cold, got.init_suppressed, got.init_duration_ms) == (True, True, 57.27)
    assert (got.status, got.error_type, got.reset, got.version) == (Status.ERROR, "Runtime.Unknown", True, "3")


def test_record_from_tail_without_a_report_says_so() -> None:
    with pytest.raises(ValueError, match="no REPORT line in the log tail of request r"):
        records.record_from_tail(
            "START RequestId: r Version: $LATEST\n", function="f", version="$LATEST", request_id="r",
            submitted=0.0, end=1.0, error_type=None,
        )  # fmt: skip


# -- records_from_events --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text_run", "json_run"])
def test_records_from_events_agree_with_the_local_records(fmt: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(fmt)
    got = records.records_from_events(data["events"], function="f")
    local = [r.record for r in data["results"]]
    assert [r.request_id for r in got] == [r.request_id for r in local]
    assert {r.environment_id for r in got} == {data["stream"]}
    assert [r.version for r in got] == ["$LATEST"] * len(local)
    assert [(r.cold, r.init_suppressed) for r in got] == [(r.cold, r.init_suppressed) for r in local]
    assert [(r.status, r.error_type, r.reset) for r in got] == [(r.status, r.error_type, r.reset) for r in local]
    assert got[0].init_duration_ms == pytest.approx(local[0].init_duration_ms, abs=0.01)
    assert [r.init_duration_ms for r in got[3:4]] == [None]  # an init inside an invoke: its duration is unknown
    assert [r.duration_ms for r in got] == pytest.approx([r.duration_ms for r in local], abs=0.005)


def test_records_from_events_of_an_init_error(text_run: dict) -> None:
    (got,) = records.records_from_events(text_run["bad_events"], function="bad")
    local = text_run["bad"].record
    assert (got.cold, got.init_suppressed, got.status, got.error_type, got.reset) == (
        True, True, Status.ERROR, "Runtime.Unknown", True,
    )  # fmt: skip
    assert got.init_duration_ms == pytest.approx(local.init_duration_ms, abs=0.01)
    assert got.submitted == text_run["bad_events"][0]["timestamp"] / 1000.0  # the first INIT_START


def hand_written(init: bool = True) -> list[dict]:
    """One cold and one warm invocation on Lambda, as its log group holds them (times in ms)."""
    lines = [
        (1000, "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:a"),
        (1121, "START RequestId: a Version: 4\n"),
        (1122, "[INFO]\t2026-12-07T10:00:01.122Z\ta\tworking\n"),
        (1125, "END RequestId: a\n"),
        (1125, "REPORT RequestId: a\tDuration: 4.50 ms\tBilled Duration: 125 ms\tMemory Size: 256 MB\t"
               "Max Memory Used: 60 MB\tInit Duration: 120.00 ms\t\n"),
        (5000, "START RequestId: b Version: 4\n"),
        (5002, "END RequestId: b\n"),
        (5002, "REPORT RequestId: b\tDuration: 2.00 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\t"
               "Max Memory Used: 61 MB\t\n"),
    ]  # fmt: skip
    stream = "2026/12/07/[4]aaaabbbbccccddddeeeeffff00001111"
    events = [
        {"logStreamName": stream, "timestamp": t, "message": m, "eventId": str(i)} for i, (t, m) in enumerate(lines)
    ]
    return events if init else [e for e in events if e["message"].startswith("REPORT")]


def test_records_and_spans_from_lambdas_own_lines_keep_their_times() -> None:
    cold, warm = records.records_from_events(hand_written(), function="f")
    assert (cold.cold, cold.init_duration_ms, cold.version, cold.memory_size_mb) == (True, 120.0, "4", 256)
    assert (cold.start, cold.end, cold.submitted) == (pytest.approx(1.1205), 1.125, 1.0)  # from INIT_START
    assert cold.latency_ms == pytest.approx(125.0)
    assert (warm.cold, warm.submitted, warm.start, warm.status) == (False, 5.0, 5.0, Status.SUCCESS)
    spans = records.spans_from_events(hand_written(), function="f")
    assert [(s.phase, s.request_id) for s in spans] == [("init", None), ("invoke", "a"), ("invoke", "b")]
    assert (spans[0].start, spans[0].end) == (1.0, pytest.approx(1.12))
    assert (spans[1].start, spans[1].end) == (pytest.approx(1.1205), 1.125)


def test_report_lines_alone_still_give_records_and_spans() -> None:
    """A ``filterPattern`` of REPORT: the version comes from the stream's name, init from Init Duration."""
    cold, warm = records.records_from_events(hand_written(init=False), function="f")
    assert (cold.version, cold.cold, cold.submitted) == ("4", True, pytest.approx(1.0005))
    spans = records.spans_from_events(hand_written(init=False), function="f")
    assert [s.phase for s in spans] == ["init", "invoke", "invoke"]
    assert (spans[0].start, spans[0].end) == (pytest.approx(1.0005), pytest.approx(1.1205))


def test_known_requests_win_and_duplicates_and_bad_lines_are_dropped() -> None:
    events = hand_written()
    events += [dict(events[4])]  # the same eventId twice (pages overlapping)
    events.append({"logStreamName": events[0]["logStreamName"], "timestamp": 6000, "message": "REPORT RequestId: z"})
    known = {"a": {"submitted": 0.5, "status": "error", "error_type": "ValueError"}}
    cold, warm = records.records_from_events(events, function="f", known=known)
    assert (cold.submitted, cold.status, cold.error_type) == (0.5, Status.ERROR, "ValueError")
    record = InvocationRecord(**{**{k: getattr(warm, k) for k in InvocationRecord._fields}, "submitted": 4.0})
    _, again = records.records_from_events(events, function="f", known={"b": record})
    assert again.submitted == 4.0


def test_a_handlers_unhandled_error_in_an_async_invocations_log_is_its_status() -> None:
    stream = "2026/12/07/[$LATEST]00000000000000000000000000000000"
    lines = [
        "START RequestId: e Version: $LATEST",
        "[ERROR] KeyError: 'x'\rTraceback (most recent call last):\r\xa0\xa0File ...",
        "END RequestId: e",
        "REPORT RequestId: e\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t",
        "START RequestId: n Version: $LATEST",
        "2026-12-07T10:00:00.000Z\tn\tERROR\tInvoke Error \t"
        '{"errorType":"TypeError","errorMessage":"x","stack":["TypeError: x"],"stackTrace":[]}',
        "REPORT RequestId: n\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t",
    ]
    events = [{"logStreamName": stream, "timestamp": 1000 + i, "message": m} for i, m in enumerate(lines)]
    got = records.records_from_events(events, function="f")
    assert [(r.status, r.error_type, r.reset) for r in got] == [
        (Status.ERROR, "KeyError", False), (Status.ERROR, "TypeError", False),
    ]  # fmt: skip


# -- spans and frames -----------------------------------------------------------------------------------------
def test_spans_from_a_local_run_are_init_and_invoke_only(text_run: dict) -> None:
    spans = records.spans_from_events(text_run["events"], function="f")
    assert [s.phase for s in spans].count("invoke") == len(EVENTS)
    assert [s.phase for s in spans].count("init") == 1  # re-inits after a reset run inside their invoke
    assert all(isinstance(s, PhaseSpan) and s.environment_id == text_run["stream"] for s in spans)


def test_frames_have_the_local_tables_columns_and_dtypes(text_run: dict) -> None:
    frame = records.invocations_frame(records.records_from_events(text_run["events"], function="f"))
    local = text_run["frame"]
    assert list(frame.columns) == list(local.columns) == [*InvocationRecord._fields, "latency_ms", *BATCH_COLUMNS]
    assert frame["event_source_arn"].isna().all() and frame["shard_id"].isna().all()
    assert (frame["batch_size"] == 0).all()  # AWS's logs do not say which batch an invocation carried
    assert frame.dtypes.to_dict() == local.dtypes.to_dict()
    assert list(frame["status"]) == list(local[local["function"] == "f"]["status"])
    spans = records.spans_frame(records.spans_from_events(text_run["events"], function="f"))
    assert list(spans.columns) == list(text_run["spans"].columns) == [*PhaseSpan._fields, "duration_ms"]
    assert spans.dtypes.to_dict() == text_run["spans"].dtypes.to_dict()
    assert spans.attrs == {"source": "aws", "unknown_phases": ["frozen", "idle", "shutdown"]}
    assert list(spans["start"]) == sorted(spans["start"])


def test_frames_with_no_rows_have_the_columns_and_types() -> None:
    frame = records.invocations_frame([])
    assert list(frame.columns) == [*InvocationRecord._fields, "latency_ms", *BATCH_COLUMNS] and len(frame) == 0
    assert frame["batch_size"].dtype == "int64" and frame["shard_id"].dtype == object
    assert frame["duration_ms"].dtype == "float64" and frame["cold"].dtype == bool
    assert frame["restore_duration_ms"].dtype == "float64" and frame["billed_restore_duration_ms"].dtype == "int64"
    assert frame["extension_overhead_ms"].dtype == "float64"
    spans = records.spans_frame([])
    assert list(spans.columns) == [*PhaseSpan._fields, "duration_ms"] and len(spans) == 0
    assert spans.attrs["unknown_phases"] == ["frozen", "idle", "shutdown"]
    assert pd.api.types.is_float_dtype(spans["duration_ms"])


def test_a_known_error_type_alone_and_a_snapstart_restore() -> None:
    stream = "2026/12/07/[2]00000000000000000000000000000000"
    lines = [
        "START RequestId: s Version: 2",
        "REPORT RequestId: s\tDuration: 5.00 ms\tBilled Duration: 300 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 50 MB\tRestore Duration: 250.00 ms\tBilled Restore Duration: 295 ms\t",
    ]
    events = [{"logStreamName": stream, "timestamp": 2000 + i, "message": m} for i, m in enumerate(lines)]
    (got,) = records.records_from_events(events, function="f", known={"s": {"error_type": "Custom"}})
    assert (got.cold, got.init_duration_ms, got.status, got.error_type) == (True, None, Status.SUCCESS, "Custom")
    assert (got.restore_duration_ms, got.billed_restore_duration_ms, got.extension_overhead_ms) == (250.0, 295, 0.0)
