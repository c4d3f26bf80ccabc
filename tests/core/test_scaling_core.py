"""Scaling decisions of the pure core: placement, limits, the scaling bucket, the scheduler, keep-alive,
aliases and the asynchronous queue (LAMBDA-SPEC §7.1-7.4).

Synchronous and instant: no processes, no sleeps; time is a plain float passed as ``at``. The
scheduler is driven by ``Driver``, a loop that answers each effect with the events a real runtime
would send back (``SpawnRuntime`` → ``ProcessStarted`` + ``NextRequested``, ``DeliverInvocation`` →
``ResponsePosted`` + ``NextRequested``, ``Kill`` of a shutting-down environment → ``ProcessExited``).
"""

from __future__ import annotations

import heapq
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalab.core.async_queue import (
    RETRY_DELAYS_S,
    THROTTLE_BACKOFF_S,
    DeliverRecord,
    DispatchEvent,
    EventQueue,
    QueuedEvent,
    ScheduleRetry,
)
from lambdalab.core.effects import (
    CompleteInvocation,
    DeliverInvocation,
    Effect,
    Freeze,
    Kill,
    Log,
    RecordSpan,
    Retire,
    ScheduleWakeup,
    SpawnRuntime,
)
from lambdalab.core.events import (
    Event,
    Invocation,
    NextRequested,
    ProcessExited,
    ProcessStarted,
    ResponsePosted,
    WakeupDue,
)
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive, HybridHistogramKeepAlive, KeepAlivePolicy, Windows
from lambdalab.core.lifecycle import EnvironmentSpec, State
from lambdalab.core.limits import (
    ACCOUNT_REASON,
    RESERVED_REASON,
    SCALING_REASON,
    AccountLimits,
    ScalingBucket,
    concurrency_throttle,
)
from lambdalab.core.placement import Placement, choose
from lambdalab.core.records import InitReport, format_entry
from lambdalab.core.scheduler import LATEST, Alias, Scheduler, Throttled

INIT_S = 0.25  # how long the fake runtime's init takes
RUN_S = 0.05  # how long the fake handler runs when answered automatically


def spec(function: str = "f", version: str = LATEST) -> EnvironmentSpec:
    return EnvironmentSpec(function, version, "python", 128, 3.0)


# -- a driver loop: the scheduler plus the runtime's side -------------------------------------------
class Driver:
    """A scheduler and a fake runtime that answers its effects; keeps every effect, in order."""

    def __init__(self, limits: AccountLimits | None = None) -> None:
        self.scheduler = Scheduler(limits or AccountLimits(), IdFactory("test-scaling").next_environment_id)
        self.effects: list[Effect] = []
        self.wakeups: dict[str, float] = {}  # key -> when (the latest ScheduleWakeup wins)
        self.running: dict[str, str] = {}  # request id -> environment id, delivered, not answered
        self.throttled: list[Throttled] = []
        self.answer = True  # answer deliveries at once (else hold them)

    # configuration
    def deploy(self, function: str = "f", keep_alive: KeepAlivePolicy | None = None, at: float = 0.0) -> None:
        self.run(self.scheduler.deploy(spec(function), keep_alive or FixedKeepAlive(600.0), at), at)

    def publish(self, function: str = "f", keep_alive: KeepAlivePolicy | None = None) -> str:
        return self.scheduler.publish(function, lambda v: spec(function, v), keep_alive or FixedKeepAlive(600.0))

    # the caller's side
    def submit(
        self, request_id: str, at: float, function: str = "f", version: str = LATEST, *, answer: bool | None = None
    ) -> list[Effect]:
        effects, throttled = self.scheduler.submit(function, version, Invocation(request_id, at), at)
        if throttled is not None:
            self.throttled.append(throttled)
            return []
        return self.run(effects, at, answer=answer)

    def wake(self, key: str, at: float) -> list[Effect]:
        return self.run(self.scheduler.handle(WakeupDue(key, 0, at)), at)

    def finish(self, request_id: str, at: float) -> list[Effect]:
        """The handler of a held invocation returns now."""
        eid = self.running.pop(request_id)
        out = self.send(ResponsePosted(eid, self.incarnation(eid), at, request_id, b'"ok"', 40), at)
        return out + self.send(NextRequested(eid, self.incarnation(eid), at), at)

    # the runtime's side
    def incarnation(self, eid: str) -> int:
        return self.scheduler.registry[eid].environments[eid].incarnation

    def state(self, eid: str) -> State | None:
        pool = self.scheduler.registry.get(eid)
        return pool.environments[eid].state if pool is not None else None

    def send(self, event: Event, at: float, *, answer: bool | None = None) -> list[Effect]:
        return self.run(self.scheduler.handle(event), at, answer=answer)

    def run(self, effects: list[Effect], at: float, *, answer: bool | None = None) -> list[Effect]:
        """Keep ``effects`` and answer them as a runtime would, in time order; returns everything that happened.

        The effects of one step are all taken before any reply: a reply is an event for later (or for
        the same instant, after the current step), as it would be from a real process.
        """
        answer = self.answer if answer is None else answer
        done: list[Effect] = []
        queue = [(effect, at) for effect in effects]
        replies: list[tuple[float, int, Event]] = []  # a heap: (when, order, event)
        order = itertools.count()
        while queue or replies:
            if not queue:
                when, _, event = heapq.heappop(replies)
                queue = [(e, when) for e in self.scheduler.handle(event)]
                continue
            effect, now = queue.pop(0)
            done.append(effect)
            self.effects.append(effect)
            eid = effect.environment_id
            later: list[tuple[float, Event]] = []
            if isinstance(effect, ScheduleWakeup):
                self.wakeups[eid] = effect.at
            elif isinstance(effect, SpawnRuntime):
                later = [
                    (now, ProcessStarted(eid, effect.incarnation, now)),
                    (now + INIT_S, NextRequested(eid, effect.incarnation, now + INIT_S)),
                ]
            elif isinstance(effect, DeliverInvocation):
                rid = effect.invocation.request_id
                if answer:
                    inc, end = self.incarnation(eid), now + RUN_S
                    later = [
                        (end, ResponsePosted(eid, inc, end, rid, b'"ok"', 40)),
                        (end, NextRequested(eid, inc, end)),
                    ]
                else:
                    self.running[rid] = eid
            elif isinstance(effect, Kill) and self.state(eid) is State.SHUTTING_DOWN:
                later = [(now, ProcessExited(eid, effect.incarnation, now, -9))]
            for when, event in later:
                heapq.heappush(replies, (when, next(order), event))
        return done

    def completions(self, effects: list[Effect] | None = None) -> list[CompleteInvocation]:
        return [e for e in (self.effects if effects is None else effects) if isinstance(e, CompleteInvocation)]


