"""The simulator's clock: a heap of timed actions ordered by (time, priority, sequence).

This is SimPy's rule (``simpy/core.py``): ties in time go to the lower priority, then to the
action scheduled first, so a run never depends on hash order or on luck. The kernel owns the
virtual clock and nothing else: it knows no events, effects or environments. ``now`` only
moves forward, and only here.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

# Priorities for simultaneous actions (lower runs first).
PROCESS: Final = 0   # what a runtime process does: started, posted, asked for /next, exited
DEADLINE: Final = 1  # a timer: a function timeout or init limit (a response at the same instant wins)
ARRIVAL: Final = 2   # a new request (it sees every environment that finished at the same instant)
WAKEUP: Final = 3    # keep-alive expiry, pre-warm, async retries (an arrival at that instant wins)

Action = Callable[[Any], None]


class Kernel:
    """Run ``action(arg)`` at virtual times, in (time, priority, sequence) order."""

    __slots__ = ("_heap", "_sequence", "_stopped", "now", "steps")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, Action, Any]] = []
        self._sequence = 0
        self.steps = 0
        self._stopped = False

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at: float, priority: int, action: Action, arg: Any = None) -> None:
        """Run ``action(arg)`` at ``at`` (never earlier than now)."""
        if at < self.now:
            raise ValueError(f"cannot schedule at {at!r}, before now ({self.now!r})")
        self._sequence = sequence = self._sequence + 1
        heapq.heappush(self._heap, (at, priority, sequence, action, arg))

    def peek(self) -> float:
        """The time of the next action (infinity when there is none)."""
        return self._heap[0][0] if self._heap else float("inf")

    def run(self, until: float = float("inf")) -> None:
        """Run actions up to and including time ``until``, or until ``stop()``; the clock stays at the last one run."""
        heap, pop = self._heap, heapq.heappop
        steps = 0
        while heap and heap[0][0] <= until and not self._stopped:
            at, _, _, action, arg = pop(heap)
            self.now = at
            action(arg)
            steps += 1
        self.steps += steps

    def stop(self) -> None:
        """End ``run`` after the action now running; a stopped kernel runs nothing more."""
        self._stopped = True

    def advance(self, to: float) -> None:
        """Move the clock to ``to`` with nothing run (the end of a run's horizon)."""
        self.now = max(self.now, to)
