"""A load run's progress: how many requests it plans, its text progress bar, and the callback's type.

The runner (``load/pacing.py``) calls ``ProgressBar.draw`` and ``on_progress`` about every ``TICK_S``
seconds from its own thread; nothing here reads a clock or takes a lock.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from lambdalab.load.patterns import ClosedLoop

TICK_S = 0.2  # progress bar / on_progress cadence
ProgressCallback = Callable[[int, "int | None"], None]


def progress_stream(progress: bool | TextIO) -> TextIO | None:
    """``progress=True``: stderr; ``False``: none; otherwise the stream given."""
    if isinstance(progress, bool):
        return sys.stderr if progress else None
    return progress


def planned_total(pattern: Any, duration_s: float | None, count: int | None) -> int | None:
    """How many requests the run will send, where that is known in advance (else ``None``)."""
    if pattern.finite and not isinstance(pattern, ClosedLoop):
        arrivals = sum(1 for _ in pattern.offsets(duration_s))
        return arrivals if count is None else min(arrivals, count)
    return count


class ProgressBar:
    """One line on ``out``, redrawn in place: done (of the total), a bar, the clock, the rate, in flight, errors."""

    def __init__(self, out: TextIO, total: int | None, duration_s: float | None) -> None:
        self.out = out
        self.total = total
        self.duration_s = duration_s
        self.width = 0

    def draw(self, elapsed: float, done: int, in_flight: int, errors: int, throttles: int) -> None:
        if self.total:
            fraction = done / self.total
            count = f"{done:,}/{self.total:,}"
        elif self.duration_s:
            fraction = min(1.0, elapsed / self.duration_s)
            count = f"{done:,}"
        else:
            fraction, count = None, f"{done:,}"
        bar = ""
        if fraction is not None:
            filled = round(20 * fraction)
            bar = f" [{'#' * filled}{'.' * (20 - filled)}] {100 * fraction:3.0f}%"
        clock = f"{elapsed:.1f}s" + (f"/{self.duration_s:g}s" if self.duration_s else "")
        rate = f" {done / elapsed:,.0f}/s" if elapsed >= 0.5 else ""
        extra = f" errors {errors}" + (f" throttles {throttles}" if throttles else "")
        text = f"load {count}{bar} {clock}{rate} in flight {in_flight}{extra}"
        pad = max(0, self.width - len(text))
        self.width = len(text)
        self.out.write("\r" + text + " " * pad)
        self.out.flush()

    def finish(self) -> None:
        """End the line: the last drawing stays."""
        self.out.write("\n")
        self.out.flush()
