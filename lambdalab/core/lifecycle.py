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
init"; AWS docs, "Understanding the Lambda execution environment lifecycle").
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final, cast

from lambdalab.core import outcomes
from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverExtensionEvent,
    DeliverInvocation,
    DisarmDeadline,
    Effect,
    Freeze,
    Kill,
    LaunchExtensions,
    Log,
    Overrun,
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
    DeadlineExceeded,
    DeadlineOverrun,
    ErrorPosted,
    Event,
    ExtensionErrorPosted,
    ExtensionExited,
    ExtensionNextRequested,
    ExtensionRegistered,
    ExtensionsLaunched,
    ExtensionsRegistered,
    InitErrorPosted,
    Invocation,
    InvocationAssigned,
    LastExtensionNextRequested,
    LastProcessExited,
    NextRequested,
    NextRequestedExtensionsBusy,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    RestoreErrorPosted,
    RestoreNextRequested,
    RestoreRequested,
    ShutdownRequested,
    ShutdownWithExtensions,
    SnapshotTaken,
    StartRequested,
)
from lambdalab.core.outcomes import ErrorType, Status
from lambdalab.core.records import (
    End,
    ExtensionState,
    InitPhase,
    InitReport,
    InitStart,
    InvocationRecord,
    Phase,
    PhaseSpan,
    Report,
    RestoreReport,
    RestoreStart,
    Start,
)
from lambdalab.errors import LifecycleError


class State(enum.Enum):
    STARTING = "starting"  # process requested; not running yet
    INITIALIZING = "initializing"  # INIT phase: runtime and handler module loading
    IDLE = "idle"  # parked on GET /next; frozen unless freeze is off
    INVOKING = "invoking"  # INVOKE phase: event delivered, no result yet
    FINISHING = "finishing"  # result posted; waiting for the next GET /next
    RESET = "reset"  # no process after a timeout, crash or init failure
    SHUTTING_DOWN = "shutting_down"  # killed; waiting for the process to be gone
    TERMINATED = "terminated"
    EXTENSIONS_INIT = "extensions_init"  # external extensions started; waiting for all of them to register
    SNAPSHOTTING = "snapshotting"  # a SnapStart template's runtime waits in /restore/next: snapshot being taken
    SNAPSHOTTED = "snapshotted"  # the template holds its version's snapshot; never placed
    RESTORING = "restoring"  # restored from the snapshot: after-restore hooks, until the first /next
    POST_RUNTIME = "post_runtime"  # the runtime waits on /next; an extension has not called event/next yet
    DRAINING = "draining"  # graceful shutdown: SIGTERM to the runtime, SHUTDOWN to extensions, then SIGKILL
    OVERRUN = "overrun"  # Managed Instances: the invocation timed out and failed; its code still runs on this worker

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's __hash__ is Python)


