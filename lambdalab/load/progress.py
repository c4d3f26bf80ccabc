"""A load run's progress: how many requests it plans, its progress bar, and the callback's type.

The runner (``load/pacing.py``) calls ``ProgressBar.draw`` and ``on_progress`` about every ``TICK_S``
seconds from its own thread; nothing here reads a clock or takes a lock.

The bar (``progress=True``) is tqdm's (``tqdm.auto``): a widget in a notebook, a line on stderr in a
terminal. A stream given as ``progress=`` gets the plain text line (``TextBar``), and so does every
run when tqdm is not installed (it comes with the ``notebook`` extra). What the bar measures: requests
when the run's total is known (``count``, or a ``Replay``), else the clock against ``duration_s``.
A run stopped early keeps the bar where it was (it never jumps to 100%) and says "stopped"; a run
that ran its course ends full.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from lambdalab.load.patterns import ClosedLoop

TICK_S = 0.2  # progress bar / on_progress cadence
ProgressCallback = Callable[[int, "int | None"], None]


def progress_stream(progress: bool | TextIO) -> TextIO | None:
    """``progress=True``: stderr (where tqdm draws, or its widget in a notebook); ``False``: none; else the stream."""
    if isinstance(progress, bool):
        return sys.stderr if progress else None
    return progress


def planned_total(pattern: Any, duration_s: float | None, count: int | None) -> int | None:
    """How many requests the run will send, where that is known in advance (else ``None``)."""
    if pattern.finite and not isinstance(pattern, ClosedLoop):
        arrivals = sum(1 for _ in pattern.offsets(duration_s))
        return arrivals if count is None else min(arrivals, count)
    return count


def _counts(done: int, elapsed: float, in_flight: int, errors: int, throttles: int, *, rate: bool = True) -> list[str]:
    """The numbers after the bar: the rate (from 0.5 s on), in flight, errors, throttles (when any)."""
    parts = [f"{done / elapsed:,.0f}/s"] if rate and elapsed >= 0.5 else []
    parts += [f"in flight {in_flight}", f"errors {errors}"]
    return parts + ([f"throttles {throttles}"] if throttles else [])


class TextBar:
    """One line on ``out``, redrawn in place: done (of the total), a bar, the clock, the rate, in flight, errors."""

    def __init__(self, out: TextIO, total: int | None, duration_s: float | None) -> None:
        self.out = out
        self.total = total
        self.duration_s = duration_s
        self.width = 0
        self._last: tuple[float, int, int, int, int] | None = None

    def draw(self, elapsed: float, done: int, in_flight: int, errors: int, throttles: int, *, note: str = "") -> None:
        self._last = (elapsed, done, in_flight, errors, throttles)
        if self.total:
            fraction: float | None = done / self.total
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
        counts = " ".join(_counts(done, elapsed, in_flight, errors, throttles))
        text = f"load {count}{bar} {clock} {counts}{note}"
        pad = max(0, self.width - len(text))
        self.width = len(text)
        self.out.write("\r" + text + " " * pad)
        self.out.flush()

    def finish(self, stopped: bool | None = None) -> None:
        """End the line. Stopped early: the last drawing stays, marked "stopped"; ran its course: a timed bar
        ends full (its clock stopped just short of the duration); ``None`` (not known): the last drawing stays."""
        if self._last is not None and stopped is not None:
            elapsed, *rest = self._last
            if stopped:
                self.draw(elapsed, *rest, note=" stopped")
            elif not self.total and self.duration_s and elapsed < self.duration_s:
                self.draw(self.duration_s, *rest)
        self.out.write("\n")
        self.out.flush()


def _zero_width_fix(tqdm: Any) -> dict[str, int]:
    """80 columns and 24 rows for a terminal bar where the terminal says it is 0 by 0 (a pty nobody sized),
    where tqdm would print nothing; nothing for a notebook's widget (its ncols would set the widget's width)."""
    if "notebook" in getattr(tqdm, "__module__", ""):
        return {}
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):  # not a terminal: tqdm's own defaults
        return {}
    fix = {"ncols": 80} if size.columns <= 0 else {}
    return fix | ({"nrows": 24} if size.lines <= 0 else {})


class TqdmBar:
    """The same numbers on a ``tqdm.auto`` bar: a widget in a notebook, a line on stderr in a terminal."""

    def __init__(self, tqdm: Any, total: int | None, duration_s: float | None) -> None:
        self.by_time = not total and bool(duration_s)
        width = _zero_width_fix(tqdm)
        if self.by_time:  # the bar is the clock; the requests go in the text after it
            self.bar = tqdm(
                total=duration_s,
                desc="load",
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:g} s{postfix}",
                mininterval=0,
                leave=True,
                **width,
            )
        else:
            self.bar = tqdm(total=total or None, desc="load", unit=" requests", mininterval=0, leave=True, **width)
        self._last: tuple[float, int, int, int, int] | None = None

    def draw(self, elapsed: float, done: int, in_flight: int, errors: int, throttles: int) -> None:
        self._last = (elapsed, done, in_flight, errors, throttles)
        counts = _counts(done, elapsed, in_flight, errors, throttles, rate=self.by_time)  # tqdm shows a count's rate
        self.bar.set_postfix_str(", ".join(([f"{done:,} done"] if self.by_time else []) + counts), refresh=False)
        self.bar.n = min(elapsed, self.bar.total) if self.by_time else done
        self.bar.refresh()

    def finish(self, stopped: bool | None = None) -> None:
        """Close the bar. Stopped early: it stays where it was, described "load stopped" (in a notebook drawn
        as a warning, not as tqdm's red error); ran its course: a timed bar ends full."""
        if stopped:
            self.bar.set_description_str("load stopped", refresh=False)
        elif stopped is not None and self.by_time:
            self.bar.n = self.bar.total
        self.bar.refresh()
        self.bar.close()
        if stopped and hasattr(self.bar, "container"):  # tqdm.notebook marks an unfinished bar as an error
            self.bar.disp(bar_style="warning", check_delay=False)


def _tqdm() -> Any:
    """``tqdm.auto.tqdm``, or ``None`` without tqdm (imported here: a run without a bar never loads it)."""
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no stubs
    except ImportError:
        return None
    return tqdm


class ProgressBar:
    """A load run's bar on ``out``: ``draw`` each tick, ``finish`` once.

    ``out`` is stderr (``progress=True``): tqdm's bar (a widget in a notebook, so no text on stderr
    there); another stream, or no tqdm: ``TextBar``'s plain line on ``out``.
    """

    def __init__(self, out: TextIO, total: int | None, duration_s: float | None) -> None:
        tqdm = _tqdm() if out is sys.stderr else None
        self.bar: TqdmBar | TextBar = (
            TqdmBar(tqdm, total, duration_s) if tqdm is not None else TextBar(out, total, duration_s)
        )

    def draw(self, elapsed: float, done: int, in_flight: int, errors: int, throttles: int) -> None:
        self.bar.draw(elapsed, done, in_flight, errors, throttles)

    def finish(self, stopped: bool | None = None) -> None:
        """End the bar; ``stopped``: the run was stopped early (it then keeps its place), ``None``: not known."""
        self.bar.finish(stopped)
