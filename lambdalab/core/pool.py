"""Pool: the environments of one function version and the routing of its invocations.

Owns which environment serves an invocation (through ``placement.choose``), what an environment
does when it becomes idle (serve the invocation reserved for it, retire, or rest frozen), and
retrying a failed init inside the invoke. Drops events from processes that are no longer
current. Pure: events and invocations in, effects out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lambdalab.core.effects import Effect
from lambdalab.core.events import (
    Event, Invocation, InvocationAssigned, ProcessExited, ShutdownRequested, StartRequested,
)
from lambdalab.core.lifecycle import Environment, EnvironmentSpec, State
from lambdalab.core.placement import Placement, choose


@dataclasses.dataclass(frozen=True, slots=True)
class PoolStatistics:
    """A snapshot of one version's environments, cheap enough to poll often."""

    environments: int
    busy: int
    idle: int
    frozen: int
    initializing: int
    reset: int
    invocations: int


class Pool:
    """Routes invocations of one function version to its environments."""

    def __init__(self, spec: EnvironmentSpec, new_id: Callable[[], str]) -> None:
        self.spec = spec
        self._new_id = new_id
        self.environments: dict[str, Environment] = {}
        self._idle: list[Environment] = []   # most recently used last
        self._reset: list[Environment] = []
        self.retiring = False

    def submit(self, invocation: Invocation, at: float) -> list[Effect]:
        """Place ``invocation``: a warm start, a re-init of a reset environment, or a cold start."""
        decision = choose(len(self._idle), len(self._reset))
        if decision is Placement.WARM:
            environment = self._idle.pop()
            return environment.handle(InvocationAssigned(environment.id, environment.incarnation, at, invocation))
        if decision is Placement.RESTART:
            environment = self._reset.pop()
            phase = "invoke"
        else:
            environment = Environment(self._new_id(), self.spec)
            self.environments[environment.id] = environment
            phase = "init"
        environment.reserved = invocation
        return environment.handle(StartRequested(environment.id, environment.incarnation, at, phase))

    def handle(self, event: Event) -> list[Effect]:
        """Apply a driver event; stale events from replaced processes are dropped."""
        environment = self.environments.get(event.environment_id)
        if environment is None or event.incarnation != environment.incarnation:
            return []
        if environment.state is State.RESET and isinstance(event, ProcessExited):
            return []  # the process we killed has now gone
        if environment.state is State.IDLE and environment in self._idle:
            self._idle.remove(environment)
        if environment.state is State.RESET and environment in self._reset:
            self._reset.remove(environment)
        out = environment.handle(event)
        self._settle(environment, event.at, out)
        return out

    def retire(self, at: float) -> list[Effect]:
        """New code was deployed: idle environments go now, busy ones after their invocation."""
        self.retiring = True
        out: list[Effect] = []
        for environment in list(self.environments.values()):
            environment.retiring = True
            if environment.state in (State.IDLE, State.RESET):
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
        return out

    def shutdown(self, at: float) -> list[Effect]:
        """End every environment now; waiting invocations end with ``Sandbox.Failure``."""
        out: list[Effect] = []
        for environment in list(self.environments.values()):
            environment.retiring = True
            if environment.state not in (State.SHUTTING_DOWN, State.TERMINATED):
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
        return out

    def statistics(self) -> PoolStatistics:
        counts = dict.fromkeys(State, 0)
        frozen = invocations = 0
        for environment in self.environments.values():
            counts[environment.state] += 1
            frozen += environment.is_frozen
            invocations += environment.invocations
        return PoolStatistics(
            environments=len(self.environments) - counts[State.TERMINATED],
            busy=counts[State.INVOKING] + counts[State.FINISHING],
            idle=counts[State.IDLE], frozen=frozen,
            initializing=counts[State.STARTING] + counts[State.INITIALIZING],
            reset=counts[State.RESET], invocations=invocations,
        )

    def _settle(self, environment: Environment, at: float, out: list[Effect]) -> None:
        """After an event: decide what a newly idle, reset or terminated environment does."""
        state = environment.state
        if state is State.IDLE:
            self._after_idle(environment, at, out)
        elif state is State.RESET:
            if environment.reserved is not None:  # init failed: retry it inside the invoke
                out += environment.handle(StartRequested(environment.id, environment.incarnation, at, "invoke"))
            elif environment.retiring:
                out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
            else:
                self._reset.append(environment)
        elif state is State.TERMINATED:
            del self.environments[environment.id]

    def _after_idle(self, environment: Environment, at: float, out: list[Effect]) -> None:
        invocation = environment.reserved
        if invocation is not None:  # the invocation that started this environment
            environment.reserved = None
            out += environment.handle(InvocationAssigned(environment.id, environment.incarnation, at, invocation))
            return
        if environment.retiring:
            out += self.handle(ShutdownRequested(environment.id, environment.incarnation, at))
            return
        out += environment.park(at)
        self._idle.append(environment)
