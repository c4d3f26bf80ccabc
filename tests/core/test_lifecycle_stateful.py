"""Random event sequences against a ``Pool``, held to invariants (STYLE §3.11 rule 6).

``EngineLikeDriver`` plays the engine's part with plain data: processes, each runtime's parked
``GET /next``, one deadline timer per environment, keep-alive wakeups. It produces only events the real engine could
produce, validating every Runtime API call the way ``engine.runtime_endpoint.RuntimeEndpoint`` does
before it becomes an event (state and incarnation, ``accepts(request_id)``, one parked ``/next``).
Calls the endpoint would reject are fed to a *copy* of the pool instead, which must raise
``LifecycleError`` or drop them (a copy, so that the run goes on as the engine's would; that a
rejected event changes nothing is tested in test_lifecycle.py).

The engine's timing is kept where it matters:
* ``ProcessStarted`` is dispatched with ``call_soon`` right after the spawn and without a state
  check, so it may arrive after a shutdown; no deadline fires and no process exits before it,
  except a failed spawn, which exits 127 and never starts.
* A frozen process makes no Runtime API calls; it can only die by SIGKILL (the OOM killer).

Invariants, checked on every effect and after every step:
1. One request per environment: an environment never receives a ``DeliverInvocation`` while an
   invocation delivered to it has not completed, and every outstanding invocation is held by
   exactly one environment (as ``current``, ``reserved``, or an answer posted and not yet reported).
2. Exactly once: no invocation completes twice; after a final ``shutdown`` and every process's
   exit, every submitted invocation has completed exactly once and the pool is empty.
3. Frozen means untouched: the effects for ``e`` after ``Freeze(e)`` are exactly ``Thaw(e)``, or
   exactly ``RecordSpan(e, <the frozen span>)``, ``DisarmDeadline(e)``, ``Kill(e)`` (a frozen
   environment is killed without a thaw: SIGKILL ends a stopped process). After either the rule
   ends; nothing else (no delivery, no second Freeze, no Log, no completion) may come between,
   except ``ScheduleWakeup``, which only sets a driver timer and touches no process.
4. TERMINATED environments leave the pool, and a retired environment is never seen again.
5. A deadline is armed exactly while the environment is STARTING, INITIALIZING, INVOKING or
   FINISHING, for its current incarnation: so the timer can never fire in a state with no row.
6. Every process of a replaced incarnation has been killed or has exited.
7. An environment with extensions freezes only when the runtime and every extension wait on next: an IDLE
   (and so every frozen) environment has its runtime parked on ``/next`` and each registered extension parked
   on ``event/next``; and no invocation is delivered to an environment while one of them is not waiting.

Extensions (``EnvironmentSpec.extensions`` > 0) are played as the engine runs them: ``LaunchExtensions`` starts
the environment's main process, which reports ``ExtensionsLaunched`` (not ``ProcessStarted``); each extension
registers, and ``ExtensionsRegistered`` follows the last one; ``StartRuntime`` starts the runtime in that process.
Extensions take INVOKE and SHUTDOWN events, ask for the next one, and may die at any time; a graceful shutdown
SIGTERMs the runtime, which exits or is SIGKILLed at ``kill_at``.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

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
    RecordSpan,
    Retire,
    ScheduleWakeup,
    SignalRuntime,
    SpawnRuntime,
    StartRuntime,
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
    InitErrorPosted,
    Invocation,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    ShutdownRequested,
    WakeupDue,
)
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State, allows
from lambdalab.core.pool import Pool
from lambdalab.errors import LifecycleError

ARMED_STATES = frozenset(
    {
        State.STARTING,
        State.INITIALIZING,
        State.INVOKING,
        State.FINISHING,
        State.EXTENSIONS_INIT,
        State.POST_RUNTIME,
        State.DRAINING,
    }
)
PROCESS_STATES = (ARMED_STATES | {State.IDLE}) - {State.DRAINING}
RUNTIME_STATES = frozenset({State.INITIALIZING, State.INVOKING, State.FINISHING, State.POST_RUNTIME, State.IDLE})
MAX_OUTSTANDING = 5
LAB_CLOSES_AFTER = 15  # driver events before retire/shutdown may happen, so sequences get somewhere
PICK = st.integers(min_value=0, max_value=1_000)
# Invariant 3, read off lifecycle.py: ``_end_rest`` thaws before anything else when an invocation is
# assigned; a reset (``_reset``) or a shutdown (``_shutdown``) of an idle environment records the
# frozen span, disarms and kills, with no Thaw. ``ScheduleWakeup`` (the pool's keep-alive timer)
# may come at any point: it sets a driver timer and touches no process.
AFTER_FREEZE: tuple[tuple[type[Effect], ...], ...] = ((Thaw,), (RecordSpan, DisarmDeadline, Kill))
TIMERS_ONLY: tuple[type[Effect], ...] = (ScheduleWakeup,)


@dataclasses.dataclass
class Process:
    """One runtime process (one incarnation of one environment), as the engine sees it."""

    environment_id: str
    incarnation: int
    started: bool = False  # ProcessStarted dispatched
    alive: bool = True
    parked: bool = False  # holds GET /next open
    frozen: bool = False
    killed: bool = False  # got SIGKILL; its exit is still to come
    launcher: bool = False  # started by LaunchExtensions: reports ExtensionsLaunched, not ProcessStarted
    runtime: bool = True  # the runtime runs in it (False until StartRuntime after LaunchExtensions)
    kill_at: float | None = None  # SIGTERMed: SIGKILLed then if still running

    @property
    def can_call(self) -> bool:
        """Able to make a Runtime API call right now."""
        return self.alive and self.started and self.runtime and not self.killed and not self.frozen and not self.parked


@dataclasses.dataclass
class ExtensionProcess:
    """One external (or internal) extension of one incarnation."""

    environment_id: str
    incarnation: int
    identifier: str
    events: tuple[str, ...] = ("INVOKE", "SHUTDOWN")
    internal: bool = False
    registered: bool = False
    alive: bool = True
    parked: bool = False  # holds GET event/next open


class EngineLikeDriver:
    """Performs effects into data and feeds back only events the engine could produce."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.now = 0.0
        self.processes: dict[tuple[str, int], Process] = {}
        self.deadlines: dict[str, tuple[int, float]] = {}  # the one timer per environment
        self.wakeups: dict[str, float] = {}  # ScheduleWakeup key -> when
        self.delivered: dict[str, str] = {}  # environment -> request delivered, not completed
        self.posted: dict[str, str] = {}  # environment -> request whose answer was posted
        self.frozen_tail: dict[str, list[type[Effect]]] = {}  # effects seen since Freeze, until Thaw/Kill
        self.submitted: list[str] = []
        self.completed: collections.Counter[str] = collections.Counter()
        self.retired: set[str] = set()
        self.fed = 0
        self.extensions: dict[tuple[str, int, str], ExtensionProcess] = {}

    # -- feeding the pool -------------------------------------------------------------------------
    def submit(self, request_id: str) -> None:
        self.submitted.append(request_id)
        self.perform(self.pool.submit(Invocation(request_id, self.now), self.now))

    def feed(self, event: Event) -> list[Effect]:
        self.fed += 1
        out = self.pool.handle(event)
        self.perform(out)
        return out

    def exit(self, process: Process, returncode: int, *, oom: bool = False) -> None:
        process.alive = process.parked = False
        for extension in self.extensions_of(process.environment_id, process.incarnation):
            if extension.internal:
                extension.alive = extension.parked = False  # a thread of the runtime's process
        memory = self.pool.spec.memory_mb if oom else 20
        self.feed(ProcessExited(process.environment_id, process.incarnation, self.now, returncode, oom, memory))

    # -- what the engine's endpoint would accept -------------------------------------------------
    def state_for(self, process: Process) -> State | None:
        """``RuntimeEndpoint._state``: the core's state, or None for a replaced incarnation."""
        core = self.pool.environments.get(process.environment_id)
        if core is None or core.incarnation != process.incarnation:
            return None
        return core.state

    def current_process(self, environment: Environment) -> Process | None:
        return self.processes.get((environment.id, environment.incarnation))

    # -- performing effects -----------------------------------------------------------------------
    def perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            self._check_frozen_rule(effect)
            handler = getattr(self, "_" + type(effect).__name__)
            handler(effect)

    def _check_frozen_rule(self, effect: Effect) -> None:
        """Invariant 3: what follows a Freeze is a prefix of one of ``AFTER_FREEZE``."""
        tail = self.frozen_tail.get(effect.environment_id)
        if tail is None or isinstance(effect, TIMERS_ONLY):
            return
        tail.append(type(effect))
        assert any(tuple(tail) == allowed[: len(tail)] for allowed in AFTER_FREEZE), (
            f"after Freeze of {effect.environment_id}: {[k.__name__ for k in tail]}"
        )
        if isinstance(effect, RecordSpan):
            assert effect.span.phase == "frozen", effect

    def _LaunchExtensions(self, effect: LaunchExtensions) -> None:
        key = (effect.environment_id, effect.incarnation)
        assert key not in self.processes, f"incarnation launched twice: {key}"
        self.processes[key] = Process(*key, launcher=True, runtime=False)

    def _StartRuntime(self, effect: StartRuntime) -> None:
        process = self.processes[(effect.environment_id, effect.incarnation)]
        assert process.launcher and not process.runtime and process.alive and not process.killed
        assert all(x.registered for x in self.extensions_of(effect.environment_id, effect.incarnation))
        process.runtime = True

    def _DeliverExtensionEvent(self, effect: DeliverExtensionEvent) -> None:
        environment = self.pool.environments[effect.environment_id]
        process = self.current_process(environment)
        for extension in self.extensions_of(environment.id, environment.incarnation):
            if effect.event_type == "INVOKE":  # invariant 7: an invocation only when everyone waits on next
                assert process is not None and process.parked and not process.frozen, process
                assert not extension.alive or extension.parked, f"INVOKE while {extension} works"
            if effect.event_type in extension.events and extension.alive and extension.registered:
                extension.parked = False  # answered now, or at its next event/next (SHUTDOWN)

    def _SignalRuntime(self, effect: SignalRuntime) -> None:
        assert effect.signal == "SIGTERM"
        process = self.processes[(effect.environment_id, effect.incarnation)]
        assert not process.frozen, "SIGTERM to a stopped process"
        if process.alive:
            process.kill_at = effect.kill_at
            process.parked = False

    def extensions_of(self, environment_id: str, incarnation: int) -> list[ExtensionProcess]:
        return [x for (e, i, _), x in self.extensions.items() if e == environment_id and i == incarnation]

    def _SpawnRuntime(self, effect: SpawnRuntime) -> None:
        key = (effect.environment_id, effect.incarnation)
        assert key not in self.processes, f"incarnation spawned twice: {key}"
        assert self.pool.environments[effect.environment_id].incarnation == effect.incarnation
        self.processes[key] = Process(*key)

    def _DeliverInvocation(self, effect: DeliverInvocation) -> None:
        eid = effect.environment_id
        assert eid not in self.delivered, (
            f"{eid} got {effect.invocation.request_id} while serving {self.delivered[eid]}"
        )
        environment = self.pool.environments[eid]
        process = self.current_process(environment)
        assert process is not None and process.alive and process.parked and not process.frozen, process
        assert environment.reserved is None
        for extension in self.extensions_of(eid, environment.incarnation):  # invariant 7
            assert not extension.alive or extension.parked or "INVOKE" in extension.events and not extension.parked
        process.parked = False
        self.delivered[eid] = effect.invocation.request_id

    def _Freeze(self, effect: Freeze) -> None:
        eid = effect.environment_id
        assert eid not in self.frozen_tail, f"{eid} frozen twice"
        process = self.current_process(self.pool.environments[eid])
        assert process is not None and process.alive and process.parked
        process.frozen = True
        self.frozen_tail[eid] = []

    def _Thaw(self, effect: Thaw) -> None:
        eid = effect.environment_id
        assert eid in self.frozen_tail, f"Thaw without Freeze for {eid}"
        del self.frozen_tail[eid]
        process = self.current_process(self.pool.environments[eid])
        assert process is not None
        process.frozen = False

    def _ArmDeadline(self, effect: ArmDeadline) -> None:
        self.deadlines[effect.environment_id] = (effect.incarnation, effect.at)

    def _DisarmDeadline(self, effect: DisarmDeadline) -> None:
        self.deadlines.pop(effect.environment_id, None)

    def _Kill(self, effect: Kill) -> None:
        self.frozen_tail.pop(effect.environment_id, None)
        process = self.processes.get((effect.environment_id, effect.incarnation))
        if process is not None and process.alive:
            process.killed = True
            process.parked = False
        for extension in self.extensions_of(effect.environment_id, effect.incarnation):
            extension.alive = extension.parked = False  # SIGKILL; their exits are dropped

    def _CompleteInvocation(self, effect: CompleteInvocation) -> None:
        request_id = effect.invocation.request_id
        assert request_id in self.submitted, request_id
        assert self.completed[request_id] == 0, f"{request_id} completed twice"
        self.completed[request_id] += 1
        assert effect.record.request_id == request_id
        assert effect.is_error == (effect.record.status.value != "success")
        eid = effect.environment_id
        if self.delivered.get(eid) == request_id:
            del self.delivered[eid]
        if self.posted.get(eid) == request_id:
            del self.posted[eid]

    def _ScheduleWakeup(self, effect: ScheduleWakeup) -> None:
        self.wakeups[effect.environment_id] = effect.at  # replaces an earlier one for the key

    def _RecordSpan(self, effect: RecordSpan) -> None:
        assert effect.span.start <= effect.span.end, effect.span

    def _Log(self, effect: Log) -> None:
        pass

    def _Retire(self, effect: Retire) -> None:
        assert effect.environment_id not in self.pool.environments
        self.retired.add(effect.environment_id)


