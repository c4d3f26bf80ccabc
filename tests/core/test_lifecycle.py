"""The lifecycle table, and the stories Lambda tells, driven through ``Pool`` with a hand-held clock.

Synchronous and instant: no processes, no sleeps; time is a float passed as ``at`` (STYLE §3.11,
rules 1-2). The driver is a list: tests feed events and look at the effects that come back.
Expected strings come from LAMBDA-SPEC §3.3, §3.4, §4.2 and §5. One module past STYLE §3.6's
500 lines on purpose: it is the file §3.11 names, and the table and the stories share one driver.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import typing

import pytest

from lambdalab.core import events as events_module
from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverInvocation,
    DisarmDeadline,
    Effect,
    Freeze,
    Kill,
    Log,
    RecordSpan,
    Retire,
    SpawnRuntime,
    Thaw,
)
from lambdalab.core.events import (
    DeadlineExceeded,
    ErrorPosted,
    Event,
    ExtensionNextRequested,
    ExtensionRegistered,
    ExtensionsLaunched,
    ExtensionsRegistered,
    InitErrorPosted,
    Invocation,
    InvocationAssigned,
    LastProcessExited,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    RestoreNextRequested,
    RestoreRequested,
    ShutdownRequested,
    SnapshotTaken,
    StartRequested,
)
from lambdalab.core.ids import IdFactory
from lambdalab.core.lifecycle import TRANSITIONS, Environment, EnvironmentSpec, State, allows
from lambdalab.core.outcomes import Status
from lambdalab.core.pool import Pool
from lambdalab.core.records import InitStart, Phase, Report, format_entry
from lambdalab.errors import LifecycleError

SPEC = EnvironmentSpec("hello", "$LATEST", "python", 128, 3.0)
NEW_STATES = (
    State.EXTENSIONS_INIT,
    State.SNAPSHOTTING,
    State.SNAPSHOTTED,
    State.RESTORING,
    State.POST_RUNTIME,
    State.DRAINING,
)
IMPORT_ERROR = (
    b"{\"errorMessage\": \"Unable to import module 'lambda_function': No module named 'x'\", "
    b'"errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}'
)
KEY_ERROR = b'{"errorMessage": "\'action\'", "errorType": "KeyError", "requestId": "r1", "stackTrace": []}'

# Every event the core defines, lifecycle or not: each must either have rows in TRANSITIONS or be
# refused by an Environment (pool-level events such as a keep-alive wakeup have no rows).
EVENT_TYPES: tuple[type[Event], ...] = tuple(
    sorted(
        (
            cls
            for _, cls in inspect.getmembers(events_module, inspect.isclass)
            if issubclass(cls, Event) and cls is not Event
        ),
        key=lambda cls: cls.__name__,
    )
)


# -- a driver that is a list ------------------------------------------------------------------------
class Driver:
    """Feeds a pool and keeps every effect it returned, in order."""

    def __init__(self, spec: EnvironmentSpec = SPEC) -> None:
        self.pool = Pool(spec, IdFactory("test-lifecycle").next_environment_id)
        self.effects: list[Effect] = []

    def submit(self, request_id: str, at: float) -> list[Effect]:
        return self._keep(self.pool.submit(Invocation(request_id, at), at))

    def send(self, event: Event) -> list[Effect]:
        return self._keep(self.pool.handle(event))

    def env(self, environment_id: str) -> Environment:
        return self.pool.environments[environment_id]

    # the runtime's side, for the current incarnation
    def started(self, eid: str, at: float) -> list[Effect]:
        return self.send(ProcessStarted(eid, self.env(eid).incarnation, at))

    def next(self, eid: str, at: float) -> list[Effect]:
        return self.send(NextRequested(eid, self.env(eid).incarnation, at))

    def respond(self, eid: str, request_id: str, at: float, body: bytes = b'"ok"', memory: int = 40) -> list[Effect]:
        return self.send(ResponsePosted(eid, self.env(eid).incarnation, at, request_id, body, memory))

    def fail(self, eid: str, request_id: str, at: float, body: bytes = KEY_ERROR) -> list[Effect]:
        return self.send(ErrorPosted(eid, self.env(eid).incarnation, at, request_id, body, "KeyError", 40))

    def init_error(self, eid: str, at: float) -> list[Effect]:
        return self.send(InitErrorPosted(eid, self.env(eid).incarnation, at, IMPORT_ERROR, "Runtime.ImportModuleError"))

    def exited(self, eid: str, at: float, returncode: int, *, oom: bool = False, memory: int = 0) -> list[Effect]:
        return self.send(ProcessExited(eid, self.env(eid).incarnation, at, returncode, oom, memory))

    def deadline(self, eid: str, at: float, memory: int = 0) -> list[Effect]:
        return self.send(DeadlineExceeded(eid, self.env(eid).incarnation, at, memory))

    def retire(self, at: float) -> list[Effect]:
        return self._keep(self.pool.retire(at))

    def shutdown(self, at: float) -> list[Effect]:
        return self._keep(self.pool.shutdown(at))

    def _keep(self, effects: list[Effect]) -> list[Effect]:
        self.effects += effects
        return effects


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def log_lines(effects: list[Effect]) -> list[str]:
    return [format_entry(e.entry) for e in effects if isinstance(e, Log)]


def only(effects: list[Effect], kind: type[Effect]) -> Effect:
    found = [e for e in effects if isinstance(e, kind)]
    assert len(found) == 1, kinds(effects)
    return found[0]


def completion(effects: list[Effect]) -> CompleteInvocation:
    done = only(effects, CompleteInvocation)
    assert isinstance(done, CompleteInvocation)
    return done


def report_line(effects: list[Effect]) -> str:
    return next(line for line in log_lines(effects) if line.startswith("REPORT "))


def cold_start(d: Driver, request_id: str = "r1", at: float = 0.0, ready: float = 0.1) -> str:
    """Submit, start the process, finish init: the invocation is delivered. Returns the environment id."""
    eid = only(d.submit(request_id, at), SpawnRuntime).environment_id
    d.started(eid, at + 0.01)
    d.next(eid, ready)
    return eid


def park_after(d: Driver, eid: str, request_id: str, at: float) -> list[Effect]:
    """The runtime answers ``request_id`` and asks for more: the invocation completes."""
    d.respond(eid, request_id, at - 0.01)
    return d.next(eid, at)


# -- the table ------------------------------------------------------------------------------------
def test_every_lifecycle_event_is_in_the_table_test() -> None:
    in_table = {event for _, event in TRANSITIONS}
    assert in_table <= set(EVENT_TYPES)
    assert {
        StartRequested,
        ProcessStarted,
        InitErrorPosted,
        NextRequested,
        InvocationAssigned,
        ResponsePosted,
        ErrorPosted,
        DeadlineExceeded,
        ProcessExited,
        ShutdownRequested,
    } <= in_table


EXTENSION_SPEC = dataclasses.replace(SPEC, extensions=1)
BOTH_EVENTS = ("INVOKE", "SHUTDOWN")


def _extension_environment_in(state: State) -> Environment:
    """The states only extensions and SnapStart reach, through legal events."""
    e = Environment("e" * 32, EXTENSION_SPEC if state is not State.SNAPSHOTTING else SPEC)
    if state is State.RESTORING:
        e.handle(RestoreRequested(e.id, 0, 0.0))
        return e
    e.handle(StartRequested(e.id, 0, 0.0, "init"))
    if state is State.SNAPSHOTTING or state is State.SNAPSHOTTED:
        e = Environment("e" * 32, SPEC)
        e.template = True  # only a SnapStart template asks for /restore/next
        e.handle(StartRequested(e.id, 0, 0.0, "init"))
        e.handle(ProcessStarted(e.id, 1, 0.1))
        e.handle(RestoreNextRequested(e.id, 1, 0.2))
        if state is State.SNAPSHOTTED:
            e.handle(SnapshotTaken(e.id, 1, 0.3))
        return e
    e.handle(ExtensionsLaunched(e.id, 1, 0.05, 1))
    if state is State.EXTENSIONS_INIT:
        return e
    e.handle(ExtensionRegistered(e.id, 1, 0.06, "ext", "ext", BOTH_EVENTS))
    e.handle(ExtensionsRegistered(e.id, 1, 0.07))
    e.handle(NextRequested(e.id, 1, 0.2))  # the extension has not called next: post-runtime
    if state is State.POST_RUNTIME:
        return e
    e.handle(ExtensionNextRequested(e.id, 1, 0.25, "ext"))
    e.handle(ShutdownRequested(e.id, 1, 0.5))
    return e


LMI_SPEC = dataclasses.replace(SPEC, per_environment=2, freeze=False)


def _overrun_environment() -> Environment:
    """A Managed Instances worker whose invocation timed out: OVERRUN, its code still running."""
    e = Environment("e" * 32, LMI_SPEC)
    for event in (
        StartRequested(e.id, 0, 0.0, "init"),
        ProcessStarted(e.id, 1, 0.1),
        NextRequested(e.id, 1, 0.2),
        InvocationAssigned(e.id, 1, 0.3, Invocation("r1", 0.3)),
        DeadlineExceeded(e.id, 1, 3.3),
    ):
        e.handle(event)
    return e


def environment_in(state: State) -> Environment:
    """An environment brought to ``state`` through legal events only."""
    if state is State.OVERRUN:
        e = _overrun_environment()
        assert e.state is state
        return e
    if state in NEW_STATES:
        e = _extension_environment_in(state)
        assert e.state is state
        return e
    e = Environment("e" * 32, SPEC)
    path: list[Event] = []
    if state is not State.RESET:
        path.append(StartRequested(e.id, 0, 0.0, "init"))
    if state not in (State.RESET, State.STARTING):
        path.append(ProcessStarted(e.id, 1, 0.1))
    if state not in (State.RESET, State.STARTING, State.INITIALIZING):
        path.append(NextRequested(e.id, 1, 0.2))
    if state in (State.INVOKING, State.FINISHING):
        path.append(InvocationAssigned(e.id, 1, 0.3, Invocation("r1", 0.3)))
    if state is State.FINISHING:
        path.append(ResponsePosted(e.id, 1, 0.4, "r1", b"ok", 10))
    if state in (State.SHUTTING_DOWN, State.TERMINATED):
        path.append(ShutdownRequested(e.id, 1, 0.5))
    if state is State.TERMINATED:
        path.append(ProcessExited(e.id, 1, 0.6, -9))
    for event in path:
        e.handle(event)
    assert e.state is state
    return e


def event_for(kind: type[Event], e: Environment, at: float = 1.0) -> Event:
    """An instance of ``kind`` for ``e``'s current incarnation; required fields filled by name."""
    values = {
        "environment_id": e.id,
        "incarnation": e.incarnation,
        "at": at,
        "request_id": e.current.request_id if e.current is not None else "r1",
        "body": b"ok",
        "max_memory_mb": 10,
        "error_type": "KeyError",
        "returncode": 1,
        "phase": "init",
        "invocation": Invocation("r2", at),
        "identifier": "ext",
        "name": "ext",
        "events": BOTH_EVENTS,
        "kind": "init",
        "count": 1,
        "exit_code": 1,
    }
    known = {name: values[name] for name in kind._fields if name in values}
    try:
        return kind(**known)  # fields left out take their defaults
    except TypeError as exc:
        raise AssertionError(f"teach event_for the fields of {kind.__name__}: {exc}") from exc


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.__name__)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_every_state_event_pair_follows_the_table_or_raises(state: State, kind: type[Event]) -> None:
    e = environment_in(state)
    e.template = e.template or kind is RestoreNextRequested  # its rows are a template's (others are refused)
    event = event_for(kind, e)
    taken = e.row(event)  # a guard of an environment with extensions may pick a derived event's row
    assert taken is kind or issubclass(taken, kind) or taken is LastProcessExited
    expected = TRANSITIONS.get((state, taken))

    if expected is not None:
        e.handle(event)
        assert e.state is expected
        return
    with pytest.raises(LifecycleError) as caught:
        e.handle(event)
    legal = tuple(s.value for s in State if (s, kind) in TRANSITIONS)
    error = caught.value
    assert taken is kind  # a guard never turns an illegal event into a legal one
    assert (error.environment_id, error.state, error.event) == (e.id, state.value, kind.__name__)
    assert sorted(error.legal_in) == sorted(legal)
    message = str(error)
    assert state.value in message and kind.__name__ in message
    assert all(s in message for s in legal)
    assert e.state is state  # a rejected event changes nothing