def kinds(effects: list[Effect]) -> list[str]:
    return [type(e).__name__ for e in effects]


def of(effects: list[Effect], kind: type[Effect]) -> list:
    return [e for e in effects if isinstance(e, kind)]


def log_lines(effects: list[Effect]) -> list[str]:
    return [format_entry(e.entry) for e in effects if isinstance(e, Log)]


# -- placement.choose ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (dict(idle_provisioned=1, reset_provisioned=1, idle=1, reset=1), (Placement.WARM_PROVISIONED, None)),
        (dict(idle_provisioned=1, over_limit=RESERVED_REASON, can_scale=False), (Placement.WARM_PROVISIONED, None)),
        (dict(reset_provisioned=1, idle=1, reset=1), (Placement.RESTART_PROVISIONED, None)),
        (dict(reset_provisioned=1, over_limit=ACCOUNT_REASON, can_scale=False), (Placement.RESTART_PROVISIONED, None)),
        (dict(idle=1, reset=1, over_limit=RESERVED_REASON), (Placement.THROTTLE, RESERVED_REASON)),
        (dict(over_limit=ACCOUNT_REASON), (Placement.THROTTLE, ACCOUNT_REASON)),
        (dict(idle=2, reset=1), (Placement.WARM, None)),
        (dict(idle=1, can_scale=False), (Placement.WARM, None)),
        (dict(reset=1), (Placement.RESTART, None)),
        (dict(reset=1, can_scale=False), (Placement.RESTART, None)),
        (dict(), (Placement.COLD, None)),
        (dict(can_scale=False), (Placement.THROTTLE, SCALING_REASON)),
    ],
)
def test_choose_follows_the_placement_order(counts: dict, expected: tuple) -> None:
    assert choose(**counts) == expected


def test_scaling_reason_is_lambdas() -> None:
    assert SCALING_REASON == "FunctionInvocationRateLimitExceeded"
    assert choose(can_scale=False)[1] == "FunctionInvocationRateLimitExceeded"


# -- limits -------------------------------------------------------------------------------------------
def test_concurrency_throttle_reserved_function() -> None:
    limits = AccountLimits()
    assert concurrency_throttle(limits, 2, 0, 0, 2) is None
    assert concurrency_throttle(limits, 2, 1, 0, 2) is None
    assert concurrency_throttle(limits, 2, 2, 0, 2) == RESERVED_REASON
    assert RESERVED_REASON == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # a reserved function is not limited by the shared pool, however full it is
    assert concurrency_throttle(limits, 2, 1, 10_000, 2) is None


def test_concurrency_throttle_reserved_zero_throttles_everything() -> None:
    assert concurrency_throttle(AccountLimits(), 0, 0, 0, 0) == RESERVED_REASON


def test_concurrency_throttle_unreserved_share_the_rest_of_the_account() -> None:
    limits = AccountLimits(concurrency=10, unreserved_floor=2)
    # 4 reserved by others: 6 left for every unreserved function together
    assert concurrency_throttle(limits, None, 0, 5, 4) is None
    assert concurrency_throttle(limits, None, 0, 6, 4) == ACCOUNT_REASON
    assert concurrency_throttle(limits, None, 0, 9, 0) is None
    assert concurrency_throttle(limits, None, 0, 10, 0) == ACCOUNT_REASON
    assert ACCOUNT_REASON == "ConcurrentInvocationLimitExceeded"


def test_reservable_leaves_the_unreserved_floor() -> None:
    limits = AccountLimits(concurrency=1000, unreserved_floor=100)
    assert limits.reservable({}, "a") == 900
    assert limits.reservable({"a": 500}, "a") == 900  # its own reservation does not count
    assert limits.reservable({"a": 500, "b": 100}, "a") == 800
    assert limits.reservable({"b": 950}, "a") == 0  # never negative