S = State
# read once: an enum's .value is a Python-level property
_OUT_OF_MEMORY: Final = ErrorType.OUT_OF_MEMORY.value
_EXIT: Final = ErrorType.EXIT.value
_SANDBOX_FAILURE: Final = ErrorType.SANDBOX_FAILURE.value
RESTORE_TIMEOUT_S: Final = 10.0  # after-restore hooks must reach /next within it (SnapStart)
RUNTIME_GRACE_S: Final = (
    0.3  # a graceful shutdown: SIGTERM, then SIGKILL after (AWS docs, "Extensions API": Shutdown phase)
)
RUNTIME_GRACE_INTERNAL_S: Final = 0.5  # the same with an internal extension
SHUTDOWN_EXTERNAL_S: Final = 2.0  # the whole shutdown with an external extension
SHUTDOWN_REASON: Final = "spindown"
_LIVE: Final = (S.STARTING, S.INITIALIZING, S.IDLE, S.INVOKING, S.FINISHING)
# states added by extensions and SnapStart (never entered by an environment without them)
_NEW_LIVE: Final = (S.EXTENSIONS_INIT, S.RESTORING, S.POST_RUNTIME, S.SNAPSHOTTING, S.SNAPSHOTTED)
# where an extension runs or waits: it may call event/next or post an error, or exit
_WITH_EXTENSIONS: Final = (
    S.EXTENSIONS_INIT,
    S.INITIALIZING,
    S.RESTORING,
    S.IDLE,
    S.INVOKING,
    S.FINISHING,
    S.POST_RUNTIME,
)
# where a runtime runs beside registered extensions: a shutdown there is graceful
_DRAINABLE: Final = (S.INITIALIZING, S.RESTORING, S.IDLE, S.INVOKING, S.FINISHING, S.POST_RUNTIME)

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
    # -- extensions: init, the freeze that waits for every extension, graceful shutdown ----------------------
    (S.STARTING, ExtensionsLaunched): S.EXTENSIONS_INIT,
    (S.EXTENSIONS_INIT, ExtensionRegistered): S.EXTENSIONS_INIT,
    (S.EXTENSIONS_INIT, ExtensionsRegistered): S.INITIALIZING,
    (S.INITIALIZING, ExtensionRegistered): S.INITIALIZING,  # an internal extension, during the runtime's init
    **{(state, ExtensionNextRequested): state for state in (*_WITH_EXTENSIONS, S.DRAINING) if state is not S.IDLE},
    **{(state, ExtensionErrorPosted): state for state in (*_WITH_EXTENSIONS, S.DRAINING)},
    **{(state, ExtensionExited): S.RESET for state in _WITH_EXTENSIONS},
    **{(state, NextRequestedExtensionsBusy): S.POST_RUNTIME for state in (S.INITIALIZING, S.RESTORING, S.FINISHING)},
    (S.POST_RUNTIME, LastExtensionNextRequested): S.IDLE,
    **{(state, ShutdownWithExtensions): S.DRAINING for state in _DRAINABLE},
    (S.DRAINING, ProcessExited): S.DRAINING,  # the runtime is gone: SHUTDOWN to the external extensions
    (S.DRAINING, ExtensionExited): S.DRAINING,
    (S.DRAINING, LastProcessExited): S.TERMINATED,
    (S.DRAINING, DeadlineExceeded): S.TERMINATED,  # the grace period is over: SIGKILL what is left
    (S.SHUTTING_DOWN, ExtensionExited): S.SHUTTING_DOWN,
    # -- SnapStart: the template takes the snapshot; new environments are restored from it ----------------------
    (S.INITIALIZING, RestoreNextRequested): S.SNAPSHOTTING,
    (S.SNAPSHOTTING, SnapshotTaken): S.SNAPSHOTTED,
    (S.RESET, RestoreRequested): S.RESTORING,
    (S.RESTORING, ExtensionsLaunched): S.RESTORING,  # extensions are started afresh, not restored
    (S.RESTORING, ExtensionRegistered): S.RESTORING,
    (S.RESTORING, ExtensionsRegistered): S.RESTORING,
    (S.RESTORING, RestoreErrorPosted): S.RESTORING,
    (S.POST_RUNTIME, ExtensionsLaunched): S.POST_RUNTIME,  # restored: the runtime was quicker than the extensions
    (S.POST_RUNTIME, ExtensionRegistered): S.POST_RUNTIME,
    (S.POST_RUNTIME, ExtensionsRegistered): S.POST_RUNTIME,
    (S.RESTORING, NextRequested): S.IDLE,
    **{
        (state, DeadlineExceeded): S.RESET for state in (S.EXTENSIONS_INIT, S.RESTORING, S.POST_RUNTIME, S.SNAPSHOTTING)
    },
    **{(state, ProcessExited): S.RESET for state in _NEW_LIVE},
    **{(state, ShutdownRequested): S.SHUTTING_DOWN for state in _NEW_LIVE if state is not S.EXTENSIONS_INIT},
    (S.EXTENSIONS_INIT, ShutdownRequested): S.TERMINATED,  # no runtime yet: kill the extensions, retire
    # -- Managed Instances: a timeout fails the invocation and leaves the worker's code running ------------------
    (S.INVOKING, DeadlineOverrun): S.OVERRUN,
    (S.FINISHING, DeadlineOverrun): S.OVERRUN,
    (S.OVERRUN, ResponsePosted): S.OVERRUN,  # the late answer is dropped: the caller had its timeout
    (S.OVERRUN, ErrorPosted): S.OVERRUN,
    (S.OVERRUN, NextRequested): S.IDLE,  # the worker is free again
    (S.OVERRUN, ProcessExited): S.RESET,
    (S.OVERRUN, ShutdownRequested): S.SHUTTING_DOWN,
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
    extensions: int = 0  # external extensions (/opt/extensions/*) the driver launches before the runtime
    # Lambda Managed Instances: each environment is a group of this many workers (runtime processes), each serving
    # one invocation at a time (core/groups.py); 0: the classic model, one invocation per environment
    per_environment: int = 0
    max_environments: int | None = None  # Managed Instances: at most this many environments (groups)
    min_environments: int = 0  # Managed Instances: environments started at deploy and kept (core/groups.py)
    tenancy: bool = False  # tenant isolation: an environment serves only the tenant whose invocation created it


