"""Lambda Managed Instances: environments that serve several invocations at once.

In this mode (``EnvironmentSpec.per_environment`` = N > 0) one user-visible environment is a *group* of N
workers. Each worker is a core ``Environment`` of its own (its own runtime process, Runtime API exchange and
lifecycle) whose ``group`` is the group's id and ``worker`` its number, so every record and span of a worker
carries ``environment_id=group`` and ``worker=k``; as Lambda's Python runtime does it, each worker process
serves one invocation at a time. Rules, kept here and only here:

1. Routing fills the busiest group's free workers first (busy = N - free): an idle worker (``WARM``), else a
   worker still starting with no invocation waiting on it (``JOIN``: the invocation waits for that init), else a
   worker whose process ended (``RESTART``: it re-initialises inside the invoke, as a reset classic environment
   does). With tenant isolation only the groups of the invocation's tenant count.
2. With no free worker a new group starts (``COLD``): all N workers initialise at once, and the invocation goes to
   the first worker ready ("init completes once at least one worker has called /next"). Not when
   ``max_environments`` groups are live (``MANAGED_INSTANCES_CAPACITY_REASON``), nor past the scaling rule
   (``MANAGED_INSTANCES_SCALING_REASON``): both are throttles (``TooManyRequestsException``, 429).
3. The scaling rule. Lambda scales Managed Instances on CPU utilisation and says that traffic that more than
   doubles within 5 minutes may be throttled. lambdalab takes busy workers (in-flight invocations) as the CPU proxy:
   a new group may start while the groups would number at most max(3, ceil(2 x the fewest busy workers seen in
   the last 5 minutes / N)); 3 is the environments Lambda starts for a new Managed Instances version. Unlike
   Lambda, which scales asynchronously and throttles meanwhile, the invocation that starts a group waits for it.
4. Nothing is frozen. A timeout fails the invocation and leaves its worker OVERRUN, code still running, until
   the worker asks for more (``core/lifecycle.py``): an overrunning worker is busy.
5. Keep-alive: a group whose workers are all idle (or without a process) for the keep-alive shuts down whole.

Pure: events in, effects out; ``at`` is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from lambdalab.core.effects import CompleteInvocation, Effect, ScheduleWakeup
from lambdalab.core.events import (
    Event,
    ExtensionExited,
    Invocation,
    InvocationAssigned,
    ProcessExited,
    ProcessStarted,
    ShutdownRequested,
    StartRequested,
    WakeupDue,
)
from lambdalab.core.keepalive import KeepAlivePolicy
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State
from lambdalab.core.limits import SCALING_REASON
from lambdalab.core.placement import Placement
from lambdalab.core.pool import Pool, PoolStatistics

# lambdalab's throttle reasons for Managed Instances (Lambda documents the 429, not a Reason for it): every worker
# busy and no environment may be added (max_environments), or the traffic grew faster than the scaling rule allows
MANAGED_INSTANCES_CAPACITY_REASON: Final = "ExecutionEnvironmentConcurrencyLimitExceeded"
MANAGED_INSTANCES_SCALING_REASON: Final = "ExecutionEnvironmentScalingRateExceeded"
FLOOR_ENVIRONMENTS: Final = 3  # the environments Lambda starts for a new Managed Instances version
SCALE_WINDOW_S: Final = 300.0  # "traffic that more than doubles within 5 minutes"
SCALE_BUCKET_S: Final = 10.0
_STARTING: Final = (State.STARTING, State.INITIALIZING, State.EXTENSIONS_INIT)
_GONE: Final = (State.SHUTTING_DOWN, State.TERMINATED, State.DRAINING)


class ScalingWindow:
    """The fewest busy workers over the last ``window_s`` seconds, kept in ``bucket_s`` buckets (O(1) memory)."""

    def __init__(self, window_s: float = SCALE_WINDOW_S, bucket_s: float = SCALE_BUCKET_S) -> None:
        self.bucket_s = bucket_s
        self.size = max(1, int(round(window_s / bucket_s)))
        self.lows = [0] * self.size  # bucket k's fewest, at k % size
        self.buckets = [-1] * self.size  # which bucket each slot holds
        self.current = 0
        self.bucket = -1  # the last bucket touched

    def _roll(self, at: float) -> int:
        bucket = int(at // self.bucket_s)
        if bucket > self.bucket:  # the buckets since the last change start with the value then in force
            for k in range(max(self.bucket + 1, bucket - self.size + 1), bucket + 1):
                slot = k % self.size
                self.buckets[slot] = k
                self.lows[slot] = self.current
            self.bucket = bucket
        return self.bucket

    def observe(self, at: float, busy: int) -> None:
        slot = self._roll(at) % self.size
        if busy < self.lows[slot]:
            self.lows[slot] = busy
        self.current = busy

    def baseline(self, at: float) -> int:
        """The fewest busy workers since ``at - window_s`` (0 before anything ran)."""
        oldest = self._roll(at) - self.size + 1
        low = self.current
        for slot in range(self.size):
            if self.buckets[slot] >= oldest and self.lows[slot] < low:
                low = self.lows[slot]
        return low

    def allows(self, groups: int, per_group: int, at: float) -> bool:
        """May there be ``groups`` groups of ``per_group`` workers now? (rule 3)"""
        doubled = (2 * self.baseline(at) + per_group - 1) // per_group
        return groups <= max(FLOOR_ENVIRONMENTS, doubled)


class Group:
    """One Managed Instances environment: its workers, and which of them are free."""

    def __init__(self, group_id: str, tenant: str | None) -> None:
        self.id = group_id
        self.tenant = tenant
        self.workers: list[Environment] = []
        self.live = 0  # workers not terminated
        self.idle: dict[str, Environment] = {}  # waiting on /next with nothing to do; the most recently used last
        self.starting: dict[str, Environment] = {}  # initialising with no invocation waiting on them
        self.reset: dict[str, Environment] = {}  # no process (a crash, a failed init): re-initialised when used
        self.expires_at: float | None = None  # every worker quiet: the group shuts down then

    @property
    def free(self) -> int:
        return len(self.idle) + len(self.starting) + len(self.reset)

    def unlist(self, worker: Environment) -> None:
        key = worker.id
        self.idle.pop(key, None)
        self.starting.pop(key, None)
        self.reset.pop(key, None)


class GroupPool(Pool):
    """The pool of one function version in Managed Instances mode: groups of workers (see the module's rules)."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        new_id: Callable[[], str],
        keep_alive: KeepAlivePolicy | None = None,
        registry: dict[str, Pool] | None = None,
    ) -> None:
        super().__init__(spec, new_id, keep_alive, registry)
        self.per_group = spec.per_environment
        self.groups: dict[str, Group] = {}
        self.scaling = ScalingWindow()
        self._chosen: Group | None = None  # the group ``decide`` picked, for ``place``

    # -- invocations ----------------------------------------------------------------------------
    def decide(
        self, over_limit: str | None, can_scale: bool, tenant: str | None = None, at: float = 0.0
    ) -> tuple[Placement, str | None]:
        """Where the next invocation would go (rules 1-3), without placing it."""
        self._chosen = None
        if over_limit is not None:
            return Placement.THROTTLE, over_limit
        best: Group | None = None
        best_busy = -1
        tenancy, per_group = self.spec.tenancy, self.per_group
        for group in self.groups.values():
            free = group.free
            if free == 0 or (tenancy and group.tenant != tenant):
                continue
            if per_group - free > best_busy:
                best, best_busy = group, per_group - free
        if best is not None:
            self._chosen = best
            if best.idle:
                return Placement.WARM, None
            if best.starting:
                return Placement.JOIN, None
            return Placement.RESTART, None
        if not can_scale:
            return Placement.THROTTLE, SCALING_REASON
        most = self.spec.max_environments
        if most is not None and len(self.groups) >= most:
            return Placement.THROTTLE, MANAGED_INSTANCES_CAPACITY_REASON
        if not self.scaling.allows(len(self.groups) + 1, per_group, at):
            return Placement.THROTTLE, MANAGED_INSTANCES_SCALING_REASON
        return Placement.COLD, None

    def place(self, decision: Placement, invocation: Invocation, at: float) -> list[Effect]:
        """Start ``invocation`` where ``decide`` just said (not THROTTLE)."""
        group = self._chosen
        self._chosen = None
        if decision is Placement.COLD:
            group = self._new_group(invocation.tenant_id)
        elif group is None or decision is Placement.THROTTLE or decision is Placement.WARM_PROVISIONED:
            raise ValueError(f"cannot place an invocation on decision {decision} without deciding first")
        self.in_flight += 1
        self.scaling.observe(at, self.in_flight)
        group.expires_at = None
        if decision is Placement.WARM:
            _, worker = group.idle.popitem()
            return worker.handle(InvocationAssigned(worker.id, worker.incarnation, at, invocation))
        if decision is Placement.JOIN:
            _, worker = group.starting.popitem()
            worker.reserved = invocation
            return []
        if decision is Placement.RESTART:
            _, worker = group.reset.popitem()
            worker.reserved = invocation
            return worker.handle(StartRequested(worker.id, worker.incarnation, at, "invoke"))
        out: list[Effect] = []  # COLD: every worker starts; the invocation waits on the first (rule 2)
        group.workers[0].reserved = invocation
        for worker in group.workers:
            out += worker.handle(StartRequested(worker.id, worker.incarnation, at, "init"))
            if worker.reserved is None:
                group.starting[worker.id] = worker
        return out

    def _new_group(self, tenant: str | None) -> Group:
        group = Group(self._new_id(), tenant)
        for k in range(self.per_group):
            worker = Environment(self._new_id(), self.spec)
            worker.group, worker.worker, worker.tenant = group.id, k, tenant
            group.workers.append(worker)
            self.environments[worker.id] = worker
            self.registry[worker.id] = self
        group.live = self.per_group
        self.groups[group.id] = group
        self.registry[group.id] = self  # its keep-alive wakeup is keyed by the group's id
        return group

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply a driver event to a worker (stale events from replaced processes are dropped), or a wakeup."""
        if type(event) is WakeupDue:
            return self._wake(event)
        worker = self.environments.get(event.environment_id)
        if worker is None or event.incarnation != worker.incarnation:
            return []
        if worker.state is State.RESET and isinstance(event, (ProcessExited, ExtensionExited)):
            return []  # the process we killed has now gone
        if type(event) is ProcessStarted and worker.state is not State.STARTING:
            return []  # it was shut down while starting; its exit follows
        out = worker.handle(event)  # raises on an illegal event, before any routing changes
        group = self.groups[worker.group]
        group.unlist(worker)
        self._settle_worker(worker, group, event.at, out)
        return out

    def _settle_worker(self, worker: Environment, group: Group, at: float, out: list[Effect]) -> None:
        """Where a worker stands after an event: free (idle, starting, reset), busy, or gone."""
        for effect in out:
            if type(effect) is CompleteInvocation:
                self.in_flight -= 1
                self.scaling.observe(at, self.in_flight)
        state = worker.state
        if state is State.IDLE:
            self._worker_idle(worker, group, at, out)
        elif state is State.RESET:
            if worker.reserved is not None:  # init failed: retry it inside the invoke, as a classic environment does
                out += worker.handle(StartRequested(worker.id, worker.incarnation, at, "invoke"))
            elif worker.retiring:
                out += self.handle(ShutdownRequested(worker.id, worker.incarnation, at))
            else:
                group.reset[worker.id] = worker
                self._quiet(group, at, out)
        elif state in _STARTING:
            if worker.reserved is None and not worker.retiring:
                group.starting[worker.id] = worker
        elif state is State.TERMINATED:
            del self.environments[worker.id]
            self.registry.pop(worker.id, None)
            group.live -= 1
            if group.live == 0:
                del self.groups[group.id]
                self.registry.pop(group.id, None)

    def _worker_idle(self, worker: Environment, group: Group, at: float, out: list[Effect]) -> None:
        invocation = worker.reserved
        if invocation is None:  # the first worker ready takes an invocation waiting on a sibling still starting
            for sibling in group.workers:
                if sibling.reserved is not None and sibling.state in _STARTING:
                    invocation, sibling.reserved = sibling.reserved, None
                    if not sibling.retiring:
                        group.starting[sibling.id] = sibling
                    break
        else:
            worker.reserved = None
        if invocation is not None:
            out += worker.handle(InvocationAssigned(worker.id, worker.incarnation, at, invocation))
            return
        out += worker.initialised_ahead(at)
        if worker.retiring:
            out += self.handle(ShutdownRequested(worker.id, worker.incarnation, at))
            return
        out += worker.park(at)  # never frozen: the spec of a Managed Instances function has freeze off
        group.idle[worker.id] = worker
        self._last_end = at
        self._quiet(group, at, out)

    def _quiet(self, group: Group, at: float, out: list[Effect]) -> None:
        """Every worker of ``group`` idle or without a process: its keep-alive starts (rule 5)."""
        if len(group.idle) + len(group.reset) < group.live:
            return
        keep_alive_s = self.keep_alive.windows().keep_alive_s
        if keep_alive_s <= 0:
            out += self._shut_group(group, at)
            return
        group.expires_at = at + keep_alive_s
        out.append(ScheduleWakeup(group.id, group.expires_at))

    def _wake(self, event: WakeupDue) -> list[Effect]:
        group = self.groups.get(event.environment_id)
        if group is None or group.expires_at is None or group.expires_at > event.at + 1e-9:
            return []
        return self._shut_group(group, event.at)

    def _shut_group(self, group: Group, at: float) -> list[Effect]:
        group.expires_at = None
        out: list[Effect] = []
        for worker in list(group.workers):
            if worker.id in self.environments and worker.state not in _GONE:
                worker.retiring = True
                out += self.handle(ShutdownRequested(worker.id, worker.incarnation, at))
        return out

    def statistics(self) -> PoolStatistics:
        """Environments are groups: busy if a worker is, else initialising if one is, else idle (or reset)."""
        busy = idle = initializing = reset = invocations = workers = busy_workers = 0
        for group in self.groups.values():
            working = starting = resting = 0
            for worker in group.workers:
                state = worker.state
                if state is State.TERMINATED:
                    continue
                workers += 1
                invocations += worker.invocations
                if state is State.IDLE or state is State.RESET:
                    resting += 1
                elif state in _STARTING and worker.reserved is None:
                    starting += 1
                elif state not in _GONE:
                    working += 1
            busy_workers += working
            if working:
                busy += 1
            elif starting:
                initializing += 1
            elif group.idle:
                idle += 1
            elif resting:
                reset += 1
        return PoolStatistics(
            environments=len(self.groups),
            busy=busy,
            idle=idle,
            frozen=0,
            initializing=initializing,
            reset=reset,
            provisioned=0,
            invocations=invocations,
            workers=workers,
            busy_workers=busy_workers,
        )


def pool_for(
    spec: EnvironmentSpec,
    new_id: Callable[[], str],
    keep_alive: KeepAlivePolicy | None = None,
    registry: dict[str, Pool] | None = None,
) -> Pool:
    """The pool of one function version: groups of workers in Managed Instances mode, else the classic one."""
    if spec.per_environment > 0:
        return GroupPool(spec, new_id, keep_alive, registry)
    return Pool(spec, new_id, keep_alive, registry)
