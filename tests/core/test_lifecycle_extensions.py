"""Extensions, SnapStart and graceful shutdown in the lifecycle table, driven through ``Pool`` by a list.

The stories of issue 15 (LAMBDA-SPEC §3.5, §4.2; design note §1, §3): extension init before the runtime,
the environment that freezes only when the runtime and every extension wait on next, post-runtime time
billed inside Duration, SIGTERM then SIGKILL with the documented grace periods, the template's snapshot
and restores from it, and their log lines. Without extensions and SnapStart nothing here is reached
(tests/core/test_lifecycle.py keeps today's stories).
"""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverExtensionEvent,
    DeliverInvocation,
    Freeze,
    Kill,
    LaunchExtensions,
    RecordSpan,
    RestoreRuntime,
    Retire,
    SignalRuntime,
    SpawnRuntime,
    StartRuntime,
    TakeSnapshot,
    Thaw,
)
from lambdalab.core.events import (
    ExtensionErrorPosted,
    ExtensionExited,
    ExtensionNextRequested,
    ExtensionRegistered,
    ExtensionsLaunched,
    ExtensionsRegistered,
    RestoreErrorPosted,
    RestoreNextRequested,
    SnapshotTaken,
)
from lambdalab.core.lifecycle import State
from lambdalab.core.outcomes import Status
from lambdalab.core.records import Phase
from lambdalab.errors import LifecycleError
from tests.core.test_lifecycle import SPEC, Driver, completion, kinds, log_lines, only, report_line

EXT = dataclasses.replace(SPEC, extensions=1)
BOTH = ("INVOKE", "SHUTDOWN")


class ExtensionDriver(Driver):
    def launched(self, eid: str, at: float, count: int = 1) -> list:
        return self.send(ExtensionsLaunched(eid, self.env(eid).incarnation, at, count))

    def register(self, eid: str, at: float, ident: str = "x1", events: tuple[str, ...] = BOTH, **kw: bool) -> list:
        return self.send(ExtensionRegistered(eid, self.env(eid).incarnation, at, ident, f"ext-{ident}", events, **kw))

    def registered(self, eid: str, at: float) -> list:
        return self.send(ExtensionsRegistered(eid, self.env(eid).incarnation, at))

    def ext_next(self, eid: str, at: float, ident: str = "x1") -> list:
        return self.send(ExtensionNextRequested(eid, self.env(eid).incarnation, at, ident))

    def ext_exited(self, eid: str, at: float, ident: str = "x1", code: int = 0) -> list:
        return self.send(ExtensionExited(eid, self.env(eid).incarnation, at, ident, code))


def extension_cold_start(d: ExtensionDriver, request_id: str = "r1") -> str:
    """Launch, register, start the runtime; the runtime is ready at 0.2, the extension waits on next at 0.25."""
    out = d.submit(request_id, 0.0)
    eid = only(out, LaunchExtensions).environment_id
    assert not [e for e in out if isinstance(e, SpawnRuntime)]
    assert d.launched(eid, 0.01) == []
    d.register(eid, 0.02)
    start = d.registered(eid, 0.05)
    assert only(start, StartRuntime).phase == "init"
    d.next(eid, 0.2)
    assert d.env(eid).state is State.POST_RUNTIME  # the extension has not called next yet
    out = d.ext_next(eid, 0.25)
    assert kinds(out)[:3] == ["DisarmDeadline", "RecordSpan", "RecordSpan"]
    invoke = only(out, DeliverExtensionEvent)
    assert (invoke.event_type, invoke.request_id, invoke.shutdown_reason) == ("INVOKE", request_id, None)
    assert kinds(out).index("DeliverExtensionEvent") < kinds(out).index("DeliverInvocation")
    return eid