def test_check_reservation_refuses_over_reservation() -> None:
    d = Driver(AccountLimits(concurrency=1000, unreserved_floor=100))
    d.deploy("a")
    d.deploy("b")
    d.scheduler.reserve("a", 500)
    d.scheduler.check_reservation("b", 400)
    d.scheduler.check_reservation("b", None)
    with pytest.raises(ValueError, match="400"):
        d.scheduler.check_reservation("b", 401)
    with pytest.raises(ValueError):
        d.scheduler.reserve("b", 401)
    assert d.scheduler.entry("b").reserved is None  # refused: nothing changed
    d.scheduler.reserve("a", 900)  # raising its own reservation counts only the others
    with pytest.raises(ValueError):
        d.scheduler.reserve("a", 901)
    d.scheduler.reserve("a", None)
    d.scheduler.reserve("b", 900)


# -- the scaling bucket ------------------------------------------------------------------------------
def test_scaling_bucket_capacity_and_continuous_refill() -> None:
    bucket = ScalingBucket(10, 10.0, at=0.0)
    assert bucket.tokens(0.0) == 10
    assert all(bucket.take(0.0) for _ in range(10))
    assert not bucket.take(0.0)
    assert bucket.tokens(0.5) == pytest.approx(0.5)
    assert not bucket.take(0.5)
    assert bucket.tokens(1.0) == pytest.approx(1.0)
    assert bucket.take(1.0)
    assert bucket.tokens(1.0) == pytest.approx(0.0)
    assert bucket.tokens(3.5) == pytest.approx(2.5)


def test_scaling_bucket_does_not_accrue_above_capacity() -> None:
    bucket = ScalingBucket(10, 10.0, at=0.0)
    assert bucket.tokens(1_000.0) == 10
    assert bucket.take(1_000.0)
    assert bucket.tokens(1_000.0) == pytest.approx(9.0)
    assert bucket.tokens(1_000.1) == pytest.approx(9.1)
    assert bucket.tokens(5_000.0) == 10


def test_scaling_bucket_default_is_1000_per_10_s() -> None:
    limits = AccountLimits()
    bucket = ScalingBucket(limits.scale_limit, limits.scale_period_s)
    assert bucket.tokens(0.0) == 1000
    for _ in range(1000):
        bucket.take(0.0)
    assert bucket.tokens(1.0) == pytest.approx(100.0)


# -- the scheduler: concurrency ------------------------------------------------------------------------
def test_reserved_two_throttles_three_of_five_concurrent() -> None:
    d = Driver()
    d.deploy()
    d.scheduler.reserve("f", 2)
    d.answer = False
    for i in range(5):
        d.submit(f"r{i}", 0.0)
    assert [t.reason for t in d.throttled] == [RESERVED_REASON] * 3
    assert d.throttled[0] == Throttled(RESERVED_REASON, "f", LATEST)
    assert sorted(d.running) == ["r0", "r1"]
    entry = d.scheduler.entry("f")
    assert entry.in_flight == entry.usage == 2  # throttled invocations are not in flight
    assert entry.throttles == 3
    assert d.scheduler.statistics("f").busy == 2

    d.finish("r0", 1.0)
    assert entry.in_flight == 1
    d.finish("r1", 1.0)
    assert entry.in_flight == entry.usage == 0
    assert [c.invocation.request_id for c in d.completions()] == ["r0", "r1"]

    d.submit("r5", 2.0)
    d.submit("r6", 2.0)
    assert len(d.throttled) == 3  # capacity is back: two more run
    assert d.scheduler.statistics("f").busy == 2


def test_reserved_zero_throttles_every_invocation() -> None:
    d = Driver()
    d.deploy()
    d.scheduler.reserve("f", 0)
    assert d.submit("r0", 0.0) == []
    assert d.throttled == [Throttled(RESERVED_REASON, "f", LATEST)]
    assert d.scheduler.statistics("f").environments == 0


def test_account_limit_throttles_unreserved_functions_with_the_account_reason() -> None:
    d = Driver(AccountLimits(concurrency=5, unreserved_floor=1))
    for name in ("a", "b", "r"):
        d.deploy(name)
    d.scheduler.reserve("r", 2)  # 3 left for a and b together
    d.answer = False
    d.submit("a0", 0.0, "a")
    d.submit("a1", 0.0, "a")
    d.submit("b0", 0.0, "b")
    assert d.throttled == []
    d.submit("b1", 0.0, "b")
    d.submit("a2", 0.0, "a")
    assert d.throttled == [Throttled(ACCOUNT_REASON, "b", LATEST), Throttled(ACCOUNT_REASON, "a", LATEST)]
    d.submit("r0", 0.0, "r")  # the reservation is guaranteed
    d.submit("r1", 0.0, "r")
    assert len(d.throttled) == 2
    d.submit("r2", 0.0, "r")
    assert d.throttled[-1] == Throttled(RESERVED_REASON, "r", LATEST)
    assert d.scheduler.entry("a").in_flight == 2 and d.scheduler.entry("b").in_flight == 1

    d.finish("a0", 1.0)  # usage goes back down: b fits again
    assert d.scheduler.entry("a").in_flight == 1
    d.submit("b2", 1.0, "b")
    assert len(d.throttled) == 3


