"""The JSON log format (LoggingConfig.LogFormat=JSON) on real environments: every line a JSON object, platform
records as platform.*, the runtime's logging records as Lambda's JSON, levels filtered, Text unchanged."""

from __future__ import annotations

import json
import re

import pytest

import lambdalab
from lambdalab.config import LOG_LEVEL_NEEDS_JSON, FunctionConfig
from lambdalab.errors import ConfigError

LOGGING = """
import logging
log = logging.getLogger("app")
def handler(event, context):
    log.debug("a debug record")
    log.info("an info record", extra={"order": 7})
    log.warning("a warning")
    try:
        {}["missing"]
    except KeyError:
        log.exception("caught")
    if event.get("fail"):
        raise ValueError("boom")
    return "ok"
"""

POWERTOOLS = """
from aws_lambda_powertools import Logger
logger = Logger(service="orders")
def handler(event, context):
    logger.debug("pt debug")
    logger.info("pt info", extra={"order": 7})
    logger.warning("pt warning")
    return "ok"
"""

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def records(text: str) -> list[dict]:
    """Every line of ``text`` parsed with json.loads (fails the test on a line that is not a JSON object)."""
    out = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        out.append(value)
    return out


def test_json_format_writes_platform_records_and_lambdas_application_records(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("jl", LOGGING, log_format="JSON", application_log_level="DEBUG")
    first = fn.invoke({})
    second = fn.invoke({"fail": True})
    assert first.payload == "ok" and second.error is not None
    lines = records(fn.logs())
    platform = [r for r in lines if "type" in r]
    assert [r["type"] for r in platform] == [
        "platform.initStart",
        "platform.start",
        "platform.report",
        "platform.start",
        "platform.report",
    ]
    for record in platform:
        assert RFC3339_MS.match(record["time"]), record
    init = platform[0]["record"]
    assert init["initializationType"] == "on-demand" and init["phase"] == "init"
    assert init["functionName"] == "jl" and init["functionVersion"] == "$LATEST"
    assert init["runtimeVersion"].startswith("python:3.") and init["instanceMaxMemory"] == 128 * 1024 * 1024
    assert platform[1]["record"] == {"requestId": first.request_id, "version": "$LATEST"}
    report = platform[2]["record"]
    assert report["requestId"] == first.request_id and report["status"] == "success"
    assert report["metrics"]["billedDurationMs"] == first.billed_duration_ms
    assert report["metrics"]["memorySizeMB"] == 128 and "initDurationMs" in report["metrics"]
    assert "initDurationMs" not in platform[4]["record"]["metrics"]  # warm

    app = [r for r in lines if "type" not in r]
    by_message: dict = {}
    for r in app:
        by_message.setdefault(r.get("message"), r)  # the first invocation's
    debug = by_message["a debug record"]
    assert debug["level"] == "DEBUG" and debug["logger"] == "app" and debug["requestId"] == first.request_id
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z", debug["timestamp"])  # second precision, as awslambdaric
    assert by_message["an info record"]["order"] == 7  # extra= fields are kept
    assert by_message["a warning"]["level"] == "WARNING"
    caught = by_message["caught"]
    assert caught["level"] == "ERROR" and caught["errorType"] == "KeyError" and caught["errorMessage"] == "'missing'"
    assert isinstance(caught["stackTrace"], list) and caught["location"].endswith(":handler:11")  # the log call's line
    unhandled = [r for r in app if r.get("errorType") == "ValueError"]
    assert len(unhandled) == 1 and unhandled[0]["level"] == "ERROR"
    assert unhandled[0]["requestId"] == second.request_id and unhandled[0]["errorMessage"] == "boom"
    # one invocation's log and the Tail are the same JSON lines
    assert [r.get("type") for r in records(first.log)][0] == "platform.start"


def test_levels_filter_application_and_platform_records(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("quiet", LOGGING, log_format="JSON", application_log_level="WARN")
    fn.invoke({})
    app = [r for r in records(fn.logs()) if "type" not in r]
    assert {r["message"] for r in app} == {"a warning", "caught"}
    assert len([r for r in records(fn.logs()) if "type" in r]) == 3  # system level INFO: initStart, start, report

    fn.update(application_log_level="ERROR", system_log_level="WARN")
    fn.invoke({"fail": True})
    newest = records(fn.logs(fn.invoke({}).environment_id))
    assert all("type" not in r for r in newest)  # WARN: no platform record at all
    assert {r.get("message") or r.get("errorMessage") for r in newest} == {"caught", "boom"}


def test_print_lines_count_as_info(lab: lambdalab.Lab) -> None:
    source = (
        "def handler(event, context):\n"
        "    print('plain text')\n"
        '    print(\'{"level": "debug", "msg": "structured"}\')\n'
        '    print(\'{"level": "error", "msg": "bad"}\')\n'
    )
    fn = lab.create_function("prints", source, log_format="JSON", application_log_level="INFO")
    log = fn.invoke({}).log
    assert "plain text" in log and '"bad"' in log and "structured" not in log
    fn.update(application_log_level="ERROR")
    log = fn.invoke({}).log
    assert "plain text" not in log and '"bad"' in log


def test_powertools_logger_lines_parse_and_follow_the_level(lab: lambdalab.Lab) -> None:
    pytest.importorskip("aws_lambda_powertools")
    fn = lab.create_function(
        "pt", POWERTOOLS, log_format="JSON", application_log_level="INFO", inherit_packages=True
    )
    result = fn.invoke({})
    assert result.error is None, result.error
    lines = records(fn.logs())
    mine = [r for r in lines if r.get("service") == "orders"]
    assert [r["message"] for r in mine] == ["pt info", "pt warning"]  # AWS_LAMBDA_LOG_LEVEL=INFO drops debug
    assert mine[0]["level"] == "INFO" and mine[0]["order"] == 7


def test_awslambdaric_writes_json_unchanged(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("ric", LOGGING, runtime="python-ric", log_format="JSON", application_log_level="INFO")
    fn.invoke({"fail": True})
    lines = records(fn.logs())
    app = [r for r in lines if "type" not in r]
    assert "a debug record" not in {r.get("message") for r in app}
    assert {"an info record", "a warning", "caught"} <= {r.get("message") for r in app}
    assert any(r.get("errorType") == "ValueError" and r.get("level") == "ERROR" for r in app)


def test_environment_gets_the_format_and_level(lab: lambdalab.Lab) -> None:
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    return [os.environ.get('AWS_LAMBDA_LOG_FORMAT'), os.environ.get('AWS_LAMBDA_LOG_LEVEL')]\n"
    )
    assert lab.create_function("plain", source).invoke({}).payload == [None, None]
    fn = lab.create_function("structured", source, log_format="json", system_log_level="DEBUG")
    assert fn.invoke({}).payload == ["JSON", "INFO"]
    assert fn.config.log_format == "JSON" and fn.config.log_levels == ("INFO", "DEBUG")
    fn.update(log_format="Text")  # levels given before are dropped with the format
    assert fn.invoke({}).payload == [None, None] and fn.config.system_log_level is None


def test_text_format_is_unchanged(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("text", LOGGING)
    result = fn.invoke({})
    lines = result.log.splitlines()
    assert lines[0] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert any(line.startswith("[WARNING]\t") and line.endswith("\ta warning") for line in lines)


def test_bad_logging_settings_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", application_log_level="DEBUG")
    assert str(caught.value) == LOG_LEVEL_NEEDS_JSON
    with pytest.raises(ConfigError, match="log_format"):
        FunctionConfig(name="f", log_format="XML")
    with pytest.raises(ConfigError, match="system_log_level"):
        FunctionConfig(name="f", log_format="JSON", system_log_level="ERROR")
    with pytest.raises(ConfigError, match="application_log_level"):
        FunctionConfig(name="f", log_format="JSON", application_log_level="LOUD")


def test_profile_init_reads_its_timing_whatever_the_log_level(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("profiled", "import json\ndef handler(e, c):\n    return 1\n", log_format="JSON",
                             application_log_level="FATAL")
    table = fn.profile_init()
    assert "json" in set(table["module"]) and table.attrs["error"] is None
    assert fn.config.application_log_level == "FATAL"  # the function itself is untouched


def test_log_stream_render_and_filter_hooks() -> None:
    from lambdalab.core.logstream import LogStream
    from lambdalab.core.records import End, Start

    plain = LogStream("s")
    plain.add(Start("r1", "$LATEST", 1.0))
    plain.write(b"out\n")
    plain.add(End("r1", 2.0))
    assert plain.text() == "START RequestId: r1 Version: $LATEST\nout\nEND RequestId: r1\n"

    hooked = LogStream(
        "s",
        render=lambda entry: "" if isinstance(entry, End) else "S",
        filter_output=lambda chunk: chunk.replace("drop\n", ""),
    )
    hooked.add(Start("r1", "$LATEST", 1.0))
    hooked.write(b"keep\ndrop\n")
    hooked.add(End("r1", 2.0))
    hooked.write(b"drop\n")  # a run that filters to nothing leaves no line
    assert hooked.text() == "S\nkeep\n"
