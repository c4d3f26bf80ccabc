"""The wall-clock runner: paces a pattern's arrivals, submits them, and collects the outcomes.

The target is anything with ``submit(event) -> concurrent.futures.Future`` whose result has a
``.record`` (an ``InvocationRecord``): a ``lambdalab.Function`` today. Nothing here imports the
API layer; patterns stay pure (``load/patterns.py``), and this module owns the clock.

Pacing: open-loop arrivals are due at ``t0 + offset`` on ``time.monotonic``. The dispatcher
sleeps (on the stop event, so a stop wakes it) only until the next due arrival; every arrival
already due is sent at once, with no sleep in between, so a run that fell behind catches up.
``submit`` does not block (it hands the request to the engine's loop), so one thread keeps up
with hundreds of requests per second. Outcomes arrive as future callbacks on the engine's
thread; they only append and count, under a lock.

Closed loop: the dispatcher keeps a heap of (ready time, client); a finished request puts its
client back at ``finished + think_s``. So at most ``clients`` requests are ever in flight.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import heapq
import inspect
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from lambdalab.config import check_run
from lambdalab.core.records import InvocationRecord
from lambdalab.errors import CallerError, ConfigError, TooManyRequestsException
from lambdalab.load.patterns import ClosedLoop, OpenLoop
from lambdalab.load.report import LoadReport, summarize

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LoadRun", "Target", "run", "start"]

INVOCATION_TYPES = ("RequestResponse", "Event")
RECORD_FIELDS = InvocationRecord._fields
COLUMNS = (
    "seq",
    "client",
    "scheduled_at",
    "sent_at",
    *RECORD_FIELDS,
    "latency_ms",
    "client_latency_ms",
    "lag_ms",
    "throttled",
)
_BOOL_COLUMNS = ("cold", "init_suppressed", "reset")
_INT_COLUMNS = ("billed_duration_ms", "memory_size_mb", "max_memory_used_mb")
_TICK_S = 0.2  # progress bar / on_progress cadence
_STATUS, _FUNCTION, _ERROR_TYPE = (RECORD_FIELDS.index(name) for name in ("status", "function", "error_type"))


class Target(Protocol):
    """What the runner drives: ``lambdalab.Function``, later the simulator's function."""

    def submit(self, event: Any = None) -> concurrent.futures.Future[Any]: ...


ProgressCallback = Callable[[int, "int | None"], None]


@dataclasses.dataclass
class _Outcome:
    seq: int
    result: Any  # the InvocationResult (or whatever the target answered), or None
    error: BaseException | None
    done: float  # monotonic


