"""The simulator's clock: a heap of timed actions ordered by (time, priority, sequence).

This is SimPy's rule (``simpy/core.py``): ties in time go to the lower priority, then to the
action scheduled first, so a run never depends on hash order or on luck. The kernel owns the
virtual clock and nothing else: it knows no events, effects or environments. ``now`` only
moves forward, and only here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

# Priorities for simultaneous actions (lower runs first).
PROCESS: Final = 0  # what a runtime process does: started, posted, asked for /next, exited
DEADLINE: Final = 1  # a timer: a function timeout or init limit (a response at the same instant wins)
ARRIVAL: Final = 2  # a new request (it sees every environment that finished at the same instant)
WAKEUP: Final = 3  # keep-alive expiry, pre-warm, async retries (an arrival at that instant wins)

Action = Callable[[Any], None]


class _Entry:
    """One scheduled action. Ordered by ``(at, priority, sequence)``, compared field by field, not as a tuple."""

    __slots__ = ("at", "priority", "sequence", "action", "arg")

    def __init__(self, at: float, priority: int, sequence: int, action: Action, arg: Any) -> None:
        self.at = at
        self.priority = priority
        self.sequence = sequence
        self.action = action
        self.arg = arg


def _before(a: _Entry, b: _Entry) -> bool:
    if a.at != b.at:
        return a.at < b.at
    if a.priority != b.priority:
        return a.priority < b.priority
    return a.sequence < b.sequence


class Kernel:
    """Run ``action(arg)`` at virtual times, in (time, priority, sequence) order.

    The heap is a binary min-heap of ``_Entry`` kept here (``heapq``'s algorithm): compiled with
    the rest of the simulator, its comparisons are two float/int tests instead of tuple
    comparisons through the interpreter, which the heap does a few times per simulated event.
    """

    __slots__ = ("_heap", "_sequence", "_stopped", "now", "steps")

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[_Entry] = []
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
        heap = self._heap
        entry = _Entry(at, priority, sequence, action, arg)
        heap.append(entry)
        i = len(heap) - 1  # sift up
        while i > 0:
            parent = (i - 1) >> 1
            above = heap[parent]
            if not _before(entry, above):
                break
            heap[i] = above
            i = parent
        heap[i] = entry

    def _pop(self) -> _Entry:
        heap = self._heap
        last = heap.pop()
        if not heap:
            return last
        top = heap[0]
        n = len(heap)
        i = 0  # sift ``last`` down from the root
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            right = child + 1
            if right < n and _before(heap[right], heap[child]):
                child = right
            if not _before(heap[child], last):
                break
            heap[i] = heap[child]
            i = child
        heap[i] = last
        return top

    def peek(self) -> float:
        """The time of the next action (infinity when there is none)."""
        return self._heap[0].at if self._heap else float("inf")

    def run(self, until: float = float("inf")) -> None:
        """Run actions up to and including time ``until``, or until ``stop()``; the clock stays at the last one run."""
        heap = self._heap
        steps = 0
        while heap and heap[0].at <= until and not self._stopped:
            entry = self._pop()
            self.now = entry.at
            entry.action(entry.arg)
            steps += 1
        self.steps += steps

    def stop(self) -> None:
        """End ``run`` after the action now running; a stopped kernel runs nothing more."""
        self._stopped = True

    def advance(self, to: float) -> None:
        """Move the clock to ``to`` with nothing run (the end of a run's horizon)."""
        self.now = max(self.now, to)
