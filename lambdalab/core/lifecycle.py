"""Lifecycle of one execution environment: init → (invoke → freeze)* → shutdown.

Rules:
1. Every state change lives in ``TRANSITIONS`` and is made by ``Environment.handle``; nothing
   else assigns ``Environment.state``. An event in a state without a row raises
   ``LifecycleError`` naming the state, the event and the states where it is legal.
2. No I/O and no clock: each event carries ``at``; effects are returned, never performed.
3. Which invocation an idle environment serves next, and whether it is frozen meanwhile, is the
   pool's call (``core/pool.py``); this module only keeps one environment's story straight.

RESET is Lambda's reset after a timeout or crash: the process is gone but the environment (its
id, log stream and /tmp) remains, and its next use re-runs init inside the invoke ("suppressed
init", LAMBDA-SPEC §3.4).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final, cast

from lambdalab.core import outcomes
from lambdalab.core.effects import (
    ArmDeadline, CompleteInvocation, DeliverInvocation, DisarmDeadline, Effect, Freeze, Kill, Log,
    RecordSpan, Retire, SpawnRuntime, Thaw,
)
from lambdalab.core.events import (
    DeadlineExceeded, ErrorPosted, Event, InitErrorPosted, Invocation, InvocationAssigned,
    NextRequested, ProcessExited, ProcessStarted, ResponsePosted, ShutdownRequested, StartRequested,
)
from lambdalab.core.outcomes import ErrorType, Status
from lambdalab.core.records import End, InitReport, InitStart, InvocationRecord, PhaseSpan, Report, Start
from lambdalab.errors import LifecycleError


class State(enum.Enum):
    STARTING = "starting"            # process requested; not running yet
    INITIALIZING = "initializing"    # INIT phase: runtime and handler module loading
    IDLE = "idle"                    # parked on GET /next; frozen unless freeze is off
    INVOKING = "invoking"            # INVOKE phase: event delivered, no result yet
    FINISHING = "finishing"          # result posted; waiting for the next GET /next
    RESET = "reset"                  # no process after a timeout, crash or init failure
    SHUTTING_DOWN = "shutting_down"  # killed; waiting for the process to be gone
    TERMINATED = "terminated"

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's __hash__ is Python)


S = State
_OUT_OF_MEMORY: Final = ErrorType.OUT_OF_MEMORY.value  # read once: an enum's .value is a Python-level property
_LIVE: Final = (S.STARTING, S.INITIALIZING, S.IDLE, S.INVOKING, S.FINISHING)

TRANSITIONS: Final[dict[tuple[State, type[Event]], State]] = {
    (S.RESET, StartRequested): S.STARTING,
    (S.STARTING, ProcessStarted): S.INITIALIZING,
    (S.INITIALIZING, InitErrorPosted): S.INITIALIZING,
    (S.INITIALIZING, NextRequested): S.IDLE,
    (S.IDLE, InvocationAssigned): S.INVOKING,
    (S.INVOKING, ResponsePosted): S.FINISHING,
    (S.INVOKING, ErrorPosted): S.FINISHING,
    (S.FINISHING, NextRequested): S.IDLE,
    **{(state, DeadlineExceeded): S.RESET for state in (S.STARTING, S.INITIALIZING, S.INVOKING, S.FINISHING)},
    **{(state, ProcessExited): S.RESET for state in _LIVE},
    **{(state, ShutdownRequested): S.SHUTTING_DOWN for state in _LIVE},
    (S.RESET, ShutdownRequested): S.TERMINATED,
    (S.SHUTTING_DOWN, ProcessExited): S.TERMINATED,
}

# TRANSITIONS by state, so a lookup builds no (state, event) key: the same table, indexed twice.
_ROWS: Final[dict[State, dict[type[Event], State]]] = {state: {} for state in State}
for (_state, _event), _new in TRANSITIONS.items():
    _ROWS[_state][_event] = _new


def allows(state: State, event: type[Event]) -> bool:
    """Does ``TRANSITIONS`` have a row for ``event`` in ``state``? (a driver asks before it makes the event)."""
    return event in _ROWS[state]


@dataclasses.dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    """What an environment runs: one version of one function."""

    function: str
    version: str
    runtime: str
    memory_mb: int
    timeout_s: float
    freeze: bool = True
    init_timeout_s: float = 10.0
    init_type: str = "on-demand"
    code: str = ""  # which code (a content hash); the driver maps it to files
    logs: bool = True  # emit START/END/REPORT Log effects; a driver that keeps no log streams says False
    warm_choice: str = "mru"  # which idle environment a warm invocation takes: see core/placement.py


class Environment:
    """One execution environment's state machine. Drive it with ``handle(event)``."""

    def __init__(self, environment_id: str, spec: EnvironmentSpec) -> None:
        self.id = environment_id
        self.spec = spec
        self.state = State.RESET  # a new environment is a reset one that never ran init
        self.incarnation = 0
        self.is_frozen = False
        self.current: Invocation | None = None
        self.reserved: Invocation | None = None  # waits for this environment's init to finish
        self.retiring = False
        self.provisioned = False
        self.init_type = spec.init_type
        self.expires_at: float | None = None  # idle until then, then shut down (keep-alive)
        self.invocations = 0
        self.max_memory_mb = 0
        self._ran_init = False
        self._init_phase = "init"
        self._init_started = 0.0
        self._init_error: tuple[object, str] | None = None
        self._cold: tuple[float, bool] | None = None  # (init ms, suppressed) for the next invoke
        self._invoke_started = 0.0
        self._duration_from = 0.0
        self._deadline_at = 0.0
        self._rest_since: float | None = None  # start of the current frozen/idle span
        self._shutdown_started = 0.0
        self._answer: tuple[Invocation, object, Status, str | None] | None = None  # posted, not yet reported
        self.last_used = 0.0
        self.last_request: str | None = None

    def __repr__(self) -> str:
        return f"<Environment {self.id[:8]} {self.state.value}{' frozen' if self.is_frozen else ''}>"

    @property
    def init_phase(self) -> str:
        return self._init_phase

    # -- the one entry point ------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply ``event`` and return what the driver must do, in order."""
        kind = type(event)
        new_state = _ROWS[self.state].get(kind)
        if new_state is None:
            legal = tuple(s.value for (s, e) in TRANSITIONS if e is kind)
            raise LifecycleError(self.id, self.state.value, kind.__name__, legal)
        if kind is ResponsePosted or kind is ErrorPosted:
            request_id = cast(ResponsePosted | ErrorPosted, event).request_id
            if not self.accepts(request_id):
                raise LifecycleError(self.id, self.state.value, f"{kind.__name__} for another request ({request_id})",
                                     (State.INVOKING.value,))
        old_state = self.state
        self.state = new_state
        return _dispatch(self, event, old_state)

    # -- decisions made by the pool between events ------------------------------------------
    def park(self, at: float) -> list[Effect]:
        """Nothing to deliver: rest on ``/next``, frozen unless freezing is off."""
        assert self.state is State.IDLE and self._rest_since is None, self
        self._rest_since = at
        self.last_used = at
        if self.spec.freeze:
            self.is_frozen = True
            return [Freeze(self.id)]
        return []

    def initialised_ahead(self, at: float) -> list[Effect]:
        """Init finished with nobody waiting (provisioned, pre-warmed): its first invoke will be warm."""
        cold, self._cold = self._cold, None
        if cold is None:
            return []
        return [Log(self.id, InitReport(cold[0], "init", Status.SUCCESS, None, at))]

    def accepts(self, request_id: str) -> bool:
        """May the runtime post a result for ``request_id`` now? (checked before any event)."""
        return self.state is State.INVOKING and self.current is not None and self.current.request_id == request_id

    def open_span(self, now: float) -> PhaseSpan | None:
        """The phase in progress, ending ``now`` (for live charts)."""
        phase = _OPEN_PHASE.get(self.state)
        if phase is None:
            return None
        start = {
            "init": self._init_started, "invoke": self._invoke_started,
            "shutdown": self._shutdown_started,
        }.get(phase, self._rest_since)
        if start is None:
            return None
        if phase == "rest":
            phase = "frozen" if self.is_frozen else "idle"
        request = self.current.request_id if self.current else None
        return self._span(phase, start, now, request)

    # -- helpers --------------------------------------------------------------------------------
    def _span(self, phase: str, start: float, end: float, request_id: str | None = None) -> PhaseSpan:
        spec = self.spec
        return PhaseSpan(self.id, spec.function, spec.version, phase, start, end, request_id)

    def _end_rest(self, at: float, out: list[Effect], *, thaw: bool = True) -> None:
        if self._rest_since is None:
            return
        if self.is_frozen and thaw:
            out.append(Thaw(self.id))
        out.append(RecordSpan(self.id, self._span("frozen" if self.is_frozen else "idle", self._rest_since, at)))
        self.is_frozen = False
        self._rest_since = None

    def _complete(self, inv: Invocation, at: float, body: object, status: Status,
                  error_type: str | None, reset: bool = False) -> list[Effect]:
        spec = self.spec
        cold = self._cold
        self._cold = None
        init_ms, suppressed = cold if cold else (None, False)
        duration_ms = (at - self._duration_from) * 1000.0
        billed_init = None if suppressed else init_ms
        memory = spec.memory_mb if error_type == _OUT_OF_MEMORY else self.max_memory_mb
        record = InvocationRecord(
            inv.request_id, spec.function, spec.version, self.id, cold is not None, init_ms, suppressed,
            duration_ms, outcomes.billed_duration_ms(duration_ms, billed_init), spec.memory_mb,
            min(memory, spec.memory_mb), status, error_type, self._duration_from, at, inv.submitted, reset,
        )
        self.invocations += 1
        self.last_used = at
        is_error = status is not Status.SUCCESS
        if not spec.logs:
            return [CompleteInvocation(self.id, inv, record, body, is_error)]
        return [Log(self.id, End(inv.request_id, at)), Log(self.id, Report(record, at)),
                CompleteInvocation(self.id, inv, record, body, is_error)]

    def _finish_answer(self, at: float, *, reset: bool = False) -> list[Effect]:
        """Report the answer the runtime posted (END, REPORT) and hand it to the caller."""
        answer, self._answer = self._answer, None
        if answer is None:
            return []
        inv, body, status, error_type = answer
        return self._complete(inv, at, body, status, error_type, reset=reset)

    def _reset(self, at: float, out: list[Effect]) -> list[Effect]:
        """Process gone (or being killed): keep the environment, re-init on next use."""
        self._end_rest(at, out, thaw=False)  # SIGKILL ends a stopped process too
        self.current = None
        out.append(DisarmDeadline(self.id))
        out.append(Kill(self.id, self.incarnation))
        return out


