"""Managed Instances in the core (``core/groups.py``): groups of workers started ahead of traffic (no cold starts),
fill-busiest routing, throttles with asynchronous scale-out and the doubling rule, ``max_environments``, no freeze,
OVERRUN after a timeout, whole-group scale-in above the minimum; and tenant isolation's keying of the classic pool.
Driven through ``Scheduler`` with a hand-held clock: events in, effects out."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from lambdalab.core.effects import (
    CompleteInvocation,
    DeliverInvocation,
    Effect,
    Freeze,
    Kill,
    Log,
    Overrun,
    RecordSpan,
    ScheduleWakeup,
    SpawnRuntime,
)
from lambdalab.core.events import (
    DeadlineExceeded,
    ErrorPosted,
    Invocation,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    WakeupDue,
)
from lambdalab.core.group_history import GroupHistory
from lambdalab.core.groups import (
    MANAGED_INSTANCES_CAPACITY_REASON,
    MANAGED_INSTANCES_INIT_TYPE,
    MANAGED_INSTANCES_SCALING_REASON,
    GroupPool,
)
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State, allows
from lambdalab.core.limits import AccountLimits
from lambdalab.core.outcomes import Status
from lambdalab.core.pool import Pool
from lambdalab.core.records import InitReport, InitStart
from lambdalab.core.scheduler import LATEST, Scheduler, Throttled

CLASSIC = EnvironmentSpec("f", LATEST, "python", 2048, 3.0)
LMI = dataclasses.replace(CLASSIC, freeze=False, per_environment=4, min_environments=3)


class Run:
    """A scheduler with one function, and the runtimes' side of every worker."""

    def __init__(self, spec: EnvironmentSpec = LMI, keep_alive_s: float = 600.0) -> None:
        self.scheduler = Scheduler(AccountLimits(), IdFactory("test-groups").next_environment_id)
        self.effects: list[Effect] = list(self.scheduler.deploy(spec, FixedKeepAlive(keep_alive_s), 0.0))
        self.throttles: list[Throttled] = []
        self.booted: set[str] = set()

    @property
    def pool(self) -> Pool:
        return self.scheduler.pool("f", LATEST)

    def submit(self, request_id: str, at: float, tenant: str | None = None) -> list[Effect]:
        out, throttled = self.scheduler.submit("f", LATEST, Invocation(request_id, at, tenant_id=tenant), at)
        if throttled is not None:
            self.throttles.append(throttled)
        self.effects += out
        return out

    def send(self, event: object) -> list[Effect]:
        out = self.scheduler.handle(event)  # type: ignore[arg-type]
        self.effects += out
        return out

    def worker(self, eid: str) -> Environment:
        return self.pool.environments[eid]

    def boot(self, eid: str, at: float) -> list[Effect]:
        """The worker's process starts and its runtime asks for work."""
        self.booted.add(eid)
        incarnation = self.worker(eid).incarnation
        self.send(ProcessStarted(eid, incarnation, at))
        return self.send(NextRequested(eid, incarnation, at + 0.01))

    def ready(self, at: float) -> list[Effect]:
        """Every worker started so far finishes its init."""
        out: list[Effect] = []
        for spawn in self.spawned():
            if spawn.environment_id not in self.booted:
                out += self.boot(spawn.environment_id, at)
        return out

    def answer(self, eid: str, request_id: str, at: float) -> list[Effect]:
        incarnation = self.worker(eid).incarnation
        out = self.send(ResponsePosted(eid, incarnation, at, request_id, b'"ok"', 30))
        return out + self.send(NextRequested(eid, incarnation, at))

    def spawned(self) -> list[SpawnRuntime]:
        return [e for e in self.effects if isinstance(e, SpawnRuntime)]

    def groups(self) -> set[str]:
        return {s.group for s in self.spawned()}

    def delivered(self) -> dict[str, str]:
        """request id -> the worker it was delivered to."""
        return {e.invocation.request_id: e.environment_id for e in self.effects if isinstance(e, DeliverInvocation)}

    def completions(self) -> list[CompleteInvocation]:
        return [e for e in self.effects if isinstance(e, CompleteInvocation)]


