"""Scheduler: every function of a Lab, their versions and aliases, and the limits between them.

Owns the account-wide view: which pool (function version) an invocation goes to (qualifiers,
weighted aliases), whether it is throttled (reserved and account concurrency, scaling rate; see
``limits``), and the concurrency each function uses. Placement inside a version is the pool's.
Pure: the driver passes the time and, for weighted aliases, a uniform random number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from lambdalab.core.effects import CompleteInvocation, Effect
from lambdalab.core.events import Event, Invocation
from lambdalab.core.groups import pool_for
from lambdalab.core.keepalive import KeepAlivePolicy
from lambdalab.core.lifecycle import EnvironmentSpec
from lambdalab.core.limits import CAPACITY_REASON, AccountLimits, ScalingBucket, concurrency_throttle
from lambdalab.core.placement import Placement
from lambdalab.core.pool import Pool, PoolStatistics

LATEST = "$LATEST"


@dataclasses.dataclass(frozen=True, slots=True)
class Alias:
    """A name for a version, optionally sending a share of traffic to a second one (a canary)."""

    name: str
    version: str
    weights: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def route(self, u: float) -> str:
        """The version for a uniform draw ``u`` in [0, 1)."""
        edge = 0.0
        for version, weight in sorted(self.weights.items()):
            edge += weight
            if u < edge:
                return version
        return self.version


class FunctionEntry:
    """One function: its versions' pools, aliases, reservation and scaling bucket."""

    def __init__(self, name: str, limits: AccountLimits, at: float) -> None:
        self.name = name
        self.pools: dict[str, Pool] = {}  # version -> current pool
        self.retired: list[Pool] = []  # old $LATEST pools still draining
        self.aliases: dict[str, Alias] = {}
        self.reserved: int | None = None
        self.bucket = ScalingBucket(limits.scale_limit, limits.scale_period_s, at)
        self.in_flight = 0  # on-demand invocations running now
        self.provisioned = 0  # sum of the pools' provisioned targets (see refresh)
        self.throttles = 0
        self.published = 0

    def refresh(self) -> None:
        """Recount ``provisioned`` after a pool's target changed (deploy, provision, publish)."""
        self.provisioned = sum(p.provisioned_target for p in self.pools.values())

    @property
    def usage(self) -> int:
        return self.in_flight + self.provisioned

    def all_pools(self) -> list[Pool]:
        return [*self.pools.values(), *self.retired]


@dataclasses.dataclass(frozen=True, slots=True)
class Throttled:
    """The invocation was not run: ``reason`` is Lambda's ``Reason`` for the 429."""

    reason: str
    function: str
    version: str