# -- extensions: init and the freeze -------------------------------------------------------------------
def test_extensions_start_before_the_runtime_and_init_includes_them() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    spans = [(e.span.phase, e.span.start, e.span.end) for e in d.effects if isinstance(e, RecordSpan)]
    assert spans == [("extension_init", 0.0, 0.05), ("init", 0.05, 0.2), ("post_runtime", 0.2, 0.25)]
    assert "EXTENSION\tName: ext-x1\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in log_lines(d.effects)
    d.respond(eid, "r1", 0.5)
    d.next(eid, 0.6)
    out = d.ext_next(eid, 0.6)
    record = completion(out).record
    assert record.init_duration_ms == pytest.approx(250.0)  # extension init and its wait are part of Init
    assert "Init Duration: 250.00 ms" in report_line(out)


def test_the_environment_freezes_only_when_the_runtime_and_every_extension_wait_on_next() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    d.respond(eid, "r1", 0.5)
    out = d.next(eid, 0.6)  # the runtime asks for more; the extension is still working
    assert d.env(eid).state is State.POST_RUNTIME
    assert kinds(out) == ["RecordSpan"]  # the invoke span; no answer, no freeze, the timeout stays armed
    assert not d.env(eid).is_frozen
    out = d.ext_next(eid, 0.9)
    assert d.env(eid).state is State.IDLE and d.env(eid).is_frozen
    assert kinds(out) == [
        "DisarmDeadline", "RecordSpan", "Log", "Log", "CompleteInvocation", "Freeze", "ScheduleWakeup"
    ]  # fmt: skip
    post = [e.span for e in out if isinstance(e, RecordSpan)][0]
    assert (post.phase, post.start, post.end, post.request_id) == ("post_runtime", 0.6, 0.9, "r1")
    record = completion(out).record
    assert record.extension_overhead_ms == pytest.approx(300.0)
    assert record.duration_ms == pytest.approx(650.0)  # post-runtime time is inside Duration, and billed
    assert record.billed_duration_ms == 250 + 650  # this invoke also carries its Init Duration
    assert "Duration: 650.00 ms" in report_line(out)


def test_an_extension_already_waiting_lets_the_environment_freeze_at_the_runtimes_next() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    d.ext_next(eid, 0.3)  # the extension is done with INVOKE before the runtime
    d.respond(eid, "r1", 0.5)
    out = d.next(eid, 0.6)
    assert d.env(eid).state is State.IDLE and any(isinstance(e, Freeze) for e in out)
    assert completion(out).record.extension_overhead_ms == 0.0


def test_an_extension_not_subscribed_to_invoke_stays_parked() -> None:
    d = ExtensionDriver(EXT)
    out = d.submit("r1", 0.0)
    eid = only(out, LaunchExtensions).environment_id
    d.launched(eid, 0.01)
    d.register(eid, 0.02, events=("SHUTDOWN",))
    d.registered(eid, 0.03)
    d.ext_next(eid, 0.04)
    out = d.next(eid, 0.1)
    assert not [e for e in out if isinstance(e, DeliverExtensionEvent)]
    d.respond(eid, "r1", 0.2)
    assert d.env(eid).state is State.FINISHING
    out = d.next(eid, 0.3)
    assert d.env(eid).state is State.IDLE


def test_an_extension_that_never_calls_next_holds_the_environment_until_the_timeout() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    deadline = only(d.effects[-3:], ArmDeadline).at
    d.respond(eid, "r1", 0.5)
    d.next(eid, 0.6)
    out = d.deadline(eid, deadline)
    assert d.env(eid).state is State.RESET and not d.env(eid).is_frozen
    done = completion(out)
    assert done.body == b'"ok"'  # the caller gets what the runtime posted
    assert done.record.duration_ms == pytest.approx(3000.0) and done.record.billed_duration_ms == 3000 + 250
    assert done.record.extension_overhead_ms == pytest.approx((deadline - 0.6) * 1000.0)
    assert any(isinstance(e, Kill) for e in out)