def test_lifecycle_error_message_names_state_event_and_legal_states() -> None:
    e = environment_in(State.IDLE)

    with pytest.raises(LifecycleError) as caught:
        e.handle(NextRequested(e.id, 1, 1.0))

    assert str(caught.value) == (
        f"environment {e.id}: NextRequested is not legal in state idle (legal in: initializing, finishing, restoring, "
        "overrun)"
    )


def test_terminated_accepts_nothing() -> None:
    assert not [key for key in TRANSITIONS if key[0] is State.TERMINATED]


def test_every_state_but_terminated_has_a_way_out() -> None:
    sources = {state for state, _ in TRANSITIONS}
    assert sources == set(State) - {State.TERMINATED}


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.__name__)
@pytest.mark.parametrize("state", list(State), ids=lambda s: s.name)
def test_allows_answers_from_the_table(state: State, kind: type[Event]) -> None:
    assert allows(state, kind) is ((state, kind) in TRANSITIONS)


# -- the phase in progress ---------------------------------------------------------------------------
def open_phase(d: Driver, eid: str, now: float) -> tuple[str, float, float, str | None] | None:
    span = d.env(eid).open_span(now)
    return None if span is None else (span.phase, span.start, span.end, span.request_id)


def test_open_span_follows_the_environment_through_its_phases() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    assert open_phase(d, eid, 0.05) == ("init", 0.0, 0.05, None)
    d.started(eid, 0.01)
    assert open_phase(d, eid, 0.06) == ("init", 0.0, 0.06, None)
    d.next(eid, 0.1)
    assert open_phase(d, eid, 0.2) == ("invoke", 0.1, 0.2, "r1")
    d.respond(eid, "r1", 0.3)
    assert open_phase(d, eid, 0.35) == ("invoke", 0.1, 0.35, "r1")  # FINISHING: the span ends at /next
    d.next(eid, 0.4)
    assert open_phase(d, eid, 1.0) == ("frozen", 0.4, 1.0, None)
    d.shutdown(2.0)
    assert open_phase(d, eid, 2.5) == ("shutdown", 2.0, 2.5, None)