def test_scaling_rate_throttles_new_environments_only() -> None:
    d = Driver(AccountLimits(scale_limit=2, scale_period_s=10.0))  # 2 new environments, +0.2/s
    d.deploy()
    d.answer = False
    d.submit("r0", 0.0)
    d.submit("r1", 0.0)
    d.submit("r2", 0.0)
    assert d.throttled == [Throttled(SCALING_REASON, "f", LATEST)]
    assert d.scheduler.entry("f").in_flight == 2
    d.finish("r0", 1.0)
    d.submit("r3", 1.0)  # a warm start needs no token
    assert len(d.throttled) == 1
    d.submit("r4", 4.0)  # 0.8 token: still no new environment
    assert d.throttled[-1].reason == SCALING_REASON
    spawned = of(d.submit("r5", 5.0), SpawnRuntime)  # 1 token at 5 s
    assert len(spawned) == 1 and len(d.throttled) == 2


def test_warm_start_takes_the_most_recently_used_idle_environment() -> None:
    d = Driver()
    d.deploy()
    d.answer = False
    first = of(d.submit("r0", 0.0), SpawnRuntime)[0].environment_id
    second = of(d.submit("r1", 0.0), SpawnRuntime)[0].environment_id
    d.finish("r1", 1.0)
    d.finish("r0", 2.0)  # first became idle last
    out = d.submit("r2", 3.0)
    assert of(out, SpawnRuntime) == []
    assert of(out, DeliverInvocation)[0].environment_id == first
    d.finish("r2", 4.0)
    out = d.submit("r3", 5.0)
    assert of(out, DeliverInvocation)[0].environment_id == first
    assert second in d.scheduler.registry


# -- provisioned concurrency ---------------------------------------------------------------------------
def test_provision_starts_environments_before_any_invocation() -> None:
    d = Driver()
    d.deploy()
    version = d.publish()
    out = d.run(d.scheduler.provision("f", version, 2, 10.0), 10.0)
    spawns = of(out, SpawnRuntime)
    assert len(spawns) == 2
    assert {(s.init_type, s.phase) for s in spawns} == {("provisioned-concurrency", "init")}
    reports = [e.entry for e in of(out, Log) if isinstance(e.entry, InitReport)]
    assert len(reports) == 2
    assert all(line.endswith("Phase: init\tStatus: success") for line in log_lines(out) if "INIT_REPORT" in line)
    assert [r.at for r in reports] == [10.0 + INIT_S] * 2  # logged when init ends
    assert len(of(out, Freeze)) == 2
    assert of(out, CompleteInvocation) == []
    assert of(out, ScheduleWakeup) == []  # provisioned environments do not expire
    stats = d.scheduler.statistics("f")
    assert (stats.provisioned, stats.idle, stats.invocations) == (2, 2, 0)
    assert d.scheduler.entry("f").usage == 2  # allocated, busy or not


def test_provisioned_first_invocations_are_warm_and_spill_over_to_on_demand() -> None:
    d = Driver()
    d.deploy()
    version = d.publish()
    d.run(d.scheduler.provision("f", version, 2, 0.0), 0.0)
    provisioned = set(d.scheduler.pool("f", version).environments)
    d.answer = False
    warm = [d.submit(f"p{i}", 60.0, version=version) for i in range(2)]
    for out in warm:
        assert of(out, SpawnRuntime) == []
        assert of(out, DeliverInvocation)[0].environment_id in provisioned
    spill = d.submit("p2", 60.0, version=version)  # both busy: on-demand, cold
    spawn = of(spill, SpawnRuntime)[0]
    assert (spawn.init_type, spawn.environment_id in provisioned) == ("on-demand", False)
    assert d.scheduler.entry("f").in_flight == 1  # only the spill-over is on-demand
    assert d.scheduler.entry("f").usage == 3

    done = d.finish("p0", 61.0) + d.finish("p1", 61.0) + d.finish("p2", 61.0)
    records = {c.invocation.request_id: c.record for c in d.completions(done)}
    assert [records[r].cold for r in ("p0", "p1", "p2")] == [False, False, True]
    assert records["p0"].init_duration_ms is None
    reports = {line.split()[2]: line for line in log_lines(done) if line.startswith("REPORT")}
    assert "Init Duration" not in reports["p0"] and "Init Duration" not in reports["p1"]
    assert "Init Duration: 250.00 ms" in reports["p2"]
    assert d.scheduler.entry("f").in_flight == 0


def test_provisioned_concurrency_counts_against_reserved() -> None:
    d = Driver()
    d.deploy()
    version = d.publish()
    d.scheduler.reserve("f", 3)
    d.run(d.scheduler.provision("f", version, 2, 0.0), 0.0)
    d.answer = False
    d.submit("x0", 1.0)  # $LATEST on-demand: 2 provisioned + 1 = 3 reserved
    assert d.throttled == []
    d.submit("x1", 1.0)
    assert d.throttled == [Throttled(RESERVED_REASON, "f", LATEST)]
    d.submit("p0", 1.0, version=version)  # provisioned capacity is already counted: not throttled
    d.submit("p1", 1.0, version=version)
    assert len(d.throttled) == 1
    d.submit("p2", 1.0, version=version)  # spill-over needs on-demand room: none left
    assert d.throttled[-1] == Throttled(RESERVED_REASON, "f", version)


