"""The wall-clock runner: paces a pattern's arrivals, submits them, and collects the outcomes.

The target is anything with ``submit(event) -> concurrent.futures.Future`` whose result has a
``.record`` (an ``InvocationRecord``): a ``lambdalab.Function`` today. Nothing here imports the
API layer; patterns stay pure (``load/patterns.py``), and the runner owns the clock.

This module is the public side: ``run`` (on the calling thread), ``start`` (a ``LoadRun`` on a
thread of its own), and the one check of their arguments. A run's pacing, sending and counting are
``load/pacing.py``'s, its rows and frame ``load/rows.py``'s, its progress bar ``load/progress.py``'s.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import math
import threading
from typing import Any, Protocol, TextIO

from lambdalab.config import check_run
from lambdalab.errors import ConfigError
from lambdalab.load.pacing import Run
from lambdalab.load.patterns import ClosedLoop, OpenLoop
from lambdalab.load.progress import ProgressCallback, planned_total
from lambdalab.load.report import LoadReport
from lambdalab.load.rows import COLUMNS as COLUMNS  # re-exported: the invocations table's columns
from lambdalab.load.rows import RECORD_FIELDS as RECORD_FIELDS

__all__ = ["LoadRun", "Target", "planned_requests", "run", "start"]

INVOCATION_TYPES = ("RequestResponse", "Event")
# a closed loop's shortest round trip to a remote function, for its planned count (one sync invoke over the network)
ROUND_TRIP_FLOOR_S = 0.02


class Target(Protocol):
    """What the runner drives: ``lambdalab.Function``, later the simulator's function."""

    def submit(self, event: Any = None) -> concurrent.futures.Future[Any]: ...


def _new_run(
    target: Any,
    pattern: Any,
    duration_s: float | None,
    count: int | None,
    event: Any,
    invocation_type: str,
    progress: bool | TextIO,
    on_progress: ProgressCallback | None,
    stop: threading.Event | None,
    drain_timeout_s: float | None,
    confirm: bool = False,
) -> Run:
    """A run of checked arguments, or the ``ConfigError`` that says which is wrong.

    A target that can cost money (a remote function: it has ``confirm_load``) is asked first, with the planned
    number of requests: its ``CostConfirmationRequired`` (a ``ConfigError``) ends the run before anything is sent.
    """
    if not isinstance(pattern, (OpenLoop, ClosedLoop)):
        raise ConfigError(
            f"invalid pattern: {pattern!r}; use Constant, Poisson, Ramp, Step, Burst, Sine, "
            "Replay or ClosedLoop from lambdalab.load"
        )
    duration_s, count = check_run(pattern, duration_s, count)
    if invocation_type not in INVOCATION_TYPES:
        raise ConfigError(f"invalid invocation_type: {invocation_type!r}; allowed: {', '.join(INVOCATION_TYPES)}")
    if invocation_type == "Event" and not _accepts_invocation_type(target):
        raise ConfigError(
            f"invalid invocation_type: 'Event' is not supported by {target!r} (its invoke() takes no invocation_type)"
        )
    if invocation_type == "RequestResponse" and not callable(getattr(target, "submit", None)):
        raise ConfigError(f"invalid target: {target!r} has no submit(event); pass a lambdalab Function")
    confirm_load = getattr(target, "confirm_load", None)
    if callable(confirm_load):
        confirm_load(planned_requests(pattern, duration_s, count), duration_s, confirmed=bool(confirm))
    return Run(target, pattern, duration_s, count, event, invocation_type, progress, on_progress, stop, drain_timeout_s)


def planned_requests(pattern: OpenLoop | ClosedLoop, duration_s: float | None, count: int | None) -> int:
    """How many requests a run will send, as far as it can be told before it starts (for a cost estimate).

    ``count``, or the pattern's expected count over ``duration_s`` rounded up (the smaller when both are given), or
    a finite pattern's exact count. A closed loop's pace depends on the function's answers: without ``count`` it is
    taken as fast as a round trip can be (``ROUND_TRIP_FLOOR_S`` plus its think time), an upper bound.
    """
    if isinstance(pattern, ClosedLoop):
        if count is not None:
            return count
        assert duration_s is not None  # check_run: an endless run has a duration or a count
        return math.ceil(pattern.clients * duration_s / (pattern.think_s + ROUND_TRIP_FLOOR_S))
    if pattern.finite:
        return planned_total(pattern, duration_s, count) or 0
    expected = math.ceil(pattern.expected_count(duration_s) - 1e-9) if duration_s is not None else None
    if count is None:
        assert expected is not None  # check_run
        return expected
    return count if expected is None else min(count, expected)