class Scheduler:
    """Routes invocations of all functions; holds every pool."""

    def __init__(self, limits: AccountLimits, new_id: Callable[[], str]) -> None:
        self.limits = limits
        self._new_id = new_id
        self.functions: dict[str, FunctionEntry] = {}
        self.registry: dict[str, Pool] = {}  # environment id -> pool
        self._on_demand: dict[str, FunctionEntry] = {}  # request id -> function counted as in flight
        # How many more environment processes the machine can start now; -1: no limit. The engine
        # sets it from its file-descriptor budget; an invocation that would start one when it is 0
        # is throttled (CAPACITY_REASON), never half-placed.
        self.spawn_slots = -1

    # -- configuration ------------------------------------------------------------------------
    def deploy(self, spec: EnvironmentSpec, keep_alive: KeepAlivePolicy, at: float) -> list[Effect]:
        """Register a function's $LATEST, or replace its code: old environments retire."""
        entry = self.functions.get(spec.function)
        if entry is None:
            entry = self.functions[spec.function] = FunctionEntry(spec.function, self.limits, at)
        out: list[Effect] = []
        old = entry.pools.get(LATEST)
        provisioned = old.provisioned_target if old is not None else 0
        if old is not None:
            out += old.retire(at)
            entry.retired.append(old)
        entry.pools[LATEST] = pool_for(spec, self._new_id, keep_alive, self.registry)
        out += entry.pools[LATEST].prestart(at)  # Managed Instances: its environments start now (core/groups.py)
        if provisioned:
            out += entry.pools[LATEST].provision(provisioned, at)
        entry.refresh()
        return out

    def check_reservation(self, function: str, reserved: int | None) -> None:
        """Raise ValueError if ``function`` may not reserve that much (AWS docs, "Configuring reserved concurrency")."""
        if reserved is None:
            return
        others = {name: e.reserved for name, e in self.functions.items() if e.reserved is not None}
        most = self.limits.reservable(others, function)
        if reserved > most:
            raise ValueError(
                f"{reserved} is over the {most} the account can still reserve (account concurrency "
                f"{self.limits.concurrency}, unreserved floor {self.limits.unreserved_floor})"
            )

    def reserve(self, function: str, reserved: int | None) -> None:
        """Set (or clear, with None) a function's reserved concurrency, within what the account allows."""
        self.check_reservation(function, reserved)
        self.entry(function).reserved = reserved

    def set_max_environments(self, function: str, most: int | None) -> None:
        """Managed Instances' ``FunctionScalingConfig.MaxExecutionEnvironments`` changed: the placements of every
        version from now on take it (no redeploy: live environments stay, even above a lower cap)."""
        for pool in self.entry(function).all_pools():
            pool.spec = dataclasses.replace(pool.spec, max_environments=most)

    def set_min_environments(self, function: str, least: int, at: float) -> list[Effect]:
        """Managed Instances' ``FunctionScalingConfig.MinExecutionEnvironments`` changed: the current versions start
        what they lack now; groups above a lower minimum go after their keep-alive (``core/groups.py``)."""
        entry = self.entry(function)
        for pool in entry.all_pools():
            pool.spec = dataclasses.replace(pool.spec, min_environments=least)
        out: list[Effect] = []
        for pool in entry.pools.values():
            out += pool.prestart(at)
        return out

    def prestart(self, function: str, version: str, at: float) -> list[Effect]:
        """Start a version's environments ahead of its invocations (a Managed Instances version just published)."""
        return self.pool(function, version).prestart(at)

    def provision(self, function: str, version: str, count: int, at: float) -> list[Effect]:
        out = self.pool(function, version).provision(count, at)
        self.functions[function].refresh()
        return out

    def publish(self, function: str, spec_for: Callable[[str], EnvironmentSpec], keep_alive: KeepAlivePolicy) -> str:
        """Freeze $LATEST as the next numbered version (its own pool; $LATEST is not disturbed)."""
        entry = self.entry(function)
        entry.published += 1
        version = str(entry.published)
        entry.pools[version] = pool_for(spec_for(version), self._new_id, keep_alive, self.registry)
        return version

    def create_alias(self, function: str, alias: Alias) -> None:
        entry = self.entry(function)
        for version in (alias.version, *alias.weights):
            if version not in entry.pools:
                raise KeyError(f"{function} has no version {version}")
        if sum(alias.weights.values()) >= 1.0 or any(w < 0 for w in alias.weights.values()):
            raise ValueError("additional version weights must be >= 0 and add up to less than 1")
        entry.aliases[alias.name] = alias

    def entry(self, function: str) -> FunctionEntry:
        return self.functions[function]

    def pool(self, function: str, version: str) -> Pool:
        return self.functions[function].pools[version]

    def resolve(self, function: str, qualifier: str | None, u: float = 0.0) -> str:
        """The version a qualifier names ($LATEST, a number, or an alias routed by ``u``)."""
        entry = self.entry(function)
        if qualifier is None or qualifier == LATEST:
            return LATEST
        if qualifier in entry.aliases:
            return entry.aliases[qualifier].route(u)
        if qualifier in entry.pools:
            return qualifier
        raise KeyError(qualifier)

    # -- invocations ----------------------------------------------------------------------------
    def submit(
        self, function: str, version: str, invocation: Invocation, at: float
    ) -> tuple[list[Effect], Throttled | None]:
        """Place an invocation of ``function:version``, or say why it is throttled."""
        entry = self.functions[function]
        pool = entry.pools[version]
        over = concurrency_throttle(
            self.limits, entry.reserved, entry.usage, self._unreserved_usage(), self._total_reserved()
        )
        decision, reason = pool.decide(over, entry.bucket.tokens(at) >= 1.0, invocation.tenant_id, at)
        slots = self.spawn_slots
        group = pool.spec.per_environment  # a Managed Instances environment starts all its workers' processes at once
        needed = 0
        if decision is Placement.COLD or decision is Placement.RESTART or decision is Placement.RESTART_PROVISIONED:
            needed = group if decision is Placement.COLD and group else 1
            if 0 <= slots < needed:
                decision, reason = Placement.THROTTLE, CAPACITY_REASON
        if decision is Placement.THROTTLE:
            entry.throttles += 1
            # Managed Instances scales after a throttle, in the background (core/groups.py)
            out = pool.on_throttle(at, slots < 0 or slots >= group) if group else []
            return self._count(out), Throttled(reason or "", function, version)
        if decision is Placement.COLD:
            entry.bucket.take(at)
        if decision is not Placement.WARM_PROVISIONED and decision is not Placement.RESTART_PROVISIONED:
            entry.in_flight += 1
            self._on_demand[invocation.request_id] = entry
        out = pool.place(decision, invocation, at)
        if group:  # ...and when an invocation takes its last idle worker
            out += pool.after_place(at, slots < 0 or slots - needed >= group)
        return self._count(out), None

    def handle(self, event: Event) -> list[Effect]:
        pool = self.registry.get(event.environment_id)
        if pool is None:
            pool = self._pool_by_key(event.environment_id)
            if pool is None:
                return []
        out = self._count(pool.handle(event))
        if pool.retiring and not pool.environments:  # a replaced $LATEST has drained
            entry = self.functions.get(pool.spec.function)
            if entry is not None and pool in entry.retired:
                entry.retired.remove(pool)
        return out

    def _pool_by_key(self, key: str) -> Pool | None:
        for entry in self.functions.values():
            for pool in entry.all_pools():
                if pool.prewarm_key == key:
                    return pool
        return None

    def _count(self, effects: list[Effect]) -> list[Effect]:
        for effect in effects:
            if type(effect) is CompleteInvocation:
                entry = self._on_demand.pop(effect.invocation.request_id, None)
                if entry is not None:
                    entry.in_flight -= 1
        return effects

    def _unreserved_usage(self) -> int:
        total = 0
        for entry in self.functions.values():  # a loop, not sum(generator): this runs on every submit
            if entry.reserved is None:
                total += entry.usage
        return total

    def _total_reserved(self) -> int:
        total = 0
        for entry in self.functions.values():
            if entry.reserved is not None:
                total += entry.reserved
        return total

    # -- shutting down --------------------------------------------------------------------------
    def shutdown(self, at: float, function: str | None = None, *, idle_only: bool = False) -> list[Effect]:
        """End environments now: of one function or all; only idle ones with ``idle_only``."""
        out: list[Effect] = []
        for name, entry in self.functions.items():
            if function is None or name == function:
                for pool in entry.all_pools():
                    out += pool.shutdown(at, idle_only=idle_only)
        return self._count(out)

    def statistics(self, function: str) -> PoolStatistics:
        stats = [p.statistics() for p in self.entry(function).all_pools()]
        return PoolStatistics(*(sum(getattr(s, f.name) for s in stats) for f in dataclasses.fields(PoolStatistics)))