# -- keep-alive: fixed --------------------------------------------------------------------------------
def test_fixed_keep_alive_schedules_expiry_and_shuts_down_when_due() -> None:
    d = Driver()
    d.deploy(keep_alive=FixedKeepAlive(600.0))
    out = d.submit("r0", 0.0)
    done = d.completions(out)[0]
    eid = done.environment_id
    end = done.record.end
    assert end == pytest.approx(INIT_S + RUN_S)
    assert of(out, ScheduleWakeup) == [ScheduleWakeup(eid, end + 600.0)]
    assert d.state(eid) is State.IDLE

    assert d.wake(eid, end + 599.9) == []
    assert d.state(eid) is State.IDLE

    out = d.wake(eid, end + 600.0)
    assert kinds(out)[-1] == "Retire"
    kill = of(out, Kill)[0]
    assert kill.environment_id == eid
    shutdown = [e.span for e in of(out, RecordSpan) if e.span.phase == "shutdown"]
    assert len(shutdown) == 1 and shutdown[0].start == shutdown[0].end == end + 600.0
    assert of(out, Retire) == [Retire(eid)]
    assert d.state(eid) is None  # gone from the pool
    assert d.scheduler.statistics("f").environments == 0


def test_fixed_keep_alive_wakeup_after_the_time_also_shuts_down() -> None:
    d = Driver()
    d.deploy(keep_alive=FixedKeepAlive(600.0))
    eid = d.completions(d.submit("r0", 0.0))[0].environment_id
    assert of(d.wake(eid, 5_000.0), Retire) == [Retire(eid)]


def test_an_invocation_before_expiry_cancels_it() -> None:
    d = Driver()
    d.deploy(keep_alive=FixedKeepAlive(600.0))
    eid = d.completions(d.submit("r0", 0.0))[0].environment_id
    first = d.wakeups[eid]
    out = d.submit("r1", 500.0)
    assert of(out, SpawnRuntime) == []
    assert of(out, ScheduleWakeup) == [ScheduleWakeup(eid, 500.0 + RUN_S + 600.0)]
    assert d.wake(eid, first) == []  # the old expiry is ignored
    assert d.state(eid) is State.IDLE
    assert of(d.wake(eid, 1100.0 + RUN_S), Kill)


def test_expiry_while_busy_is_ignored() -> None:
    d = Driver()
    d.deploy(keep_alive=FixedKeepAlive(600.0))
    eid = d.completions(d.submit("r0", 0.0))[0].environment_id
    due = d.wakeups[eid]
    d.submit("r1", due - 1.0, answer=False)
    assert d.wake(eid, due) == []
    assert d.state(eid) is State.INVOKING
    d.finish("r1", due + 1.0)
    assert d.wakeups[eid] == due + 601.0


def test_keep_alive_zero_shuts_down_at_once() -> None:
    d = Driver()
    d.deploy(keep_alive=FixedKeepAlive(0.0))
    out = d.submit("r0", 0.0)
    assert kinds(out).index("CompleteInvocation") < kinds(out).index("Kill")
    assert of(out, ScheduleWakeup) == []
    assert of(out, Retire)
    assert d.scheduler.statistics("f").environments == 0
    assert of(d.submit("r1", 1.0), SpawnRuntime)  # every invoke is cold


# -- keep-alive: hybrid histogram ------------------------------------------------------------------
# Idle times concentrated around 30 minutes: 1770-1830 s, i.e. the 1-minute bins 29 and 30.
IDLE_30_MIN = [1770.0 + 60.0 * i / 99 for i in range(100)]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(len(ordered) * p / 100.0) - 1)]


def test_hybrid_falls_back_to_the_fixed_window_until_representative() -> None:
    policy = HybridHistogramKeepAlive(fallback_s=600.0)
    assert policy.windows() == Windows(0.0, 600.0)
    for idle in IDLE_30_MIN[:9]:  # fewer than min_samples
        policy.observe_idle(idle)
    assert not policy.is_representative()
    assert policy.windows() == Windows(0.0, 600.0)
    policy.observe_idle(IDLE_30_MIN[9])
    assert policy.is_representative()

    flat = HybridHistogramKeepAlive(fallback_s=600.0)  # one sample in every bin: CV 0
    for index in range(len(flat.bins)):
        flat.observe_idle(index * 60.0 + 1.0)
    assert not flat.is_representative()
    assert flat.windows() == Windows(0.0, 600.0)

    far = HybridHistogramKeepAlive(fallback_s=600.0)  # mostly beyond the 4-hour range
    for idle in IDLE_30_MIN[:10]:
        far.observe_idle(idle)
    for _ in range(11):
        far.observe_idle(5 * 3600.0)
    assert not far.is_representative()


def test_hybrid_windows_from_the_head_and_tail_percentiles() -> None:
    policy = HybridHistogramKeepAlive(fallback_s=600.0)
    for idle in IDLE_30_MIN:
        policy.observe_idle(idle)
    windows = policy.windows()
    # implementation: pre-warm = lower edge of the 5th-percentile bin × 0.9; keep-alive = upper edge
    # of the 99th-percentile bin × 1.1 - pre-warm (Shahrad et al.: head shortened and tail lengthened by 10%)
    assert windows.prewarm_s == pytest.approx(1740.0 * 0.9)  # 1566 s
    assert windows.keep_alive_s == pytest.approx(1860.0 * 1.1 - 1740.0 * 0.9)  # 480 s
    # ...which is the paper's rule to within one 1-minute bin, always erring on the side of warmth
    p5, p99 = _percentile(IDLE_30_MIN, 5), _percentile(IDLE_30_MIN, 99)
    assert (p5 - 60.0) * 0.9 <= windows.prewarm_s <= p5 * 0.9
    loaded_until = windows.prewarm_s + windows.keep_alive_s
    assert p99 * 1.1 <= loaded_until <= (p99 + 60.0) * 1.1
    # the environment is loaded before every observed idle time ends and kept past all of them
    assert windows.prewarm_s < min(IDLE_30_MIN) and loaded_until > max(IDLE_30_MIN)


