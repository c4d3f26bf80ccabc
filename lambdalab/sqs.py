"""A local SQS queue with a Lambda event source mapping: messages delivered to a function in batches.

    queue = lab.sqs_queue("orders", fn, batch_size=10, visibility_timeout_s=30, max_receive_count=3,
                          report_batch_item_failures=True)
    queue.send("hello"); queue.wait_until_empty(timeout_s=30); queue.dead_letters

What it follows (AWS docs, "Using Lambda with Amazon SQS", the event source mapping guide):
- A batch is up to ``batch_size`` visible messages; with ``batching_window_s`` > 0 a smaller batch
  waits until the window since its first message closes (a batch over 10 needs a window ≥ 1 s).
  A batch also stops short of Lambda's 6 MB payload limit.
- Each delivery is a synchronous invoke with ``{"Records": [...]}`` in Lambda's SQS record shape;
  receiving a message makes it invisible for ``visibility_timeout_s`` and counts a receive.
- Success deletes the batch. A function error, a timeout or a throttle leaves the whole batch to
  reappear after the visibility timeout. With ``report_batch_item_failures`` the function may
  return ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``: only those reappear; an entry
  that is malformed or names a message not in the batch fails the whole batch.
- A message whose visibility expires after ``max_receive_count`` receives moves to the dead-letter
  queue (``dead_letters``) instead of reappearing.
- At most ``max_concurrency`` batches are in flight (Lambda's ``ScalingConfig.MaximumConcurrency``,
  2-1,000; Lambda starts at 5 and scales up by up to 300 a minute, which is not modelled).

Differences from SQS: visibility is per batch delivery, in float seconds; a message whose
visibility expired while its first delivery still runs can be delivered again (as SQS does), and
then only the newest delivery's outcome deletes it. Messages are delivered in arrival order.

The mapping has a ``uuid``, ``settings()`` and ``update(...)`` (``enabled=False`` pauses delivery), and each
delivery carries a ``BatchInfo`` so ``lab.invocations()`` shows the queue's ARN and the batch's size.

Rules: all state lives on the Lab's loop thread; the public methods hop onto it and wait (in place on it).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from lambdalab import events, lineage, tenancy
from lambdalab.core import runtime_api
from lambdalab.errors import ConfigError, LambdaLabError
from lambdalab.loop_calls import call_on_loop, stop_quietly
from lambdalab.results import BatchInfo
from lambdalab.sqs_settings import UPDATABLE, check_flag, check_message, validate
from lambdalab.streams.shards import BATCH_ENVELOPE, BATCH_SEPARATOR, encode_batch, event_size

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.results import EngineResult

T = TypeVar("T")


@dataclasses.dataclass
class _Message:
    id: str
    body: str
    attributes: dict[str, Any]
    sent_at: float
    receives: int = 0
    first_received_at: float | None = None
    receipt: str = ""
    trace_header: str | None = None  # the AWSTraceHeader system attribute (its Lineage counts recursive hops)


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One message in one delivered batch, and what became of it."""

    message_id: str
    receive_count: int
    request_id: str
    # "deleted", "failed" (reappears), "throttled", "superseded" (redelivered meanwhile), "recursive_loop" (stopped
    # by recursive loop detection: dead-lettered, or deleted when the queue has no dead-letter queue)
    outcome: str