def test_deploy_starts_three_environments_outside_any_invocation() -> None:
    run = Run()
    spawns = run.spawned()
    assert len(spawns) == 12 and len(run.groups()) == 3  # Lambda's three, four worker processes each
    assert {(s.init_type, s.phase) for s in spawns} == {(MANAGED_INSTANCES_INIT_TYPE, "init")}
    assert sorted(s.worker for s in spawns) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    stats = run.scheduler.statistics("f")
    assert (stats.environments, stats.initializing, stats.workers) == (3, 3, 12)
    out = run.ready(0.1)
    reports = [e.entry for e in out if isinstance(e, Log) and isinstance(e.entry, InitReport)]
    # one INIT per environment in its logs (its worker 0's, as it ends, with nobody waiting on it)
    assert len(reports) == 3
    assert len([e for e in run.effects if isinstance(e, Log) and isinstance(e.entry, InitStart)]) == 3
    assert run.completions() == [] and not any(isinstance(e, Freeze) for e in run.effects)
    stats = run.scheduler.statistics("f")
    assert (stats.environments, stats.idle, stats.initializing, stats.busy_workers) == (3, 3, 0, 0)


def test_eight_concurrent_requests_at_four_per_environment_use_two_environments_none_cold() -> None:
    run = Run()
    run.ready(0.1)
    for n in range(8):
        out = run.submit(f"r{n}", 1.0)
        assert any(isinstance(e, DeliverInvocation) for e in out)  # at once: an idle worker was there
    assert run.throttles == [] and len(run.spawned()) == 12  # nothing more started: four workers stay idle
    delivered = run.delivered()
    assert len(set(delivered.values())) == 8  # one request per worker at a time
    groups = {run.worker(e).group for e in delivered.values()}
    assert len(groups) == 2
    for n, (request_id, eid) in enumerate(sorted(delivered.items())):
        run.answer(eid, request_id, 1.5 + n / 100)
    records = [c.record for c in run.completions()]
    assert {r.environment_id for r in records} == groups  # records carry the group, not the worker
    assert sorted(r.worker for r in records) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert not any(r.cold for r in records) and all(r.init_duration_ms is None for r in records)
    assert all(r.status is Status.SUCCESS and abs(r.billed_duration_ms - r.duration_ms) < 1 for r in records)
    stats = run.scheduler.statistics("f")
    assert (stats.environments, stats.idle, stats.workers, stats.busy_workers, stats.frozen) == (3, 3, 12, 0, 0)


def test_routing_fills_the_busiest_environment_first_and_never_freezes() -> None:
    run = Run()
    run.ready(0.1)
    for n in range(5):  # group A gets r0..r3, group B r4
        run.submit(f"r{n}", 1.0)
    delivered = run.delivered()
    group_of = {r: run.worker(e).group for r, e in delivered.items()}
    a, b = group_of["r0"], group_of["r4"]
    assert {group_of[f"r{n}"] for n in range(4)} == {a} and a != b
    run.answer(delivered["r0"], "r0", 1.5)  # A: 3 busy, 1 idle; B: 1 busy, 3 idle
    run.submit("r5", 1.6)
    assert run.worker(run.delivered()["r5"]).group == a  # the busiest group's free worker
    run.submit("r6", 1.7)  # A is full now: B's
    assert run.worker(run.delivered()["r6"]).group == b
    assert not any(isinstance(e, Freeze) for e in run.effects)


def test_max_environments_rejects_the_fifth_concurrent_request() -> None:
    run = Run(dataclasses.replace(LMI, max_environments=1))
    assert len(run.groups()) == 1  # the minimum is never above the maximum
    run.ready(0.1)
    for n in range(5):
        run.submit(f"r{n}", 1.0)
    assert len(run.spawned()) == 4 and len(run.delivered()) == 4
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_CAPACITY_REASON]
    assert run.scheduler.entry("f").throttles == 1


