"""The control plane's timers, on the engine's loop: each environment's phase deadline and each pool's keep-alive
wake-up.

One timer an environment (``ArmDeadline``/``DisarmDeadline``) and one a pool's wake-up key (``ScheduleWakeup``),
moved lazily: a timer that fires early re-arms itself for the time now due, so a warm invoke allocates none. A
deadline that passes is the core's ``DeadlineExceeded``; a wake-up that is due is handed to ``wake`` (the control
plane sends the core ``WakeupDue``). In debug mode (``engine/debug.py``) an attached client holds both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lambdalab.core.effects import ArmDeadline, DisarmDeadline, ScheduleWakeup
from lambdalab.core.events import DeadlineExceeded, Event
from lambdalab.core.lifecycle import State
from lambdalab.engine import debug
from lambdalab.engine.environment import EngineEnvironment


class Timers:
    """Deadlines and wake-ups of one Lab's environments."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        offset: float,
        environments: dict[str, EngineEnvironment],
        *,
        init_timeout_s: float,
        dispatch: Callable[[Event], None],
        wake: Callable[[str], None],
        debugging: Callable[[], bool],
        closed: Callable[[], bool],
    ) -> None:
        """``offset``: epoch seconds minus loop time (the engine clock); ``wake(key)``: a pool's wake-up is due;
        ``debugging()``: whether any function is debugged; ``closed()``: whether the Lab has closed."""
        self.loop = loop
        self.offset = offset
        self.environments = environments
        self.init_timeout_s = init_timeout_s
        self.dispatch = dispatch
        self.wake = wake
        self.debugging = debugging
        self.closed = closed
        # a pool's wake-up key -> its timer, and the loop time it is due (a later one moves it lazily: the
        # timer, firing early, re-arms itself for the due time, so a warm invoke allocates no timer)
        self._wakeups: dict[str, asyncio.TimerHandle] = {}
        self._wake_at: dict[str, float] = {}

    # -- deadlines ------------------------------------------------------------------------------
    def arm(self, effect: ArmDeadline) -> None:
        environment = self.environments[effect.environment_id]
        when = effect.at - self.offset
        environment.deadline_at = when
        environment.deadline_incarnation = effect.incarnation
        timer = environment.deadline
        if timer is not None and timer.when() <= when:
            return  # it fires first and re-arms itself for ``when`` (a warm invoke allocates no timer)
        if timer is not None:
            timer.cancel()
        environment.deadline = self.loop.call_at(when, self._on_deadline, environment)

    def _on_deadline(self, environment: EngineEnvironment) -> None:
        environment.deadline = None
        when = environment.deadline_at
        if when is None:
            return  # disarmed since
        if when > self.loop.time():  # armed again, for later, since this timer was set
            environment.deadline = self.loop.call_at(when, self._on_deadline, environment)
            return
        if environment.debugger is not None and self._debugger_holds(environment, when):
            return
        environment.deadline_at = None
        incarnation = environment.deadline_incarnation
        memory = environment.max_memory_mb(incarnation)
        self.dispatch(DeadlineExceeded(environment.id, incarnation, self.loop.time() + self.offset, memory))

    def _debugger_holds(self, environment: EngineEnvironment, when: float) -> bool:
        """Debug mode: while a client is attached the deadline waits (looked at again every ``debug.POLL_S``);
        once the client has gone, the phase gets a whole timeout again from then, and fires as usual after it."""
        assert environment.debugger is not None
        now = self.loop.time()
        if environment.debugger.attached:
            environment.debug_held = when
            environment.deadline = self.loop.call_at(now + debug.POLL_S, self._on_deadline, environment)
            return True
        if environment.debug_held != when:  # no client held this deadline: it fires
            return False
        environment.debug_held = None
        core = environment.pool.environments.get(environment.id)
        limit = environment.config.timeout_s
        if core is not None and core.state in (State.STARTING, State.INITIALIZING):
            limit = max(limit, self.init_timeout_s)
        environment.deadline_at = now + limit
        environment.deadline = self.loop.call_at(now + limit, self._on_deadline, environment)
        return True

    def disarm(self, effect: DisarmDeadline) -> None:
        self.environments[effect.environment_id].deadline_at = None  # its timer, if it fires, does nothing

    # -- wake-ups -------------------------------------------------------------------------------
    def schedule_wakeup(self, effect: ScheduleWakeup) -> None:
        key = effect.environment_id
        when = effect.at - self.offset
        self._wake_at[key] = when  # the last one asked for replaces any earlier
        old = self._wakeups.get(key)
        if old is not None:
            if old.when() <= when:
                return  # it fires first and re-arms itself for ``when``
            old.cancel()
        self._wakeups[key] = self.loop.call_at(when, self._on_wakeup, key)

    def _on_wakeup(self, key: str) -> None:
        self._wakeups.pop(key, None)
        when = self._wake_at.get(key)
        if when is not None and when > self.loop.time() and not self.closed():  # moved later since it was set
            self._wakeups[key] = self.loop.call_at(when, self._on_wakeup, key)
            return
        self._wake_at.pop(key, None)
        if self.debugging() and self._debugger_keeps(key):
            return
        if not self.closed():
            self.wake(key)

    def _debugger_keeps(self, key: str) -> bool:
        """Debug mode: keep-alive does not reap an environment while a client is attached; it looks again later."""
        environment = self.environments.get(key)
        if environment is None or environment.debugger is None or self.closed():
            return False
        if not environment.debugger.attached:
            return False
        when = self.loop.time() + debug.POLL_S
        self._wake_at[key] = when
        self._wakeups[key] = self.loop.call_at(when, self._on_wakeup, key)
        return True

    def close(self) -> None:
        """No more wake-ups."""
        for handle in self._wakeups.values():
            handle.cancel()
        self._wakeups.clear()
        self._wake_at.clear()