def test_hybrid_keep_alive_is_at_least_one_bin() -> None:
    policy = HybridHistogramKeepAlive()
    for _ in range(20):
        policy.observe_idle(3.0)  # all in the first bin: pre-warm 0, tail 60 × 1.1
    windows = policy.windows()
    assert (windows.prewarm_s, windows.keep_alive_s) == (0.0, pytest.approx(66.0))


def test_hybrid_pool_unloads_after_an_invocation_and_prewarms() -> None:
    policy = HybridHistogramKeepAlive(fallback_s=600.0)
    for idle in IDLE_30_MIN:
        policy.observe_idle(idle)
    windows = policy.windows()
    d = Driver()
    d.deploy(keep_alive=policy)
    pool = d.scheduler.pool("f", LATEST)

    out = d.submit("r0", 0.0)
    end = d.completions(out)[0].record.end
    eid = d.completions(out)[0].environment_id
    assert of(out, Kill) and of(out, Retire)  # unloaded right after the answer
    assert of(out, ScheduleWakeup) == [ScheduleWakeup(pool.prewarm_key, end + windows.prewarm_s)]
    assert d.scheduler.statistics("f").environments == 0

    due = d.wakeups[pool.prewarm_key]
    out = d.wake(pool.prewarm_key, due)  # nobody is waiting: a pre-warm
    spawn = of(out, SpawnRuntime)[0]
    assert spawn.environment_id != eid
    assert (spawn.init_type, spawn.phase) == ("on-demand", "init")
    assert of(out, DeliverInvocation) == [] and of(out, CompleteInvocation) == []
    assert any(line.startswith("INIT_REPORT") and line.endswith("Status: success") for line in log_lines(out))
    assert of(out, Freeze)
    ready = due + INIT_S
    assert of(out, ScheduleWakeup) == [ScheduleWakeup(spawn.environment_id, ready + windows.keep_alive_s)]
    assert d.scheduler.statistics("f").idle == 1

    out = d.submit("r1", due + 30.0)  # the next invocation is warm
    assert of(out, SpawnRuntime) == []
    assert d.completions(out)[0].record.cold is False
    assert d.completions(out)[0].record.init_duration_ms is None


def test_hybrid_pool_observes_idle_times_between_invocations() -> None:
    policy = HybridHistogramKeepAlive(fallback_s=10_000.0)
    d = Driver()
    d.deploy(keep_alive=policy)
    at = 0.0
    for i in range(12):
        out = d.submit(f"r{i}", at)
        at = d.completions(out)[0].record.end + 1830.0
    assert policy.samples == 11
    assert policy.bins[30] == 11  # 1830 s idle each time: the bin [1800, 1860)
    assert policy.windows().prewarm_s == pytest.approx(1800.0 * 0.9)


# -- aliases -------------------------------------------------------------------------------------------
def test_alias_route_boundaries() -> None:
    alias = Alias("live", "1", {"2": 0.1})
    assert alias.route(0.0) == "2"
    assert alias.route(0.0999999) == "2"
    assert alias.route(0.1) == "1"
    assert alias.route(0.5) == "1"
    assert alias.route(0.9999999) == "1"
    assert Alias("plain", "1").route(0.0) == "1"


def _with_versions(count: int) -> Driver:
    d = Driver()
    d.deploy()
    for _ in range(count):
        d.publish()
    return d


def test_create_alias_validates_weights_and_versions() -> None:
    d = _with_versions(3)
    with pytest.raises(ValueError):
        d.scheduler.create_alias("f", Alias("a", "1", {"2": 1.0}))
    with pytest.raises(ValueError):
        d.scheduler.create_alias("f", Alias("a", "1", {"2": 0.5, "3": 0.5}))
    with pytest.raises(ValueError):
        d.scheduler.create_alias("f", Alias("a", "1", {"2": -0.1}))
    with pytest.raises(KeyError):
        d.scheduler.create_alias("f", Alias("a", "7"))
    with pytest.raises(KeyError):
        d.scheduler.create_alias("f", Alias("a", "1", {"9": 0.1}))
    assert d.scheduler.entry("f").aliases == {}
    d.scheduler.create_alias("f", Alias("a", "1", {"2": 0.5, "3": 0.49}))
    d.scheduler.create_alias("f", Alias("latest", LATEST))
    assert set(d.scheduler.entry("f").aliases) == {"a", "latest"}


def test_resolve_qualifiers() -> None:
    d = _with_versions(2)
    d.scheduler.create_alias("f", Alias("live", "1", {"2": 0.1}))
    assert d.scheduler.resolve("f", None) == LATEST
    assert d.scheduler.resolve("f", LATEST) == LATEST
    assert d.scheduler.resolve("f", "1") == "1"
    assert d.scheduler.resolve("f", "2") == "2"
    assert d.scheduler.resolve("f", "live", 0.05) == "2"
    assert d.scheduler.resolve("f", "live", 0.1) == "1"
    assert d.scheduler.resolve("f", "live") == "2"  # the default draw is 0.0
    for unknown in ("3", "prod"):
        with pytest.raises(KeyError):
            d.scheduler.resolve("f", unknown)
    with pytest.raises(KeyError):
        d.scheduler.resolve("nope", None)