class SqsQueue:
    """A queue in a Lab, polled by an event source mapping that invokes ``function``."""

    def __init__(
        self,
        lab: Lab,
        name: str,
        function: str,
        *,
        qualifier: str | None = None,
        batch_size: int = 10,
        batching_window_s: float = 0.0,
        visibility_timeout_s: float = 30.0,
        max_receive_count: int | None = None,
        report_batch_item_failures: bool = False,
        max_concurrency: int = 5,
        enabled: bool = True,
    ) -> None:
        config = lab.function(function).config
        tenancy.check_event_source(config.tenancy)  # a tenant-isolated function takes no event source mapping
        timeout = config.timeout_s
        validate(name, batch_size, batching_window_s, visibility_timeout_s, max_receive_count, max_concurrency, timeout)
        self._lab, self._loop = lab, lab.loop
        self.name, self.function, self.qualifier = name, function, qualifier
        self.batch_size, self.batching_window_s = batch_size, float(batching_window_s)
        self.visibility_timeout_s, self.max_receive_count = float(visibility_timeout_s), max_receive_count
        self.report_batch_item_failures, self.max_concurrency = report_batch_item_failures, max_concurrency
        self.enabled = check_flag("enabled", enabled)
        check_flag("report_batch_item_failures", report_batch_item_failures)
        self.arn = f"arn:aws:sqs:{lab.settings.region}:{lab.settings.account_id}:{name}"
        self.uuid = str(uuid.uuid4())  # the event source mapping's
        self._visible: collections.deque[_Message] = collections.deque()
        self._in_flight: dict[str, _Message] = {}
        self._running = 0
        self._window: asyncio.TimerHandle | None = None
        self._window_due = False
        self._timers: set[asyncio.TimerHandle] = set()
        self._dead: list[dict[str, Any]] = []
        self._deliveries: list[Delivery] = []
        self._counts = collections.Counter[str]()
        self.closed = False

    def __repr__(self) -> str:
        return f"<SqsQueue {self.name} → {self.function} batch={self.batch_size}>"

    # -- the caller's side ---------------------------------------------------------------------
    def send(
        self, body: Any, *, message_attributes: Mapping[str, Any] | None = None, trace_header: str | None = None
    ) -> str:
        """Send one message (str, or JSON for other values); returns its message id. ``trace_header`` is the
        message's ``AWSTraceHeader`` system attribute (an X-Ray trace header; a handler's SDK sends its own)."""
        return self.send_batch([body], message_attributes=message_attributes, trace_header=trace_header)[0]

    def send_batch(
        self,
        bodies: Iterable[Any],
        *,
        message_attributes: Mapping[str, Any] | None = None,
        trace_header: str | None = None,
    ) -> list[str]:
        """Send messages (each str, or JSON for other values) with the same attributes; returns their ids. Each
        is checked as SQS checks it (``ConfigError``: a character SQS does not allow, over 1 MiB); none is sent
        unless all pass. ``trace_header``: each message's ``AWSTraceHeader``, as for ``send``."""
        now = time.time()
        attributes = dict(message_attributes or {})
        if trace_header is not None and not isinstance(trace_header, str):
            raise ConfigError(f"invalid trace_header: {trace_header!r}; expected an X-Ray trace header (a string)")
        trace = trace_header or None
        messages = [
            _Message(str(uuid.uuid4()), b if isinstance(b, str) else json.dumps(b), attributes, now, trace_header=trace)
            for b in bodies
        ]
        for m in messages:
            check_message(m.body, attributes)
        self._on_loop(self._accept, messages)
        return [m.id for m in messages]

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        """Messages moved to the dead-letter queue, oldest first (body, attributes, receive count)."""
        return self._on_loop(lambda: list(self._dead))

    @property
    def deliveries(self) -> list[Delivery]:
        """Every message of every delivered batch, in order, with its outcome."""
        return self._on_loop(lambda: list(self._deliveries))

    def statistics(self) -> dict[str, int]:
        """Visible and in-flight messages, batches running, and counters since the queue was made."""
        return self._on_loop(self._statistics)

    def settings(self) -> dict[str, Any]:
        """The queue's and its mapping's settings, under the keyword arguments' names."""
        names = ("qualifier", "batch_size", "batching_window_s", "visibility_timeout_s", "max_receive_count",
                 "report_batch_item_failures", "max_concurrency", "enabled")  # fmt: skip
        return {name: getattr(self, name) for name in names}

    def update(self, **options: Any) -> None:
        """Change the mapping's ``batch_size``, ``batching_window_s``, ``max_concurrency``,
        ``report_batch_item_failures`` or ``enabled`` (False pauses delivery; batches in flight end as they do)."""
        unknown = sorted(set(options) - set(UPDATABLE))
        if unknown:
            raise ConfigError(f"invalid option: {unknown[0]!r} cannot be updated; expected one of {list(UPDATABLE)}")
        self._merged(options)  # refused here, on the caller's thread, if bad
        self._on_loop(self._update, dict(options))

    def wait_until_empty(self, timeout_s: float = 60.0) -> None:
        """Block until no message is visible or in flight (deleted or dead-lettered); TimeoutError after
        ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.statistics()
            if stats["visible"] == 0 and stats["in_flight"] == 0 and stats["batches_running"] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue {self.name} not empty after {timeout_s} s: {stats}")
            time.sleep(0.02)

    def close(self) -> None:
        """Stop delivering (messages stay where they are). Idempotent; never raises."""
        if not self.closed:
            stop_quietly(self._lab, self._loop, self._stop)
        self.closed = True

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return call_on_loop(self._lab, self._loop, fn, *args)

    # -- the loop's side -------------------------------------------------------------------------
    def _statistics(self) -> dict[str, int]:
        return {
            "visible": len(self._visible),
            "in_flight": len(self._in_flight),
            "batches_running": self._running,
            "dead_lettered": len(self._dead),
            **{k: self._counts[k] for k in ("sent", "deleted", "batches", "receives", "throttled", "recursive_loop")},
        }

    def _merged(self, options: dict[str, Any]) -> dict[str, Any]:
        """The updatable settings with ``options`` merged in, checked."""
        merged = {**{k: getattr(self, k) for k in UPDATABLE}, **options}
        validate(self.name, merged["batch_size"], merged["batching_window_s"], self.visibility_timeout_s,
                 self.max_receive_count, merged["max_concurrency"], 0.0)  # fmt: skip
        for flag in ("report_batch_item_failures", "enabled"):
            check_flag(flag, merged[flag])
        return merged

    def _update(self, options: dict[str, Any]) -> None:
        """Merge the changed settings into the current ones here on the loop, so concurrent updates all hold."""
        self._apply(self._merged(options))

    def _apply(self, options: dict[str, Any]) -> None:
        for name, value in options.items():
            setattr(self, name, float(value) if name == "batching_window_s" else value)
        self._pump()

    def _stop(self) -> None:
        self.closed = True
        for handle in (*self._timers, self._window):
            if handle is not None:
                handle.cancel()
        self._timers.clear()

    def _accept(self, messages: list[_Message]) -> None:
        if self.closed:
            raise ConfigError(f"queue {self.name} is closed")
        self._visible.extend(messages)
        self._counts["sent"] += len(messages)
        self._pump()

    def _pump(self) -> None:
        """Start batches while messages are visible, the window allows and concurrency is left."""
        while self._visible and self._running < self.max_concurrency and self.enabled and not self.closed:
            if len(self._visible) < self.batch_size and self.batching_window_s > 0 and not self._window_due:
                if self._window is None:
                    self._window = self._loop.call_later(self.batching_window_s, self._window_closed)
                return
            taken = self._take()
            if taken and not self._deliver(taken):
                break  # throttled: retry when a batch ends or a visibility timeout expires
        if not self._visible:
            self._window_due = False
            if self._window is not None:
                self._window.cancel()
                self._window = None

    def _window_closed(self) -> None:
        self._window, self._window_due = None, True
        self._pump()

    def _take(self) -> list[tuple[_Message, dict[str, Any]]]:
        """The next batch and each message's record: up to ``batch_size`` messages whose payload
        (``encode_batch``, counted exactly as it is sent) is at most the 6 MB invoke limit; at least one."""
        batch: list[tuple[_Message, dict[str, Any]]] = []
        size, now = BATCH_ENVELOPE, time.time()
        while self._visible and len(batch) < self.batch_size:
            m = self._visible[0]
            receipt = base64.b64encode(os.urandom(48)).decode()
            record = self._record(m, m.receives + 1, m.first_received_at or now, receipt)
            cost = event_size(record) + (BATCH_SEPARATOR if batch else 0)
            if batch and size + cost > runtime_api.MAX_REQUEST_BYTES:
                break
            size += cost
            self._visible.popleft()
            m.receives, m.first_received_at, m.receipt = m.receives + 1, m.first_received_at or now, receipt
            if m.trace_header is not None and self._stopped(m):
                size -= cost
                continue
            batch.append((m, record))
        return batch

    def _stopped(self, m: _Message) -> bool:
        """Recursive loop detection: a message that would be the function's 17th invocation in its chain of requests
        is not delivered (the function's ``recursion`` is ``Terminate``). It goes to the dead-letter queue if the
        queue has one, else it is deleted; the Lab records a notice (``Lab.recursion_notices``)."""
        hop = self._lab.recursion_hop(self.function, m.trace_header)
        if not lineage.stopped(hop, self._lab.function(self.function).config.recursion):
            return False
        dead = self.max_receive_count is not None
        if dead:
            self._dead.append(self._dead_letter(m))
        self._counts["recursive_loop"] += 1
        self._deliveries.append(Delivery(m.id, m.receives, "", "recursive_loop"))
        self._lab.note_recursion(self.function, "", hop, self.arn, "dead_letter" if dead else "dropped")
        return True

    def _dead_letter(self, m: _Message) -> dict[str, Any]:
        """A message as the dead-letter queue holds it."""
        attributes = {"ApproximateReceiveCount": str(m.receives)}
        if m.trace_header is not None:
            attributes[lineage.SQS_TRACE_ATTRIBUTE] = m.trace_header
        return {
            "messageId": m.id,
            "body": m.body,
            "messageAttributes": dict(m.attributes),
            "attributes": attributes,
        }

    def _record(self, m: _Message, receives: int, first_received_at: float, receipt: str) -> dict[str, Any]:
        account = self._lab.settings.account_id
        record = events.sqs_record(
            m.body,
            message_id=m.id,
            receipt_handle=receipt,
            receive_count=receives,
            sent_at=m.sent_at,
            first_received_at=first_received_at,
            message_attributes=m.attributes,
            queue=self.name,
            sender_id=account,
            account_id=account,
            region=self._lab.settings.region,
        )
        if m.trace_header is not None:  # Lambda's SQS record carries the system attribute
            record["attributes"][lineage.SQS_TRACE_ATTRIBUTE] = m.trace_header
        return record

    def _deliver(self, taken: list[tuple[_Message, dict[str, Any]]]) -> bool:
        """Invoke the function with the ``taken`` batch; False if the invoke was refused (throttled)."""
        batch = [m for m, _ in taken]
        for m in batch:
            self._in_flight[m.id] = m
        receipts = [(m, m.receipt) for m in batch]
        handle = self._loop.call_later(self.visibility_timeout_s, self._visibility_expired, receipts)
        self._timers.add(handle)
        self._counts["batches"] += 1
        self._counts["receives"] += len(batch)
        request_id = str(uuid.uuid4())
        payload = encode_batch([record for _, record in taken])
        info = BatchInfo(self.arn, None, len(batch))
        traces = [m.trace_header for m in batch if m.trace_header is not None]
        # the chain in which the function has run most goes on
        trace = max(traces, key=lambda t: self._lab.recursion_hop(self.function, t)) if traces else None
        try:
            future = self._lab.start_invoke(
                self.function, payload, qualifier=self.qualifier, request_id=request_id, batch=info, trace_header=trace
            )
        except LambdaLabError:  # throttled (or the Lab closed): the batch waits out its visibility timeout
            self._counts["throttled"] += 1
            self._deliveries += [Delivery(m.id, m.receives, request_id, "throttled") for m in batch]
            return False
        self._running += 1
        future.add_done_callback(lambda f: self._finished(receipts, request_id, handle, f))
        return True

    def _finished(
        self,
        receipts: list[tuple[_Message, str]],
        request_id: str,
        handle: asyncio.TimerHandle,
        future: asyncio.Future[EngineResult],
    ) -> None:
        self._running -= 1
        ok = not future.cancelled() and future.exception() is None
        failed = (
            _failed_ids(future.result(), [m.id for m, _ in receipts], self.report_batch_item_failures) if ok else None
        )
        current = 0
        for message, receipt in receipts:
            if message.receipt != receipt or message.id not in self._in_flight:
                outcome = "superseded"
            elif failed is None or message.id in failed:
                outcome = "failed"
                current += 1
            else:
                outcome = "deleted"
                del self._in_flight[message.id]
                self._counts["deleted"] += 1
            self._deliveries.append(Delivery(message.id, message.receives, request_id, outcome))
        if current == 0:
            handle.cancel()
            self._timers.discard(handle)
        self._pump()

    def _visibility_expired(self, receipts: list[tuple[_Message, str]]) -> None:
        for message, receipt in receipts:
            if message.receipt != receipt or self._in_flight.get(message.id) is not message:
                continue
            del self._in_flight[message.id]
            if self.max_receive_count is not None and message.receives >= self.max_receive_count:
                self._dead.append(self._dead_letter(message))
            else:
                self._visible.append(message)
        self._timers = {t for t in self._timers if not t.cancelled() and t.when() > self._loop.time()}
        self._pump()


def _failed_ids(result: EngineResult, batch: list[str], partial: bool) -> set[str] | None:
    """The ids to retry; None means the whole batch failed."""
    if result.is_error:
        return None
    if not partial:
        return set()
    try:
        answer = json.loads(result.body) if result.body else None
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return set()  # not a partial batch response: success
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not identifier or identifier not in batch:
            return None  # malformed or unknown: the whole batch fails
        ids.add(identifier)
    return ids