def test_open_span_is_idle_without_freezing_and_none_after_a_reset() -> None:
    d = Driver(dataclasses.replace(SPEC, freeze=False))
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)
    assert open_phase(d, eid, 0.7) == ("idle", 0.5, 0.7, None)
    d.exited(eid, 0.8, 1)
    assert d.env(eid).state is State.RESET
    assert open_phase(d, eid, 0.9) is None


def test_every_span_the_lifecycle_records_is_a_phase() -> None:
    phases = set()
    for freeze in (True, False):
        d = Driver(dataclasses.replace(SPEC, freeze=freeze))
        eid = cold_start(d)
        park_after(d, eid, "r1", 0.5)
        d.submit("r2", 1.0)
        d.deadline(eid, 4.0)
        d.submit("r3", 5.0)
        d.shutdown(6.0)
        d.exited(eid, 6.1, -9)
        phases |= {e.span.phase for e in d.effects if isinstance(e, RecordSpan)}

    # the phases of extensions and SnapStart: tests/core/test_lifecycle_extensions.py; Managed Instances' overrun:
    # tests/core/test_groups.py
    assert phases == set(typing.get_args(Phase)) - {"restore", "snapshot", "extension_init", "post_runtime", "overrun"}


def test_without_logs_a_completion_is_the_only_effect_of_the_answer() -> None:
    d = Driver(dataclasses.replace(SPEC, logs=False))
    eid = cold_start(d)

    out = park_after(d, eid, "r1", 0.5)

    assert kinds(out) == ["DisarmDeadline", "RecordSpan", "CompleteInvocation", "Freeze", "ScheduleWakeup"]
    assert [type(e.entry).__name__ for e in d.effects if isinstance(e, Log)] == ["InitStart"]  # no START/END/REPORT


