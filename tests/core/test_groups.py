"""Managed Instances in the core (``core/groups.py``): groups of workers, fill-busiest routing, the scaling rule,
``max_environments``, no freeze, OVERRUN after a timeout, whole-group keep-alive; and tenant isolation's keying of
the classic pool. Driven through ``Scheduler`` with a hand-held clock: events in, effects out."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lambdalab.core.effects import (
    CompleteInvocation,
    DeliverInvocation,
    Effect,
    Freeze,
    Kill,
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
from lambdalab.core.groups import (
    FLOOR_ENVIRONMENTS,
    MANAGED_INSTANCES_CAPACITY_REASON,
    MANAGED_INSTANCES_SCALING_REASON,
    GroupPool,
    ScalingWindow,
)
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State, allows
from lambdalab.core.limits import AccountLimits
from lambdalab.core.outcomes import Status
from lambdalab.core.pool import Pool
from lambdalab.core.scheduler import LATEST, Scheduler, Throttled

CLASSIC = EnvironmentSpec("f", LATEST, "python", 2048, 3.0)
LMI = dataclasses.replace(CLASSIC, freeze=False, per_environment=4)


class Run:
    """A scheduler with one function, and the runtimes' side of every worker."""

    def __init__(self, spec: EnvironmentSpec = LMI, keep_alive_s: float = 600.0) -> None:
        self.scheduler = Scheduler(AccountLimits(), IdFactory("test-groups").next_environment_id)
        self.scheduler.deploy(spec, FixedKeepAlive(keep_alive_s), 0.0)
        self.effects: list[Effect] = []
        self.throttles: list[Throttled] = []

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
        incarnation = self.worker(eid).incarnation
        self.send(ProcessStarted(eid, incarnation, at))
        return self.send(NextRequested(eid, incarnation, at + 0.01))

    def answer(self, eid: str, request_id: str, at: float) -> list[Effect]:
        incarnation = self.worker(eid).incarnation
        out = self.send(ResponsePosted(eid, incarnation, at, request_id, b'"ok"', 30))
        return out + self.send(NextRequested(eid, incarnation, at))

    def spawned(self) -> list[SpawnRuntime]:
        return [e for e in self.effects if isinstance(e, SpawnRuntime)]

    def delivered(self) -> dict[str, str]:
        """request id -> the worker it was delivered to."""
        return {e.invocation.request_id: e.environment_id for e in self.effects if isinstance(e, DeliverInvocation)}

    def completions(self) -> list[CompleteInvocation]:
        return [e for e in self.effects if isinstance(e, CompleteInvocation)]


def test_eight_concurrent_requests_at_four_per_environment_start_two_environments() -> None:
    run = Run()
    for n in range(8):
        run.submit(f"r{n}", 0.0)
    spawns = run.spawned()
    assert len(spawns) == 8  # two groups of four workers, each its own runtime process
    groups = {s.group for s in spawns}
    assert len(groups) == 2 and all(s.group not in {x.environment_id for x in spawns} for s in spawns)
    assert sorted(s.worker for s in spawns) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert run.throttles == []
    for spawn in spawns:
        run.boot(spawn.environment_id, 0.2)
    delivered = run.delivered()
    assert sorted(delivered) == [f"r{n}" for n in range(8)]
    assert len(set(delivered.values())) == 8  # one request per worker at a time
    for n, (request_id, eid) in enumerate(sorted(delivered.items())):
        run.answer(eid, request_id, 0.7 + n / 100)
    records = [c.record for c in run.completions()]
    assert {r.environment_id for r in records} == groups  # records carry the group, not the worker
    assert sorted(r.worker for r in records) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(r.cold and r.status is Status.SUCCESS for r in records)  # each waited for an init
    stats = run.scheduler.statistics("f")
    assert (stats.environments, stats.idle, stats.workers, stats.busy_workers, stats.frozen) == (2, 2, 8, 0, 0)


def test_routing_fills_the_busiest_environment_first_and_never_freezes() -> None:
    run = Run()
    for n in range(5):  # group A gets r0..r3, group B r4
        run.submit(f"r{n}", 0.0)
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
    delivered = run.delivered()
    group_of = {r: run.worker(e).group for r, e in delivered.items()}
    a, b = group_of["r0"], group_of["r4"]
    assert {group_of[f"r{n}"] for n in range(4)} == {a} and a != b
    run.answer(delivered["r0"], "r0", 0.5)  # A: 3 busy, 1 idle; B: 1 busy, 3 idle
    run.submit("r5", 0.6)
    assert run.worker(run.delivered()["r5"]).group == a  # the busiest group's free worker
    run.submit("r6", 0.7)  # A is full now: B's
    assert run.worker(run.delivered()["r6"]).group == b
    assert not any(isinstance(e, Freeze) for e in run.effects)
    assert [c.record.cold for c in run.completions()] == [True]  # r0 waited for its group's init
    warm = run.answer(run.delivered()["r5"], "r5", 0.9)
    record = next(e.record for e in warm if isinstance(e, CompleteInvocation))
    assert record.cold is False and record.environment_id == a