class Environment:
    """One execution environment's state machine. Drive it with ``handle(event)``.

    Every field is written by this class's own methods: the event handlers (``_on_*``, which
    ``handle`` calls after the table has moved ``state``) and the pool's decisions between events
    (``park``, ``initialised_ahead``). Drivers read the public fields; the private ones are the
    story of the phase in progress.
    """

    def __init__(self, environment_id: str, spec: EnvironmentSpec) -> None:
        self.id = environment_id
        self.spec = spec
        self.group = environment_id  # the user-visible environment: a Managed Instances group's id, else this one's
        self.worker = 0  # the worker's number in its group (classic: 0)
        self.tenant: str | None = None  # tenant isolation: the tenant whose invocation created this environment
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
        self.last_used = 0.0
        self.last_request: str | None = None
        self._ran_init = False
        self._init_phase: InitPhase = "init"
        self._init_started = 0.0
        self._init_error: tuple[object, str] | None = None  # (body, error type) the runtime posted
        self._cold: tuple[float, bool] | None = None  # (init ms, suppressed) for the next invoke
        self._invoke_started = 0.0
        self._duration_from = 0.0
        self._deadline_at = 0.0
        self._rest_since: float | None = None  # start of the current frozen/idle span
        self._shutdown_started = 0.0
        self._answer: tuple[Invocation, object, Status, str | None] | None = None  # posted, not yet reported
        self.template = False  # a SnapStart version's template: takes the snapshot, is never placed
        # extensions of the current incarnation (all empty without them: the plain path never looks further)
        # extensions launched or registered, or a Managed Instances worker: events are refined (``_refine``)
        self._guarded = spec.per_environment > 0
        self._overrun_since = 0.0  # OVERRUN: when the invocation timed out
        self._parked: dict[str, bool] = {}  # extension identifier -> waits on event/next
        self._invoke_subscribers: list[str] = []
        self._shutdown_subscribers: list[str] = []
        self._internal: set[str] = set()
        self._externals_alive = 0
        self._runtime_alive = True
        self._extension_error: str | None = None  # the fatal type after an extension's init/error or exit/error
        self._runtime_started = 0.0  # the runtime's part of init (after the extensions registered)
        self._post_from: State | None = None  # the phase the post-runtime wait belongs to
        self._runtime_done_at = 0.0
        self._overhead_ms = 0.0
        self._restore_started: float | None = None  # set while a restore is in progress
        self._restore_ms: float | None = None  # the restore of the next invoke
        self._restore_error: tuple[str, object] | None = None
        self._snapshot_started = 0.0
        self._awaiting_registration = False  # restoring: external extensions launched, not all registered yet

    def __repr__(self) -> str:
        return f"<Environment {self.id[:8]} {self.state.value}{' frozen' if self.is_frozen else ''}>"

    # -- the one entry point ------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply ``event`` and return what the driver must do, in order."""
        kind = type(event)
        if self._guarded:  # extensions: the guard picks the row (a derived event, see core/events.py)
            kind = self._refine(kind, event)
        new_state = _ROWS[self.state].get(kind)
        if new_state is None:
            sent = type(event)
            legal = tuple(s.value for (s, e) in TRANSITIONS if e is sent)
            raise LifecycleError(self.id, self.state.value, sent.__name__, legal)
        if kind is ResponsePosted or kind is ErrorPosted:
            request_id = cast(ResponsePosted | ErrorPosted, event).request_id
            if not self.accepts(request_id):
                raise LifecycleError(
                    self.id,
                    self.state.value,
                    f"{kind.__name__} for another request ({request_id})",
                    (State.INVOKING.value,),
                )
        if kind is RestoreNextRequested and not self.template:  # only a template is told it is snap-start
            raise LifecycleError(
                self.id, self.state.value, "RestoreNextRequested from no template", (S.INITIALIZING.value,)
            )
        before = self.state
        self.state = new_state
        # the handler of the event's type: exact type tests, most frequent first (direct calls when compiled)
        if kind is NextRequested:
            return self._on_next(cast(NextRequested, event), before)
        if kind is InvocationAssigned:
            return self._on_assigned(cast(InvocationAssigned, event))
        if kind is ResponsePosted:
            posted = cast(ResponsePosted, event)
            if before is State.OVERRUN:  # the caller had its timeout: the late answer is dropped
                self._note_memory(posted.max_memory_mb)
                return []
            return self._on_answer(posted.body, Status.SUCCESS, None, posted.max_memory_mb)
        if kind is ErrorPosted:
            error = cast(ErrorPosted, event)
            if before is State.OVERRUN:
                self._note_memory(error.max_memory_mb)
                return []
            return self._on_answer(error.body, Status.ERROR, error.error_type, error.max_memory_mb)
        if kind is StartRequested:
            return self._on_start(cast(StartRequested, event))
        if kind is ProcessStarted:
            return []
        if kind is DeadlineExceeded:
            deadline = cast(DeadlineExceeded, event)
            self._note_memory(deadline.max_memory_mb)
            if before is State.DRAINING:  # the grace period is over: SIGKILL whatever is left
                span = RecordSpan(self.id, self._span("shutdown", self._shutdown_started, deadline.at))
                return [span, Kill(self.id, self.incarnation), Retire(self.id)]
            return self._on_stop(deadline.at, before, Status.TIMEOUT, None, None)
        if kind is ProcessExited:
            return self._on_exited(cast(ProcessExited, event), before)
        if kind is ShutdownRequested:
            return self._on_shutdown(event.at, before)
        if kind is InitErrorPosted:
            init_error = cast(InitErrorPosted, event)
            self._init_error = (init_error.body, init_error.error_type)
            return []
        return self._on_lifecycle_extra(kind, event, before)

    def _on_lifecycle_extra(self, kind: type[Event], event: Event, before: State) -> list[Effect]:
        """The events of extensions, SnapStart and graceful shutdown (never seen by an environment without them)."""
        at = event.at
        if kind is ExtensionNextRequested or kind is LastExtensionNextRequested:
            identifier = cast(ExtensionNextRequested, event).identifier
            if identifier in self._parked:
                self._parked[identifier] = True
            return self._runtime_ready(at, before) if kind is LastExtensionNextRequested else []
        if kind is NextRequestedExtensionsBusy:
            self._post_from = before
            self._runtime_done_at = at
            if before is State.FINISHING:
                return [self._invoke_span(at)]  # the function timeout stays armed: a busy extension uses it up
            return []
        if kind is RestoreRequested:
            return self._on_restore(at)
        if kind is ExtensionsLaunched:
            self._guarded = True
            self._externals_alive = cast(ExtensionsLaunched, event).count
            return []
        if kind is ExtensionRegistered:
            return self._on_registered(cast(ExtensionRegistered, event))
        if kind is ExtensionsRegistered:
            if before is not State.EXTENSIONS_INIT:
                self._awaiting_registration = False
                return []  # restoring: the runtime is restored meanwhile
            self._runtime_started = at
            return [
                RecordSpan(self.id, self._span("extension_init", self._init_started, at)),
                StartRuntime(self.id, self.incarnation, self.init_type, self._init_phase),
            ]
        if kind is ExtensionErrorPosted:
            posted = cast(ExtensionErrorPosted, event)
            self._extension_error = "Extension.InitError" if posted.kind == "init" else "Extension.ExitError"
            return []
        if kind is ExtensionExited:
            exited = cast(ExtensionExited, event)
            if exited.identifier not in self._internal:
                self._externals_alive -= 1
            if before is State.DRAINING or before is State.SHUTTING_DOWN:
                return []
            # the engine's type when it knows why (Extension.LaunchError: it could not start), else the one a
            # posted init/exit error named, else a crash
            error_type = exited.error_type or self._extension_error or "Extension.Crash"
            return self._on_stop(at, before, Status.ERROR, error_type, exited.exit_code)
        if kind is ShutdownWithExtensions:
            return self._on_drain(at, before)
        if kind is LastProcessExited:
            return [
                DisarmDeadline(self.id),
                RecordSpan(self.id, self._span("shutdown", self._shutdown_started, at)),
                Retire(self.id),
            ]
        if kind is RestoreNextRequested:
            return self._on_restore_next(at)
        if kind is SnapshotTaken:
            return [DisarmDeadline(self.id), RecordSpan(self.id, self._span("snapshot", self._snapshot_started, at))]
        if kind is RestoreErrorPosted:
            posted_restore = cast(RestoreErrorPosted, event)
            self._restore_error = (posted_restore.error_type, posted_restore.body)
            return []
        if kind is DeadlineOverrun:
            overrun = cast(DeadlineExceeded, event)  # the event itself; its row is the derived one
            self._note_memory(overrun.max_memory_mb)
            return self._on_overrun(at, before)
        raise TypeError(f"no handler for {kind.__name__}")  # TRANSITIONS has a row the handlers lack

    def row(self, event: Event) -> type[Event]:
        """The event type whose row ``event`` takes now: its own, or a derived one when a guard holds."""
        return self._refine(type(event), event) if self._guarded else type(event)

    def _refine(self, kind: type[Event], event: Event) -> type[Event]:
        """The row an event of an environment with extensions takes: its own, or a derived event's (a guard)."""
        state = self.state
        if kind is NextRequested:
            if (state is State.FINISHING or state is State.INITIALIZING or state is State.RESTORING) and (
                self._awaiting_registration or not all(self._parked.values())
            ):
                return NextRequestedExtensionsBusy
        elif kind is ExtensionNextRequested:
            if state is State.POST_RUNTIME and not self._awaiting_registration:
                identifier = cast(ExtensionNextRequested, event).identifier
                if all(parked for other, parked in self._parked.items() if other != identifier):
                    return LastExtensionNextRequested
        elif kind is ShutdownRequested:
            if self._parked and state in _DRAINABLE:
                return ShutdownWithExtensions
        elif kind is DeadlineExceeded:
            if self.spec.per_environment and (state is State.INVOKING or state is State.FINISHING):
                return DeadlineOverrun  # Managed Instances: the invocation fails, the code keeps running
        elif state is State.DRAINING and (kind is ProcessExited or kind is ExtensionExited):
            runtime = self._runtime_alive and kind is not ProcessExited
            externals = self._externals_alive
            if kind is ExtensionExited and cast(ExtensionExited, event).identifier not in self._internal:
                externals -= 1
            if not runtime and externals <= 0:
                return LastProcessExited
        return kind

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
        if cold is None or self.worker:  # (a Managed Instances environment's init is reported by worker 0)
            return []
        return [
            Log(self.id, InitReport(duration_ms=cold[0], phase="init", status=Status.SUCCESS, error_type=None, at=at))
        ]

    def accepts(self, request_id: str) -> bool:
        """May the runtime post a result for ``request_id`` now? (checked before any event)."""
        state = self.state
        if state is State.OVERRUN:  # the timed-out invocation's late answer (dropped)
            return self.last_request == request_id
        return state is State.INVOKING and self.current is not None and self.current.request_id == request_id

    def open_span(self, now: float) -> PhaseSpan | None:
        """The phase in progress, ending ``now`` (for live charts)."""
        state = self.state
        if state is State.STARTING or state is State.INITIALIZING:
            return self._span("init", self._init_started, now)
        if state is State.INVOKING or state is State.FINISHING:
            return self._span("invoke", self._invoke_started, now, self.last_request)  # as _invoke_span will
        if state is State.SHUTTING_DOWN or state is State.DRAINING:
            return self._span("shutdown", self._shutdown_started, now)
        if state is State.EXTENSIONS_INIT:
            return self._span("extension_init", self._init_started, now)
        if state is State.RESTORING and self._restore_started is not None:
            return self._span("restore", self._restore_started, now)
        if state is State.POST_RUNTIME:
            return self._span("post_runtime", self._runtime_done_at, now, self.last_request)
        if state is State.SNAPSHOTTING:
            return self._span("snapshot", self._snapshot_started, now)
        if state is State.OVERRUN:
            return self._span("overrun", self._overrun_since, now, self.last_request)
        if state is State.IDLE and self._rest_since is not None:
            return self._span("frozen" if self.is_frozen else "idle", self._rest_since, now)
        return None

    # -- init ---------------------------------------------------------------------------------
    def _on_start(self, event: StartRequested) -> list[Effect]:
        spec, at = self.spec, event.at
        self.incarnation += 1
        if self.init_type == "snap-start" and not self.template:  # restored before, its snapshot is gone: cold
            self.init_type = spec.init_type
        self._init_phase = event.phase
        self._init_started = at
        self._init_error = None
        self._runtime_started = at
        out: list[Effect] = []
        if not self._ran_init:
            self._ran_init = True
            if self.worker == 0:  # a Managed Instances environment's init is reported once, by its first worker
                out.append(Log(self.id, InitStart(spec.runtime, at)))
        if spec.extensions or self._guarded:
            self._new_extensions()
        if spec.extensions:
            out.append(LaunchExtensions(self.id, self.incarnation))
        else:
            group = self.group if spec.per_environment else ""  # "": the environment is its own group (classic)
            out.append(SpawnRuntime(self.id, self.incarnation, self.init_type, event.phase, group, self.worker))
        # a suppressed init (inside an invoke, after a reset) is bounded by the function timeout
        self._deadline_at = at + (spec.timeout_s if event.phase == "invoke" else spec.init_timeout_s)
        out.append(ArmDeadline(self.id, self.incarnation, self._deadline_at))
        return out

    def _on_next(self, event: NextRequested, before: State) -> list[Effect]:
        at = event.at
        if before is State.INITIALIZING:  # init is done
            self._cold = ((at - self._init_started) * 1000.0, self._init_phase == "invoke")
            return [DisarmDeadline(self.id), RecordSpan(self.id, self._span("init", self._runtime_started, at))]
        if before is State.RESTORING:
            return self._restored(at, at)
        if before is State.OVERRUN:  # the timed-out code is done: the worker is free again
            return [self._overrun_span(at)]
        # the invoke phase ends when the runtime asks for more: report it and answer the caller now
        out: list[Effect] = [DisarmDeadline(self.id), self._invoke_span(at)]
        out += self._finish_answer(at, reset=False)
        return out

    def _runtime_ready(self, at: float, before: State) -> list[Effect]:
        """The last extension waits on next after the runtime did: the phase it waited in ends now."""
        done, post = self._runtime_done_at, self._post_from
        self._post_from = None
        span = RecordSpan(self.id, self._span("post_runtime", done, at, self.last_request))
        if post is State.INITIALIZING:
            self._cold = ((at - self._init_started) * 1000.0, self._init_phase == "invoke")
            return [DisarmDeadline(self.id), RecordSpan(self.id, self._span("init", self._runtime_started, done)), span]
        if post is State.RESTORING:
            return [*self._restored(at, done), span]
        self._overhead_ms = (at - done) * 1000.0
        out: list[Effect] = [DisarmDeadline(self.id), span]
        out += self._finish_answer(at, reset=False)
        return out

    # -- extensions ---------------------------------------------------------------------------
    def _new_extensions(self) -> None:
        """A new incarnation starts with no extension registered."""
        self._parked = {}
        self._invoke_subscribers = []
        self._shutdown_subscribers = []
        self._internal = set()
        self._externals_alive = 0
        self._runtime_alive = True
        self._extension_error = None
        self._post_from = None
        self._guarded = bool(self.spec.extensions) or self.spec.per_environment > 0
        self._awaiting_registration = False

    def _on_registered(self, event: ExtensionRegistered) -> list[Effect]:
        identifier = event.identifier
        self._guarded = True
        self._parked[identifier] = False
        if "INVOKE" in event.events:
            self._invoke_subscribers.append(identifier)
        if event.internal:
            self._internal.add(identifier)
        elif "SHUTDOWN" in event.events:
            self._shutdown_subscribers.append(identifier)
        if not self.spec.logs:
            return []
        return [Log(self.id, ExtensionState(event.name, "Ready", tuple(event.events), event.at))]

    def _on_drain(self, at: float, before: State) -> list[Effect]:
        """A graceful shutdown: SIGTERM to the runtime (SIGKILL after its grace), the extensions' deadline armed."""
        out = self._end_rest(at, thaw=True)  # SIGTERM must reach a running process
        out += self._fail_in_progress(at, before)
        grace = RUNTIME_GRACE_INTERNAL_S if self._internal else RUNTIME_GRACE_S
        total = SHUTDOWN_EXTERNAL_S if self._externals_alive > 0 else grace
        self._shutdown_started = at
        self._deadline_at = at + total
        out += [
            DisarmDeadline(self.id),
            SignalRuntime(self.id, self.incarnation, "SIGTERM", at + grace),
            ArmDeadline(self.id, self.incarnation, self._deadline_at),
        ]
        return out

    # -- SnapStart ------------------------------------------------------------------------------
    def _on_restore_next(self, at: float) -> list[Effect]:
        """The template's init and before-snapshot hooks are done: INIT_REPORT now (always, for SnapStart)."""
        init_ms = (at - self._init_started) * 1000.0
        self._snapshot_started = at
        self._deadline_at = at + self.spec.init_timeout_s
        report = InitReport(duration_ms=init_ms, phase="init", status=Status.SUCCESS, error_type=None, at=at)
        return [
            DisarmDeadline(self.id),
            RecordSpan(self.id, self._span("init", self._runtime_started, at)),
            Log(self.id, report),
            TakeSnapshot(self.id, self.incarnation),
            ArmDeadline(self.id, self.incarnation, self._deadline_at),
        ]

    def _on_restore(self, at: float) -> list[Effect]:
        spec = self.spec
        self.incarnation += 1
        self.init_type = "snap-start"
        self._restore_started = at
        self._restore_error = None
        self._init_error = None
        self._new_extensions()
        out: list[Effect] = []
        if spec.logs:
            out.append(Log(self.id, RestoreStart(spec.runtime, at)))
        if spec.extensions:
            self._awaiting_registration = True
            out.append(LaunchExtensions(self.id, self.incarnation))
        out.append(RestoreRuntime(self.id, self.incarnation))
        self._deadline_at = at + RESTORE_TIMEOUT_S
        out.append(ArmDeadline(self.id, self.incarnation, self._deadline_at))
        return out

    def _restored(self, at: float, runtime_at: float) -> list[Effect]:
        """The restored runtime (and every extension) waits on next: Restore Duration ends here."""
        started = self._restore_started
        assert started is not None
        self._restore_started = None
        self._restore_ms = (at - started) * 1000.0
        return [DisarmDeadline(self.id), RecordSpan(self.id, self._span("restore", started, runtime_at))]

    def _restore_failed(self, at: float, status: Status, exit_type: str | None) -> list[Effect]:
        """No ``/next`` after a restore: ``RESTORE_REPORT``, and the waiting caller gets a SnapStart error."""
        started = self._restore_started
        assert started is not None
        self._restore_started = None
        posted = self._restore_error
        error_type = posted[0] if posted is not None and exit_type != _OUT_OF_MEMORY else exit_type
        restore_ms = (at - started) * 1000.0
        report = RestoreReport(
            duration_ms=restore_ms,
            status=status,
            error_type=error_type if status is Status.ERROR else None,
            at=at,
        )
        out: list[Effect] = [RecordSpan(self.id, self._span("restore", started, at)), Log(self.id, report)]
        inv = self.reserved
        if inv is None:
            return out
        self.reserved = None
        self._duration_from = at
        self._restore_ms = restore_ms
        caller = outcomes.SNAPSTART_TIMEOUT if status is Status.TIMEOUT else outcomes.SNAPSTART_ERROR
        record = self._restored_record(inv, at, status, caller, reset=True)
        out.append(CompleteInvocation(self.id, inv, record, outcomes.snapstart_error(caller), True))
        return out

    def _init_failed(self, at: float, status: Status, exit_type: str | None, returncode: int | None) -> list[Effect]:
        """Init ended without ``/next``: report it; fail the waiting invocation if this was the retry."""
        posted = self._init_error if exit_type != _OUT_OF_MEMORY else None  # running out of memory trumps it
        error_type = posted[1] if posted is not None else exit_type
        init_ms = (at - self._init_started) * 1000.0
        report = InitReport(
            duration_ms=init_ms,
            phase=self._init_phase,
            status=status,
            error_type=error_type if status is Status.ERROR else None,
            at=at,
        )
        out: list[Effect] = [RecordSpan(self.id, self._span("init", self._init_started, at)), Log(self.id, report)]
        inv = self.reserved
        if inv is None or self._init_phase == "init":
            return out  # the pool retries the init inside the invoke, as Lambda does
        self.reserved = None
        self._invoke_started = self._duration_from = self._init_started
        self._cold = (init_ms, True)
        if posted is not None and status is not Status.TIMEOUT:
            body = posted[0]
        else:
            body = self._failure_body(inv, status, error_type, returncode)
        out.append(Log(self.id, Start(inv.request_id, self.spec.version, self._init_started)))
        out += self._complete(inv, at, body, status, error_type, reset=True)
        return out

    # -- invoke -------------------------------------------------------------------------------
    def _on_assigned(self, event: InvocationAssigned) -> list[Effect]:
        inv, at, spec = event.invocation, event.at, self.spec
        out = self._end_rest(at, thaw=True)
        self.current = inv
        self.last_request = inv.request_id
        self._invoke_started = at
        if self._cold is not None and self._cold[1]:  # a suppressed init already counts against the timeout
            self._duration_from = self._init_started
        else:
            self._duration_from = at
            self._deadline_at = at + spec.timeout_s
        if spec.logs:
            out.append(Log(self.id, Start(inv.request_id, spec.version, at)))
        if self._invoke_subscribers:
            for identifier in self._invoke_subscribers:
                self._parked[identifier] = False
            out.append(DeliverExtensionEvent(self.id, "INVOKE", self._deadline_at, inv.request_id, None, inv))
        out.append(DeliverInvocation(self.id, inv, self._deadline_at))
        out.append(ArmDeadline(self.id, self.incarnation, self._deadline_at))
        return out

    def _on_answer(self, body: object, status: Status, error_type: str | None, max_memory_mb: int) -> list[Effect]:
        """``/response`` or ``/error``: kept until the runtime asks for more (or the invoke phase ends)."""
        self._note_memory(max_memory_mb)
        inv, self.current = self.current, None
        assert inv is not None
        self._answer = (inv, body, status, error_type)
        return []

    def _end_invoke(self, at: float, status: Status, error_type: str | None, returncode: int | None) -> list[Effect]:
        """The invoke phase ends early: its span, then the posted answer, or else the failure, to the caller."""
        out: list[Effect] = [self._invoke_span(at)]
        if self._answer is not None:  # FINISHING: the answer was posted, but the runtime never asked for more
            out += self._finish_answer(at, reset=True)
        inv = self.current
        if inv is not None:
            out += self._complete(
                inv, at, self._failure_body(inv, status, error_type, returncode), status, error_type, reset=True
            )
        return out

    def _finish_answer(self, at: float, *, reset: bool, failed: tuple[Status, str] | None = None) -> list[Effect]:
        """Report the answer the runtime posted (END, REPORT) and hand it to the caller; ``failed``: the
        (status, error type) the record and REPORT carry instead (the caller still gets the posted answer)."""
        answer, self._answer = self._answer, None
        if answer is None:
            return []
        inv, body, status, error_type = answer
        if failed is None:
            return self._complete(inv, at, body, status, error_type, reset=reset)
        return self._complete(inv, at, body, failed[0], failed[1], reset=reset, answered=status)

    def _complete(
        self,
        inv: Invocation,
        at: float,
        body: object,
        status: Status,
        error_type: str | None,
        reset: bool,
        answered: Status | None = None,
    ) -> list[Effect]:
        spec = self.spec
        if self._restore_ms is not None:
            record = self._restored_record(inv, at, status, error_type, reset)
        else:
            cold, self._cold = self._cold, None
            init_ms, suppressed = cold if cold is not None else (None, False)
            duration_ms = (at - self._duration_from) * 1000.0
            memory = spec.memory_mb if error_type == _OUT_OF_MEMORY else self.max_memory_mb
            overhead = self._overhead_ms
            if overhead:
                self._overhead_ms = 0.0
            record = InvocationRecord(
                request_id=inv.request_id,
                function=spec.function,
                version=spec.version,
                environment_id=self.group,
                cold=cold is not None,
                init_duration_ms=init_ms,
                init_suppressed=suppressed,
                duration_ms=duration_ms,
                # Managed Instances bills instances, not inits (core/groups.py): no init is added to Duration there
                billed_duration_ms=outcomes.billed_duration_ms(
                    duration_ms, None if suppressed or spec.per_environment else init_ms
                ),
                memory_size_mb=spec.memory_mb,
                max_memory_used_mb=min(memory, spec.memory_mb),
                status=status,
                error_type=error_type,
                start=self._duration_from,
                end=at,
                submitted=inv.submitted,
                reset=reset,
                extension_overhead_ms=overhead,
                tenant_id=inv.tenant_id,
                worker=self.worker,
            )
            self.invocations += 1
            self.last_used = at
        caller = status if answered is None else answered  # what the caller's body is: a result or an error
        complete = CompleteInvocation(self.id, inv, record, body, caller is not Status.SUCCESS)
        if not spec.logs:
            return [complete]
        return [Log(self.id, End(inv.request_id, at)), Log(self.id, Report(record, at)), complete]

    def _restored_record(
        self, inv: Invocation, at: float, status: Status, error_type: str | None, reset: bool
    ) -> InvocationRecord:
        """The record of the first invocation after a restore: Restore Duration in place of Init Duration."""
        spec = self.spec
        restore_ms, self._restore_ms = self._restore_ms, None
        self._cold = None
        duration_ms = (at - self._duration_from) * 1000.0
        memory = spec.memory_mb if error_type == _OUT_OF_MEMORY else self.max_memory_mb
        overhead, self._overhead_ms = self._overhead_ms, 0.0
        self.invocations += 1
        self.last_used = at
        return InvocationRecord(
            request_id=inv.request_id,
            function=spec.function,
            version=spec.version,
            environment_id=self.group,
            cold=True,
            init_duration_ms=None,
            init_suppressed=False,
            duration_ms=duration_ms,
            billed_duration_ms=outcomes.billed_duration_ms(duration_ms),
            memory_size_mb=spec.memory_mb,
            max_memory_used_mb=min(memory, spec.memory_mb),
            status=status,
            error_type=error_type,
            start=self._duration_from,
            end=at,
            submitted=inv.submitted,
            reset=reset,
            restore_duration_ms=restore_ms,
            billed_restore_duration_ms=outcomes.billed_restore_duration_ms(restore_ms),
            extension_overhead_ms=overhead,
            tenant_id=inv.tenant_id,
            worker=self.worker,
        )

    # -- the process ends: a timeout, an exit, a shutdown ------------------------------------
    def _on_exited(self, event: ProcessExited, before: State) -> list[Effect]:
        if before is State.SHUTTING_DOWN:
            return [RecordSpan(self.id, self._span("shutdown", self._shutdown_started, event.at)), Retire(self.id)]
        if before is State.DRAINING:  # the runtime is gone; the external extensions get SHUTDOWN now
            self._runtime_alive = False
            if not self._shutdown_subscribers:
                return []
            return [DeliverExtensionEvent(self.id, "SHUTDOWN", self._deadline_at, None, SHUTDOWN_REASON, None)]
        self._note_memory(event.max_memory_mb)
        error_type = _OUT_OF_MEMORY if event.out_of_memory else _EXIT
        return self._on_stop(event.at, before, Status.ERROR, error_type, event.returncode)

    def _on_stop(
        self, at: float, before: State, status: Status, error_type: str | None, returncode: int | None
    ) -> list[Effect]:
        """A deadline passed or the process exited: end the phase in progress; the environment is reset."""
        out = self._end_rest(at, thaw=False)  # SIGKILL ends a stopped process too
        if before is State.POST_RUNTIME:  # the runtime was done; an extension held the environment
            done = self._runtime_done_at
            out.append(RecordSpan(self.id, self._span("post_runtime", done, at, self.last_request)))
            before, self._post_from = self._post_from or State.FINISHING, None
            if before is State.FINISHING:
                self._overhead_ms = (at - done) * 1000.0
                if error_type is not None and error_type.startswith("Extension."):
                    # an extension crashed after the response: the caller has what the runtime posted (on Lambda
                    # it was sent already); the record and REPORT say the invocation ended in the crash
                    out += self._finish_answer(at, reset=True, failed=(status, error_type))
                else:
                    out += self._finish_answer(at, reset=True)  # the caller gets what the runtime posted
                before = State.RESET
        if before is State.STARTING or before is State.INITIALIZING or before is State.EXTENSIONS_INIT:
            out += self._init_failed(at, status, error_type, returncode)
        elif before is State.INVOKING or before is State.FINISHING:
            out += self._end_invoke(at, status, error_type, returncode)
        elif before is State.RESTORING:
            out += self._restore_failed(at, status, error_type)
        elif before is State.SNAPSHOTTING:
            out.append(RecordSpan(self.id, self._span("snapshot", self._snapshot_started, at)))
        elif before is State.OVERRUN:
            out.append(self._overrun_span(at))
        self.current = None
        out += [DisarmDeadline(self.id), Kill(self.id, self.incarnation)]
        return out

    def _on_shutdown(self, at: float, before: State) -> list[Effect]:
        """Retire: whatever runs or waits fails with a sandbox failure, and the process is killed."""
        if before is State.RESET:
            return [Retire(self.id)]
        out = self._end_rest(at, thaw=False)  # SIGKILL ends a stopped process too
        out += self._fail_in_progress(at, before)
        self._shutdown_started = at
        out += [DisarmDeadline(self.id), Kill(self.id, self.incarnation)]
        if before is State.EXTENSIONS_INIT:  # no runtime to wait for
            out.append(Retire(self.id))
        return out

    def _fail_in_progress(self, at: float, before: State) -> list[Effect]:
        """A shutdown ends the phase in progress: its span; whatever runs or waits fails with a sandbox failure."""
        error_type = _SANDBOX_FAILURE
        out: list[Effect] = []
        if before is State.POST_RUNTIME:
            done = self._runtime_done_at
            out.append(RecordSpan(self.id, self._span("post_runtime", done, at, self.last_request)))
            before, self._post_from = self._post_from or State.FINISHING, None
            if before is State.FINISHING:
                self._overhead_ms = (at - done) * 1000.0
                out += self._finish_answer(at, reset=True)
                before = State.RESET
        if before is State.INVOKING or before is State.FINISHING:
            out += self._end_invoke(at, Status.ERROR, error_type, None)
        elif before is State.STARTING or before is State.INITIALIZING:
            out.append(RecordSpan(self.id, self._span("init", self._init_started, at)))
        elif before is State.EXTENSIONS_INIT:
            out.append(RecordSpan(self.id, self._span("extension_init", self._init_started, at)))
        elif before is State.RESTORING and self._restore_started is not None:
            out.append(RecordSpan(self.id, self._span("restore", self._restore_started, at)))
            self._restore_started = None
        elif before is State.SNAPSHOTTING:
            out.append(RecordSpan(self.id, self._span("snapshot", self._snapshot_started, at)))
        elif before is State.OVERRUN:
            out.append(self._overrun_span(at))
        inv = self.reserved
        if inv is not None:
            self._duration_from = self._init_started if self._restore_ms is None else at
            out += self._complete(
                inv, at, self._failure_body(inv, Status.ERROR, error_type, None), Status.ERROR, error_type, reset=True
            )
        self.current = self.reserved = None
        return out

    def _failure_body(self, inv: Invocation, status: Status, error_type: str | None, returncode: int | None) -> object:
        """What the caller of ``inv`` gets when its environment times out, exits or is shut down."""
        if status is Status.TIMEOUT:
            return outcomes.timeout_error(inv.request_id, self.spec.timeout_s)
        if error_type == _SANDBOX_FAILURE:
            return outcomes.sandbox_failure(inv.request_id, "the environment was shut down")
        if error_type is not None and error_type.startswith("Extension."):
            return outcomes.extension_error(inv.request_id, error_type, returncode)
        return outcomes.exit_error(inv.request_id, returncode if returncode is not None else -9)

    # -- helpers --------------------------------------------------------------------------------
    def _note_memory(self, max_memory_mb: int) -> None:
        self.max_memory_mb = max(self.max_memory_mb, max_memory_mb)

    def _span(self, phase: Phase, start: float, end: float, request_id: str | None = None) -> PhaseSpan:
        spec = self.spec
        return PhaseSpan(
            environment_id=self.group,
            function=spec.function,
            version=spec.version,
            phase=phase,
            start=start,
            end=end,
            request_id=request_id,
            worker=self.worker,
        )

    def _overrun_span(self, at: float) -> RecordSpan:
        return RecordSpan(self.id, self._span("overrun", self._overrun_since, at, self.last_request))

    def _on_overrun(self, at: float, before: State) -> list[Effect]:
        """A Managed Instances timeout: the invocation fails now (``Sandbox.Timedout``, recorded once); no signal is
        sent, the worker's code keeps running until it asks for more (OVERRUN)."""
        out: list[Effect] = [DisarmDeadline(self.id), self._invoke_span(at)]
        self._overrun_since = at
        if before is State.FINISHING:  # answered, but still running when the time was up: the caller has the answer
            out += self._finish_answer(at, reset=False)
        else:
            inv = self.current
            assert inv is not None
            self.current = None
            body = self._failure_body(inv, Status.TIMEOUT, None, None)
            out += self._complete(inv, at, body, Status.TIMEOUT, None, reset=False)
        out.append(Overrun(self.id, self.last_request or ""))
        return out

    def _invoke_span(self, at: float) -> RecordSpan:
        return RecordSpan(self.id, self._span("invoke", self._invoke_started, at, self.last_request))

    def _end_rest(self, at: float, *, thaw: bool) -> list[Effect]:
        """End the frozen or idle span, if one is open (thawing the process first, if asked)."""
        out: list[Effect] = []
        if self._rest_since is None:
            return out
        if self.is_frozen and thaw:
            out.append(Thaw(self.id))
        out.append(RecordSpan(self.id, self._span("frozen" if self.is_frozen else "idle", self._rest_since, at)))
        self.is_frozen = False
        self._rest_since = None
        return out