class PoolMachine(RuleBasedStateMachine):
    """Submits, runtime calls, timers, exits, retire and shutdown in any order the engine allows."""

    def __init__(self) -> None:
        super().__init__()
        self.driver: EngineLikeDriver | None = None
        self.retired = False
        self.shut = False
        self.requests = 0

    @property
    def d(self) -> EngineLikeDriver:
        assert self.driver is not None
        return self.driver

    @initialize(
        freeze=st.booleans(),
        timeout=st.sampled_from([1.0, 3.0]),
        keep_alive=st.sampled_from([600.0, 600.0, 5.0, 0.0]),
        extensions=st.sampled_from([0, 0, 1, 2]),
    )
    def make_pool(self, freeze: bool, timeout: float, keep_alive: float, extensions: int) -> None:
        spec = EnvironmentSpec(
            "fn", "$LATEST", "python", 128, timeout, freeze=freeze, init_timeout_s=2.0, extensions=extensions
        )
        pool = Pool(spec, IdFactory("stateful").next_environment_id, keep_alive=FixedKeepAlive(keep_alive))
        self.driver = EngineLikeDriver(pool)

    # -- helpers -----------------------------------------------------------------------------------
    def _processes(self, predicate: Callable[[Process], bool]) -> list[Process]:
        return [p for p in self.d.processes.values() if predicate(p)]

    @staticmethod
    def _pick(items: list[Process], pick: int) -> Process | None:
        return items[pick % len(items)] if items else None

    def _outstanding(self) -> set[str]:
        return {r for r in self.d.submitted if not self.d.completed[r]}

    def _assert_rejected(self, event: Event) -> None:
        """An event the engine would never send: the pool raises or drops it, and changes nothing.

        (Checked on the pool itself: the compiled core's classes cannot be deep-copied, and a
        rejection that changed anything would also break the invariants checked after each step.)
        """
        pool = self.d.pool

        def snapshot() -> dict[str, tuple[object, ...]]:
            return {
                eid: (e.state, e.incarnation, e.is_frozen, e.current, e.reserved, e.retiring)
                for eid, e in pool.environments.items()
            }

        before = snapshot()
        try:
            out = pool.handle(event)
        except LifecycleError:
            assert snapshot() == before, f"{event} was rejected after changing the pool"
            return
        assert out == [], f"{event} was neither rejected nor dropped: {out}"
        assert snapshot() == before

    # -- the caller and the Lab ----------------------------------------------------------------------
    @precondition(lambda self: not (self.retired or self.shut))
    @rule()
    def submit(self) -> None:
        if len(self._outstanding()) >= MAX_OUTSTANDING:
            return
        self.requests += 1
        self.d.submit(f"req-{self.requests}")

    @precondition(
        lambda self: self.driver is not None and not (self.retired or self.shut) and self.d.pool.statistics().idle > 0
    )
    @rule()
    def submit_while_an_environment_is_idle(self) -> None:
        """The same as ``submit``, offered more often when a warm start (and a thaw) is possible."""
        self.submit()

    @rule(dt=st.sampled_from([0.001, 0.05, 0.5, 4.0, 10.0]))
    def time_passes(self, dt: float) -> None:
        self.d.now += dt

    @precondition(
        lambda self: self.driver is not None and not (self.retired or self.shut) and self.d.fed >= LAB_CLOSES_AFTER
    )
    @rule()
    def retire(self) -> None:
        """New code deployed: the control plane stops submitting to this pool."""
        self.retired = True
        self.d.perform(self.d.pool.retire(self.d.now))

    @precondition(lambda self: self.driver is not None and not self.shut and self.d.fed >= LAB_CLOSES_AFTER)
    @rule()
    def shutdown(self) -> None:
        self.shut = True
        self.d.perform(self.d.pool.shutdown(self.d.now))

    # -- the engine's own events ---------------------------------------------------------------------
    @rule(pick=PICK)
    def process_started(self, pick: int) -> None:
        process = self._pick(self._processes(lambda p: p.alive and not p.started and not p.launcher), pick)
        if process is None:
            return
        process.started = True
        self.d.feed(ProcessStarted(process.environment_id, process.incarnation, self.d.now))

    # -- extensions, as the engine runs them ------------------------------------------------------------
    @rule(pick=PICK)
    def extensions_launched(self, pick: int) -> None:
        process = self._pick(self._processes(lambda p: p.alive and p.launcher and not p.started and not p.killed), pick)
        if process is None:
            return
        process.started = True
        count = self.d.pool.spec.extensions
        for n in range(count):
            key = (process.environment_id, process.incarnation, f"x{n}")
            self.d.extensions[key] = ExtensionProcess(*key)
        self.d.feed(ExtensionsLaunched(process.environment_id, process.incarnation, self.d.now, count))

    def _extensions(self, predicate: Callable[[ExtensionProcess], bool]) -> list[ExtensionProcess]:
        return [x for x in self.d.extensions.values() if x.alive and predicate(x)]

    def _frozen(self, extension: ExtensionProcess) -> bool:
        process = self.d.processes.get((extension.environment_id, extension.incarnation))
        return process is not None and process.frozen

    @rule(pick=PICK, events=st.sampled_from([("INVOKE", "SHUTDOWN"), ("SHUTDOWN",), ("INVOKE",)]))
    def extension_registers(self, pick: int, events: tuple[str, ...]) -> None:
        extension = self._pick(self._extensions(lambda x: not x.registered), pick)  # type: ignore[arg-type]
        if extension is None:
            return
        base = (extension.environment_id, extension.incarnation, self.d.now)
        core = self.d.pool.environments.get(extension.environment_id)
        if core is None or core.incarnation != extension.incarnation or core.state is not State.EXTENSIONS_INIT:
            return  # the engine answers 403 RegistrationClosed (or the environment is gone)
        extension.registered = True
        extension.events = events
        self.d.feed(ExtensionRegistered(*base, extension.identifier, extension.identifier, events))
        if all(x.registered for x in self.d.extensions_of(extension.environment_id, extension.incarnation)):
            self.d.feed(ExtensionsRegistered(*base))

    @rule(pick=PICK)
    def internal_extension_registers(self, pick: int) -> None:
        """A thread of the runtime registers during the runtime's init (INVOKE only, as Lambda allows)."""
        process = self._pick(self._processes(lambda p: p.can_call), pick)
        if process is None or self.d.state_for(process) is not State.INITIALIZING:
            return
        key = (process.environment_id, process.incarnation, "internal")
        if key in self.d.extensions:
            return
        self.d.extensions[key] = ExtensionProcess(*key, events=("INVOKE",), internal=True, registered=True)
        self.d.feed(ExtensionRegistered(*key[:2], self.d.now, "internal", "internal", ("INVOKE",), True))

    @rule(pick=PICK)
    def extension_asks_for_next(self, pick: int) -> None:
        extension = self._pick(self._extensions(lambda x: x.registered and not x.parked and not self._frozen(x)), pick)  # type: ignore[arg-type]
        if extension is None:
            return
        event = ExtensionNextRequested(
            extension.environment_id, extension.incarnation, self.d.now, extension.identifier
        )
        core = self.d.pool.environments.get(extension.environment_id)
        if core is None or core.incarnation != extension.incarnation:
            assert self.d.pool.handle(event) == []  # a replaced incarnation's call is dropped
            return
        if not allows(core.state, ExtensionNextRequested):
            self._assert_rejected(event)  # 403: the engine refuses it
            return
        extension.parked = True
        self.d.feed(event)

    @rule(picks=st.lists(PICK, min_size=1, max_size=4))
    def extensions_follow_the_protocol(self, picks: list[int]) -> None:
        """Well-behaved extensions: register, then ask for the next event whenever they have one."""
        for pick in picks:
            waiting = self._extensions(lambda x: not x.registered)
            if waiting:
                self.extension_registers(pick, ("INVOKE", "SHUTDOWN"))
            else:
                self.extension_asks_for_next(pick)

    @rule(pick=PICK, code=st.sampled_from([0, 1, -9]))
    def extension_dies(self, pick: int, code: int) -> None:
        if pick % 4:
            return  # rarer than the rest: an extension that dies resets its environment
        extension = self._pick(self._extensions(lambda x: not x.internal and not self._frozen(x)), pick)  # type: ignore[arg-type]
        if extension is None:
            return
        extension.alive = extension.parked = False
        base = (extension.environment_id, extension.incarnation, self.d.now)
        self.d.feed(ExtensionExited(*base, extension.identifier, code))

    @rule()
    def sigterm_grace_ends(self) -> None:
        """The engine SIGKILLs a SIGTERMed runtime at ``kill_at``."""
        for process in self._processes(lambda p: p.alive and p.kill_at is not None and p.kill_at <= self.d.now):
            process.killed = True

    @precondition(lambda self: not (self.retired or self.shut))
    @rule(count=st.integers(min_value=0, max_value=1))
    def provision(self, count: int) -> None:
        """Provisioned concurrency set (or lowered) on this version."""
        self.d.perform(self.d.pool.provision(count, self.d.now))

    @rule(pick=PICK)
    def wakeup_fires(self, pick: int) -> None:
        """A keep-alive timer comes due; the engine sends it whatever the environment is doing now."""
        due = sorted(key for key, at in self.d.wakeups.items() if at <= self.d.now)
        if due:
            key = due[pick % len(due)]
            del self.d.wakeups[key]
            self.d.feed(WakeupDue(key, 0, self.d.now))

    @rule(pick=PICK)
    def deadline_fires(self, pick: int) -> None:
        due = sorted((eid, armed) for eid, armed in self.d.deadlines.items() if armed[1] <= self.d.now)
        if not due:
            return
        eid, (incarnation, _) = due[pick % len(due)]
        process = self.d.processes.get((eid, incarnation))
        if process is not None and not process.started and process.alive:
            return  # ProcessStarted always comes first
        del self.d.deadlines[eid]
        self.d.feed(DeadlineExceeded(eid, incarnation, self.d.now, 30))

    @rule(pick=PICK, how=st.sampled_from(["exit 0", "exit 1", "segfault", "killed", "oom"]))
    def process_dies(self, pick: int, how: str) -> None:
        spawn_failed = how == "exit 1" and pick % 4 == 0  # rare: the engine reports exit 127, never started
        process = self._pick(self._processes(lambda p: p.alive and not p.killed and p.started != spawn_failed), pick)
        if process is None:
            return
        if spawn_failed:
            self.d.exit(process, 127)
            return
        if process.frozen and how not in ("killed", "oom"):
            how = "oom"  # a stopped process dies only by SIGKILL
        returncode = {"exit 0": 0, "exit 1": 1, "segfault": -11, "killed": -9, "oom": -9}[how]
        self.d.exit(process, returncode, oom=how == "oom")

    @rule(pick=PICK)
    def killed_process_exits(self, pick: int) -> None:
        process = self._pick(self._processes(lambda p: p.alive and p.killed and p.started), pick)
        if process is not None:
            self.d.exit(process, -9)

    # -- the runtime's Runtime API calls, validated as RuntimeEndpoint does -----------------------
    @rule(picks=st.lists(PICK, min_size=1, max_size=4), error=st.booleans())
    def runtimes_follow_the_protocol(self, picks: list[int], error: bool) -> None:
        """A well-behaved runtime's next move: start, ask for work, answer it, ask again (its extensions' too)."""
        for pick in picks:
            if self.d.extensions and pick % 2:
                self.extensions_follow_the_protocol([pick])
            process = self._pick(
                self._processes(
                    lambda p: (
                        p.alive
                        and not p.killed
                        and not p.frozen
                        and not p.parked
                        and self.d.state_for(p) in ARMED_STATES
                    )
                ),
                pick,
            )
            if process is None:
                return
            state = self.d.state_for(process)
            if state is State.DRAINING:
                self.d.exit(process, 0)  # SIGTERM: the runtime's handler exits
            elif state is State.STARTING and process.launcher:
                self.extensions_launched(pick)
            elif state is State.STARTING:
                self.process_started(pick)
            elif state in (State.INITIALIZING, State.FINISHING):
                self.runtime_asks_for_next(pick, candidates=[process])
            elif state is State.INVOKING:
                self.runtime_posts_a_result(pick, True, error, candidates=[process])

    @rule(pick=PICK)
    def runtime_asks_for_next(self, pick: int, candidates: list[Process] | None = None) -> None:
        process = self._pick(candidates or self._processes(lambda p: p.can_call), pick)
        if process is None:
            return
        event = NextRequested(process.environment_id, process.incarnation, self.d.now)
        if self.d.state_for(process) not in (State.INITIALIZING, State.FINISHING):
            self._assert_rejected(event)  # RuntimeEndpoint.on_next answers 403
            return
        process.parked = True
        self.d.feed(event)

    @rule(pick=PICK, right_id=st.booleans(), error=st.booleans())
    def runtime_posts_a_result(
        self, pick: int, right_id: bool, error: bool, candidates: list[Process] | None = None
    ) -> None:
        process = self._pick(candidates or self._processes(lambda p: p.can_call), pick)
        if process is None:
            return
        eid = process.environment_id
        environment = self.d.pool.environments.get(eid)
        current = environment.current if environment is not None else None
        request_id = current.request_id if (right_id and current is not None) else f"stale-{self.requests}"
        base = (eid, process.incarnation, self.d.now)
        event: Event = (
            ErrorPosted(*base, request_id, b'{"errorType":"KeyError"}', "KeyError", 30)
            if error
            else ResponsePosted(*base, request_id, b'"ok"', 30)
        )
        state = self.d.state_for(process)
        if state is not State.INVOKING:
            self._assert_rejected(event)  # 403: no invocation in progress
            return
        assert environment is not None
        if not environment.accepts(request_id):
            assert not right_id or current is None
            self._assert_rejected(event)  # 400 InvalidRequestID; the core would refuse it too
            return
        self.d.posted[eid] = request_id
        self.d.feed(event)

    @rule(pick=PICK)
    def runtime_posts_an_init_error(self, pick: int) -> None:
        process = self._pick(self._processes(lambda p: p.can_call), pick)
        if process is None:
            return
        event = InitErrorPosted(
            process.environment_id,
            process.incarnation,
            self.d.now,
            b'{"errorType":"Runtime.ImportModuleError"}',
            "Runtime.ImportModuleError",
        )
        if self.d.state_for(process) is not State.INITIALIZING:
            self._assert_rejected(event)  # 403: not initializing
            return
        self.d.feed(event)

    # -- events the engine cannot produce ----------------------------------------------------------------
    @rule(pick=PICK, kind=st.sampled_from(["next", "response", "error", "init error", "started", "deadline"]))
    def impossible_event_is_rejected_or_dropped(self, pick: int, kind: str) -> None:
        """A current-incarnation event in a state where the engine would never produce it."""
        environments = sorted(self.d.pool.environments.values(), key=lambda e: e.id)
        if not environments:
            return
        e = environments[pick % len(environments)]
        base = (e.id, e.incarnation, self.d.now)
        request_id = e.current.request_id if e.current else "req-1"
        possible = {
            "next": (NextRequested(*base), e.state in (State.INITIALIZING, State.FINISHING)),
            "response": (ResponsePosted(*base, request_id, b"x", 1), e.state is State.INVOKING),
            "error": (ErrorPosted(*base, request_id, b"x", "KeyError", 1), e.state is State.INVOKING),
            "init error": (InitErrorPosted(*base, b"x", "Runtime.Unknown"), e.state is State.INITIALIZING),
            "started": (ProcessStarted(*base), e.state is State.STARTING),
            "deadline": (DeadlineExceeded(*base), self.d.deadlines.get(e.id, (None,))[0] == e.incarnation),
        }
        event, engine_could = possible[kind]
        if not engine_could:
            self._assert_rejected(event)

    @rule(pick=PICK, kind=st.sampled_from(["next", "response", "exit", "deadline", "started", "shutdown"]))
    def stale_event_is_dropped(self, pick: int, kind: str) -> None:
        """Events stamped with another incarnation (or no known environment) change nothing."""
        environments = sorted(self.d.pool.environments.values(), key=lambda e: e.id)
        if environments:
            e = environments[pick % len(environments)]
            eid, incarnation = e.id, (e.incarnation - 1 - pick % 2 if e.incarnation > 1 else e.incarnation + 1)
        else:
            eid, incarnation = "0" * 32, 1
        base = (eid, incarnation, self.d.now)
        event = {
            "next": NextRequested(*base),
            "response": ResponsePosted(*base, "req-1", b"x", 1),
            "exit": ProcessExited(*base, -9),
            "deadline": DeadlineExceeded(*base),
            "started": ProcessStarted(*base),
            "shutdown": ShutdownRequested(*base),
        }[kind]
        before = {
            k: (v.state, v.incarnation, v.is_frozen, v.current, v.reserved) for k, v in self.d.pool.environments.items()
        }
        assert self.d.pool.handle(event) == []
        after = {
            k: (v.state, v.incarnation, v.is_frozen, v.current, v.reserved) for k, v in self.d.pool.environments.items()
        }
        assert after == before

    # -- invariants ---------------------------------------------------------------------------------------
    @invariant()
    def terminated_environments_leave_the_pool(self) -> None:
        if self.driver is None:
            return
        assert all(e.state is not State.TERMINATED for e in self.d.pool.environments.values())
        assert not self.d.retired & set(self.d.pool.environments)

    @invariant()
    def each_outstanding_invocation_is_held_by_exactly_one_environment(self) -> None:
        if self.driver is None:
            return
        held: list[str] = []
        for e in self.d.pool.environments.values():
            mine = [inv.request_id for inv in (e.current, e.reserved) if inv is not None]
            if e.id in self.d.posted:
                assert e.state in (State.FINISHING, State.POST_RUNTIME) and e.current is None
                mine.append(self.d.posted[e.id])
            assert len(mine) <= 1, (e, mine)
            held += mine
        assert sorted(held) == sorted(self._outstanding())
        assert all(count == 1 for count in self.d.completed.values())

    @invariant()
    def a_deadline_is_armed_exactly_while_one_can_fire(self) -> None:
        if self.driver is None:
            return
        for e in self.d.pool.environments.values():
            armed = self.d.deadlines.get(e.id)
            if e.state in ARMED_STATES:
                assert armed is not None and armed[0] == e.incarnation, (e, armed)
            else:
                assert armed is None, (e, armed)
        assert set(self.d.deadlines) <= set(self.d.pool.environments)

    @invariant()
    def frozen_flags_agree_and_only_idle_environments_are_frozen(self) -> None:
        if self.driver is None:
            return
        for e in self.d.pool.environments.values():
            assert e.is_frozen == (e.id in self.d.frozen_tail), e
            assert not e.is_frozen or e.state is State.IDLE
            assert not e.is_frozen or self.d.pool.spec.freeze

    @invariant()
    def live_states_have_a_live_process_and_replaced_ones_are_killed(self) -> None:
        if self.driver is None:
            return
        for e in self.d.pool.environments.values():
            process = self.d.current_process(e)
            if e.state in PROCESS_STATES:
                assert process is not None and process.alive and not process.killed, (e, process)
            if e.state is State.IDLE:
                assert process is not None and process.parked
            if e.state in (State.INVOKING, State.FINISHING):
                assert self.d.delivered.get(e.id) is not None
        for p in self.d.processes.values():
            if p.alive and not p.killed:
                core = self.d.pool.environments.get(p.environment_id)
                assert core is not None and core.incarnation == p.incarnation, p

    @invariant()
    def an_environment_freezes_only_when_the_runtime_and_every_extension_wait_on_next(self) -> None:
        """Invariant 7."""
        if self.driver is None:
            return
        for e in self.d.pool.environments.values():
            if e.state is not State.IDLE:
                assert not e.is_frozen
                continue
            process = self.d.current_process(e)
            assert process is not None and process.parked, (e, process)
            for extension in self.d.extensions_of(e.id, e.incarnation):
                assert not extension.alive or not extension.registered or extension.parked, (e, extension)

    def teardown(self) -> None:
        """Close the Lab, let every process go: everything submitted has completed exactly once."""
        if self.driver is None:
            return
        d = self.d
        if not self.shut:
            d.perform(d.pool.shutdown(d.now))
        while True:
            alive = [p for p in d.processes.values() if p.alive]
            extensions = [x for x in d.extensions.values() if x.alive]
            if not alive and not extensions:
                break
            if alive:
                # shutdown killed every live process, or SIGTERMed it (a graceful shutdown)
                assert all(p.killed or p.kill_at is not None for p in alive), alive
                process = alive[0]
                if not process.started and not process.launcher:  # its call_soon'd ProcessStarted comes first
                    process.started = True
                    d.feed(ProcessStarted(process.environment_id, process.incarnation, d.now))
                d.exit(process, -9 if process.killed else -15)
                continue
            extension = extensions[0]
            extension.alive = extension.parked = False
            d.feed(ExtensionExited(extension.environment_id, extension.incarnation, d.now, extension.identifier, 0))
        assert not d.pool.environments, d.pool.environments
        assert sorted(d.completed.elements()) == sorted(d.submitted)
        assert not d.delivered and not d.posted and not d.deadlines


PoolMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=80, deadline=None)
TestPoolMachine = PoolMachine.TestCase