def test_an_internal_extension_registers_during_init_and_gets_invoke() -> None:
    d = ExtensionDriver(SPEC)  # no external extension: SpawnRuntime as ever
    out = d.submit("r1", 0.0)
    eid = only(out, SpawnRuntime).environment_id
    d.started(eid, 0.01)
    d.register(eid, 0.02, ident="in1", events=("INVOKE",), internal=True)
    d.next(eid, 0.1)
    assert d.env(eid).state is State.POST_RUNTIME
    out = d.ext_next(eid, 0.12, ident="in1")
    assert only(out, DeliverExtensionEvent).event_type == "INVOKE"
    assert only(out, DeliverInvocation).invocation.request_id == "r1"


def test_an_extension_crash_resets_the_environment_with_extension_crash() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    out = d.ext_exited(eid, 0.4, code=1)
    assert d.env(eid).state is State.RESET
    done = completion(out)
    assert done.record.error_type == "Extension.Crash" and done.record.status is Status.ERROR
    assert json.loads(done.body)["errorType"] == "Extension.Crash"
    assert "Status: error\tError Type: Extension.Crash" in report_line(out)


def test_an_extension_crash_after_the_response_is_reported_and_resets() -> None:
    """Post-runtime crash: the caller keeps the posted response; record and REPORT say Extension.Crash."""
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    d.respond(eid, "r1", 0.5)
    d.next(eid, 0.6)
    assert d.env(eid).state is State.POST_RUNTIME
    out = d.ext_exited(eid, 0.7, code=1)
    assert d.env(eid).state is State.RESET
    done = completion(out)
    assert done.body == b'"ok"' and not done.is_error  # the response was the caller's already
    assert done.record.status is Status.ERROR and done.record.error_type == "Extension.Crash" and done.record.reset
    assert done.record.extension_overhead_ms == pytest.approx(100.0)
    assert "Status: error\tError Type: Extension.Crash" in report_line(out)
    assert any(isinstance(e, Kill) for e in out)


def test_an_extension_init_error_fails_init() -> None:
    d = ExtensionDriver(EXT)
    eid = only(d.submit("r1", 0.0), LaunchExtensions).environment_id
    d.launched(eid, 0.01)
    d.register(eid, 0.02)
    d.send(ExtensionErrorPosted(eid, 1, 0.03, "x1", "Extension.ConfigInvalid", "init"))
    out = d.ext_exited(eid, 0.04, code=1)
    assert d.env(eid).state is State.STARTING  # the pool retries init inside the invoke, as for the runtime
    assert "INIT_REPORT Init Duration: 40.00 ms\tPhase: init\tStatus: error\tError Type: Extension.InitError" in (
        log_lines(out)
    )


@pytest.mark.parametrize("error_type", ["Extension.LaunchError", "Extension.InitError"])
def test_an_extension_the_engine_could_not_launch_fails_init_with_the_engines_error_type(error_type: str) -> None:
    d = ExtensionDriver(EXT)
    eid = only(d.submit("r1", 0.0), LaunchExtensions).environment_id
    d.launched(eid, 0.01)
    out = d.send(ExtensionExited(eid, 1, 0.02, "", 127, error_type))
    assert f"Status: error\tError Type: {error_type}" in log_lines(out)[-1]
    assert d.env(eid).state is State.STARTING  # the pool retries init inside the invoke, as for the runtime


def test_shutdown_while_extensions_start_kills_and_retires() -> None:
    d = ExtensionDriver(EXT)
    eid = only(d.submit("r1", 0.0), LaunchExtensions).environment_id
    d.launched(eid, 0.01)
    out = d.shutdown(0.1)
    assert kinds(out)[-3:] == ["DisarmDeadline", "Kill", "Retire"]
    assert eid not in d.pool.environments
    assert completion(out).record.error_type == "Sandbox.Failure"