# -- cold start --------------------------------------------------------------------------------------
def test_cold_start_logs_init_start_spawns_and_arms_the_init_deadline() -> None:
    d = Driver()

    out = d.submit("r1", 0.0)

    assert kinds(out) == ["Log", "SpawnRuntime", "ArmDeadline"]
    log, spawn, arm = out
    assert isinstance(log, Log) and log.entry == InitStart("python", 0.0)
    assert spawn == SpawnRuntime(spawn.environment_id, 1, "on-demand", "init")
    assert arm == ArmDeadline(spawn.environment_id, 1, 10.0)
    assert d.env(spawn.environment_id).state is State.STARTING


def test_cold_start_delivers_the_invocation_once_init_is_done() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id

    assert d.started(eid, 0.05) == []
    assert d.env(eid).state is State.INITIALIZING
    out = d.next(eid, 0.25)

    assert kinds(out) == ["DisarmDeadline", "RecordSpan", "Log", "DeliverInvocation", "ArmDeadline"]
    span = only(out, RecordSpan)
    assert isinstance(span, RecordSpan)
    assert (span.span.phase, span.span.start, span.span.end) == ("init", 0.0, 0.25)
    assert log_lines(out) == ["START RequestId: r1 Version: $LATEST"]
    deliver = only(out, DeliverInvocation)
    assert isinstance(deliver, DeliverInvocation)
    assert deliver.invocation.request_id == "r1" and deliver.deadline_at == pytest.approx(3.25)
    assert out[-1] == ArmDeadline(eid, 1, deliver.deadline_at)
    assert d.env(eid).state is State.INVOKING


def test_response_is_reported_only_when_the_runtime_asks_for_next_again() -> None:
    d = Driver()
    eid = cold_start(d, ready=0.2)

    assert d.respond(eid, "r1", 0.5) == []
    assert d.env(eid).state is State.FINISHING
    out = d.next(eid, 0.6)

    assert kinds(out)[:5] == ["DisarmDeadline", "RecordSpan", "Log", "Log", "CompleteInvocation"]
    assert Freeze(eid) in out[5:]  # parked after the caller's answer
    done = completion(out)
    assert (done.body, done.is_error, done.invocation.request_id) == (b'"ok"', False, "r1")
    assert log_lines(out)[0] == "END RequestId: r1"
    assert report_line(out) == (
        "REPORT RequestId: r1\tDuration: 400.00 ms\tBilled Duration: 600 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 200.00 ms\t"
    )
    assert done.record.cold and done.record.status is Status.SUCCESS
    assert d.env(eid).state is State.IDLE


def test_invoke_span_ends_at_the_next_request_not_at_the_response() -> None:
    d = Driver()
    eid = cold_start(d, ready=0.2)
    d.respond(eid, "r1", 0.5)
    out = d.next(eid, 0.7)

    spans = [e.span for e in out if isinstance(e, RecordSpan)]
    assert [(s.phase, s.start, s.end, s.request_id) for s in spans] == [("invoke", 0.2, 0.7, "r1")]


# -- warm reuse, freeze, thaw -------------------------------------------------------------------------
def test_warm_start_spawns_nothing_and_reports_no_init_duration() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)

    out = d.submit("r2", 1.0)

    assert not any(isinstance(e, SpawnRuntime) for e in out)
    assert log_lines(out) == ["START RequestId: r2 Version: $LATEST"]  # no INIT_START
    assert only(out, DeliverInvocation).environment_id == eid
    done = completion(park_after(d, eid, "r2", 1.125))
    assert not done.record.cold and done.record.init_duration_ms is None
    assert done.record.billed_duration_ms == 125
    assert "Init Duration" not in format_entry(Report(done.record, 0.0))