def _accepts_invocation_type(target: Any) -> bool:
    invoke = getattr(target, "invoke", None)
    if not callable(invoke):
        return False
    try:
        parameters = inspect.signature(invoke).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        parameter.name == "invocation_type" or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )


def run(
    target: Any,
    pattern: Any,
    duration_s: float | None = None,
    count: int | None = None,
    event: Any = None,
    invocation_type: str = "RequestResponse",
    *,
    progress: bool | TextIO = True,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    drain_timeout_s: float | None = None,
    confirm: bool = False,
) -> LoadReport:
    """Drive ``target`` with ``pattern`` on the wall clock and return a ``LoadReport``.

    Arrivals stop after ``duration_s`` seconds or ``count`` requests, whichever comes first
    (``Replay`` and one-shot ``Burst`` also end by themselves); then the run waits for the
    requests in flight (at most ``drain_timeout_s``, default no limit).

    ``event`` is the payload of every request, or a callable ``event(i)`` that makes the i-th
    request's (i = 0, 1, ...). ``invocation_type="Event"`` calls ``target.invoke(event,
    invocation_type="Event")`` when the target supports it, and raises ``ConfigError`` otherwise.
    ``progress``: a progress bar (tqdm's: a widget in a notebook, a line on a terminal), or a plain text bar on
    the given stream; ``False`` for none.
    ``on_progress(done, total_or_None)`` is called about 5 times a second from the runner's
    thread. Setting ``stop`` (a ``threading.Event``) or pressing Ctrl-C stops sending; the report
    then covers what was sent. Throttles (``TooManyRequestsException``) and other Invoke errors
    become rows, not exceptions; a ``CallerError`` (a bad event, a closed Lab) ends the run.

    A function on AWS (``lambdalab.aws.Function``) costs money: before sending anything the run asks
    ``target.confirm_load(requests, duration_s, confirmed=confirm)``, which prints the estimate and, above its
    Lab's ``confirm_above_usd``, asks (or raises ``CostConfirmationRequired``); ``confirm=True`` skips the question.
    """
    return _new_run(
        target,
        pattern,
        duration_s,
        count,
        event,
        invocation_type,
        progress,
        on_progress,
        stop,
        drain_timeout_s,
        confirm,
    ).execute()


class LoadRun:
    """A load run on a background thread: ``stop()``, ``done``, ``result(timeout)``, ``snapshot()``."""

    def __init__(self, state: Run) -> None:
        self._state = state
        self._future: concurrent.futures.Future[LoadReport] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name="lambdalab-load", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            report = self._state.execute()
        except BaseException as exc:  # noqa: BLE001 - handed to result()
            self._future.set_exception(exc)
        else:
            self._future.set_result(report)

    def stop(self) -> None:
        """Stop sending; requests in flight still finish. Returns at once."""
        self._state.stop()

    @property
    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> LoadReport:
        """The final report (raises ``TimeoutError`` if not done within ``timeout`` seconds)."""
        return self._future.result(timeout)

    def snapshot(self) -> LoadReport:
        """The report so far: finished requests, summary, in flight. Safe from any thread."""
        return self._state.report()

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"<LoadRun {self._state.pattern!r} {state}, {self._state.sent} sent>"


def start(
    target: Any,
    pattern: Any,
    duration_s: float | None = None,
    count: int | None = None,
    event: Any = None,
    invocation_type: str = "RequestResponse",
    *,
    progress: bool | TextIO = False,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    drain_timeout_s: float | None = None,
    confirm: bool = False,
) -> LoadRun:
    """Like ``run`` but on a background thread; returns a ``LoadRun`` handle at once.

    The progress bar is off by default here (a live panel shows ``snapshot()`` instead). The cost question of a
    remote target (``confirm``, see ``run``) is asked here, on the caller's thread, before the run's thread starts.
    """
    state = _new_run(
        target,
        pattern,
        duration_s,
        count,
        event,
        invocation_type,
        progress,
        on_progress,
        stop,
        drain_timeout_s,
        confirm,
    )
    return LoadRun(state)