# -- the asynchronous queue ---------------------------------------------------------------------------
T0 = 1573755365.568  # 2019-11-14T18:16:05.568Z
ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-function"
ERROR_BODY = b'{"errorMessage":"RequestId: e4b46cbf Process exited before completing request"}'


def queued(
    request_id: str = "e4b46cbf",
    *,
    at: float = T0,
    retries: int = 2,
    max_age: float = 21_600.0,
    payload: bytes = b'{"k": 1}',
) -> QueuedEvent:
    return QueuedEvent(request_id, "my-function", None, payload, at, max_age, retries)


def only_record(effects: list[Effect]) -> DeliverRecord:
    assert kinds(effects) == ["DeliverRecord"], kinds(effects)
    record = effects[0]
    assert isinstance(record, DeliverRecord)
    return record


def test_accept_dispatches_at_once() -> None:
    q = EventQueue()
    event = queued()
    out = q.accept(event, T0)
    assert out == [DispatchEvent("async:e4b46cbf", event)]
    assert q.pending == {"e4b46cbf": event}


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_function_errors_retry_after_one_then_two_minutes_then_fail(scale: float) -> None:
    q = EventQueue(delay_scale=scale)
    q.accept(queued(), T0)
    assert RETRY_DELAYS_S == (60.0, 120.0)
    at = T0 + 1.0
    out = q.finished("e4b46cbf", at, "$LATEST", ERROR_BODY, True)
    assert out == [ScheduleRetry("async:e4b46cbf", "e4b46cbf", at + 60.0 * scale)]
    at += 60.0 * scale
    assert q.wake("e4b46cbf", at) == [DispatchEvent("async:e4b46cbf", q.pending["e4b46cbf"])]
    at += 1.0
    out = q.finished("e4b46cbf", at, "$LATEST", ERROR_BODY, True)
    assert out == [ScheduleRetry("async:e4b46cbf", "e4b46cbf", at + 120.0 * scale)]
    at += 120.0 * scale
    assert kinds(q.wake("e4b46cbf", at)) == ["DispatchEvent"]
    delivered = only_record(q.finished("e4b46cbf", at + 1.0, "$LATEST", ERROR_BODY, True))
    assert (delivered.function, delivered.destination) == ("my-function", "on_failure")
    assert delivered.record["requestContext"]["condition"] == "RetriesExhausted"
    assert delivered.record["requestContext"]["approximateInvokeCount"] == 3
    assert q.pending == {}


def test_retries_exhausted_record_has_lambdas_exact_shape() -> None:
    q = EventQueue()
    q.accept(queued(), T0 - 181.0)
    q.finished("e4b46cbf", T0 - 180.0, "$LATEST", ERROR_BODY, True)
    q.finished("e4b46cbf", T0 - 120.0, "$LATEST", ERROR_BODY, True)
    record = only_record(q.finished("e4b46cbf", T0, "$LATEST", ERROR_BODY, True)).record
    assert record == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf",
            "functionArn": f"{ARN}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"k": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "RequestId: e4b46cbf Process exited before completing request"},
    }
    assert list(record) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert list(record["requestContext"]) == ["requestId", "functionArn", "condition", "approximateInvokeCount"]


def test_success_goes_to_on_success() -> None:
    q = EventQueue()
    q.accept(queued(), T0 - 1.0)
    delivered = only_record(q.finished("e4b46cbf", T0, "3", b'{"answer": 42}', False))
    assert delivered.destination == "on_success"
    assert delivered.record == {
        "version": "1.0",
        "timestamp": "2019-11-14T18:16:05.568Z",
        "requestContext": {
            "requestId": "e4b46cbf",
            "functionArn": f"{ARN}:3",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"k": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "3"},
        "responsePayload": {"answer": 42},
    }
    assert q.pending == {}
    assert q.finished("e4b46cbf", T0, "3", b"{}", False) == []  # ended: never delivered twice


def test_no_retries_means_one_run() -> None:
    q = EventQueue()
    q.accept(queued(retries=0), T0)
    delivered = only_record(q.finished("e4b46cbf", T0 + 1.0, "$LATEST", ERROR_BODY, True))
    assert delivered.destination == "on_failure"
    assert delivered.record["requestContext"]["condition"] == "RetriesExhausted"
    assert delivered.record["requestContext"]["approximateInvokeCount"] == 1


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_throttles_back_off_exponentially_up_to_five_minutes(scale: float) -> None:
    q = EventQueue(delay_scale=scale)
    q.accept(queued(), T0)
    assert THROTTLE_BACKOFF_S == (1.0, 300.0)
    at, delays = T0, []
    for _ in range(12):
        (wakeup,) = q.throttled("e4b46cbf", at, zero_reserved=False)
        assert isinstance(wakeup, ScheduleRetry) and wakeup.request_id == "e4b46cbf"
        delays.append(round((wakeup.at - at) / scale, 6))
        at = wakeup.at
        assert kinds(q.wake("e4b46cbf", at)) == ["DispatchEvent"]
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert q.pending["e4b46cbf"].attempts == 0  # throttled runs are not runs


