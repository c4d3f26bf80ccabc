"""``RecordingScheduler``: a transparent wrapper that writes down what the core decided, for any driver.

It wraps a ``core.scheduler.Scheduler`` and records each call a driver makes into it (``submit``
and ``handle``) as a normalised step: the placement decision or event, the environment (renamed
e1, e2, ... by first appearance), its lifecycle state before and after, and the effects returned
(names only; times and durations are left out, since they differ between drivers; ``Log`` effects
are left out, being the log lines the same transitions print, which a driver may not keep). Calls that
change nothing (a stale wakeup, the exit of a process already killed) are timing artefacts and
are left out too.
"""

from __future__ import annotations

from typing import Any

from lambdalab.core.async_queue import DeliverRecord, DispatchEvent
from lambdalab.core.effects import CompleteInvocation, Effect, Log, RecordSpan, SpawnRuntime
from lambdalab.core.scheduler import Scheduler

GONE = "gone"


class RecordingScheduler:
    """Delegates everything to ``inner``; records ``submit`` and ``handle``."""

    def __init__(self, inner: Scheduler) -> None:
        self.inner = inner
        self.steps: list[tuple[Any, ...]] = []
        self._labels: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, function: str, version: str, invocation: Any, at: float) -> Any:
        effects, throttled = self.inner.submit(function, version, invocation, at)
        if throttled is not None:
            self.steps.append(("submit", "throttle", throttled.reason))
            return effects, throttled
        env = effects[0].environment_id if effects else ""
        after = self._state(env)
        self.steps.append(("submit", self._decision(effects, after), self._label(env), after, self._names(effects)))
        return effects, throttled

    def handle(self, event: Any) -> list[Effect]:
        env = event.environment_id
        before = self._state(env)
        effects = self.inner.handle(event)
        after = self._state(env)
        if effects or before != after:
            self.steps.append((type(event).__name__, self._label(env), before, after, self._names(effects)))
        return effects

    # -- normalising ------------------------------------------------------------------------------
    def _state(self, env: str) -> str:
        pool = self.inner.registry.get(env)
        environment = pool.environments.get(env) if pool is not None else None
        return environment.state.value if environment is not None else GONE

    def _label(self, env: str) -> str:
        if env not in self._labels:
            self._labels[env] = f"e{len(self._labels) + 1}"
        return self._labels[env]

    def _decision(self, effects: list[Effect], after: str) -> str:
        spawn = next((e for e in effects if isinstance(e, SpawnRuntime)), None)
        if spawn is None:
            pool = self.inner.registry[effects[0].environment_id]
            return "warm_provisioned" if pool.environments[effects[0].environment_id].provisioned else "warm"
        return "cold" if spawn.incarnation == 1 else "restart"

    def _names(self, effects: list[Effect]) -> tuple[str, ...]:
        return tuple(self._name(e) for e in effects if not isinstance(e, Log))

    def _name(self, effect: Effect) -> str:
        if isinstance(effect, RecordSpan):
            return f"Span:{effect.span.phase}"
        if isinstance(effect, CompleteInvocation):
            record = effect.record
            return f"Complete:{record.status.value}:{'cold' if record.cold else 'warm'}:{record.error_type}"
        if isinstance(effect, SpawnRuntime):
            return f"Spawn:{effect.phase}:{effect.init_type}"
        if isinstance(effect, (DispatchEvent, DeliverRecord)):
            return type(effect).__name__
        label = self._label(effect.environment_id) if effect.environment_id in self._labels else "?"
        return f"{type(effect).__name__}:{label}"