@pytest.mark.parametrize("last_done", ["a", "b"])
def test_warm_start_picks_the_most_recently_used_idle_environment(last_done: str) -> None:
    d = Driver()
    a = cold_start(d, "ra", at=0.0)
    b = cold_start(d, "rb", at=0.0)
    assert a != b
    first, second = (b, a) if last_done == "a" else (a, b)
    park_after(d, first, "ra" if first == a else "rb", 1.0)
    park_after(d, second, "ra" if second == a else "rb", 2.0)

    out = d.submit("rc", 3.0)

    assert only(out, DeliverInvocation).environment_id == second


@pytest.mark.parametrize("last_done", ["a", "b"])
def test_warm_choice_newest_picks_the_most_recently_created_idle_environment(last_done: str) -> None:
    """SimFaaS's rule, for comparing with it: whichever finished last, the newer environment is taken."""
    d = Driver(dataclasses.replace(SPEC, warm_choice="newest"))
    a = cold_start(d, "ra", at=0.0)
    b = cold_start(d, "rb", at=0.5, ready=0.6)  # created after a
    first, second = (b, a) if last_done == "a" else (a, b)
    park_after(d, first, "ra" if first == a else "rb", 1.0)
    park_after(d, second, "ra" if second == a else "rb", 2.0)

    out = d.submit("rc", 3.0)

    assert only(out, DeliverInvocation).environment_id == b
    assert d.pool.statistics().idle == 1 and a in d.pool.environments


def test_an_unknown_warm_choice_is_refused() -> None:
    with pytest.raises(ValueError, match="warm_choice"):
        Driver(dataclasses.replace(SPEC, warm_choice="random"))


def test_parked_environment_is_frozen_when_freeze_is_on() -> None:
    d = Driver()
    eid = cold_start(d)

    out = park_after(d, eid, "r1", 0.5)

    assert Freeze(eid) in out
    assert d.env(eid).is_frozen
    assert d.pool.statistics().frozen == 1


def test_parked_environment_is_not_frozen_when_freeze_is_off() -> None:
    d = Driver(EnvironmentSpec("hello", "$LATEST", "python", 128, 3.0, freeze=False))
    eid = cold_start(d)

    out = park_after(d, eid, "r1", 0.5)
    again = d.submit("r2", 2.0)

    assert not any(isinstance(e, (Freeze, Thaw)) for e in out + again)
    assert not d.env(eid).is_frozen
    spans = [e.span for e in again if isinstance(e, RecordSpan)]
    assert [(s.phase, s.start, s.end) for s in spans] == [("idle", 0.5, 2.0)]


def test_frozen_environment_is_thawed_before_the_invocation_is_delivered() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)

    out = d.submit("r2", 2.0)

    assert kinds(out) == ["Thaw", "RecordSpan", "Log", "DeliverInvocation", "ArmDeadline"]
    span = only(out, RecordSpan)
    assert isinstance(span, RecordSpan)
    assert (span.span.phase, span.span.start, span.span.end) == ("frozen", 0.5, 2.0)
    assert out[-1] == ArmDeadline(eid, 1, 5.0)
    assert not d.env(eid).is_frozen


# -- timeout and suppressed init ----------------------------------------------------------------------
def test_timeout_during_invoke_completes_with_sandbox_timedout_kills_and_resets() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)
    d.submit("r2", 1.0)

    out = d.deadline(eid, 4.0)

    done = completion(out)
    assert done.body == (
        b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: r2 Error: Task timed out after 3.00 seconds"}'
    )
    assert json.loads(done.body) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: r2 Error: Task timed out after 3.00 seconds",
    }
    assert done.is_error and done.record.status is Status.TIMEOUT and done.record.reset
    assert report_line(out).endswith("\tMax Memory Used: 40 MB\tStatus: timeout")
    assert out[-2:] == [DisarmDeadline(eid), Kill(eid, 1)]
    assert d.env(eid).state is State.RESET
    assert d.pool.statistics().reset == 1


def test_timeout_report_matches_the_aws_example_byte_for_byte() -> None:
    """LAMBDA-SPEC §4.2: 3016.78 ms after an 84 ms init, the timer firing a little late."""
    d = Driver()
    request_id = "527cb862-1d4b-4a1f-9a0e-7f1c2b3d4e5f"
    eid = cold_start(d, request_id, at=0.0, ready=0.084)

    out = d.deadline(eid, 3.10078, memory=31)

    assert report_line(out) == (
        f"REPORT RequestId: {request_id}\tDuration: 3016.78 ms\tBilled Duration: 3101 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 31 MB\tInit Duration: 84.00 ms\tStatus: timeout"
    )


