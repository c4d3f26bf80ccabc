"""What an invocation gives back: ``InvocationResult`` (sync), ``AsyncInvocation`` (Event), the
``InvocationFuture`` that ``Function.submit`` returns, the read-only views ``EnvironmentInfo``,
``VersionInfo`` and ``Destinations``, and ``BatchInfo`` (what an event source's invocation carried).

Results are plain values. ``log`` is rendered from the environment's log stream only when read.
A future's done-callbacks never run on the engine's loop thread: one that would (the future
completed there) is handed to the Lab's ``CallbackThread``, so a callback may block or call
``fn.invoke`` without stopping the engine.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.core.records import InvocationRecord
from lambdalab.engine.control_plane import EngineResult as EngineResult  # what Lab.start_invoke resolves with
from lambdalab.result_view import RecordView

if TYPE_CHECKING:
    from lambdalab.config import FunctionConfig
    from lambdalab.core.logstream import LogStream


@dataclasses.dataclass(frozen=True)
class InvocationResult(RecordView):
    """The outcome of one invocation, with what the REPORT line says about it."""

    payload: Any
    error: dict[str, Any] | None
    raw: bytes
    record: InvocationRecord
    _stream: LogStream | None = dataclasses.field(repr=False)
    _log_span: tuple[int, int] = dataclasses.field(repr=False)

    @property
    def function_error(self) -> str | None:
        """``"Unhandled"`` when the invocation ended in error (``X-Amz-Function-Error``)."""
        return "Unhandled" if self.error is not None else None

    @property
    def log(self) -> str:
        """This invocation's log, START to REPORT, as Lambda writes it.

        A Managed Instances environment's workers write one stream at once (JSON): the lines in between that name
        another request (``requestId``) are left out; lines printed without ``logging`` name none and stay.
        """
        if self._stream is None:
            return ""
        text = self._stream.text(*self._log_span)
        rid = self.record.request_id
        named = text.count('"requestId"')
        if named and named != text.count(f'"requestId":"{rid}"') + text.count(f'"requestId": "{rid}"'):
            return _own_lines(text, rid)  # another request's records are in between
        return text

    def __repr__(self) -> str:
        kind = "cold" if self.cold else "warm"
        what = f"error={self.error.get('errorType')!r}" if self.error else f"payload={self.payload!r:.60}"
        return (
            f"<InvocationResult {kind} {what} duration={self.duration_ms:.2f}ms environment={self.environment_id[:8]}>"
        )

    @classmethod
    def from_engine(cls, result: EngineResult) -> InvocationResult:
        """The result of what the engine answered (the API builds it; front-ends may too)."""
        body = result.body
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body
        error = payload if result.is_error and isinstance(payload, dict) else None
        if result.is_error and error is None:
            error = {"errorType": result.record.error_type or "Runtime.Unknown", "errorMessage": str(payload)}
        return cls(payload, error, body, result.record, result.stream, (result.log_start, result.log_end))


def _own_lines(text: str, request_id: str) -> str:
    """The lines of ``text`` that do not name another request: JSON records with another ``requestId`` (the
    application's, or a platform record's ``record.requestId``) go."""
    kept = []
    for line in text.splitlines(keepends=True):
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                inner = record.get("record")
                named = record.get("requestId") or (inner.get("requestId") if isinstance(inner, dict) else None)
                if named is not None and named != request_id:
                    continue
        kept.append(line)
    return "".join(kept)


@dataclasses.dataclass(frozen=True)
class BatchInfo:
    """What an event source mapping's invocation carried (``Lab.start_invoke(..., batch=)``), for
    ``Lab.invocations()``: the source's ARN, the shard (None for a queue) and how many records."""

    event_source_arn: str
    shard_id: str | None
    batch_size: int