class _Run:
    """One load run's state; ``execute`` runs it on the calling thread."""

    def __init__(
        self,
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
    ) -> None:
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
                f"invalid invocation_type: 'Event' is not supported by {target!r} "
                "(its invoke() takes no invocation_type)"
            )
        if invocation_type == "RequestResponse" and not callable(getattr(target, "submit", None)):
            raise ConfigError(f"invalid target: {target!r} has no submit(event); pass a lambdalab Function")
        self.target = target
        self.pattern: OpenLoop | ClosedLoop = pattern
        self.duration_s = duration_s
        self.count = count
        self.event = event
        self.invocation_type = invocation_type
        self.on_progress = on_progress
        self.stop_event = stop if stop is not None else threading.Event()
        self.drain_timeout_s = drain_timeout_s
        self.out = _progress_stream(progress)
        self.function_name = getattr(target, "name", None)
        self.total = self._total()

        self._cond = threading.Condition()
        self._scheduled: list[float] = []  # monotonic, by seq
        self._sent: list[float] = []
        self._clients: list[int] = []
        self._outcomes: list[_Outcome] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._errors = 0
        self._throttles = 0
        self._ready: list[tuple[float, int]] = []  # closed loop: (ready at, client)
        self._stopped = False
        self._finished = False
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self._t_end: float | None = None
        self._last_tick = -math.inf
        self._rows: list[tuple[Any, ...]] = []  # report rows, one per outcome, in outcome order
        self._rows_lock = threading.Lock()
        self._bar_width = 0

    # -- the run ------------------------------------------------------------------------------
    def execute(self) -> LoadReport:
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        interrupted = False
        try:
            try:
                if isinstance(self.pattern, ClosedLoop):
                    self._dispatch_closed(self.pattern)
                else:
                    self._dispatch_open(self.pattern)
            except KeyboardInterrupt:
                interrupted = True
            finally:
                self._stopped = self._stopped or interrupted or self.stop_event.is_set()
                if not interrupted:
                    self._drain()
        finally:
            self._t_end = time.monotonic()
            self._finished = True
            self._tick(force=True)
            if self.out is not None:
                self.out.write("\n")
                self.out.flush()
        return self.report()

    def _dispatch_open(self, pattern: OpenLoop) -> None:
        for offset in pattern.offsets(self.duration_s):
            if self.count is not None and len(self._sent) >= self.count:
                return
            due = self._t0 + offset
            while True:
                if self.stop_event.is_set():
                    return
                now = time.monotonic()
                if due <= now:
                    break
                self._tick(now)
                self.stop_event.wait(min(due - now, _TICK_S))
            self._send(due, client=-1)
        # ran out of arrivals: a finite pattern, or the duration's last one

    def _dispatch_closed(self, pattern: ClosedLoop) -> None:
        deadline = self._t0 + self.duration_s if self.duration_s is not None else math.inf
        with self._cond:
            self._ready = [(self._t0, client) for client in range(pattern.clients)]
            heapq.heapify(self._ready)
        while True:
            with self._cond:
                now = time.monotonic()
                if (
                    self.stop_event.is_set()
                    or now >= deadline
                    or (self.count is not None and len(self._sent) >= self.count)
                ):
                    return
                if self._ready and self._ready[0][0] <= now:
                    due, client = heapq.heappop(self._ready)
                else:
                    wake = min(self._ready[0][0] if self._ready else math.inf, deadline, now + _TICK_S)
                    self._cond.wait(max(0.0, wake - now))
                    due = None
            if due is None:
                self._tick()
                continue
            self._send(due, client)

    def _send(self, due: float, client: int) -> None:
        seq = len(self._sent)
        event = self.event(seq) if callable(self.event) else self.event
        sent = time.monotonic()
        with self._cond:
            self._scheduled.append(due)
            self._sent.append(sent)
            self._clients.append(client)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            if self.invocation_type == "Event":
                future: concurrent.futures.Future[Any] = concurrent.futures.Future()
                future.set_result(self.target.invoke(event, invocation_type="Event"))
            else:
                future = self.target.submit(event)
        except CallerError:
            with self._cond:  # the caller's mistake (a bad event, a closed Lab): the run cannot go on
                self._scheduled.pop()
                self._sent.pop()
                self._clients.pop()
                self._in_flight -= 1
            raise
        except Exception as exc:  # noqa: BLE001 - an Invoke API error: one failed request, not the run
            future = concurrent.futures.Future()
            future.set_exception(exc)
        future.add_done_callback(functools.partial(self._finished_one, seq))
        self._tick(sent)

    def _finished_one(self, seq: int, future: concurrent.futures.Future[Any]) -> None:
        """A future callback (usually on the engine's thread): record and count, nothing more."""
        done = time.monotonic()
        if future.cancelled():
            outcome = _Outcome(seq, None, concurrent.futures.CancelledError(), done)
        elif future.exception() is not None:
            outcome = _Outcome(seq, None, future.exception(), done)
        else:
            outcome = _Outcome(seq, future.result(), None, done)
        throttled = isinstance(outcome.error, TooManyRequestsException)
        failed = (
            outcome.error is not None
            and not throttled
            or (getattr(getattr(outcome.result, "record", None), "error_type", None) is not None)
        )
        with self._cond:
            self._outcomes.append(outcome)
            self._in_flight -= 1
            self._errors += failed
            self._throttles += throttled
            if isinstance(self.pattern, ClosedLoop):
                heapq.heappush(self._ready, (done + self.pattern.think_s, self._clients[seq]))
            self._cond.notify_all()

    def _drain(self) -> None:
        limit = math.inf if self.drain_timeout_s is None else time.monotonic() + self.drain_timeout_s
        try:
            while True:
                with self._cond:
                    if self._in_flight == 0:
                        return
                    now = time.monotonic()
                    if now >= limit:
                        return
                    self._cond.wait(min(_TICK_S, limit - now))
                self._tick()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, report what finished
            self._stopped = True

    # -- progress -----------------------------------------------------------------------------
    def _total(self) -> int | None:
        if self.pattern.finite and not isinstance(self.pattern, ClosedLoop):
            arrivals = sum(1 for _ in self.pattern.offsets(self.duration_s))
            return arrivals if self.count is None else min(arrivals, self.count)
        return self.count

    def _tick(self, now: float | None = None, *, force: bool = False) -> None:
        now = time.monotonic() if now is None else now
        if not force and now - self._last_tick < _TICK_S:
            return
        self._last_tick = now
        with self._cond:
            done, in_flight, errors, throttles = len(self._outcomes), self._in_flight, self._errors, self._throttles
        if self.on_progress is not None:
            self.on_progress(done, self.total)
        if self.out is not None:
            self._draw(now, done, in_flight, errors, throttles)

    def _draw(self, now: float, done: int, in_flight: int, errors: int, throttles: int) -> None:
        elapsed = (self._t_end or now) - self._t0
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
        pad = max(0, self._bar_width - len(text))
        self._bar_width = len(text)
        self.out.write("\r" + text + " " * pad)  # type: ignore[union-attr]
        self.out.flush()  # type: ignore[union-attr]

    # -- the report ---------------------------------------------------------------------------
    def report(self) -> LoadReport:
        """The report so far (thread-safe): finished requests only, in the order they were sent."""
        with self._rows_lock:  # each outcome becomes a row once; snapshots only convert what is new
            with self._cond:
                fresh = self._outcomes[len(self._rows) :]
                scheduled, sent, clients = self._scheduled[:], self._sent[:], self._clients[:]
                in_flight, max_in_flight = self._in_flight, self._max_in_flight
                finished, stopped = self._finished, self._stopped or self.stop_event.is_set()
                end = self._t_end if self._t_end is not None else time.monotonic()
            self._rows.extend(self._row(outcome, scheduled, sent, clients) for outcome in fresh)
            rows = sorted(self._rows, key=lambda row: row[0])
        frame = self._frame(rows)
        duration = end - self._t0
        return LoadReport(
            frame,
            summarize(frame, duration),
            self.pattern,
            duration,
            len(sent),
            in_flight,
            max_in_flight,
            stopped,
            finished,
        )

    def _epoch(self, mono: float) -> float:
        return self._wall0 + (mono - self._t0)

    def _row(self, outcome: _Outcome, scheduled: list[float], sent: list[float], clients: list[int]) -> tuple[Any, ...]:
        record = getattr(outcome.result, "record", None) if outcome.error is None else None
        client_ms = (outcome.done - sent[outcome.seq]) * 1000.0
        if isinstance(record, InvocationRecord):
            fields = [getattr(record, name) for name in RECORD_FIELDS]
            fields[_STATUS] = record.status.value
            latency = (record.end - record.submitted) * 1000.0
            throttled = False
        else:
            fields = [None] * len(RECORD_FIELDS)
            fields[_FUNCTION] = self.function_name
            if outcome.error is not None:
                fields[_ERROR_TYPE] = type(outcome.error).__name__
            latency = client_ms
            throttled = isinstance(outcome.error, TooManyRequestsException)
        return (
            outcome.seq,
            clients[outcome.seq],
            self._epoch(scheduled[outcome.seq]),
            self._epoch(sent[outcome.seq]),
            *fields,
            latency,
            client_ms,
            (sent[outcome.seq] - scheduled[outcome.seq]) * 1000.0,
            throttled,
        )

    @staticmethod
    def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
        import pandas as pd

        frame = (
            pd.DataFrame.from_records(rows, columns=list(COLUMNS))
            if rows
            else pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
        )
        for name in _BOOL_COLUMNS:
            frame[name] = frame[name].astype("boolean")
        for name in _INT_COLUMNS:
            frame[name] = frame[name].astype("Int64")
        for name in ("seq", "client"):
            frame[name] = frame[name].astype("int64")
        for name in (
            "scheduled_at",
            "sent_at",
            "init_duration_ms",
            "duration_ms",
            "start",
            "end",
            "submitted",
            "latency_ms",
            "client_latency_ms",
            "lag_ms",
        ):
            frame[name] = frame[name].astype("float64")
        frame["throttled"] = frame["throttled"].astype(bool)
        return frame