def test_invoke_after_a_reset_reinits_inside_the_invoke_with_suppressed_init() -> None:
    d = Driver()
    eid = cold_start(d)
    d.deadline(eid, 3.1)
    assert d.send(ProcessExited(eid, 1, 3.2, -9)) == []  # the process we killed has gone

    out = d.submit("r2", 10.0)

    assert kinds(out) == ["SpawnRuntime", "ArmDeadline"]  # no second INIT_START
    assert out == [SpawnRuntime(eid, 2, "on-demand", "invoke"), ArmDeadline(eid, 2, 13.0)]
    d.started(eid, 10.01)
    delivered = d.next(eid, 10.5)
    deliver = only(delivered, DeliverInvocation)
    assert isinstance(deliver, DeliverInvocation)
    assert deliver.deadline_at == 13.0  # the re-init already counts against the function timeout
    assert delivered[-1] == ArmDeadline(eid, 2, 13.0)
    done = completion(park_after(d, eid, "r2", 10.75))

    record = done.record
    assert record.cold and record.init_suppressed
    assert record.duration_ms == pytest.approx(750.0)  # from the start of the re-init
    assert record.billed_duration_ms == math.ceil(round(record.duration_ms, 3)) == 750
    line = report_line(d.effects[-6:])
    assert "Init Duration" not in line
    assert line.startswith("REPORT RequestId: r2\tDuration: 750.00 ms\tBilled Duration: 750 ms\t")


def test_timeout_during_a_suppressed_init_fails_the_invocation() -> None:
    d = Driver()
    eid = cold_start(d)
    d.deadline(eid, 3.1)
    d.submit("r2", 10.0)
    d.started(eid, 10.01)

    out = d.deadline(eid, 13.0)

    assert log_lines(out)[0] == "INIT_REPORT Init Duration: 3000.00 ms\tPhase: invoke\tStatus: timeout"
    done = completion(out)
    assert json.loads(done.body)["errorMessage"] == "RequestId: r2 Error: Task timed out after 3.00 seconds"
    assert done.record.status is Status.TIMEOUT
    assert "START RequestId: r2 Version: $LATEST" in log_lines(out)
    assert d.env(eid).state is State.RESET


# -- crashes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("returncode", "reason"), [(1, "exit status 1"), (-9, "signal: killed"), (0, None)])
def test_crash_during_invoke_reports_runtime_exit_error(returncode: int, reason: str | None) -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)
    d.submit("r2", 1.0)

    out = d.exited(eid, 1.5, returncode)

    done = completion(out)
    message = f"Runtime exited with error: {reason}" if reason else "Runtime exited without providing a reason"
    assert json.loads(done.body) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: r2 Error: {message}",
    }
    assert report_line(out).endswith("\tStatus: error\tError Type: Runtime.ExitError")
    assert out[-2:] == [DisarmDeadline(eid), Kill(eid, 1)]
    assert d.env(eid).state is State.RESET


def test_out_of_memory_reports_runtime_out_of_memory_with_full_memory_used() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)
    d.submit("r2", 1.0)

    out = d.exited(eid, 1.5, -9, oom=True, memory=97)

    done = completion(out)
    assert report_line(out) == (
        "REPORT RequestId: r2\tDuration: 500.00 ms\tBilled Duration: 500 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory"
    )
    assert json.loads(done.body)["errorMessage"] == "RequestId: r2 Error: Runtime exited with error: signal: killed"
    assert done.record.max_memory_used_mb == 128 and done.record.error_type == "Runtime.OutOfMemory"


def test_crash_while_idle_resets_without_completing_anything() -> None:
    d = Driver(EnvironmentSpec("hello", "$LATEST", "python", 128, 3.0, freeze=False))
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)

    out = d.exited(eid, 1.0, 1)

    assert kinds(out) == ["RecordSpan", "DisarmDeadline", "Kill"]
    assert d.env(eid).state is State.RESET
    assert only(d.submit("r2", 2.0), SpawnRuntime) == SpawnRuntime(eid, 2, "on-demand", "invoke")


def test_exit_after_the_answer_was_posted_still_returns_the_answer() -> None:
    d = Driver()
    eid = cold_start(d)
    d.respond(eid, "r1", 0.5)

    out = d.exited(eid, 0.6, 0)

    done = completion(out)
    assert (done.body, done.is_error) == (b'"ok"', False)
    assert d.env(eid).state is State.RESET


# -- init errors -------------------------------------------------------------------------------------
def test_init_error_is_retried_inside_the_invoke_and_the_caller_gets_the_posted_error() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    d.started(eid, 0.01)
    assert d.init_error(eid, 0.30) == []
    first = d.exited(eid, 0.31, 1)

    assert first[-1] == ArmDeadline(eid, 2, 3.31)
    assert only(first, SpawnRuntime) == SpawnRuntime(eid, 2, "on-demand", "invoke")
    assert not any(isinstance(e, CompleteInvocation) for e in first)
    d.started(eid, 0.32)
    d.init_error(eid, 0.38)
    second = d.exited(eid, 0.39, 1)

    done = completion(second)
    assert (done.body, done.is_error) == (IMPORT_ERROR, True)
    assert log_lines(d.effects) == [
        log_lines(d.effects)[0],  # INIT_START, checked in test_records
        "INIT_REPORT Init Duration: 310.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError",
        "INIT_REPORT Init Duration: 80.00 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError",
        "START RequestId: r1 Version: $LATEST",
        "END RequestId: r1",
        "REPORT RequestId: r1\tDuration: 80.00 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 0 MB\tStatus: error\tError Type: Runtime.ImportModuleError",
    ]
    assert log_lines(d.effects)[0].startswith("INIT_START ")
    assert d.env(eid).state is State.RESET