def test_throttled_until_too_old_ends_with_event_age_exceeded() -> None:
    q = EventQueue()
    q.accept(queued(max_age=21_600.0), T0)
    at, out = T0, []
    for _ in range(200):
        out = q.throttled("e4b46cbf", at, zero_reserved=False)
        if isinstance(out[0], DeliverRecord):
            break
        at = out[0].at
        q.wake("e4b46cbf", at)
    record = only_record(out).record
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert at - T0 <= 21_600.0


def test_zero_reserved_concurrency_fails_at_once() -> None:
    q = EventQueue()
    q.accept(queued(), T0)
    delivered = only_record(q.throttled("e4b46cbf", T0, zero_reserved=True))
    assert delivered.destination == "on_failure"
    assert delivered.record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert delivered.record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in delivered.record
    assert q.pending == {}


def test_a_retry_due_after_the_maximum_age_is_not_scheduled() -> None:
    q = EventQueue()
    q.accept(queued(max_age=100.0), T0)
    out = q.finished("e4b46cbf", T0 + 10.0, "$LATEST", ERROR_BODY, True)
    assert out == [ScheduleRetry("async:e4b46cbf", "e4b46cbf", T0 + 70.0)]  # due at 70 s <= 100 s
    q.wake("e4b46cbf", T0 + 70.0)
    delivered = only_record(q.finished("e4b46cbf", T0 + 75.0, "$LATEST", ERROR_BODY, True))
    assert delivered.destination == "on_failure"
    assert delivered.record["requestContext"]["condition"] == "EventAgeExceeded"  # 195 s > 100 s
    assert delivered.record["requestContext"]["approximateInvokeCount"] == 2
    assert q.pending == {}


def test_max_age_scales_with_the_delays() -> None:
    q = EventQueue(delay_scale=0.01)
    q.accept(queued(max_age=100.0, at=0.0), 0.0)  # 1 s of scaled time
    out = q.finished("e4b46cbf", 0.1, "$LATEST", ERROR_BODY, True)
    assert out == [ScheduleRetry("async:e4b46cbf", "e4b46cbf", 0.7)]
    q.wake("e4b46cbf", 0.7)
    record = only_record(q.finished("e4b46cbf", 0.8, "$LATEST", ERROR_BODY, True)).record
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_waking_an_expired_event_fails_it_without_dispatch() -> None:
    q = EventQueue()
    q.accept(queued(max_age=60.0), T0)
    delivered = only_record(q.wake("e4b46cbf", T0 + 61.0))
    assert delivered.record["requestContext"]["condition"] == "EventAgeExceeded"
    assert q.pending == {}
    assert q.wake("e4b46cbf", T0 + 62.0) == []
    assert q.wake("unknown", T0) == []


OUTCOMES = st.sampled_from(["success", "error", "throttle"])


@settings(max_examples=200, deadline=None)
@given(
    outcomes=st.lists(OUTCOMES, max_size=40),
    retries=st.integers(0, 2),
    max_age=st.sampled_from([60.0, 200.0, 3600.0, 21_600.0]),
    scale=st.sampled_from([1.0, 0.01]),
    zero_reserved=st.booleans(),
)
def test_every_accepted_event_ends_in_exactly_one_destination(
    outcomes: list[str], retries: int, max_age: float, scale: float, zero_reserved: bool
) -> None:
    q = EventQueue(delay_scale=scale)
    event = queued(retries=retries, max_age=max_age, at=0.0)
    pending = q.accept(event, 0.0)
    records: list[DeliverRecord] = []
    runs, now, script = 0, 0.0, iter(outcomes)
    for _ in range(1000):
        if not pending:
            break
        effect = pending.pop(0)
        if isinstance(effect, DeliverRecord):
            records.append(effect)
        elif isinstance(effect, ScheduleRetry):
            assert effect.at >= now
            now = effect.at
            pending += q.wake(event.request_id, now)
        elif isinstance(effect, DispatchEvent):
            outcome = next(script, "success")
            now += 0.5 * scale
            if outcome == "throttle":
                pending += q.throttled(event.request_id, now, zero_reserved)
            else:
                runs += 1
                pending += q.finished(event.request_id, now, "$LATEST", b'{"r": 1}', outcome == "error")
    assert pending == []
    assert len(records) == 1
    (record,) = records
    condition = record.record["requestContext"]["condition"]
    assert (record.destination == "on_success") == (condition == "Success")
    assert condition in {"Success", "RetriesExhausted", "EventAgeExceeded", "ZeroReservedConcurrency"}
    assert record.record["requestContext"]["approximateInvokeCount"] == runs <= retries + 1
    assert q.pending == {}
    if condition == "RetriesExhausted":
        assert runs == retries + 1
    # nothing after the end: a late report changes nothing
    assert q.finished(event.request_id, now + 1.0, "$LATEST", b"{}", False) == []
    assert q.throttled(event.request_id, now + 1.0, False) == []


def test_driver_replies_in_order() -> None:
    """The test driver itself: a cold start's effects come in the order the runtime would cause them."""
    d = Driver()
    d.deploy()
    out = d.submit("r0", 0.0)
    assert kinds(out) == [
        "Log",
        "SpawnRuntime",
        "ArmDeadline",
        "DisarmDeadline",
        "RecordSpan",
        "Log",
        "DeliverInvocation",
        "ArmDeadline",
        "DisarmDeadline",
        "RecordSpan",
        "Log",
        "Log",
        "CompleteInvocation",
        "Freeze",
        "ScheduleWakeup",
    ]
    assert d.completions(out)[0].record.cold is True