def test_an_invoke_never_waits_for_an_init_it_is_throttled_and_one_environment_starts() -> None:
    run = Run()
    run.submit("early", 0.0)  # the three are still starting: throttled, nothing more starts meanwhile
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_SCALING_REASON] and len(run.groups()) == 3
    run.ready(0.1)
    for n in range(12):
        run.submit(f"r{n}", 1.0)
    # the twelfth took the last idle worker (saturation): one more environment starts, in the background
    assert len(run.groups()) == 4 and len(run.throttles) == 1
    new = [s for s in run.spawned()[12:]]
    assert len(new) == 4 and {(s.init_type, s.phase) for s in new} == {(MANAGED_INSTANCES_INIT_TYPE, "init")}
    run.submit("r12", 1.1)  # no idle worker until it is ready: throttled, and no second one starts meanwhile
    run.submit("r13", 1.2)
    assert [t.reason for t in run.throttles[1:]] == [MANAGED_INSTANCES_SCALING_REASON] * 2
    assert len(run.groups()) == 4
    run.ready(1.3)
    run.submit("r14", 1.4)  # the new environment serves later invokes, warm
    assert run.worker(run.delivered()["r14"]).group == run.spawned()[12].group
    run.answer(run.delivered()["r14"], "r14", 1.5)
    assert run.completions()[-1].record.cold is False


def test_traffic_that_more_than_doubles_within_five_minutes_is_throttled() -> None:
    run = Run(dataclasses.replace(LMI, per_environment=1, min_environments=1))
    run.ready(0.0)
    run.submit("a0", 1.0)  # the only worker: saturated, a second environment starts
    run.ready(1.1)
    run.submit("a1", 2.0)
    run.ready(2.1)  # would be a third: more than twice the one alive five minutes ago (before: the one started)
    run.submit("a2", 3.0)
    assert len(run.groups()) == 2 and [t.reason for t in run.throttles] == [MANAGED_INSTANCES_SCALING_REASON]
    run.submit("b0", 302.0)  # five minutes on, two were alive: up to four
    run.ready(302.1)
    assert len(run.groups()) == 3
    run.submit("b1", 303.0)
    run.ready(303.1)
    run.submit("b2", 304.0)
    run.ready(304.1)
    assert len(run.groups()) == 4


def test_group_history_is_what_was_alive_five_minutes_earlier() -> None:
    history = GroupHistory(3)
    assert history.alive(-300.0) == 3 and history.allowed(0.0, 3) == 6  # the pre-started count as alive before
    history.note(10.0, 4)
    history.note(20.0, 6)
    assert history.allowed(200.0, 3) == 6 and history.allowed(310.0, 3) == 8 and history.allowed(330.0, 3) == 12
    history.note(400.0, 5)
    history.note(800.0, 2)
    assert history.alive(500.0) == 5 and history.allowed(1200.0, 3) == 4 and history.allowed(1200.0, 5) == 5
    assert len(history.changes) <= 2  # what no query can need any more is dropped
    assert GroupHistory(0).allowed(0.0, 0) == 2  # from nothing, one may start (and a second)


def test_a_timeout_fails_the_invocation_and_leaves_the_worker_running() -> None:
    run = Run()
    run.ready(0.0)
    run.submit("slow", 0.1)
    eid = run.delivered()["slow"]
    worker = run.worker(eid)
    out = run.send(DeadlineExceeded(eid, worker.incarnation, 3.11, 50))
    assert worker.state is State.OVERRUN
    assert not any(isinstance(e, Kill) for e in out)  # no signal: the code keeps running
    done = next(e for e in out if isinstance(e, CompleteInvocation))
    assert done.record.status is Status.TIMEOUT and done.record.reset is False and done.is_error
    assert json.loads(done.body)["errorType"] == "Sandbox.Timedout"
    overrun = next(e for e in out if isinstance(e, Overrun))
    assert overrun.request_id == "slow" and overrun.environment_id == eid
    assert worker.accepts("slow") and not worker.accepts("other")
    assert allows(State.OVERRUN, ResponsePosted) and allows(State.OVERRUN, NextRequested)
    # busy while overrunning: a new request goes to another worker
    run.submit("next", 3.2)
    assert run.delivered()["next"] != eid
    late = run.send(ResponsePosted(eid, worker.incarnation, 5.0, "slow", b'"late"', 60))
    assert late == [] and len([c for c in run.completions() if c.invocation.request_id == "slow"]) == 1
    freed = run.send(NextRequested(eid, worker.incarnation, 5.0))
    spans = [e.span for e in freed if isinstance(e, RecordSpan)]
    assert [(s.phase, s.start, s.end, s.request_id, s.environment_id) for s in spans] == [
        ("overrun", 3.11, 5.0, "slow", worker.group)
    ]
    assert worker.state is State.IDLE and worker.max_memory_mb == 60