# -- event handlers: (environment, event, state before) -> effects ----------------------------
def _start(environment: Environment, event: StartRequested, _: State) -> list[Effect]:
    e, spec = environment, environment.spec
    e.incarnation += 1
    e._init_phase = event.phase
    e._init_started = event.at
    e._init_error = None
    out: list[Effect] = []
    if not e._ran_init:
        e._ran_init = True
        out.append(Log(e.id, InitStart(spec.runtime, event.at)))
    out.append(SpawnRuntime(e.id, e.incarnation, e.init_type, event.phase))
    if event.phase == "invoke":  # a suppressed init is bounded by the function timeout
        e._deadline_at = event.at + spec.timeout_s
    else:
        e._deadline_at = event.at + spec.init_timeout_s
    out.append(ArmDeadline(e.id, e.incarnation, e._deadline_at))
    return out


def _process_started(environment: Environment, event: ProcessStarted, _: State) -> list[Effect]:
    return []


def _init_error_posted(environment: Environment, event: InitErrorPosted, _: State) -> list[Effect]:
    environment._init_error = (event.body, event.error_type)
    return []


def _next_requested(environment: Environment, event: NextRequested, before: State) -> list[Effect]:
    e, at = environment, event.at
    if before is State.INITIALIZING:
        init_ms = (at - e._init_started) * 1000.0
        e._cold = (init_ms, e._init_phase == "invoke")
        return [DisarmDeadline(e.id), RecordSpan(e.id, e._span("init", e._init_started, at))]
    # the invoke phase ends when the runtime asks for more: report it and answer the caller now
    out: list[Effect] = [DisarmDeadline(e.id),
                         RecordSpan(e.id, e._span("invoke", e._invoke_started, at, e.last_request))]
    out += e._finish_answer(at)
    return out


