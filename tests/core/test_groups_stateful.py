"""Random event sequences against a Managed Instances ``GroupPool`` (through ``Scheduler``), held to invariants.

The driver plays the engine with plain data: one process per worker incarnation, its parked ``/next``, one deadline
per worker, the keep-alive wakeups; only calls the engine's Runtime API would accept become events (``allows`` and
``accepts``), as in ``test_lifecycle_stateful.py``. Invariants:
1. A worker serves one invocation at a time, and nothing is ever frozen.
2. Exactly once: no invocation completes twice; after a final shutdown and every exit, each placed invocation has
   completed exactly once and the pool holds no worker, no group and no registry entry.
3. The group's free lists hold exactly its free workers: ``idle`` the IDLE ones, ``starting`` the initialising ones
   with no invocation waiting, ``reset`` the RESET ones; no group has more than N workers live.
4. A timed-out invocation's worker is OVERRUN and gets no ``Kill`` for it; an OVERRUN worker has no deadline armed.
5. No more groups than ``max_environments``; no invocation waits on a worker's init unless a tenant's first (none
   here): a placed invocation is delivered at once, or re-initialises a reset worker.
"""

from __future__ import annotations

import collections
import dataclasses

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverInvocation,
    DisarmDeadline,
    Effect,
    Freeze,
    Kill,
    Overrun,
    ScheduleWakeup,
    SpawnRuntime,
)
from lambdalab.core.events import (
    DeadlineExceeded,
    Event,
    Invocation,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    WakeupDue,
)
from lambdalab.core.groups import GroupPool
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive
from lambdalab.core.lifecycle import EnvironmentSpec, State, allows
from lambdalab.core.limits import AccountLimits
from lambdalab.core.scheduler import LATEST, Scheduler

PICK = st.integers(min_value=0, max_value=1_000)
STARTING = (State.STARTING, State.INITIALIZING)


@dataclasses.dataclass
class Process:
    worker: str
    incarnation: int
    started: bool = False
    alive: bool = True
    parked: bool = False
    killed: bool = False


class GroupsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.scheduler: Scheduler | None = None
        self.now = 0.0
        self.processes: dict[tuple[str, int], Process] = {}
        self.deadlines: dict[str, tuple[int, float]] = {}
        self.wakeups: dict[str, float] = {}
        self.delivered: dict[str, str] = {}  # worker -> request
        self.group_of: dict[str, str] = {}  # worker -> its group, from its SpawnRuntime
        self.placed: list[str] = []
        self.completed: collections.Counter[str] = collections.Counter()
        self.overrun: set[str] = set()  # requests that timed out while their code ran on
        self.requests = 0
        self.shut = False
        self.per_group = 2
        self.most: int | None = None

    @property
    def pool(self) -> GroupPool:
        assert self.scheduler is not None
        pool = self.scheduler.pool("fn", LATEST)
        assert isinstance(pool, GroupPool)
        return pool

    @initialize(
        per_group=st.sampled_from([1, 2, 3]),
        most=st.sampled_from([None, 1, 2]),
        keep_alive=st.sampled_from([600.0, 5.0, 0.0]),
        least=st.sampled_from([0, 1, 3]),
    )
    def make(self, per_group: int, most: int | None, keep_alive: float, least: int) -> None:
        spec = EnvironmentSpec(
            "fn",
            LATEST,
            "python",
            2048,
            3.0,
            freeze=False,
            per_environment=per_group,
            max_environments=most,
            min_environments=least,
        )
        self.scheduler = Scheduler(AccountLimits(), IdFactory("groups-stateful").next_environment_id)
        self.per_group, self.most = per_group, most
        self.perform(self.scheduler.deploy(spec, FixedKeepAlive(keep_alive), 0.0))  # the minimum starts now

    # -- performing ---------------------------------------------------------------------------------
    def feed(self, event: Event) -> None:
        assert self.scheduler is not None
        self.perform(self.scheduler.handle(event))

    def perform(self, effects: list[Effect]) -> None:
        for effect in effects:
            eid = effect.environment_id
            if isinstance(effect, SpawnRuntime):
                key = (eid, effect.incarnation)
                assert key not in self.processes
                self.processes[key] = Process(eid, effect.incarnation)
                assert effect.group == self.pool.environments[eid].group
                self.group_of[eid] = effect.group
            elif isinstance(effect, DeliverInvocation):
                assert eid not in self.delivered, f"{eid} got a second request"
                worker = self.pool.environments[eid]
                process = self.processes[(eid, worker.incarnation)]
                assert process.parked and process.alive
                process.parked = False
                self.delivered[eid] = effect.invocation.request_id
            elif isinstance(effect, CompleteInvocation):
                request_id = effect.invocation.request_id
                assert self.completed[request_id] == 0, f"{request_id} completed twice"
                self.completed[request_id] += 1
                assert effect.record.environment_id == self.group_of[eid]
                if self.delivered.get(eid) == request_id:
                    del self.delivered[eid]
            elif isinstance(effect, Overrun):
                self.overrun.add(effect.request_id)
            elif isinstance(effect, ArmDeadline):
                self.deadlines[eid] = (effect.incarnation, effect.at)
            elif isinstance(effect, DisarmDeadline):
                self.deadlines.pop(eid, None)
            elif isinstance(effect, Kill):
                process = self.processes.get((eid, effect.incarnation))
                if process is not None and process.alive:
                    process.killed, process.parked = True, False
            elif isinstance(effect, ScheduleWakeup):
                self.wakeups[eid] = effect.at
            assert not isinstance(effect, Freeze)

    def _pick(self, items: list[Process], pick: int) -> Process | None:
        return items[pick % len(items)] if items else None

    def _state(self, process: Process) -> State | None:
        worker = self.pool.environments.get(process.worker)
        if worker is None or worker.incarnation != process.incarnation:
            return None
        return worker.state

    # -- rules --------------------------------------------------------------------------------------
    @precondition(lambda self: self.scheduler is not None and not self.shut)
    @rule(tenant=st.just(None))
    def submit(self, tenant: None) -> None:
        assert self.scheduler is not None
        if len([r for r in self.placed if not self.completed[r]]) >= 6:
            return
        self.requests += 1
        request_id = f"req-{self.requests}"
        out, throttled = self.scheduler.submit("fn", LATEST, Invocation(request_id, self.now), self.now)
        if throttled is None:
            self.placed.append(request_id)
        self.perform(out)

    @rule(dt=st.sampled_from([0.01, 0.5, 4.0, 10.0]))
    def time_passes(self, dt: float) -> None:
        self.now += dt

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def process_starts(self, pick: int) -> None:
        process = self._pick([p for p in self.processes.values() if not p.started and p.alive], pick)
        if process is not None:
            process.started = True
            self.feed(ProcessStarted(process.worker, process.incarnation, self.now))

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def runtime_asks_for_next(self, pick: int) -> None:
        ready = [p for p in self.processes.values() if p.started and p.alive and not p.killed and not p.parked]
        process = self._pick(ready, pick)
        if process is None:
            return
        state = self._state(process)
        if state is None or not allows(state, NextRequested):
            return
        if state is State.INVOKING:  # answer first
            request_id = self.delivered[process.worker]
            self.feed(ResponsePosted(process.worker, process.incarnation, self.now, request_id, b"1", 10))
        elif state is State.OVERRUN and pick % 2:  # the late answer, sometimes
            worker = self.pool.environments[process.worker]
            assert worker.last_request is not None and worker.accepts(worker.last_request)
            self.feed(ResponsePosted(process.worker, process.incarnation, self.now, worker.last_request, b"1", 10))
        process.parked = True
        self.feed(NextRequested(process.worker, process.incarnation, self.now))

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def deadline_fires(self, pick: int) -> None:
        armed = sorted(self.deadlines.items())
        if not armed:
            return
        worker_id, (incarnation, at) = armed[pick % len(armed)]
        self.now = max(self.now, at)
        del self.deadlines[worker_id]
        self.feed(DeadlineExceeded(worker_id, incarnation, self.now))

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def a_running_invoke_times_out(self, pick: int) -> None:
        """The deadline of a worker that is running an invocation (offered apart: most deadlines are inits')."""
        running = sorted(w for w in self.deadlines if w in self.delivered)
        if running:
            worker_id = running[pick % len(running)]
            incarnation, at = self.deadlines.pop(worker_id)
            self.now = max(self.now, at)
            self.feed(DeadlineExceeded(worker_id, incarnation, self.now))

    @precondition(lambda self: self.scheduler is not None)
    @rule(picks=st.lists(PICK, min_size=1, max_size=4))
    def workers_boot(self, picks: list[int]) -> None:
        """Several runtimes start and finish their init."""
        for pick in picks:
            self.process_starts(pick)
            booting = [p for p in self.processes.values() if self._state(p) is State.INITIALIZING and not p.parked]
            process = self._pick(booting, pick)
            if process is not None:
                process.parked = True
                self.feed(NextRequested(process.worker, process.incarnation, self.now))

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def process_dies(self, pick: int) -> None:
        process = self._pick([p for p in self.processes.values() if p.alive and p.started], pick)
        if process is not None:
            process.alive = process.parked = False
            self.feed(ProcessExited(process.worker, process.incarnation, self.now, 1))

    @precondition(lambda self: self.scheduler is not None)
    @rule(pick=PICK)
    def wakeup_fires(self, pick: int) -> None:
        due = sorted(self.wakeups.items())
        if due:
            key, at = due[pick % len(due)]
            del self.wakeups[key]
            self.now = max(self.now, at)
            self.feed(WakeupDue(key, 0, self.now))

    @precondition(lambda self: self.scheduler is not None and not self.shut and self.requests >= 4)
    @rule()
    def shutdown(self) -> None:
        assert self.scheduler is not None
        self.shut = True
        self.perform(self.scheduler.shutdown(self.now))

    # -- invariants -----------------------------------------------------------------------------------
    @invariant()
    def free_lists_hold_exactly_the_free_workers(self) -> None:
        if self.scheduler is None:
            return
        pool = self.pool
        for group in pool.groups.values():
            assert group.live <= self.per_group and len(group.workers) == self.per_group
            for worker in group.workers:
                if worker.id not in pool.environments:
                    continue
                assert (worker.id in group.idle) == (worker.state is State.IDLE), worker
                starting = worker.state in STARTING and worker.reserved is None and not worker.retiring
                assert (worker.id in group.starting) == starting, worker
                assert (worker.id in group.reset) == (worker.state is State.RESET), worker
                assert not worker.is_frozen
                if worker.state is State.OVERRUN:
                    assert worker.id not in self.deadlines
        if self.most is not None:
            assert len(pool.groups) <= self.most

    def teardown(self) -> None:
        if self.scheduler is None:
            return
        if not self.shut:
            self.perform(self.scheduler.shutdown(self.now))
        for process in list(self.processes.values()):
            if process.alive:
                process.alive = False
                self.feed(ProcessExited(process.worker, process.incarnation, self.now + 1, -9))
        assert all(self.completed[r] == 1 for r in self.placed), [r for r in self.placed if not self.completed[r]]
        pool = self.pool
        assert pool.environments == {} and pool.groups == {}
        assert not any(p is pool for p in self.scheduler.registry.values())


GroupsMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)
TestGroups = GroupsMachine.TestCase