@dataclasses.dataclass(frozen=True)
class EnvironmentInfo:
    """One live environment of a function, as ``Function.environments()`` lists it.

    ``state`` is the lifecycle's state (``starting``, ``initializing``, ``idle``, ``invoking``, ``finishing``,
    ``reset``, ``shutting_down``); ``phase`` the phase in progress as the timeline draws it (``init``,
    ``invoke``, ``frozen``, ``idle``, ``shutdown``; a reset environment, which has no process until its next
    invoke re-inits it, shows as ``idle``). ``request_id`` is the request it runs (or, while it initialises,
    the one waiting for it); ``since_s`` the seconds spent in the current phase, ``age_s`` since it was made.
    A Managed Instances environment (``max_concurrency_per_environment``) is listed once per worker process, each
    row with the environment's id and its ``worker`` number.
    """

    environment_id: str
    version: str
    state: str
    frozen: bool
    provisioned: bool
    invocations: int
    phase: str = "idle"
    request_id: str | None = None
    since_s: float = 0.0
    age_s: float = 0.0
    worker: int = 0  # Lambda Managed Instances: the worker of the environment this row is (one row a worker)


@dataclasses.dataclass(frozen=True)
class AsyncInvocation:
    """The answer to an ``Event`` invocation: accepted (202) and queued; the outcome goes to a destination."""

    request_id: str
    status_code: int = 202


@dataclasses.dataclass(frozen=True)
class VersionInfo:
    """One version of a function as it runs now (``Function.version_info``).

    ``config`` holds the settings deployed with this version's code (for ``$LATEST``, the function's current
    ones); ``memory_mb`` and ``timeout_s`` are the version's own, fixed when it was published.
    """

    version: str
    config: FunctionConfig
    code_sha: str  # sha256 of the task root, hex
    code_folder: Path  # the task root this version runs
    memory_mb: int
    timeout_s: float
    provisioned_concurrency: int  # environments kept initialised for this version (0: none)
    # SnapStart: the version's snapshot, "none" | "taking" | "ready" | "failed" (published SnapStart versions only)
    snapshot: str = "none"

    @property
    def snap_start(self) -> dict[str, str]:
        """Lambda's ``SnapStartResponse``: ``ApplyOn`` as configured; ``OptimizationStatus`` ``On`` only for a
        published version of a SnapStart function (``$LATEST`` always starts cold)."""
        on = self.config.snap_start
        return {
            "ApplyOn": "PublishedVersions" if on else "None",
            "OptimizationStatus": "On" if on and self.version != "$LATEST" else "Off",
        }


class Destinations:
    """A function's asynchronous destinations: lists of Lambda-shaped records, oldest first.

    ``read(name, kind)`` returns function ``name``'s records of ``kind`` (``on_success`` or ``on_failure``).
    """

    def __init__(self, name: str, read: Callable[[str, str], list[dict[str, Any]]]) -> None:
        self._name, self._read = name, read

    @property
    def on_success(self) -> list[dict[str, Any]]:
        return self._read(self._name, "on_success")

    @property
    def on_failure(self) -> list[dict[str, Any]]:
        return self._read(self._name, "on_failure")

    def __repr__(self) -> str:
        return f"<Destinations {self._name}: {len(self.on_success)} on_success, {len(self.on_failure)} on_failure>"


class CallbackThread:
    """One daemon thread per Lab that runs futures' done-callbacks in the order they came; started on first use."""

    def __init__(self, loop_ident: int) -> None:
        self.loop_ident = loop_ident  # the engine's loop thread: callbacks never run there
        self._queue: queue.SimpleQueue[tuple[Callable[[Any], object], Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def call(self, fn: Callable[[Any], object], future: Any) -> None:
        with self._lock:
            if self._stopped:  # the Lab is closed and its loop gone: nothing left to block
                _run_callback(fn, future)
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lambdalab-callbacks", daemon=True)
                self._thread.start()
            self._queue.put((fn, future))

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then end the thread (waits up to ``timeout`` for it)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            _run_callback(*item)


def _run_callback(fn: Callable[[Any], object], future: Any) -> None:
    try:
        fn(future)
    except Exception:  # as concurrent.futures does: a failing callback is logged, never raised into the engine
        logging.getLogger("concurrent.futures").exception("exception calling callback for %r", future)


class InvocationFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A ``concurrent.futures.Future`` whose done-callbacks never run on the engine's loop thread."""

    def __init__(self, callbacks: CallbackThread) -> None:
        super().__init__()
        self._callbacks = callbacks

    def add_done_callback(self, fn: Callable[[Any], object]) -> None:
        super().add_done_callback(functools.partial(self._dispatch, fn))

    def _dispatch(self, fn: Callable[[Any], object], future: Any) -> None:
        if threading.get_ident() == self._callbacks.loop_ident:
            self._callbacks.call(fn, future)
        else:
            fn(future)
