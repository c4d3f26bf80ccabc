"""Pool: the environments of one function version and the routing of its invocations.

Owns which environment serves an invocation (through ``placement.choose``), what an environment
does when it becomes idle (serve the invocation reserved for it, retire, or rest frozen until its
keep-alive ends), provisioned environments, and retrying a failed init inside the invoke. Drops
events from processes that are no longer current. Limits are the scheduler's call: the pool is
told whether the invocation is over a limit and whether it may scale. Pure: events in, effects out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lambdalab.core.effects import CompleteInvocation, Effect, ScheduleWakeup
from lambdalab.core.events import (
    Event,
    ExtensionExited,
    Invocation,
    InvocationAssigned,
    ProcessExited,
    ProcessStarted,
    RestoreRequested,
    ShutdownRequested,
    StartRequested,
    WakeupDue,
)
from lambdalab.core.keepalive import FixedKeepAlive, KeepAlivePolicy
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State
from lambdalab.core.placement import WARM_CHOICES, Placement, choose
from lambdalab.core.records import InitPhase


@dataclasses.dataclass(frozen=True, slots=True)
class PoolStatistics:
    """A snapshot of environments, cheap enough to poll ten times a second."""

    environments: int
    busy: int
    idle: int
    frozen: int
    initializing: int
    reset: int
    provisioned: int
    invocations: int
    workers: int = 0  # Managed Instances: the groups' worker processes (classic: 0)
    busy_workers: int = 0  # ...and those serving an invocation (or still running one that timed out)


class Pool:
    """Routes invocations of one function version to its environments."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        new_id: Callable[[], str],
        keep_alive: KeepAlivePolicy | None = None,
        registry: dict[str, Pool] | None = None,
    ) -> None:
        self.spec = spec
        self._new_id = new_id
        self.keep_alive: KeepAlivePolicy = keep_alive or FixedKeepAlive()
        self.registry = registry if registry is not None else {}
        self.environments: dict[str, Environment] = {}
        # insertion-ordered dicts: the most recently used is last (popitem), removal is O(1)
        self._idle: dict[str, Environment] = {}
        self._idle_provisioned: dict[str, Environment] = {}
        self._reset: dict[str, Environment] = {}
        self._reset_provisioned: dict[str, Environment] = {}
        self.retiring = False
        self.in_flight = 0
        self.provisioned_target = 0
        if spec.warm_choice not in WARM_CHOICES:
            raise ValueError(f"unknown warm_choice {spec.warm_choice!r}; expected one of {WARM_CHOICES}")
        self._newest_first = spec.warm_choice == "newest"
        self._born: dict[str, int] = {}  # environment -> creation order (for warm_choice "newest")
        self._births = 0
        self._last_end: float | None = None
        self.prewarm_key = f"prewarm:{spec.function}:{spec.version}:{id(self):x}"
        # SnapStart: "none" | "taking" | "ready" | "failed"; with "ready", new environments are restored
        self.snapshot = "none"
        self.template: Environment | None = None
        # tenant isolation: the four lists above are per tenant (``_select`` makes one tenant's the current ones)
        self._tenancy = spec.tenancy
        self._tenants: dict[str | None, tuple[dict[str, Environment], ...]] = {}

    # -- invocations ----------------------------------------------------------------------------
    def decide(
        self, over_limit: str | None, can_scale: bool, tenant: str | None = None, at: float = 0.0
    ) -> tuple[Placement, str | None]:
        """Where the next invocation would go (see ``placement``), without placing it. With tenant isolation only
        ``tenant``'s environments count; ``at`` is for pools whose scaling depends on the time (``core/groups.py``)."""
        if self._tenancy:
            self._select(tenant)
        return choose(
            idle_provisioned=len(self._idle_provisioned),
            reset_provisioned=len(self._reset_provisioned),
            idle=len(self._idle),
            reset=len(self._reset),
            over_limit=over_limit,
            can_scale=can_scale,
        )

    def place(self, decision: Placement, invocation: Invocation, at: float) -> list[Effect]:
        """Start ``invocation`` where ``decide`` said (not THROTTLE)."""
        if self._tenancy:
            self._select(invocation.tenant_id)
        if self.in_flight == 0 and self._last_end is not None:
            self.keep_alive.observe_idle(at - self._last_end)
        self.in_flight += 1
        if decision is Placement.WARM or decision is Placement.WARM_PROVISIONED:
            idle = self._idle_provisioned if decision is Placement.WARM_PROVISIONED else self._idle
            if self._newest_first:
                environment = idle.pop(max(idle, key=self._born.__getitem__))
            else:
                _, environment = idle.popitem()  # the most recently used
            environment.expires_at = None
            return environment.handle(InvocationAssigned(environment.id, environment.incarnation, at, invocation))
        if decision is Placement.RESTART_PROVISIONED:
            _, environment = self._reset_provisioned.popitem()
        elif decision is Placement.RESTART:
            _, environment = self._reset.popitem()
        elif decision is Placement.COLD:
            environment = self._create(provisioned=False)
            environment.tenant = invocation.tenant_id
        else:
            raise ValueError(f"cannot place an invocation on decision {decision}")
        environment.reserved = invocation
        if self.snapshot == "ready":  # a SnapStart version: restore from the snapshot instead of an init
            return environment.handle(RestoreRequested(environment.id, environment.incarnation, at))
        phase: InitPhase = "init" if decision is Placement.COLD else "invoke"
        return environment.handle(StartRequested(environment.id, environment.incarnation, at, phase))

    def submit(self, invocation: Invocation, at: float) -> list[Effect]:
        """Place with no limits (tests and simple drivers)."""
        decision, _ = self.decide(None, True, invocation.tenant_id, at)
        return self.place(decision, invocation, at)

    # -- scaling ahead of invocations (Managed Instances only: core/groups.py) --------------------
    def prestart(self, at: float) -> list[Effect]:
        """Environments started at deploy or publish, outside any invocation: none in the classic model."""
        return []

    def on_throttle(self, at: float, can_spawn: bool) -> list[Effect]:
        """The invocation just decided was throttled: nothing to start in the classic model."""
        return []

    def after_place(self, at: float, can_spawn: bool) -> list[Effect]:
        """The invocation just placed: nothing more to start in the classic model."""
        return []

    # -- provisioned concurrency ----------------------------------------------------------------
    def provision(self, count: int, at: float) -> list[Effect]:
        """Keep ``count`` environments initialised ahead of traffic (started now, at configuration)."""
        self.provisioned_target = count
        current = [e for e in self.environments.values() if e.provisioned and not e.retiring]
        out: list[Effect] = []
        for _ in range(count - len(current)):
            environment = self._create(provisioned=True)
            out += environment.handle(StartRequested(environment.id, environment.incarnation, at, "init"))
        for environment in sorted(current, key=lambda e: e.state is not State.IDLE)[: max(0, len(current) - count)]:
            environment.retiring = True
            if environment.state in (State.IDLE, State.RESET):
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
        return out

    # -- SnapStart ----------------------------------------------------------------------------------
    def take_snapshot(self, at: float) -> list[Effect]:
        """Publish a SnapStart version: init runs once in a template, whose snapshot new environments restore."""
        if self.snapshot == "taking" or self.snapshot == "ready":
            return []
        template = self._create(provisioned=False)
        template.template = True
        template.init_type = "snap-start"
        self.template = template
        self.snapshot = "taking"
        return template.handle(StartRequested(template.id, template.incarnation, at, "init"))

    def _create(self, *, provisioned: bool) -> Environment:
        environment = Environment(self._new_id(), self.spec)
        if provisioned:
            environment.provisioned = True
            environment.init_type = "provisioned-concurrency"
        self.environments[environment.id] = environment
        self.registry[environment.id] = self
        if self._newest_first:
            self._births += 1
            self._born[environment.id] = self._births
        return environment

    # -- events -----------------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Apply a driver event; stale events from replaced processes are dropped."""
        if type(event) is WakeupDue:
            return self._wake(event)
        environment = self.current(event)
        if environment is None:
            return []
        if self._tenancy:
            self._select(environment.tenant)
        listed = environment.state is State.IDLE or environment.state is State.RESET  # only those are listed
        out = environment.handle(event)  # raises on an illegal event, before any routing changes
        if listed:
            self._unlist(environment)
        self._settle(environment, event.at, out)
        return out

    def current(self, event: Event) -> Environment | None:
        """The environment a driver event is for, or None when the event is stale: from a process that is no longer
        the environment's (another incarnation, or the one killed into a reset), or a start it was shut down during."""
        environment = self.environments.get(event.environment_id)
        if environment is None or event.incarnation != environment.incarnation:
            return None
        if environment.state is State.RESET and isinstance(event, (ProcessExited, ExtensionExited)):
            return None  # the process we killed has now gone
        if type(event) is ProcessStarted and environment.state is not State.STARTING:
            return None  # it was shut down while starting; its exit follows
        return environment

    def _unlist(self, environment: Environment) -> None:
        key = environment.id
        for bucket in (self._idle, self._idle_provisioned, self._reset, self._reset_provisioned):
            bucket.pop(key, None)

    def _select(self, tenant: str | None) -> None:
        """Tenant isolation: make ``tenant``'s idle and reset lists the current ones."""
        lists = self._tenants.get(tenant)
        if lists is None:
            lists = self._tenants[tenant] = ({}, {}, {}, {})
        self._idle, self._idle_provisioned, self._reset, self._reset_provisioned = lists

    def _wake(self, event: WakeupDue) -> list[Effect]:
        at = event.at
        if event.environment_id == self.prewarm_key:  # the pre-warm window of the hybrid policy ended
            if self._tenancy:
                return []  # a pre-warmed environment would have no tenant: none could take it
            if self.retiring or self._idle or self.in_flight:
                return []
            new = self._create(provisioned=False)
            return new.handle(StartRequested(new.id, new.incarnation, at, "init"))
        environment = self.environments.get(event.environment_id)
        if (
            environment is None
            or environment.state is not State.IDLE
            or environment.expires_at is None
            or environment.expires_at > at + 1e-9
        ):
            return []
        return self.handle(ShutdownRequested(environment.id, environment.incarnation, at))

    def retire(self, at: float) -> list[Effect]:
        """New code was deployed: idle environments go now, busy ones after their invocation."""
        self.retiring = True
        out: list[Effect] = []
        for environment in list(self.environments.values()):
            environment.retiring = True
            if environment.state in (State.IDLE, State.RESET, State.SNAPSHOTTED):
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
        return out

    def shutdown(self, at: float, *, idle_only: bool = False) -> list[Effect]:
        """End environments now (all, or only the idle ones); waiting invocations end with ``Sandbox.Failure``."""
        out: list[Effect] = []
        for environment in list(self.environments.values()):
            if idle_only and environment.state not in (State.IDLE, State.RESET):
                continue
            if not idle_only:
                environment.retiring = True
            if environment.state not in (State.SHUTTING_DOWN, State.TERMINATED, State.DRAINING):
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
        return out

    def statistics(self) -> PoolStatistics:
        counts = dict.fromkeys(State, 0)
        frozen = invocations = provisioned = 0
        for environment in self.environments.values():
            if environment.template:
                continue  # a SnapStart template serves no invocation
            counts[environment.state] += 1
            frozen += environment.is_frozen
            invocations += environment.invocations
            provisioned += environment.provisioned
        return PoolStatistics(
            environments=sum(counts.values()) - counts[State.TERMINATED],
            busy=counts[State.INVOKING] + counts[State.FINISHING] + counts[State.POST_RUNTIME],
            idle=counts[State.IDLE],
            frozen=frozen,
            initializing=counts[State.STARTING]
            + counts[State.INITIALIZING]
            + counts[State.EXTENSIONS_INIT]
            + counts[State.RESTORING],
            reset=counts[State.RESET],
            provisioned=provisioned,
            invocations=invocations,
        )

    # -- after an event -----------------------------------------------------------------------
    def _settle(self, environment: Environment, at: float, out: list[Effect]) -> None:
        """Decide what a newly idle, reset or terminated environment does."""
        for effect in out:
            if type(effect) is CompleteInvocation:
                self.in_flight -= 1
                self._last_end = at
        state = environment.state
        if environment.template:
            self._settle_template(environment, at, out)
        elif state is State.IDLE:
            self._after_idle(environment, at, out)
        elif state is State.RESET:
            if environment.reserved is not None:  # init failed: retry it inside the invoke
                out += environment.handle(StartRequested(environment.id, environment.incarnation, at, "invoke"))
            elif environment.retiring:
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
            else:
                (self._reset_provisioned if environment.provisioned else self._reset)[environment.id] = environment
        elif state is State.TERMINATED:
            del self.environments[environment.id]
            self.registry.pop(environment.id, None)
            self._born.pop(environment.id, None)

    def _settle_template(self, template: Environment, at: float, out: list[Effect]) -> None:
        """The template of a SnapStart version: its snapshot is ready, or lost."""
        state = template.state
        if state is State.SNAPSHOTTED:
            self.snapshot = "ready"
            if template.retiring:
                out += self.handle(ShutdownRequested(template.id, template.incarnation, at))
        elif state is State.RESET or state is State.IDLE:  # failed, or a runtime that never asked for restore/next
            self.snapshot = "failed"
            template.retiring = True
            out += self.handle(ShutdownRequested(template.id, template.incarnation, at))
        elif state is State.TERMINATED:
            if self.snapshot != "failed":
                self.snapshot = "none"
            self.template = None
            del self.environments[template.id]
            self.registry.pop(template.id, None)
            self._born.pop(template.id, None)

    def _after_idle(self, environment: Environment, at: float, out: list[Effect]) -> None:
        invocation = environment.reserved
        if invocation is not None:  # the invocation that started this environment
            environment.reserved = None
            out += environment.handle(InvocationAssigned(environment.id, environment.incarnation, at, invocation))
            return
        out += environment.initialised_ahead(at)
        if environment.retiring:
            out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
            return
        if environment.provisioned:
            out += environment.park(at)
            self._idle_provisioned[environment.id] = environment
            return
        keep_alive = self.keep_alive
        if type(keep_alive) is FixedKeepAlive:  # a direct call when compiled (the protocol's is a generic one)
            windows = keep_alive.windows()
        else:
            windows = keep_alive.windows()
        unload = windows.prewarm_s > 0 and environment.invocations > 0  # a pre-warmed one waits its window
        if windows.keep_alive_s <= 0 or unload:
            out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
            if unload and not self._idle:
                out.append(ScheduleWakeup(self.prewarm_key, at + windows.prewarm_s))
            return
        out += environment.park(at)
        environment.expires_at = at + windows.keep_alive_s
        out.append(ScheduleWakeup(environment.id, environment.expires_at))
        self._idle[environment.id] = environment
