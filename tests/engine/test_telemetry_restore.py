"""The Telemetry API of a SnapStart restore: a subscriber in a restored environment receives
platform.restoreStart → platform.restoreRuntimeDone → platform.restoreReport (in place of the init's records) before
the invoke's; ``lab.telemetry()`` has them for restored environments without extensions too; a failed restore's
records say why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lambdalab
from tests.engine.extension_helpers import layer, wait_for
from tests.engine.test_telemetry_engine import HTTP_LISTENER, needs_namespace, received, subscriber

pytestmark = pytest.mark.timeout(120)

SNAP = "def handler(event, context):\n    return event\n"

FAILING_HOOK = """
from snapshot_restore_py import register_after_restore
@register_after_restore
def hook():
    raise RuntimeError("no restore today")
def handler(event, context):
    return 1
"""

RESTORE_START_FIELDS = {
    "runtimeVersion",
    "runtimeVersionArn",
    "functionName",
    "functionVersion",
    "instanceId",
    "instanceMaxMemory",
}


def _published(lab: lambdalab.Lab, fn: lambdalab.Function) -> str:
    version = fn.publish()
    state = "taking"
    deadline = time.monotonic() + 20
    while state == "taking" and time.monotonic() < deadline:
        state = lab._engine.call(lambda plane: plane.snapshot_state(fn.name, version))  # noqa: SLF001 - test only
        time.sleep(0.02)
    if state != "ready":
        pytest.skip("SnapStart needs the launcher, cgroups and pidfd exit status here")
    return version


@needs_namespace
def test_a_subscriber_in_a_restored_environment_receives_the_restore_records(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        sub = subscriber(HTTP_LISTENER, "2022-12-13", ["platform"])
        layer_version = lab.publish_layer_version("sub", layer(tmp_path / "layer", {"sub": sub}))
        fn = lab.create_function("tsnap", SNAP, snap_start=True, layers=[layer_version.arn])
        version = _published(lab, fn)
        result = fn.invoke({"n": 1}, qualifier=version)
        environment = result.record.environment_id
        fn.kill()

        def delivered() -> list[dict]:
            return received(fn.logs(environment))

        assert wait_for(lambda: bool(delivered()) and delivered()[-1]["type"] == "platform.report", 5.0), fn.logs()
        events = delivered()
        frame = lab.telemetry()
    assert result.record.restore_duration_ms is not None
    kinds = [e["type"] for e in events]
    # the extension starts afresh in the restored environment (docs/FIDELITY.md): its register and subscription
    # fall inside the restore, before or after the restored runtime's first next
    assert kinds[0] == "platform.restoreStart"
    assert sorted(kinds[1:4]) == ["platform.extension", "platform.restoreRuntimeDone", "platform.telemetrySubscription"]
    assert kinds.index("platform.extension") < kinds.index("platform.telemetrySubscription")
    assert kinds[4:] == ["platform.restoreReport", "platform.start", "platform.runtimeDone", "platform.report"]
    by_type = {e["type"]: e["record"] for e in events}
    start = by_type["platform.restoreStart"]
    assert set(start) == RESTORE_START_FIELDS
    assert start["functionName"] == "tsnap" and start["functionVersion"] == version
    assert by_type["platform.restoreRuntimeDone"] == {"status": "success"}
    report = by_type["platform.restoreReport"]
    assert report["status"] == "success" and set(report) == {"status", "metrics"}
    # the restore ends when the runtime and the extension wait on next: the core's Restore Duration
    assert report["metrics"]["durationMs"] == pytest.approx(result.record.restore_duration_ms, abs=2.0)
    metrics = by_type["platform.report"]["metrics"]
    assert metrics["restoreDurationMs"] == pytest.approx(result.record.restore_duration_ms, abs=0.001)
    assert metrics["billedRestoreDurationMs"] == result.record.billed_restore_duration_ms
    assert "initDurationMs" not in metrics
    # the same records, headless, for the restored environment
    mine = frame[(frame["environment_id"] == environment) & frame["type"].str.startswith("platform.")]
    assert list(mine["type"]) == [e["type"] for e in events]


def test_lab_telemetry_has_the_restore_records_of_a_function_without_extensions() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("plainsnap", SNAP, snap_start=True)
        version = _published(lab, fn)
        result = fn.invoke(1, qualifier=version)
        frame = lab.telemetry()
    mine = frame[(frame["environment_id"] == result.record.environment_id) & (frame["type"] != "function")]
    assert list(mine["type"]) == [
        "platform.restoreStart",
        "platform.restoreRuntimeDone",
        "platform.restoreReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    records = dict(zip(mine["type"], mine["record"], strict=True))
    assert set(records["platform.restoreStart"]) == RESTORE_START_FIELDS
    assert records["platform.restoreRuntimeDone"] == {"status": "success"}
    duration = records["platform.restoreReport"]["metrics"]["durationMs"]
    assert duration == pytest.approx(result.record.restore_duration_ms, abs=0.001)
    assert records["platform.report"]["metrics"]["restoreDurationMs"] == pytest.approx(duration, abs=0.001)
    times = list(mine["time"])
    assert times == sorted(times)
    # the template's init, at publish, is the version's initStart/initReport (in another environment)
    assert {"platform.initStart", "platform.initReport"} <= set(frame["type"])


def test_a_failed_restore_has_error_records() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("failsnap", FAILING_HOOK, snap_start=True)
        version = _published(lab, fn)
        result = fn.invoke(qualifier=version)
        frame = lab.telemetry()
    assert result.record.error_type == "SnapStartException"
    mine = frame[(frame["environment_id"] == result.record.environment_id) & (frame["type"] != "function")]
    kinds = list(mine["type"])
    assert kinds[:3] == ["platform.restoreStart", "platform.restoreRuntimeDone", "platform.restoreReport"]
    done, report = mine["record"].iloc[1], mine["record"].iloc[2]
    assert done["status"] == "error" and done["errorType"]
    assert report["status"] == "error" and report["errorType"] == done["errorType"]
    assert report["metrics"]["durationMs"] > 0
    assert "platform.start" not in kinds[:3]