def _progress_stream(progress: bool | TextIO) -> TextIO | None:
    """``progress=True``: stderr; ``False``: none; otherwise the stream given."""
    if isinstance(progress, bool):
        return sys.stderr if progress else None
    return progress


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
) -> LoadReport:
    """Drive ``target`` with ``pattern`` on the wall clock and return a ``LoadReport``.

    Arrivals stop after ``duration_s`` seconds or ``count`` requests, whichever comes first
    (``Replay`` and one-shot ``Burst`` also end by themselves); then the run waits for the
    requests in flight (at most ``drain_timeout_s``, default no limit).

    ``event`` is the payload of every request, or a callable ``event(i)`` that makes the i-th
    request's (i = 0, 1, ...). ``invocation_type="Event"`` calls ``target.invoke(event,
    invocation_type="Event")`` when the target supports it, and raises ``ConfigError`` otherwise.
    ``progress``: a text progress bar on stderr (or the given stream); ``False`` for none.
    ``on_progress(done, total_or_None)`` is called about 5 times a second from the runner's
    thread. Setting ``stop`` (a ``threading.Event``) or pressing Ctrl-C stops sending; the report
    then covers what was sent. Throttles (``TooManyRequestsException``) and other Invoke errors
    become rows, not exceptions; a ``CallerError`` (a bad event, a closed Lab) ends the run.
    """
    return _Run(
        target, pattern, duration_s, count, event, invocation_type, progress, on_progress, stop, drain_timeout_s
    ).execute()


class LoadRun:
    """A load run on a background thread: ``stop()``, ``done``, ``result(timeout)``, ``snapshot()``."""

    def __init__(self, state: _Run) -> None:
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
        self._state.stop_event.set()
        with self._state._cond:
            self._state._cond.notify_all()

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
        return f"<LoadRun {self._state.pattern!r} {state}, {len(self._state._sent)} sent>"


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
) -> LoadRun:
    """Like ``run`` but on a background thread; returns a ``LoadRun`` handle at once.

    The progress bar is off by default here (a live panel shows ``snapshot()`` instead).
    """
    state = _Run(
        target, pattern, duration_s, count, event, invocation_type, progress, on_progress, stop, drain_timeout_s
    )
    return LoadRun(state)