# -- graceful shutdown -----------------------------------------------------------------------------------------
def idle_extension_environment(d: ExtensionDriver) -> str:
    eid = extension_cold_start(d)
    d.ext_next(eid, 0.3)
    d.respond(eid, "r1", 0.5)
    d.next(eid, 0.6)
    assert d.env(eid).state is State.IDLE
    return eid


def test_shutdown_with_an_external_extension_sigterms_the_runtime_then_sends_shutdown() -> None:
    d = ExtensionDriver(EXT)
    eid = idle_extension_environment(d)
    out = d.shutdown(10.0)
    assert d.env(eid).state is State.DRAINING
    assert isinstance(out[0], Thaw)  # SIGTERM must reach a running process
    signal = only(out, SignalRuntime)
    assert (signal.signal, signal.kill_at) == ("SIGTERM", pytest.approx(10.3))
    assert only(out, ArmDeadline).at == pytest.approx(12.0)
    assert not [e for e in out if isinstance(e, Kill)]
    out = d.exited(eid, 10.1, -15)
    event = only(out, DeliverExtensionEvent)
    assert (event.event_type, event.shutdown_reason, event.deadline_at) == ("SHUTDOWN", "spindown", pytest.approx(12.0))
    out = d.ext_exited(eid, 10.5)
    assert kinds(out) == ["DisarmDeadline", "RecordSpan", "Retire"]
    span = only(out, RecordSpan).span
    assert (span.phase, span.start, span.end) == ("shutdown", 10.0, 10.5)
    assert eid not in d.pool.environments


def test_draining_past_the_deadline_kills_what_is_left() -> None:
    d = ExtensionDriver(EXT)
    eid = idle_extension_environment(d)
    d.shutdown(10.0)
    d.exited(eid, 10.3, -9)
    out = d.deadline(eid, 12.0)
    assert kinds(out) == ["RecordSpan", "Kill", "Retire"]
    assert only(out, RecordSpan).span.end == 12.0


def test_an_internal_extension_gives_the_runtime_500_ms() -> None:
    d = ExtensionDriver(SPEC)
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    d.started(eid, 0.01)
    d.register(eid, 0.02, ident="in1", events=("INVOKE",), internal=True)
    d.ext_next(eid, 0.05, ident="in1")
    d.next(eid, 0.1)
    d.respond(eid, "r1", 0.2)
    d.next(eid, 0.3)
    d.ext_next(eid, 0.3, ident="in1")
    out = d.shutdown(5.0)
    assert only(out, SignalRuntime).kill_at == pytest.approx(5.5)
    assert only(out, ArmDeadline).at == pytest.approx(5.5)  # no external extension: the runtime's grace is all
    out = d.exited(eid, 5.2, 0)
    assert kinds(out) == ["DisarmDeadline", "RecordSpan", "Retire"]


def test_shutdown_while_busy_with_extensions_fails_the_invocation_and_drains() -> None:
    d = ExtensionDriver(EXT)
    eid = extension_cold_start(d)
    out = d.shutdown(1.0)
    assert completion(out).record.error_type == "Sandbox.Failure"
    assert d.env(eid).state is State.DRAINING


# -- SnapStart ---------------------------------------------------------------------------------------------------
def snapshot_ready(d: Driver) -> str:
    out = d._keep(d.pool.take_snapshot(0.0))
    tid = only(out, SpawnRuntime).environment_id
    assert only(out, SpawnRuntime).init_type == "snap-start"
    d.started(tid, 0.01)
    out = d.send(RestoreNextRequested(tid, 1, 1.0))
    assert kinds(out) == ["DisarmDeadline", "RecordSpan", "Log", "TakeSnapshot", "ArmDeadline"]
    assert log_lines(out) == ["INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: success"]
    assert d.pool.snapshot == "taking"
    out = d.send(SnapshotTaken(tid, 1, 1.2))
    assert only(out, RecordSpan).span.phase == "snapshot"
    assert d.pool.snapshot == "ready" and d.env(tid).state is State.SNAPSHOTTED
    return tid


