"""One load run's wall clock: arrivals paced and sent, outcomes counted, the run drained, progress ticked.

Pacing: open-loop arrivals are due at ``t0 + offset`` on ``time.monotonic``. The dispatcher
sleeps (on the stop event, so a stop wakes it) only until the next due arrival; every arrival
already due is sent at once, with no sleep in between, so a run that fell behind catches up.
``submit`` does not block (it hands the request to the engine's loop), so one thread keeps up
with hundreds of requests per second. Outcomes arrive as future callbacks on the engine's
thread; they only append and count, under a lock.

Closed loop: the dispatcher keeps a heap of (ready time, client); a finished request puts its
client back at ``finished + think_s``. So at most ``clients`` requests are ever in flight.

``Run`` takes arguments the runner (``load/runner.py``) has already checked; its rows and frame are
``load/rows.py``'s, its progress bar ``load/progress.py``'s.
"""

from __future__ import annotations

import concurrent.futures
import functools
import heapq
import math
import threading
import time
from typing import Any, TextIO

from lambdalab.errors import CallerError, TooManyRequestsException
from lambdalab.load import rows
from lambdalab.load.patterns import ClosedLoop, OpenLoop
from lambdalab.load.progress import TICK_S, ProgressBar, ProgressCallback, planned_total, progress_stream
from lambdalab.load.report import LoadReport, summarize


class Run:
    """One load run's state; ``execute`` runs it on the calling thread, ``report`` snapshots it from any."""

    def __init__(
        self,
        target: Any,
        pattern: OpenLoop | ClosedLoop,
        duration_s: float | None,
        count: int | None,
        event: Any,
        invocation_type: str,
        progress: bool | TextIO,
        on_progress: ProgressCallback | None,
        stop: threading.Event | None,
        drain_timeout_s: float | None,
    ) -> None:
        self.target = target
        self.pattern: OpenLoop | ClosedLoop = pattern
        self.duration_s = duration_s
        self.count = count
        self.event = event
        self.invocation_type = invocation_type
        self.on_progress = on_progress
        self.stop_event = stop if stop is not None else threading.Event()
        self.drain_timeout_s = drain_timeout_s
        self.function_name = getattr(target, "name", None)
        self.total = planned_total(pattern, duration_s, count)
        out = progress_stream(progress)
        self.bar = ProgressBar(out, self.total, duration_s) if out is not None else None

        self._cond = threading.Condition()
        self._scheduled: list[float] = []  # monotonic, by seq
        self._sent: list[float] = []
        self._clients: list[int] = []
        self._outcomes: list[rows.Outcome] = []
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

    @property
    def sent(self) -> int:
        """How many requests were sent so far."""
        return len(self._sent)

    def stop(self) -> None:
        """Stop sending (from any thread); requests in flight still finish."""
        self.stop_event.set()
        with self._cond:
            self._cond.notify_all()

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
            if self.bar is not None:
                self.bar.finish(stopped=self._stopped)
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
                self.stop_event.wait(min(due - now, TICK_S))
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
                    wake = min(self._ready[0][0] if self._ready else math.inf, deadline, now + TICK_S)
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
            outcome = rows.Outcome(seq, None, concurrent.futures.CancelledError(), done)
        elif future.exception() is not None:
            outcome = rows.Outcome(seq, None, future.exception(), done)
        else:
            outcome = rows.Outcome(seq, future.result(), None, done)
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
                    self._cond.wait(min(TICK_S, limit - now))
                self._tick()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, report what finished
            self._stopped = True

    def _tick(self, now: float | None = None, *, force: bool = False) -> None:
        now = time.monotonic() if now is None else now
        if not force and now - self._last_tick < TICK_S:
            return
        self._last_tick = now
        with self._cond:
            done, in_flight, errors, throttles = len(self._outcomes), self._in_flight, self._errors, self._throttles
        if self.on_progress is not None:
            self.on_progress(done, self.total)
        if self.bar is not None:
            self.bar.draw((self._t_end or now) - self._t0, done, in_flight, errors, throttles)

    # -- the report ---------------------------------------------------------------------------
    def _managed_environments(self) -> int | None:
        """A Managed Instances target's environments now (its bill is theirs: ``report.summarize``); else None."""
        config = getattr(self.target, "config", None)
        if getattr(config, "max_concurrency_per_environment", None) is None or not hasattr(self.target, "environments"):
            return None
        return len({row.environment_id for row in self.target.environments()})

    def report(self) -> LoadReport:
        """The report so far (thread-safe): finished requests only, in the order they were sent."""
        with self._rows_lock:  # each outcome becomes a row once; snapshots only convert what is new
            with self._cond:
                fresh = self._outcomes[len(self._rows) :]
                scheduled, sent, clients = self._scheduled[:], self._sent[:], self._clients[:]
                in_flight, max_in_flight = self._in_flight, self._max_in_flight
                finished, stopped = self._finished, self._stopped or self.stop_event.is_set()
                end = self._t_end if self._t_end is not None else time.monotonic()
            name, wall0, t0 = self.function_name, self._wall0, self._t0
            self._rows.extend(
                rows.row(outcome, scheduled, sent, clients, function_name=name, wall0=wall0, t0=t0) for outcome in fresh
            )
            ordered = sorted(self._rows, key=lambda row: row[0])
        frame = rows.frame(ordered)
        duration = end - self._t0
        return LoadReport(
            frame,
            summarize(frame, duration, managed_environments=self._managed_environments()),
            self.pattern,
            duration,
            len(sent),
            in_flight,
            max_in_flight,
            stopped,
            finished,
        )
