"""The JSON log format (LogFormat=JSON) for the whole lifecycle: a SnapStart restore's platform.restoreStart and the
report's restore metrics, a failed restore's platform.restoreReport, an extension's platform.extension; every line a
JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lambdalab
from lambdalab.config import FunctionConfig
from lambdalab.core.outcomes import Status
from lambdalab.core.records import End, ExtensionState, InvocationRecord, Report, RestoreReport, RestoreStart
from lambdalab.engine.jsonlogs import JsonLogs
from tests.engine.extension_helpers import layer, probe
from tests.engine.snapstart_helpers import publish_snapstart

SNAP = """
import random
SEED = random.random()
def handler(event, context):
    print("handled")
    return SEED
"""

FAILING_HOOK = """
from snapshot_restore_py import register_after_restore
@register_after_restore
def hook():
    raise RuntimeError("no restore today")
def handler(event, context):
    return 1
"""


def records(text: str) -> list[dict]:
    """Every line of ``text`` parsed with json.loads (fails the test on a line that is not a JSON object)."""
    out = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        out.append(value)
    return out


def _renderer(**overrides: object) -> JsonLogs:
    config = FunctionConfig(name="fn", handler="main.handler", **overrides)  # type: ignore[arg-type]
    return JsonLogs(config, "3", "0123456789abcdef0123456789abcdef")


def test_restore_and_extension_entries_render_as_platform_records() -> None:
    render = _renderer(log_format="JSON")
    start = json.loads(render(RestoreStart("python3.12", 1_700_000_000.0)))
    assert start["type"] == "platform.restoreStart" and start["time"] == "2023-11-14T22:13:20.000Z"
    assert set(start["record"]) == {
        "runtimeVersion",
        "runtimeVersionArn",
        "functionName",
        "functionVersion",
        "instanceId",
        "instanceMaxMemory",
    }  # platform.initStart's fields but initializationType and phase
    assert start["record"]["functionName"] == "fn" and start["record"]["functionVersion"] == "3"
    assert start["record"]["runtimeVersion"].startswith("python:3.12")

    failed = json.loads(render(RestoreReport(12.3456, Status.ERROR, "Runtime.ExitError", 1_700_000_000.5)))
    assert failed == {
        "time": "2023-11-14T22:13:20.500Z",
        "type": "platform.restoreReport",
        "record": {"status": "error", "errorType": "Runtime.ExitError", "metrics": {"durationMs": 12.346}},
    }
    timeout = json.loads(render(RestoreReport(10_000.0, Status.TIMEOUT, None, 1.0)))["record"]
    assert timeout == {"status": "timeout", "metrics": {"durationMs": 10000.0}}

    extension = json.loads(render(ExtensionState("probe", "Ready", ("INVOKE", "SHUTDOWN"), 2.0)))
    assert extension["type"] == "platform.extension"
    assert extension["record"] == {"name": "probe", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}
    assert render(End("r", 3.0)) == ""
    # the system log level filters them as INFO records
    assert _renderer(log_format="JSON", system_log_level="WARN")(RestoreStart("python3.12", 1.0)) == ""


def test_report_of_a_restored_invocation_has_the_restore_metrics() -> None:
    render = _renderer(log_format="JSON")
    common = dict(
        request_id="r1",
        function="fn",
        version="3",
        environment_id="e",
        duration_ms=2.5,
        billed_duration_ms=3,
        memory_size_mb=128,
        max_memory_used_mb=40,
        status=Status.SUCCESS,
        error_type=None,
        init_suppressed=False,
        start=0.5,
        end=1.0,
        submitted=0.5,
    )
    restored = InvocationRecord(
        **common, cold=True, init_duration_ms=None, restore_duration_ms=4.25, billed_restore_duration_ms=5
    )
    metrics = json.loads(render(Report(restored, 1.0)))["record"]["metrics"]
    assert metrics["restoreDurationMs"] == 4.25 and metrics["billedRestoreDurationMs"] == 5
    assert "initDurationMs" not in metrics
    warm = InvocationRecord(**common, cold=False, init_duration_ms=None)
    metrics = json.loads(render(Report(warm, 1.0)))["record"]["metrics"]
    assert "restoreDurationMs" not in metrics and "billedRestoreDurationMs" not in metrics


@pytest.mark.timeout(120)
def test_a_restored_snapstart_function_logs_json() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("jsnap", SNAP, snap_start=True, log_format="JSON")
        version = publish_snapstart(lab, fn, settle_s=0)
        result = fn.invoke(qualifier=version)
        log = fn.logs(result.record.environment_id)
    assert result.record.restore_duration_ms is not None
    assert "handled" in log.splitlines()  # print() stays plain text, as on Lambda
    lines = records("\n".join(line for line in log.splitlines() if line != "handled"))  # the rest: JSON objects
    kinds = [r["type"] for r in lines if "type" in r]
    assert kinds == ["platform.restoreStart", "platform.start", "platform.report"]
    start = lines[[r.get("type") for r in lines].index("platform.restoreStart")]["record"]
    assert start["functionName"] == "jsnap" and start["functionVersion"] == version
    assert "initializationType" not in start and "phase" not in start
    report = next(r for r in lines if r.get("type") == "platform.report")["record"]
    assert report["requestId"] == result.request_id and report["status"] == "success"
    metrics = report["metrics"]
    assert metrics["restoreDurationMs"] == pytest.approx(result.record.restore_duration_ms, abs=0.001)
    assert metrics["billedRestoreDurationMs"] == result.record.billed_restore_duration_ms >= 1
    assert "initDurationMs" not in metrics


@pytest.mark.timeout(120)
def test_a_failed_restore_logs_a_json_restore_report() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("jsnapfail", FAILING_HOOK, snap_start=True, log_format="JSON")
        version = publish_snapstart(lab, fn, settle_s=0)
        result = fn.invoke(qualifier=version)
        log = fn.logs(result.record.environment_id)
    assert result.record.error_type == "SnapStartException"
    lines = records(log)
    reports = [r["record"] for r in lines if r.get("type") == "platform.restoreReport"]
    assert len(reports) >= 1
    assert reports[0]["status"] == "error" and reports[0]["metrics"]["durationMs"] > 0
    assert reports[0]["errorType"]  # the hook's error type, as RESTORE_REPORT's Error Type


@pytest.mark.timeout(60)
def test_an_extension_is_logged_as_platform_extension(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("jext", "def handler(e, c):\n    return 1\n", layers=[version.arn], log_format="JSON")
        result = fn.invoke()
        log = fn.logs(result.record.environment_id)
    assert result.payload == 1
    lines = []
    for line in log.splitlines():  # the probe's own output is plain text: Lambda keeps it as is
        try:
            lines.append(json.loads(line))
        except ValueError:
            assert line.startswith(("REGISTERED", "EVENT")), line
    kinds = [r["type"] for r in lines if isinstance(r, dict) and "type" in r]
    assert kinds[:2] == ["platform.initStart", "platform.extension"]
    assert kinds[2:] == ["platform.start", "platform.report"]
    extension = lines[[r.get("type") for r in lines].index("platform.extension")]["record"]
    assert extension == {"name": "probe", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}