def test_the_first_worker_ready_takes_the_waiting_invocation() -> None:
    run = Run()
    run.submit("r1", 0.0)
    spawns = run.spawned()
    assert len(spawns) == 4 and spawns[0].worker == 0
    late, early = spawns[0].environment_id, spawns[3].environment_id
    run.boot(early, 0.05)  # worker 3 finishes init first: it serves r1
    assert run.delivered() == {"r1": early}
    run.boot(late, 0.3)  # worker 0 is ready with nothing to do
    assert run.worker(late).state is State.IDLE and run.worker(late).reserved is None


def test_max_environments_rejects_the_fifth_concurrent_request() -> None:
    run = Run(dataclasses.replace(LMI, max_environments=1))
    for n in range(5):
        run.submit(f"r{n}", 0.0)
    assert len(run.spawned()) == 4 and len({s.group for s in run.spawned()}) == 1
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_CAPACITY_REASON]
    assert run.scheduler.entry("f").throttles == 1


def test_traffic_that_more_than_doubles_within_five_minutes_is_throttled() -> None:
    spec = dataclasses.replace(LMI, per_environment=2)
    run = Run(spec)
    # from nothing: the floor of three environments (six workers)
    for n in range(7):
        run.submit(f"a{n}", 0.0)
    assert len({s.group for s in run.spawned()}) == FLOOR_ENVIRONMENTS
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_SCALING_REASON]
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
    # six busy workers for five minutes: twelve workers (six environments) are allowed from then on
    for n in range(3):
        run.submit(f"b{n}", 200.0)
    assert len(run.throttles) == 4  # still within five minutes of the start: 2 x 0 busy, the floor holds
    for n in range(3):
        run.submit(f"c{n}", 320.0)
    assert len(run.throttles) == 4 and len({s.group for s in run.spawned()}) == 5


def test_scaling_window_keeps_the_fewest_busy_workers_of_the_last_five_minutes() -> None:
    window = ScalingWindow()
    assert window.baseline(0.0) == 0 and window.allows(3, 4, 0.0) and not window.allows(4, 4, 0.0)
    window.observe(0.0, 40)
    assert window.baseline(100.0) == 0  # the bucket at 0 saw 0 before the 40
    assert window.baseline(310.0) == 40 and window.allows(20, 4, 310.0) and not window.allows(21, 4, 310.0)
    window.observe(400.0, 10)
    window.observe(401.0, 50)
    assert window.baseline(500.0) == 10 and window.baseline(720.0) == 50


def test_a_timeout_fails_the_invocation_and_leaves_the_worker_running() -> None:
    run = Run()
    run.submit("slow", 0.0)
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
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
    run.submit("slow", 0.0)
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
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


def test_a_group_shuts_down_whole_after_its_keep_alive() -> None:
    run = Run(keep_alive_s=60.0)
    run.submit("r1", 0.0)
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
    group = run.worker(run.delivered()["r1"]).group
    out = run.answer(run.delivered()["r1"], "r1", 0.5)
    wake = [e for e in out if isinstance(e, ScheduleWakeup)]
    assert [(w.environment_id, w.at) for w in wake] == [(group, 60.5)]
    run.submit("r2", 30.0)  # used again: the expiry is void
    assert run.send(WakeupDue(group, 0, 60.5)) == []
    run.answer(run.delivered()["r2"], "r2", 31.0)
    out = run.send(WakeupDue(group, 0, 91.0))
    assert sum(isinstance(e, Kill) for e in out) == 4
    for worker in list(run.pool.environments.values()):
        run.send(ProcessExited(worker.id, worker.incarnation, 91.1, -9))
    assert run.pool.environments == {} and isinstance(run.pool, GroupPool) and run.pool.groups == {}
    assert group not in run.scheduler.registry


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
    run.submit("a1", 0.0, tenant="a")
    run.submit("b1", 0.0, tenant="b")  # a's group has three free workers, but not for b
    assert len({s.group for s in run.spawned()}) == 2
    run.submit("a2", 0.0, tenant="a")
    assert len({s.group for s in run.spawned()}) == 2


@pytest.mark.parametrize("spec", [CLASSIC, LMI], ids=["classic", "managed"])
def test_classic_records_keep_their_environment_and_worker_zero(spec: EnvironmentSpec) -> None:
    run = Run(spec)
    run.submit("r1", 0.0)
    eid = run.spawned()[0].environment_id
    if spec is CLASSIC:
        assert run.spawned()[0].group == "" and run.worker(eid).group == eid
    for spawn in run.spawned():
        run.boot(spawn.environment_id, 0.1)
    run.answer(run.delivered()["r1"], "r1", 0.5)
    (done,) = run.completions()
    assert done.record.environment_id == run.worker(run.delivered()["r1"]).group
    assert done.record.tenant_id is None


def test_max_environments_changes_in_place() -> None:
    run = Run(dataclasses.replace(LMI, max_environments=1))
    for n in range(5):
        run.submit(f"r{n}", 0.0)
    assert [t.reason for t in run.throttles] == [MANAGED_INSTANCES_CAPACITY_REASON]
    run.scheduler.set_max_environments("f", 2)
    run.submit("r5", 0.1)
    assert len(run.throttles) == 1 and len({s.group for s in run.spawned()}) == 2
    run.scheduler.set_max_environments("f", None)
    assert run.pool.spec.max_environments is None
