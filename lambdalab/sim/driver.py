"""The simulator's driver: performs the core's effects by scheduling what a real runtime would do next.

It mirrors ``engine/control_plane.py`` effect for effect, with a virtual clock instead of processes:
``SpawnRuntime`` → ``ProcessStarted`` now and ``NextRequested`` after a drawn init time;
``DeliverInvocation`` → ``ResponsePosted`` (or ``ErrorPosted``) after a drawn service time, then
``NextRequested`` at once; ``ArmDeadline`` → a cancellable ``DeadlineExceeded``; ``Kill`` →
``ProcessExited`` shortly after; ``ScheduleWakeup`` → ``WakeupDue``; ``ScheduleRetry`` → the async
queue's ``wake``; the rest is bookkeeping. Extensions and SnapStart (rare effects, performed after the
common ones): ``LaunchExtensions`` → ``ExtensionsLaunched`` now, then after a drawn extension init each
extension registers and waits on next, and ``ExtensionsRegistered``; ``StartRuntime`` → init as above;
INVOKE → every extension asks for its next event a drawn post-runtime time after the runtime's answer;
``SignalRuntime`` → the runtime exits (SIGTERM handled at once); SHUTDOWN → the extensions exit;
``TakeSnapshot`` → ``SnapshotTaken`` now; ``RestoreRuntime`` → ``NextRequested`` after a drawn restore.

Rules:
1. Every decision (placement, limits, lifecycle, keep-alive, retries) is the core's; this module
   only decides *when* the next fact happens, from the latency models and the seeded generator.
2. At most one pending runtime action and one live deadline per environment, and one heap entry
   per wakeup key: a deadline that the pending response will beat is never put on the heap (it
   would be disarmed first), and a replaced wakeup is moved, not duplicated. This keeps the heap
   small at millions of invocations without changing what the core sees.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from typing import Final, Protocol, cast

from lambdalab.core.async_queue import DeliverRecord, DispatchEvent, EventQueue, QueuedEvent, ScheduleRetry
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
    ScheduleWakeup,
    SignalRuntime,
    SpawnRuntime,
    StartRuntime,
    TakeSnapshot,
    Thaw,
)
from lambdalab.core.events import (
    DeadlineExceeded,
    ErrorPosted,
    Event,
    ExtensionExited,
    ExtensionNextRequested,
    ExtensionRegistered,
    ExtensionsLaunched,
    ExtensionsRegistered,
    Invocation,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    SnapshotTaken,
    WakeupDue,
)
from lambdalab.core.keepalive import KeepAlivePolicy
from lambdalab.core.lifecycle import EnvironmentSpec
from lambdalab.core.scheduler import LATEST, FunctionEntry, Scheduler, Throttled
from lambdalab.sim.kernel import DEADLINE, PROCESS, WAKEUP, Kernel
from lambdalab.sim.latency import Sampler
from lambdalab.sim.tally import Tally

KILL_S: Final = 0.001  # SIGKILL until the process is seen gone
SIGKILL_RETURNCODE: Final = -9
ERROR_TYPE: Final = "Exception"  # what a handler that raises a plain Exception reports
_OK_BODY: Final = b"null"
_ERROR_BODY: Final = b'{"errorMessage":"simulated error","errorType":"Exception"}'


class _Step:
    """Something a runtime (or a deadline timer) will do at ``at``, as put on the kernel.

    The driver keeps the current one per environment and compares by identity: a step that was
    replaced or cancelled meanwhile finds another (or none) there and does nothing.
    """

    __slots__ = ("at", "env", "incarnation", "request_id", "failed")

    def __init__(self, at: float, env: str, incarnation: int, request_id: str = "", failed: bool = False) -> None:
        self.at = at
        self.env = env
        self.incarnation = incarnation
        self.request_id = request_id
        self.failed = failed


class SchedulerLike(Protocol):
    """What the simulator uses of ``core.scheduler.Scheduler``: a test may pass a wrapper of one.

    (Typed as a protocol, not the class: the compiled simulator would reject anything but a
    ``Scheduler`` itself.)
    """

    def deploy(self, spec: EnvironmentSpec, keep_alive: KeepAlivePolicy, at: float) -> list[Effect]: ...
    def reserve(self, function: str, reserved: int | None) -> None: ...
    def provision(self, function: str, version: str, count: int, at: float) -> list[Effect]: ...
    def entry(self, function: str) -> FunctionEntry: ...
    def submit(
        self, function: str, version: str, invocation: Invocation, at: float
    ) -> tuple[list[Effect], Throttled | None]: ...
    def handle(self, event: Event) -> list[Effect]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """The simulated function's behaviour, bound to the run's generator."""

    warm: Sampler  # one invoke's duration
    init: Sampler  # one init's duration
    cold: Sampler | None  # a whole cold request (init + its invoke), SimFaaS style
    error_probability: float  # share of invokes whose handler raises
    max_memory_mb: int  # what each invoke reports as its peak memory
    rng: random.Random
    restore: Sampler | None = None  # a SnapStart restore, to the runtime's first /next
    extension_init: Sampler | None = None  # the external extensions' start and registration
    extension_post: Sampler | None = None  # what the extensions do after the runtime's answer, per invoke
    extensions: int = 0  # external extensions per environment
    overrun: bool = False  # Managed Instances: a timed-out invoke keeps running to its drawn end
    tenants: int = 0  # tenant isolation: each request's tenant drawn from this many


class Driver:
    """Performs the effects of one function's scheduler (and async queue) in virtual time."""

    def __init__(
        self, kernel: Kernel, scheduler: SchedulerLike, timing: Timing, tally: Tally, queue: EventQueue | None = None
    ) -> None:
        self.kernel = kernel
        self.scheduler = scheduler
        # the core's own class, called directly when compiled (a protocol-typed call is a generic one)
        self._core: Scheduler | None = scheduler if type(scheduler) is Scheduler else None
        self.timing = timing
        self.tally = tally
        self.queue = queue
        self.function = tally.function
        self.on_finished: Callable[[bool], None] | None = None  # a request ended: answered (True) or throttled
        self._incarnation: dict[str, int] = {}
        self._pending: dict[str, _Step] = {}  # environment -> its next runtime action
        self._armed: dict[str, _Step] = {}  # environment -> its live deadline
        self._first: dict[str, float] = {}  # environment -> rest of a cold request (cold model)
        self._wake_due: dict[str, float] = {}  # key -> when it should fire
        self._wake_queued: dict[str, float] = {}  # key -> when its one heap entry fires
        self._async: set[str] = set()
        self._extensions: dict[str, tuple[int, int]] = {}  # environment -> (incarnation, external extensions)
        self._extension_steps: dict[str, _Step] = {}  # environment -> its extensions' next event/next
        self.instant_init = False  # inits of environments set up before the run take no time (Managed Instances)

    # -- the one way effects are performed ----------------------------------------------------
    def perform(self, effects: list[Effect]) -> None:
        """Each effect to its method. A chain of exact type tests, most frequent first: compiled,
        each branch is a direct call (a dict of bound methods costs a generic call per effect)."""
        for effect in effects:
            kind = type(effect)
            if kind is RecordSpan:
                self.tally.span(cast(RecordSpan, effect))
            elif kind is DeliverInvocation:
                self._deliver(cast(DeliverInvocation, effect))
            elif kind is ArmDeadline:
                self._arm(cast(ArmDeadline, effect))
            elif kind is DisarmDeadline:
                if self._armed:  # almost always empty: responses beat their deadlines
                    self._armed.pop(effect.environment_id, None)
            elif kind is CompleteInvocation:
                self._complete(cast(CompleteInvocation, effect))
            elif kind is Freeze:
                if self._first:  # initialised ahead: its first invoke is warm
                    self._first.pop(effect.environment_id, None)
            elif kind is ScheduleWakeup:
                self._schedule_wakeup(cast(ScheduleWakeup, effect))
            elif kind is Thaw or kind is Log:
                pass  # no cost in virtual time; the tally reads what it needs elsewhere
            elif kind is SpawnRuntime:
                self._spawn(cast(SpawnRuntime, effect))
            elif kind is Kill:
                self._kill(cast(Kill, effect))
            elif kind is Retire:
                self._retire(cast(Retire, effect))
            elif kind is DispatchEvent:
                self._dispatch_event(cast(DispatchEvent, effect))
            elif kind is ScheduleRetry:
                self._schedule_retry(cast(ScheduleRetry, effect))
            elif kind is DeliverRecord:
                self._destination(cast(DeliverRecord, effect))
            else:
                self._perform_lifecycle_extra(effect)

    def _perform_lifecycle_extra(self, effect: Effect) -> None:
        """The effects of extensions, SnapStart and graceful shutdown."""
        kind = type(effect)
        if kind is DeliverExtensionEvent:
            self._extension_event(cast(DeliverExtensionEvent, effect))
        elif kind is LaunchExtensions:
            self._launch_extensions(cast(LaunchExtensions, effect))
        elif kind is StartRuntime:
            start = cast(StartRuntime, effect)
            self._run_init(start.environment_id, start.incarnation)
        elif kind is RestoreRuntime:
            self._restore(cast(RestoreRuntime, effect))
        elif kind is TakeSnapshot:
            snap = cast(TakeSnapshot, effect)
            self.kernel.schedule(
                self.kernel.now,
                PROCESS,
                self._feed,
                SnapshotTaken(snap.environment_id, snap.incarnation, self.kernel.now),
            )
        elif kind is Overrun:
            pass  # the timed-out invoke runs on to its drawn end (``_deliver`` scheduled it): nothing to stop
        elif kind is SignalRuntime:
            signal = cast(SignalRuntime, effect)
            self._pending.pop(signal.environment_id, None)  # a handler of SIGTERM exits at once
            self.kernel.schedule(
                self.kernel.now + KILL_S, PROCESS, self._exited, (signal.environment_id, signal.incarnation)
            )
        else:
            raise TypeError(f"the simulator cannot perform {effect!r}")

    def handle(self, event: Event) -> list[Effect]:
        """The scheduler's ``handle``."""
        core = self._core
        return core.handle(event) if core is not None else self.scheduler.handle(event)

    def submit(self, request_id: str) -> bool:
        """A synchronous request arrives now: placed (True) or throttled (False)."""
        now = self.kernel.now
        tenants = self.timing.tenants
        tenant = f"tenant-{self.timing.rng.randrange(tenants)}" if tenants else None
        invocation = Invocation(request_id, now, tenant_id=tenant)
        core = self._core
        effects, throttled = (
            core.submit(self.function, LATEST, invocation, now)
            if core is not None
            else self.scheduler.submit(self.function, LATEST, invocation, now)
        )
        if throttled is not None:
            self.tally.throttled(invocation, throttled.reason, now)
            if effects:  # Managed Instances: an environment starts in the background
                self.perform(effects)
            return False
        self.tally.started(now)
        self.perform(effects)
        return True

    # -- environments ---------------------------------------------------------------------------
    def _spawn(self, effect: SpawnRuntime) -> None:
        kernel, env, incarnation = self.kernel, effect.environment_id, effect.incarnation
        self._incarnation[env] = incarnation
        if incarnation == 1:
            self.tally.created(env, effect.init_type == "provisioned-concurrency", effect.group)
        kernel.schedule(kernel.now, PROCESS, self._started, (env, incarnation))
        self._run_init(env, incarnation)

    def _run_init(self, env: str, incarnation: int) -> None:
        """The runtime's init: ``NextRequested`` after a drawn init time."""
        kernel = self.kernel
        now = kernel.now
        timing = self.timing
        if self.instant_init:  # ready before the run: its init is not simulated
            init_s = 0.0
        else:
            init_s = timing.init()
        if timing.cold is not None and not timing.overrun:  # a cold request's length is drawn; init takes its share
            whole = timing.cold()
            init_s = min(init_s, whole)
            self._first[env] = whole - init_s
        step = _Step(now + init_s, env, incarnation)
        self._pending[env] = step
        kernel.schedule(step.at, PROCESS, self._init_done, step)

    def _started(self, action: tuple[str, int]) -> None:
        env, incarnation = action
        self.perform(self.handle(ProcessStarted(env, incarnation, self.kernel.now)))

    def _init_done(self, step: _Step) -> None:
        env = step.env
        if self._pending.get(env) is not step:
            return  # killed meanwhile
        del self._pending[env]
        self.perform(self.handle(NextRequested(env, step.incarnation, self.kernel.now)))

    def _deliver(self, effect: DeliverInvocation) -> None:
        env, timing = effect.environment_id, self.timing
        service = self._first.pop(env, None) if self._first else None
        if service is None:
            service = timing.warm()
        end = self.kernel.now + service
        if end > effect.deadline_at and not timing.overrun:
            return  # the deadline fires first (ArmDeadline, next, puts it on the heap)
        failed = timing.error_probability > 0.0 and timing.rng.random() < timing.error_probability
        step = _Step(end, env, self._incarnation[env], effect.invocation.request_id, failed)
        self._pending[env] = step
        self.kernel.schedule(end, PROCESS, self._respond, step)
        if self._extensions and env in self._extension_steps:  # INVOKE went to the extensions first
            post = timing.extension_post() if timing.extension_post is not None else 0.0
            ext = self._extension_steps[env]
            ext.at = end + post
            self.kernel.schedule(ext.at, PROCESS, self._extensions_next, ext)

    def _respond(self, step: _Step) -> None:
        env, incarnation, request_id = step.env, step.incarnation, step.request_id
        pending = self._pending
        if pending.get(env) is not step:
            return
        del pending[env]
        now, handle, memory = self.kernel.now, self.handle, self.timing.max_memory_mb
        if step.failed:
            out = handle(ErrorPosted(env, incarnation, now, request_id, _ERROR_BODY, ERROR_TYPE, memory))
        else:
            out = handle(ResponsePosted(env, incarnation, now, request_id, _OK_BODY, memory))
        if out:
            self.perform(out)
        self.perform(handle(NextRequested(env, incarnation, now)))

    def _arm(self, effect: ArmDeadline) -> None:
        env = effect.environment_id
        pending = self._pending.get(env)
        if pending is not None and pending.at < effect.at and not (self._extensions and env in self._extensions):
            if self._armed:
                self._armed.pop(env, None)
            return  # the runtime acts first, and its /next disarms this deadline
        armed = _Step(effect.at, env, effect.incarnation)
        self._armed[env] = armed
        self.kernel.schedule(effect.at, DEADLINE, self._deadline, armed)

    def _deadline(self, armed: _Step) -> None:
        env = armed.env
        if self._armed.get(env) is not armed:
            return
        del self._armed[env]
        event = DeadlineExceeded(env, armed.incarnation, self.kernel.now, self.timing.max_memory_mb)
        self.perform(self.handle(event))

    def _kill(self, effect: Kill) -> None:
        env = effect.environment_id
        self._pending.pop(env, None)  # a killed runtime posts nothing more
        self._first.pop(env, None)
        if self._extensions:
            self._extension_steps.pop(env, None)
        self.kernel.schedule(self.kernel.now + KILL_S, PROCESS, self._exited, (env, effect.incarnation))

    def _exited(self, action: tuple[str, int]) -> None:
        env, incarnation = action
        event = ProcessExited(env, incarnation, self.kernel.now, SIGKILL_RETURNCODE, False, self.timing.max_memory_mb)
        self.perform(self.handle(event))

    def _retire(self, effect: Retire) -> None:
        env = effect.environment_id
        self._incarnation.pop(env, None)
        if self._extensions:
            self._extensions.pop(env, None)
            self._extension_steps.pop(env, None)
        self._wake_due.pop(env, None)
        self._wake_queued.pop(env, None)  # its heap entry, if any, is now stale
        self.tally.retired(env)

    # -- extensions and SnapStart ------------------------------------------------------------------------
    def _feed(self, event: Event) -> None:
        self.perform(self.handle(event))

    def _launch_extensions(self, effect: LaunchExtensions) -> None:
        kernel, env, incarnation = self.kernel, effect.environment_id, effect.incarnation
        count = self.timing.extensions
        self._incarnation[env] = incarnation
        if incarnation == 1 and env not in self._extensions:
            self.tally.created(env, False)
        self._extensions[env] = (incarnation, count)
        kernel.schedule(kernel.now, PROCESS, self._feed, ExtensionsLaunched(env, incarnation, kernel.now, count))
        sampler = self.timing.extension_init
        step = _Step(kernel.now + (sampler() if sampler is not None else 0.0), env, incarnation)
        self._extension_steps[env] = step
        kernel.schedule(step.at, PROCESS, self._extensions_registered, step)

    def _extensions_registered(self, step: _Step) -> None:
        env, incarnation = step.env, step.incarnation
        if self._extension_steps.get(env) is not step:
            return
        del self._extension_steps[env]
        now, count = self.kernel.now, self._extensions[env][1]
        for n in range(count):
            self._feed(ExtensionRegistered(env, incarnation, now, f"x{n}", f"extension-{n}", ("INVOKE", "SHUTDOWN")))
        for n in range(count):
            self._feed(ExtensionNextRequested(env, incarnation, now, f"x{n}"))
        self._feed(ExtensionsRegistered(env, incarnation, now))

    def _extension_event(self, effect: DeliverExtensionEvent) -> None:
        env = effect.environment_id
        incarnation, count = self._extensions.get(env, (0, 0))
        if effect.event_type == "INVOKE":
            self._extension_steps[env] = _Step(math.inf, env, incarnation)  # timed by _deliver
        else:  # SHUTDOWN: the extensions flush and exit
            self.kernel.schedule(self.kernel.now + KILL_S, PROCESS, self._extensions_exit, (env, incarnation, count))

    def _extensions_next(self, step: _Step) -> None:
        env = step.env
        if self._extension_steps.get(env) is not step:
            return
        del self._extension_steps[env]
        for n in range(self._extensions[env][1]):
            self._feed(ExtensionNextRequested(env, step.incarnation, self.kernel.now, f"x{n}"))

    def _extensions_exit(self, action: tuple[str, int, int]) -> None:
        env, incarnation, count = action
        for n in range(count):
            self._feed(ExtensionExited(env, incarnation, self.kernel.now, f"x{n}", 0))

    def _restore(self, effect: RestoreRuntime) -> None:
        kernel, env, incarnation = self.kernel, effect.environment_id, effect.incarnation
        self._incarnation[env] = incarnation
        if incarnation == 1 and env not in self._extensions:  # (LaunchExtensions came first and counted it)
            self.tally.created(env, False)
        sampler = self.timing.restore
        step = _Step(kernel.now + (sampler() if sampler is not None else 0.0), env, incarnation)
        self._pending[env] = step
        kernel.schedule(step.at, PROCESS, self._init_done, step)

    # -- wakeups (keep-alive expiry, pre-warm) ------------------------------------------------------
    def _schedule_wakeup(self, effect: ScheduleWakeup) -> None:
        key, at = effect.environment_id, effect.at
        self._wake_due[key] = at
        queued = self._wake_queued.get(key)
        if queued is None or at < queued:
            self._wake_queued[key] = at
            self.kernel.schedule(at, WAKEUP, self._wake, key)

    def _wake(self, key: str) -> None:
        now = self.kernel.now
        if self._wake_queued.get(key) != now:
            return  # replaced by an earlier entry, or its environment is gone
        due = self._wake_due[key]
        if due > now:  # replaced by a later wakeup: move the one entry there
            self._wake_queued[key] = due
            self.kernel.schedule(due, WAKEUP, self._wake, key)
            return
        del self._wake_queued[key], self._wake_due[key]
        self.perform(self.handle(WakeupDue(key, 0, now)))

    # -- answers --------------------------------------------------------------------------------
    def _complete(self, effect: CompleteInvocation) -> None:
        self.tally.complete(effect)
        if self._async and effect.invocation.request_id in self._async:
            self.kernel.schedule(self.kernel.now, PROCESS, self._async_finished, effect)
        elif self.on_finished is not None:
            self.on_finished(True)

    # -- asynchronous invocations (mirrors ControlPlane._dispatch_event) ---------------------------
    def enqueue(self, event: QueuedEvent) -> None:
        assert self.queue is not None
        self.perform(self.queue.accept(event, self.kernel.now))

    def _schedule_retry(self, effect: ScheduleRetry) -> None:
        """One heap entry per retry: the queue schedules an event's next run only after its last one ended."""
        self.kernel.schedule(effect.at, WAKEUP, self._retry, effect.request_id)

    def _retry(self, request_id: str) -> None:
        assert self.queue is not None
        self.perform(self.queue.wake(request_id, self.kernel.now))

    def _dispatch_event(self, effect: DispatchEvent) -> None:
        assert self.queue is not None
        request_id = effect.event.request_id
        self._async.add(request_id)
        if not self.submit(request_id):
            self._async.discard(request_id)
            zero = self.scheduler.entry(self.function).reserved == 0
            self.perform(self.queue.throttled(request_id, self.kernel.now, zero))

    def _destination(self, effect: DeliverRecord) -> None:
        self.tally.destination(effect)
        if self.on_finished is not None:
            self.on_finished(True)

    def _async_finished(self, effect: CompleteInvocation) -> None:
        assert self.queue is not None
        self._async.discard(effect.invocation.request_id)
        body = effect.body if isinstance(effect.body, bytes) else b""
        self.perform(
            self.queue.finished(
                effect.invocation.request_id, self.kernel.now, effect.record.version, body, effect.is_error
            )
        )
