"""Lambda Managed Instances: environments that serve several invocations at once.

In this mode (``EnvironmentSpec.per_environment`` = N > 0) one user-visible environment is a *group* of N
workers. Each worker is a core ``Environment`` of its own (its own runtime process, Runtime API exchange and
lifecycle) whose ``group`` is the group's id and ``worker`` its number, so every record and span of a worker
carries ``environment_id=group`` and ``worker=k``; as Lambda's Python runtime does it, each worker process
serves one invocation at a time. Lambda "does not scale when invocations arrive and does not support cold starts":
environments are started ahead, outside any invocation. Rules, kept here and only here:

1. Pre-start: when the version is deployed (or published), ``min_environments`` groups start at once
   (``prestart``; Lambda starts three before the version is ACTIVE), every worker with
   ``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``. No invocation waits on them: they are ready or not.
   Every worker runs its own init; the environment's INIT is logged once, by worker 0 (``core/lifecycle.py``).
2. Routing fills the busiest group's idle workers first (``WARM``; busy = workers serving an invocation), else
   re-initialises a worker whose process ended (``RESTART``: inside the invoke, as a reset classic environment;
   the path of a crash or a failed init). An invocation never waits for a new environment: with no idle worker it
   is throttled (``TooManyRequestsException``, 429): ``MANAGED_INSTANCES_CAPACITY_REASON`` when ``max_environments``
   groups are live, else ``MANAGED_INSTANCES_SCALING_REASON``.
3. Scaling is asynchronous: a throttle for want of an idle worker, or a placement that takes the last idle one
   (saturation), starts one new group in the background (the busy worker is lambdalab's stand-in for CPU), if none
   is starting already, ``max_environments`` allows it, and the groups would number at most
   ``max(min_environments, 2 x max(1, the groups alive 5 minutes earlier))`` (Lambda: "if your traffic more than
   doubles within 5 minutes, you may see throttles"); before the first group, the groups "alive" are the
   pre-started ones. Its workers serve later invocations.
4. Nothing is frozen. A timeout fails the invocation and leaves its worker OVERRUN, code still running, until
   the worker asks for more (``core/lifecycle.py``): an overrunning worker is busy.
5. Scale-in: a group whose workers are all idle (or without a process) for the keep-alive shuts down whole, as long
   as ``min_environments`` groups stay; else its keep-alive starts again.
6. Tenant isolation: groups belong to a tenant; none is pre-started, and a tenant's first group starts inside its
   first invocation (``COLD``: the invocation goes to the first worker ready), as tenant isolation creates an
   environment for a new tenant; later ones scale as in rule 3.

The reason names are lambdalab's: Lambda documents the 429 of a Managed Instances function, but botocore's
``ThrottleReason`` enum has no value for it. Pure: events in, effects out; ``at`` is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from lambdalab.core.effects import CompleteInvocation, Effect, ScheduleWakeup
from lambdalab.core.events import (
    Event,
    Invocation,
    InvocationAssigned,
    ShutdownRequested,
    StartRequested,
    WakeupDue,
)
from lambdalab.core.group_history import GroupHistory
from lambdalab.core.keepalive import KeepAlivePolicy
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State
from lambdalab.core.limits import SCALING_REASON
from lambdalab.core.placement import Placement
from lambdalab.core.pool import Pool, PoolStatistics

# lambdalab's throttle reasons for Managed Instances (Lambda documents the 429, not a Reason for it): every worker
# busy and no environment may be added (max_environments), or none may be added yet (rule 3)
MANAGED_INSTANCES_CAPACITY_REASON: Final = "ExecutionEnvironmentConcurrencyLimitExceeded"
MANAGED_INSTANCES_SCALING_REASON: Final = "ExecutionEnvironmentScalingRateExceeded"
MANAGED_INSTANCES_INIT_TYPE: Final = "lambda-managed-instances"  # AWS_LAMBDA_INITIALIZATION_TYPE of every worker
_STARTING: Final = (State.STARTING, State.INITIALIZING, State.EXTENSIONS_INIT)
_GONE: Final = (State.SHUTTING_DOWN, State.TERMINATED, State.DRAINING)


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
        self.closing = False  # shut down (keep-alive, scale-in): its workers are going

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
        self.history = GroupHistory(self.least)
        self.warming: set[str] = set()  # groups started ahead (rules 1, 3) whose first worker is not ready yet
        self._chosen: Group | None = None  # the group ``decide`` picked, for ``place``
        self._wanted = False  # ``decide`` found no idle worker: a throttle asks for a new group (rule 3)
        self._tenant: str | None = None  # the tenant ``decide`` routed for

    @property
    def least(self) -> int:
        """The groups kept (rule 1, rule 5): ``min_environments``, at most ``max_environments``; none per tenant."""
        if self.spec.tenancy:
            return 0
        most = self.spec.max_environments
        least = self.spec.min_environments
        return least if most is None else min(least, most)

    def live_groups(self) -> int:
        """Groups not shutting down."""
        count = 0
        for group in self.groups.values():
            if not group.closing:
                count += 1
        return count

    # -- starting groups ahead (rules 1 and 3) ----------------------------------------------------
    def prestart(self, at: float) -> list[Effect]:
        """Start groups until ``least`` are live (deploy, publish, a higher minimum), outside any invocation."""
        out: list[Effect] = []
        for _ in range(self.least - self.live_groups()):
            out += self._start_group(None, at)
        return out

    def _start_group(self, tenant: str | None, at: float) -> list[Effect]:
        group = self._new_group(tenant, at)
        self.warming.add(group.id)
        out: list[Effect] = []
        for worker in group.workers:
            out += worker.handle(StartRequested(worker.id, worker.incarnation, at, "init"))
            group.starting[worker.id] = worker
        return out

    def _scale_out(self, tenant: str | None, at: float) -> list[Effect]:
        """One more group in the background, if rule 3 allows it now."""
        if self.warming or self.retiring:
            return []
        alive = len(self.groups)  # those shutting down still run: they count against the cap and the rule
        most = self.spec.max_environments
        if (most is not None and alive >= most) or alive + 1 > self.history.allowed(at, self.least):
            return []
        return self._start_group(tenant, at)

    def on_throttle(self, at: float, can_spawn: bool) -> list[Effect]:
        """The invocation ``decide`` routed was throttled: a new group if it found no idle worker (rule 3)."""
        if not self._wanted or not can_spawn:
            return []
        self._wanted = False
        return self._scale_out(self._tenant, at)

    def after_place(self, at: float, can_spawn: bool) -> list[Effect]:
        """The invocation just placed took the last idle worker (saturation): a new group (rule 3)."""
        if not can_spawn:
            return []
        tenancy, tenant = self.spec.tenancy, self._tenant
        for group in self.groups.values():
            if group.idle and not (tenancy and group.tenant != tenant):
                return []
        return self._scale_out(tenant, at)

    # -- invocations ----------------------------------------------------------------------------
    def decide(
        self, over_limit: str | None, can_scale: bool, tenant: str | None = None, at: float = 0.0
    ) -> tuple[Placement, str | None]:
        """Where the next invocation would go (rule 2), without placing it."""
        self._chosen = None
        self._wanted = False
        self._tenant = tenant
        if over_limit is not None:
            return Placement.THROTTLE, over_limit
        best: Group | None = None
        restart: Group | None = None
        best_busy = -1
        owned = False
        tenancy = self.spec.tenancy
        for group in self.groups.values():
            if group.closing or (tenancy and group.tenant != tenant):
                continue
            owned = True
            if group.idle:
                busy = group.live - group.free
                if busy > best_busy:
                    best, best_busy = group, busy
            elif group.reset and restart is None:
                restart = group
        if best is not None:
            self._chosen = best
            return Placement.WARM, None
        if restart is not None:
            self._chosen = restart
            return Placement.RESTART, None
        most = self.spec.max_environments
        capped = most is not None and len(self.groups) >= most
        if tenancy and not owned:  # a tenant's first environment starts inside its invocation (rule 6)
            if not can_scale:
                return Placement.THROTTLE, SCALING_REASON
            if capped:
                return Placement.THROTTLE, MANAGED_INSTANCES_CAPACITY_REASON
            return Placement.COLD, None
        self._wanted = True
        if capped:
            return Placement.THROTTLE, MANAGED_INSTANCES_CAPACITY_REASON
        return Placement.THROTTLE, MANAGED_INSTANCES_SCALING_REASON

    def place(self, decision: Placement, invocation: Invocation, at: float) -> list[Effect]:
        """Start ``invocation`` where ``decide`` just said (not THROTTLE)."""
        group = self._chosen
        self._chosen = None
        self._wanted = False
        if decision is Placement.COLD:
            group = self._new_group(invocation.tenant_id, at)
            self.warming.add(group.id)
        elif group is None or (decision is not Placement.WARM and decision is not Placement.RESTART):
            raise ValueError(f"cannot place an invocation on decision {decision} without deciding first")
        self.in_flight += 1
        group.expires_at = None
        if decision is Placement.WARM:
            _, worker = group.idle.popitem()
            return worker.handle(InvocationAssigned(worker.id, worker.incarnation, at, invocation))
        if decision is Placement.RESTART:
            _, worker = group.reset.popitem()
            worker.reserved = invocation
            return worker.handle(StartRequested(worker.id, worker.incarnation, at, "invoke"))
        out: list[Effect] = []  # COLD (a tenant's first): every worker starts; the invocation waits on the first
        group.workers[0].reserved = invocation
        for worker in group.workers:
            out += worker.handle(StartRequested(worker.id, worker.incarnation, at, "init"))
            if worker.reserved is None:
                group.starting[worker.id] = worker
        return out

    def _new_group(self, tenant: str | None, at: float) -> Group:
        group = Group(self._new_id(), tenant)
        for k in range(self.per_group):
            worker = Environment(self._new_id(), self.spec)
            worker.group, worker.worker, worker.tenant = group.id, k, tenant
            worker.init_type = MANAGED_INSTANCES_INIT_TYPE
            group.workers.append(worker)
            self.environments[worker.id] = worker
            self.registry[worker.id] = self
        group.live = self.per_group
        self.groups[group.id] = group
        self.registry[group.id] = self  # its keep-alive wakeup is keyed by the group's id
        self.history.note(at, len(self.groups))
        return group

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply a driver event to a worker (stale events from replaced processes are dropped), or a wakeup."""
        if type(event) is WakeupDue:
            return self._wake(event)
        worker = self.current(event)
        if worker is None:
            return []
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
                self.warming.discard(group.id)
                self.history.note(at, len(self.groups))

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
        self.warming.discard(group.id)  # a scaled-out group serves from its first ready worker on
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
        if keep_alive_s <= 0 and self.live_groups() > self.least:
            out += self._shut_group(group, at)
            return
        group.expires_at = at + max(keep_alive_s, 1.0)
        out.append(ScheduleWakeup(group.id, group.expires_at))

    def _wake(self, event: WakeupDue) -> list[Effect]:
        group = self.groups.get(event.environment_id)
        if group is None or group.closing or group.expires_at is None or group.expires_at > event.at + 1e-9:
            return []
        if self.live_groups() <= self.least:  # the minimum stays (rule 5): look again after another keep-alive
            group.expires_at = event.at + max(self.keep_alive.windows().keep_alive_s, 1.0)
            return [ScheduleWakeup(group.id, group.expires_at)]
        return self._shut_group(group, event.at)

    def _shut_group(self, group: Group, at: float) -> list[Effect]:
        group.expires_at = None
        group.closing = True
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