def test_a_ready_snapshot_restores_new_environments_instead_of_init() -> None:
    d = Driver()
    tid = snapshot_ready(d)
    out = d.submit("r1", 2.0)
    assert not [e for e in out if isinstance(e, (SpawnRuntime, TakeSnapshot))]
    eid = only(out, RestoreRuntime).environment_id
    assert eid != tid and d.env(eid).state is State.RESTORING and d.env(eid).init_type == "snap-start"
    assert log_lines(out)[0].startswith("RESTORE_START Runtime Version: python:")
    assert only(out, ArmDeadline).at == pytest.approx(12.0)  # the 10 s restore limit
    out = d.next(eid, 2.05)
    assert only(out, DeliverInvocation).invocation.request_id == "r1"
    d.respond(eid, "r1", 2.3)
    out = d.next(eid, 2.3)
    record = completion(out).record
    assert record.cold and record.init_duration_ms is None
    assert record.restore_duration_ms == pytest.approx(50.0) and record.billed_restore_duration_ms == 50
    line = report_line(out)
    assert "Init Duration" not in line
    assert line.endswith("\tRestore Duration: 50.00 ms\tBilled Restore Duration: 50 ms\t")
    d.submit("r2", 3.0)
    d.respond(eid, "r2", 3.1)
    warm = completion(d.next(eid, 3.1)).record
    assert warm.restore_duration_ms is None and not warm.cold
    assert d.pool.statistics().environments == 1  # the template serves nothing


def test_a_failing_after_restore_hook_gives_the_caller_snapstart_exception() -> None:
    d = Driver()
    snapshot_ready(d)
    eid = only(d.submit("r1", 2.0), RestoreRuntime).environment_id
    d.send(RestoreErrorPosted(eid, 1, 2.1, "Runtime.AfterRestoreError", b"{}"))
    out = d.exited(eid, 2.15, 65)
    assert log_lines(out) == [
        "RESTORE_REPORT Restore Duration: 150.00 ms\tStatus: error\tError Type: Runtime.AfterRestoreError"
    ]
    done = completion(out)
    assert done.is_error and done.record.error_type == "SnapStartException"
    assert json.loads(done.body) == {
        "Type": "User",
        "Message": "The afterRestore() runtime hook encountered an error. For more information, check the "
        "Amazon CloudWatch logs.",
    }
    assert d.env(eid).state is State.RESET
    again = d.submit("r2", 3.0)  # the reset environment is restored again
    assert only(again, RestoreRuntime).environment_id == eid


def test_a_restore_past_10_s_is_a_snapstart_timeout() -> None:
    d = Driver()
    snapshot_ready(d)
    eid = only(d.submit("r1", 2.0), RestoreRuntime).environment_id
    out = d.deadline(eid, 12.0)
    assert log_lines(out) == ["RESTORE_REPORT Restore Duration: 10000.00 ms\tStatus: timeout"]
    assert completion(out).record.error_type == "SnapStartTimeoutException"


def test_a_before_snapshot_failure_fails_the_snapshot() -> None:
    d = Driver()
    tid = only(d._keep(d.pool.take_snapshot(0.0)), SpawnRuntime).environment_id
    d.started(tid, 0.01)
    d.init_error(tid, 0.5)
    out = d.exited(tid, 0.6, 64)
    assert d.pool.snapshot == "failed" and tid not in d.pool.environments
    assert "Status: error" in log_lines(out)[0]
    assert only(d.submit("r1", 1.0), SpawnRuntime)  # no snapshot: an ordinary cold start