def test_an_environment_whose_init_keeps_failing_reinits_on_every_invoke() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    for at in (0.0, 0.5):
        d.started(eid, at + 0.01)
        d.init_error(eid, at + 0.1)
        d.exited(eid, at + 0.2, 1)

    out = d.submit("r2", 5.0)

    assert out == [SpawnRuntime(eid, 3, "on-demand", "invoke"), ArmDeadline(eid, 3, 8.0)]


def test_init_timeout_is_reported_and_retried_inside_the_invoke() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    d.started(eid, 0.01)

    out = d.deadline(eid, 10.0)

    assert log_lines(out) == ["INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout"]
    assert only(out, SpawnRuntime) == SpawnRuntime(eid, 2, "on-demand", "invoke")
    assert out[-1] == ArmDeadline(eid, 2, 13.0)
    d.started(eid, 10.01)
    d.next(eid, 10.2)
    done = completion(park_after(d, eid, "r1", 10.5))
    assert done.record.init_suppressed and done.record.duration_ms == pytest.approx(500.0)
    assert not done.is_error


def test_init_crash_without_a_posted_error_is_a_runtime_exit_error() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    d.started(eid, 0.01)
    first = d.exited(eid, 0.1, 2)
    d.started(eid, 0.11)

    second = d.exited(eid, 0.2, 2)

    assert "Phase: init\tStatus: error\tError Type: Runtime.ExitError" in log_lines(first)[0]
    done = completion(second)
    assert json.loads(done.body) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: r1 Error: Runtime exited with error: exit status 2",
    }


# -- function errors -----------------------------------------------------------------------------------
def test_function_error_does_not_reset_and_the_environment_stays_warm() -> None:
    d = Driver()
    eid = cold_start(d)
    assert d.fail(eid, "r1", 0.4) == []

    out = d.next(eid, 0.5)

    done = completion(out)
    assert (done.body, done.is_error) == (KEY_ERROR, True)
    assert done.record.status is Status.ERROR and not done.record.reset
    line = report_line(out)
    assert "Status" not in line and line.endswith("\t")
    assert Freeze(eid) in out
    assert d.env(eid).state is State.IDLE
    warm = d.submit("r2", 1.0)
    assert kinds(warm)[0] == "Thaw" and not any(isinstance(e, SpawnRuntime) for e in warm)
    assert d.env(eid).incarnation == 1


# -- stale events ------------------------------------------------------------------------------------
def test_events_from_a_replaced_process_are_dropped() -> None:
    d = Driver()
    eid = cold_start(d)
    d.deadline(eid, 3.1)
    d.submit("r2", 5.0)
    d.started(eid, 5.01)
    d.next(eid, 5.1)
    before = (d.env(eid).state, d.env(eid).incarnation)

    old = d.env(eid)
    stale: list[Event] = [
        NextRequested(eid, 1, 6.0),
        ResponsePosted(eid, 1, 6.0, "r2", b"x", 1),
        ErrorPosted(eid, 1, 6.0, "r2", b"x", "KeyError", 1),
        InitErrorPosted(eid, 1, 6.0, b"x", "Runtime.Unknown"),
        DeadlineExceeded(eid, 1, 6.0),
        ProcessExited(eid, 1, 6.0, -9),
        ProcessStarted(eid, 1, 6.0),
        ShutdownRequested(eid, 1, 6.0),
        ProcessExited(eid, 3, 6.0, 1),
    ]
    for event in stale:
        assert d.send(event) == [], event
    assert (old.state, old.incarnation) == before == (State.INVOKING, 2)


def test_events_for_an_unknown_environment_are_dropped() -> None:
    d = Driver()
    cold_start(d)

    assert d.send(ProcessExited("f" * 32, 1, 1.0, 1)) == []
    assert d.send(NextRequested("f" * 32, 1, 1.0)) == []


# -- retire and shutdown -------------------------------------------------------------------------------
def test_retire_shuts_down_idle_environments_now_and_busy_ones_after_their_invocation() -> None:
    d = Driver()
    idle = cold_start(d, "r1")
    busy = cold_start(d, "r2")
    park_after(d, idle, "r1", 0.5)

    out = d.retire(1.0)

    assert [e for e in out if not isinstance(e, RecordSpan)] == [DisarmDeadline(idle), Kill(idle, 1)]
    assert d.env(idle).state is State.SHUTTING_DOWN
    assert d.env(busy).state is State.INVOKING
    done = d.respond(busy, "r2", 1.5) + d.next(busy, 1.6)
    assert completion(done).body == b'"ok"'
    assert not any(isinstance(e, Freeze) for e in done)
    assert done[-2:] == [DisarmDeadline(busy), Kill(busy, 1)]
    for eid in (idle, busy):
        gone = d.exited(eid, 2.0, -9)
        assert gone[-1] == Retire(eid)
        assert eid not in d.pool.environments
    assert d.pool.statistics().environments == 0


def test_retire_ends_reset_environments_at_once() -> None:
    d = Driver()
    eid = cold_start(d)
    d.deadline(eid, 3.1)

    out = d.retire(4.0)

    assert out == [Retire(eid)]
    assert eid not in d.pool.environments