def test_a_late_error_and_an_exit_while_overrunning() -> None:
    run = Run()
    run.ready(0.0)
    run.submit("slow", 0.1)
    eid = run.delivered()["slow"]
    worker = run.worker(eid)
    run.send(DeadlineExceeded(eid, worker.incarnation, 3.11))
    assert run.send(ErrorPosted(eid, worker.incarnation, 4.0, "slow", b"{}", "KeyError", 10)) == []
    out = run.send(ProcessExited(eid, worker.incarnation, 4.5, 1))
    assert worker.state is State.RESET and any(isinstance(e, Kill) for e in out)
    assert [e.span.phase for e in out if isinstance(e, RecordSpan)] == ["overrun"]
    assert len(run.completions()) == 1  # the timeout, once
    run.submit("again", 5.0)  # the group's busiest free worker is an idle one, not the reset one
    assert run.delivered()["again"] != eid


def test_groups_above_the_minimum_shut_down_whole_after_their_keep_alive() -> None:
    run = Run(dataclasses.replace(LMI, min_environments=1), keep_alive_s=60.0)
    out = run.ready(0.1)
    (kept,) = run.groups()
    assert [(w.environment_id, w.at) for w in out if isinstance(w, ScheduleWakeup)] == [(kept, 60.11)]
    for n in range(4):  # saturated: a second environment starts
        run.submit(f"r{n}", 1.0)
    run.ready(1.1)
    (extra,) = run.groups() - {kept}
    for request_id, eid in run.delivered().items():
        run.answer(eid, request_id, 2.0)
    again = run.send(WakeupDue(kept, 0, 60.11))  # used since: void
    assert again == []
    run.submit("r4", 30.0)  # the busiest (both idle): the first; the other's keep-alive runs on
    run.answer(run.delivered()["r4"], "r4", 31.0)
    out = run.send(WakeupDue(extra, 0, 61.11))  # quiet since 1.11: above the minimum, it goes, all four workers
    assert sum(isinstance(e, Kill) for e in out) == 4
    for worker in list(run.pool.environments.values()):
        if worker.group == extra:
            run.send(ProcessExited(worker.id, worker.incarnation, 61.2, -9))
    assert isinstance(run.pool, GroupPool) and set(run.pool.groups) == {kept} and extra not in run.scheduler.registry
    out = run.send(WakeupDue(kept, 0, 91.0))  # the minimum stays: its keep-alive starts again
    assert [(w.environment_id, w.at) for w in out if isinstance(w, ScheduleWakeup)] == [(kept, 151.0)]
    assert not any(isinstance(e, Kill) for e in out)
    run.scheduler.set_min_environments("f", 0, 100.0)  # a lower minimum: it goes at its next look
    assert sum(isinstance(e, Kill) for e in run.send(WakeupDue(kept, 0, 151.0))) == 4


def test_a_higher_minimum_starts_environments_at_once() -> None:
    run = Run(dataclasses.replace(LMI, min_environments=1))
    out = run.scheduler.set_min_environments("f", 3, 5.0)
    run.effects += out
    assert len(run.groups()) == 3 and len([e for e in out if isinstance(e, SpawnRuntime)]) == 8