def _assigned(environment: Environment, event: InvocationAssigned, _: State) -> list[Effect]:
    e, inv, at = environment, event.invocation, event.at
    out: list[Effect] = []
    e._end_rest(at, out)
    e.current = inv
    e.last_request = inv.request_id
    e._invoke_started = at
    suppressed = e._cold is not None and e._cold[1]
    if suppressed:  # the re-init already counts against this invocation's timeout
        e._duration_from = e._init_started
    else:
        e._duration_from = at
        e._deadline_at = at + e.spec.timeout_s
    if e.spec.logs:
        out.append(Log(e.id, Start(inv.request_id, e.spec.version, at)))
    out.append(DeliverInvocation(e.id, inv, e._deadline_at))
    out.append(ArmDeadline(e.id, e.incarnation, e._deadline_at))
    return out


def _response_posted(environment: Environment, event: ResponsePosted, _: State) -> list[Effect]:
    e = environment
    e.max_memory_mb = max(e.max_memory_mb, event.max_memory_mb)
    inv, e.current = e.current, None
    assert inv is not None
    e._answer = (inv, event.body, Status.SUCCESS, None)
    return []


def _error_posted(environment: Environment, event: ErrorPosted, _: State) -> list[Effect]:
    e = environment
    e.max_memory_mb = max(e.max_memory_mb, event.max_memory_mb)
    inv, e.current = e.current, None
    assert inv is not None
    e._answer = (inv, event.body, Status.ERROR, event.error_type)
    return []