def test_retire_lets_a_starting_environment_serve_its_invocation_then_ends_it() -> None:
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    assert d.retire(0.05) == []
    d.started(eid, 0.06)
    d.next(eid, 0.1)

    out = park_after(d, eid, "r1", 0.3)

    assert completion(out).body == b'"ok"'
    assert out[-1] == Kill(eid, 1) and d.env(eid).state is State.SHUTTING_DOWN


def test_shutdown_completes_in_flight_invocations_with_sandbox_failure() -> None:
    d = Driver()
    invoking = cold_start(d, "r1")
    starting = only(d.submit("r2", 0.2), SpawnRuntime).environment_id

    out = d.shutdown(1.0)

    bodies = {e.invocation.request_id: json.loads(e.body) for e in out if isinstance(e, CompleteInvocation)}
    assert bodies == {
        rid: {"errorType": "Sandbox.Failure", "errorMessage": f"RequestId: {rid} Error: the environment was shut down"}
        for rid in ("r1", "r2")
    }
    for e in out:
        if isinstance(e, CompleteInvocation):
            assert e.is_error and e.record.error_type == "Sandbox.Failure" and e.record.status is Status.ERROR
    assert Kill(invoking, 1) in out and Kill(starting, 1) in out
    assert {d.env(invoking).state, d.env(starting).state} == {State.SHUTTING_DOWN}
    for eid in (invoking, starting):
        assert d.exited(eid, 1.1, -9)[-1] == Retire(eid)
    assert not d.pool.environments


def test_shutdown_of_a_finishing_environment_returns_the_answer_already_posted() -> None:
    d = Driver()
    eid = cold_start(d)
    d.respond(eid, "r1", 0.5)

    out = d.shutdown(0.6)

    done = completion(out)
    assert (done.body, done.is_error) == (b'"ok"', False)


def test_shutdown_does_not_thaw_a_frozen_environment_before_killing_it() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)

    out = d.shutdown(1.0)

    assert kinds(out) == ["RecordSpan", "DisarmDeadline", "Kill"]  # SIGKILL ends a stopped process too
    assert d.env(eid).state is State.SHUTTING_DOWN


def test_shutdown_twice_touches_nothing_already_shutting_down() -> None:
    d = Driver()
    cold_start(d)
    d.shutdown(1.0)

    assert d.pool.shutdown(1.1) == []


def test_terminated_environments_leave_the_pool() -> None:
    d = Driver()
    eid = cold_start(d)
    d.shutdown(1.0)

    d.exited(eid, 1.1, -9)

    assert eid not in d.pool.environments
    assert set(dataclasses.asdict(d.pool.statistics()).values()) == {0}


# -- driver mistakes and races ---------------------------------------------------------------------
def test_process_started_after_a_starting_environment_was_shut_down_is_dropped() -> None:
    """The engine dispatches ProcessStarted with call_soon, unchecked; Lab.close() may run first."""
    d = Driver()
    eid = only(d.submit("r1", 0.0), SpawnRuntime).environment_id
    d.shutdown(0.001)

    assert d.send(ProcessStarted(eid, 1, 0.002)) == []
    assert d.exited(eid, 0.003, -9)[-1] == Retire(eid)
    assert [e.invocation.request_id for e in d.effects if isinstance(e, CompleteInvocation)] == ["r1"]


def test_a_rejected_event_leaves_the_pools_routing_unchanged() -> None:
    d = Driver()
    eid = cold_start(d)
    park_after(d, eid, "r1", 0.5)
    with pytest.raises(LifecycleError):
        d.next(eid, 0.6)  # a driver bug: the runtime is parked, it cannot ask again

    out = d.submit("r2", 1.0)

    assert only(out, DeliverInvocation).environment_id == eid  # still a warm start


def test_a_rejected_event_leaves_a_reset_environment_reusable() -> None:
    d = Driver()
    eid = cold_start(d)
    d.deadline(eid, 3.1)
    with pytest.raises(LifecycleError):
        d.next(eid, 3.2)  # a driver bug: this incarnation's process was killed

    out = d.submit("r2", 4.0)

    assert only(out, SpawnRuntime) == SpawnRuntime(eid, 2, "on-demand", "invoke")


@pytest.mark.parametrize("kind", [ResponsePosted, ErrorPosted], ids=lambda k: k.__name__)
def test_a_result_for_another_request_id_is_rejected(kind: type[Event]) -> None:
    d = Driver()
    eid = cold_start(d)
    assert not d.env(eid).accepts("someone-else")
    event = (
        ResponsePosted(eid, 1, 0.5, "someone-else", b"x", 1)
        if kind is ResponsePosted
        else ErrorPosted(eid, 1, 0.5, "someone-else", b"x", "KeyError", 1)
    )

    with pytest.raises(LifecycleError) as caught:
        d.send(event)

    assert "someone-else" in str(caught.value)
    assert d.env(eid).state is State.INVOKING and d.env(eid).accepts("r1")
    assert d.respond(eid, "r1", 0.6) == []