def test_a_dead_template_makes_its_version_start_cold_as_on_demand() -> None:
    """The template dies after restores: restored (now reset) and new environments start cold, never snap-start."""
    d = Driver()
    tid = snapshot_ready(d)
    eid = only(d.submit("r1", 2.0), RestoreRuntime).environment_id
    d.next(eid, 2.05)
    d.respond(eid, "r1", 2.1)
    d.next(eid, 2.1)
    d.exited(tid, 3.0, -9)  # the template is killed ...
    assert d.pool.snapshot == "failed" and d.pool.template is None
    d.exited(eid, 3.01, -9)  # ... and its restored environment with it (PR_SET_PDEATHSIG)
    assert d.env(eid).state is State.RESET
    out = d.submit("r2", 4.0)  # the reset, once restored environment
    spawn = only(out, SpawnRuntime)
    assert spawn.environment_id == eid and spawn.init_type == "on-demand" and d.env(eid).init_type == "on-demand"
    d.started(eid, 4.0)
    with pytest.raises(LifecycleError):  # a runtime that asks for /restore/next anyway is refused
        d.send(RestoreNextRequested(eid, d.env(eid).incarnation, 4.1))
    assert d.env(eid).state is State.INITIALIZING
    d.next(eid, 4.2)
    fresh = only(d.submit("r3", 4.25), SpawnRuntime)  # a new environment (eid is busy) starts cold too
    assert fresh.environment_id != eid and fresh.init_type == "on-demand"
    d.respond(eid, "r2", 4.3)
    record = completion(d.next(eid, 4.3)).record
    assert record.cold and record.restore_duration_ms is None and record.init_duration_ms == pytest.approx(200.0)


def test_retire_shuts_the_template_down() -> None:
    d = Driver()
    tid = snapshot_ready(d)
    out = d.retire(5.0)
    assert only(out, Kill).environment_id == tid
    d.exited(tid, 5.1, -9)
    assert d.pool.template is None and d.pool.snapshot == "none" and not d.pool.environments


def test_a_restored_environment_with_an_extension_waits_for_it() -> None:
    d = ExtensionDriver(EXT)
    snapshot_ready_ext = dataclasses.replace(EXT, extensions=0)
    d.pool.spec = snapshot_ready_ext  # the template runs without extensions (they are not snapshotted)
    snapshot_ready(d)
    d.pool.spec = EXT
    out = d.submit("r1", 2.0)
    assert kinds(out).count("LaunchExtensions") == 1 and kinds(out).count("RestoreRuntime") == 1
    eid = only(out, RestoreRuntime).environment_id
    d.next(eid, 2.01)  # the runtime is restored before the extension registered
    assert d.env(eid).state is State.POST_RUNTIME
    d.launched(eid, 2.02)
    d.register(eid, 2.03)
    d.registered(eid, 2.03)
    out = d.ext_next(eid, 2.04)
    assert d.env(eid).state is State.INVOKING
    assert [e.span.phase for e in out if isinstance(e, RecordSpan)] == ["restore", "post_runtime"]
    d.respond(eid, "r1", 2.1)
    d.next(eid, 2.1)
    record = completion(d.ext_next(eid, 2.2)).record
    assert record.restore_duration_ms == pytest.approx(40.0)


# -- the phases ---------------------------------------------------------------------------------------------------
def test_every_new_phase_is_recorded() -> None:
    d = ExtensionDriver(EXT)
    eid = idle_extension_environment(d)
    d.shutdown(10.0)
    d.exited(eid, 10.1, -15)
    d.ext_exited(eid, 10.2)
    s = Driver()
    snapshot_ready(s)
    rid = only(s.submit("r1", 2.0), RestoreRuntime).environment_id
    s.next(rid, 2.1)
    phases = {e.span.phase for e in [*d.effects, *s.effects] if isinstance(e, RecordSpan)}
    assert {"extension_init", "post_runtime", "restore", "snapshot", "shutdown"} <= phases
    assert phases <= set(typing.get_args(Phase))
    assert not [e for e in d.effects if isinstance(e, CompleteInvocation) and e.record.reset]
    assert [e for e in d.effects if isinstance(e, Retire)]