def _deadline(environment: Environment, event: DeadlineExceeded, before: State) -> list[Effect]:
    e, at = environment, event.at
    e.max_memory_mb = max(e.max_memory_mb, event.max_memory_mb)
    out: list[Effect] = []
    if before in (State.STARTING, State.INITIALIZING):
        out += _init_failed(e, at, Status.TIMEOUT, None, None)
    elif before is State.INVOKING:
        inv = e.current
        assert inv is not None
        out.append(RecordSpan(e.id, e._span("invoke", e._invoke_started, at, inv.request_id)))
        body = outcomes.timeout_error(inv.request_id, e.spec.timeout_s)
        out += e._complete(inv, at, body, Status.TIMEOUT, None, reset=True)
    else:  # FINISHING: the answer was posted, but the runtime never asked for more
        out.append(RecordSpan(e.id, e._span("invoke", e._invoke_started, at, e.last_request)))
        out += e._finish_answer(at, reset=True)
    return e._reset(at, out)


def _exited(environment: Environment, event: ProcessExited, before: State) -> list[Effect]:
    e, at = environment, event.at
    if before is State.SHUTTING_DOWN:
        return [RecordSpan(e.id, e._span("shutdown", e._shutdown_started, at)), Retire(e.id)]
    e.max_memory_mb = max(e.max_memory_mb, event.max_memory_mb)
    error_type = ErrorType.OUT_OF_MEMORY.value if event.out_of_memory else ErrorType.EXIT.value
    out: list[Effect] = []
    if before in (State.STARTING, State.INITIALIZING):
        out += _init_failed(e, at, Status.ERROR, error_type, event.returncode)
    elif before is State.INVOKING:
        inv = e.current
        assert inv is not None
        out.append(RecordSpan(e.id, e._span("invoke", e._invoke_started, at, inv.request_id)))
        body = outcomes.exit_error(inv.request_id, event.returncode)
        out += e._complete(inv, at, body, Status.ERROR, error_type, reset=True)
    elif before is State.FINISHING:
        out.append(RecordSpan(e.id, e._span("invoke", e._invoke_started, at, e.last_request)))
        out += e._finish_answer(at, reset=True)
    return e._reset(at, out)