def test_a_crashed_worker_restarts_inside_the_invoke_that_finds_no_idle_one() -> None:
    run = Run(dataclasses.replace(LMI, per_environment=1, min_environments=1, max_environments=1))
    run.ready(0.0)
    (eid,) = [s.environment_id for s in run.spawned()]
    worker = run.worker(eid)
    run.send(ProcessExited(eid, worker.incarnation, 1.0, 1))
    out = run.submit("r1", 2.0)
    assert [s.phase for s in out if isinstance(s, SpawnRuntime)] == ["invoke"]
    run.boot(eid, 2.1)
    run.answer(eid, "r1", 2.5)
    (done,) = run.completions()
    assert done.record.init_suppressed and done.record.billed_duration_ms == math.ceil(done.record.duration_ms)


def test_tenants_never_share_an_environment() -> None:
    run = Run(dataclasses.replace(CLASSIC, tenancy=True))
    run.submit("a1", 0.0, tenant="a")
    (spawn,) = run.spawned()
    run.boot(spawn.environment_id, 0.1)
    run.answer(spawn.environment_id, "a1", 0.2)
    run.submit("b1", 1.0, tenant="b")  # a's idle environment is not b's: a new one
    assert len(run.spawned()) == 2
    run.submit("a2", 1.0, tenant="a")  # a's is reused
    assert run.delivered()["a2"] == spawn.environment_id
    b_env = run.spawned()[1].environment_id
    assert run.worker(b_env).tenant == "b" and run.worker(spawn.environment_id).tenant == "a"
    run.boot(b_env, 1.1)
    run.answer(b_env, "b1", 1.5)
    run.answer(spawn.environment_id, "a2", 1.5)
    records = {c.record.request_id: c.record for c in run.completions()}
    assert {r: (rec.tenant_id, rec.environment_id) for r, rec in records.items()} == {
        "a1": ("a", spawn.environment_id),
        "a2": ("a", spawn.environment_id),
        "b1": ("b", b_env),
    }


def test_tenants_in_managed_instances_get_their_own_groups() -> None:
    run = Run(dataclasses.replace(LMI, tenancy=True))
    assert run.spawned() == []  # no environment belongs to a tenant yet: none is started ahead
    run.submit("a1", 0.0, tenant="a")  # a tenant's first environment starts inside its invocation
    run.submit("b1", 0.0, tenant="b")  # a's group has three free workers, but not for b
    assert len(run.groups()) == 2 and run.throttles == []
    run.ready(0.1)
    run.submit("a2", 0.2, tenant="a")
    assert len(run.groups()) == 2
    assert {run.worker(e).tenant for e in run.delivered().values()} == {"a", "b"}


@pytest.mark.parametrize("spec", [CLASSIC, LMI], ids=["classic", "managed"])
def test_classic_records_keep_their_environment_and_worker_zero(spec: EnvironmentSpec) -> None:
    run = Run(spec)
    run.ready(0.0)
    run.submit("r1", 0.0)
    eid = run.spawned()[0].environment_id
    if spec is CLASSIC:
        assert run.spawned()[0].group == "" and run.worker(eid).group == eid
    run.ready(0.1)
    run.answer(run.delivered()["r1"], "r1", 0.5)
    (done,) = run.completions()
    assert done.record.environment_id == run.worker(run.delivered()["r1"]).group
    assert done.record.tenant_id is None


def test_max_environments_changes_in_place() -> None:
    run = Run(dataclasses.replace(LMI, max_environments=1))
    run.ready(0.0)
    for n in range(5):
        run.submit(f"r{n}", 0.1)
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_CAPACITY_REASON]
    run.scheduler.set_max_environments("f", 2)
    run.submit("r5", 0.2)  # throttled still (no idle worker), but now a second environment starts
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_CAPACITY_REASON, MANAGED_INSTANCES_SCALING_REASON]
    assert len(run.groups()) == 2
    run.scheduler.set_max_environments("f", None)
    assert run.pool.spec.max_environments is None