def _init_failed(e: Environment, at: float, status: Status, exit_type: str | None,
                 returncode: int | None) -> list[Effect]:
    """Init ended without ``/next``: report it; fail the waiting invocation if this was the retry."""
    posted = e._init_error
    error_type = posted[1] if posted and exit_type != ErrorType.OUT_OF_MEMORY.value else exit_type
    out: list[Effect] = [
        RecordSpan(e.id, e._span("init", e._init_started, at)),
        Log(e.id, InitReport((at - e._init_started) * 1000.0, e._init_phase, status,
                             error_type if status is Status.ERROR else None, at)),
    ]
    inv = e.reserved
    if inv is None or e._init_phase == "init":
        return out  # the pool retries the init inside the invoke, as Lambda does
    e.reserved = None
    e._invoke_started = e._init_started
    e._duration_from = e._init_started
    e._cold = ((at - e._init_started) * 1000.0, True)
    if status is Status.TIMEOUT:
        body: object = outcomes.timeout_error(inv.request_id, e.spec.timeout_s)
    elif posted is not None and exit_type != ErrorType.OUT_OF_MEMORY.value:
        body = posted[0]
    else:
        body = outcomes.exit_error(inv.request_id, returncode if returncode is not None else -9)
    out.append(Log(e.id, Start(inv.request_id, e.spec.version, e._init_started)))
    out += e._complete(inv, at, body, status, error_type, reset=True)
    return out


def _shutdown(environment: Environment, event: ShutdownRequested, before: State) -> list[Effect]:
    e, at = environment, event.at
    out: list[Effect] = []
    if before is State.RESET:
        return [Retire(e.id)]
    e._end_rest(at, out, thaw=False)  # SIGKILL ends a stopped process too
    if before in (State.INVOKING, State.FINISHING):
        out.append(RecordSpan(e.id, e._span("invoke", e._invoke_started, at, e.last_request)))
        out += e._finish_answer(at, reset=True)
    elif before in (State.STARTING, State.INITIALIZING):
        out.append(RecordSpan(e.id, e._span("init", e._init_started, at)))
    for inv in (e.current, e.reserved):
        if inv is not None:
            body = outcomes.sandbox_failure(inv.request_id, "the environment was shut down")
            if inv is e.reserved:
                e._duration_from = e._init_started
            out += e._complete(inv, at, body, Status.ERROR, ErrorType.SANDBOX_FAILURE.value, reset=True)
    e.current = e.reserved = None
    e._shutdown_started = at
    out += [DisarmDeadline(e.id), Kill(e.id, e.incarnation)]
    return out


def _dispatch(e: Environment, event: Event, before: State) -> list[Effect]:
    """The handler of ``type(event)``: exact type tests, most frequent first (compiled, direct calls)."""
    kind = type(event)
    if kind is NextRequested:
        return _next_requested(e, cast(NextRequested, event), before)
    if kind is InvocationAssigned:
        return _assigned(e, cast(InvocationAssigned, event), before)
    if kind is ResponsePosted:
        return _response_posted(e, cast(ResponsePosted, event), before)
    if kind is ErrorPosted:
        return _error_posted(e, cast(ErrorPosted, event), before)
    if kind is StartRequested:
        return _start(e, cast(StartRequested, event), before)
    if kind is ProcessStarted:
        return _process_started(e, cast(ProcessStarted, event), before)
    if kind is DeadlineExceeded:
        return _deadline(e, cast(DeadlineExceeded, event), before)
    if kind is ProcessExited:
        return _exited(e, cast(ProcessExited, event), before)
    if kind is ShutdownRequested:
        return _shutdown(e, cast(ShutdownRequested, event), before)
    if kind is InitErrorPosted:
        return _init_error_posted(e, cast(InitErrorPosted, event), before)
    raise TypeError(f"no handler for {kind.__name__}")  # TRANSITIONS has a row the handlers lack

_OPEN_PHASE: Final = {
    State.STARTING: "init", State.INITIALIZING: "init", State.INVOKING: "invoke",
    State.FINISHING: "invoke", State.IDLE: "rest", State.SHUTTING_DOWN: "shutdown",
}
