"""A stream event source mapping on the Lab's loop: one poller per shard, invoking the function with batches.

``StreamMapping`` is what Kinesis and DynamoDB Streams mappings share (``kinesis.py`` and ``dynamodb.py`` add
how records are put and shaped). Each shard has a ``Cursor`` (``cursor.py``: the rules); this module performs
its decisions: it sends a batch with ``lab.start_invoke`` (tagged with a ``BatchInfo``, so ``lab.invocations()``
shows the stream and shard), reads the outcome (a function error, a timeout, a throttle, or a partial batch
response), keeps a row per batch for ``batches()``, writes discarded spans to ``failures()`` and arms the
timers (a batching window, a back-off). A function error's retry of the same span waits 50 ms, doubling to
1 s (Lambda retries stream batches soon; its back-off is not documented), a split's halves go at once, and a
throttled batch waits 0.1 s, doubling to 1 s. The ``batches()`` rows keep the Lab's ``max_records`` newest.

Rules: all state lives on the Lab's loop thread; the public methods hop onto it and wait (or run in place when
called there, as the endpoint does). ``close`` cancels every timer; a batch in flight then ends unheeded.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from lambdalab import tenancy
from lambdalab.errors import ConfigError, LambdaLabError, RequestTooLargeException
from lambdalab.loop_calls import call_on_loop, on_the_loop, stop_quietly
from lambdalab.results import BatchInfo
from lambdalab.streams import cursor as rules
from lambdalab.streams.destination import failure_record
from lambdalab.streams.settings import StreamSettings
from lambdalab.streams.shards import Shard, StreamRecord, encode_batch

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.api import Lab
    from lambdalab.results import EngineResult

T = TypeVar("T")
_THROTTLE_S, _RETRY_S, _BACKOFF_MAX_S = 0.1, 0.05, 1.0  # first back-off after a throttle / a function error


class StreamTimeoutError(LambdaLabError, TimeoutError):
    """``wait_until_processed`` ran out of time with records neither processed nor discarded."""


class StreamMapping:
    """A stream with an event source mapping that invokes ``function`` with batches of each shard's records."""

    kind: ClassVar[str] = ""  # "kinesis" or "dynamodb"
    info_key: ClassVar[str] = ""  # the failure record's batch info key

    def __init__(
        self, lab: Lab, name: str, function: str, arn: str, shards: list[Shard], settings: StreamSettings
    ) -> None:
        # UnknownFunctionError before anything starts; a tenant-isolated function takes no event source mapping
        tenancy.check_event_source(lab.function(function).config.tenancy)
        stamp = settings.starting_position_timestamp
        if stamp is not None and stamp > time.time():
            raise ConfigError(f"invalid starting_position_timestamp: {stamp!r}; expected a time not in the future")
        if settings.qualifier is not None:
            lab.resolve(function, settings.qualifier)  # and for a version or alias that does not exist
        self._lab, self._loop = lab, lab.loop
        self.name, self.function, self.arn = name, function, arn
        self.uuid = str(uuid.uuid4())
        self._settings = settings
        self._shards = shards
        self._cursors = {s.id: rules.Cursor(s) for s in shards}
        self._window: dict[str, asyncio.TimerHandle] = {}
        self._backoff: dict[str, asyncio.TimerHandle] = {}
        self._throttles: collections.Counter[str] = collections.Counter()
        self._failures: list[dict[str, Any]] = []
        self._batches: collections.deque[dict[str, Any]] = collections.deque(maxlen=lab.settings.max_records)
        self._counts = collections.Counter[str]()
        self.closed = False
        if settings.enabled:
            self._on_loop(self._start)

    def __repr__(self) -> str:
        name, function = getattr(self, "name", "?"), getattr(self, "function", "?")  # also while __init__ fails
        return f"<{type(self).__name__} {name} → {function} shards={len(getattr(self, '_shards', ()))}>"

    # -- the caller's side ---------------------------------------------------------------------
    @property
    def qualifier(self) -> str | None:
        return self._settings.qualifier

    @property
    def shard_ids(self) -> list[str]:
        return [s.id for s in self._shards]

    def settings(self) -> dict[str, Any]:
        """The mapping's settings, under the keyword arguments' names."""
        return {**self._settings.as_dict(), "shards": len(self._shards)}

    def update(self, **options: Any) -> None:
        """Change the mapping's settings (``enabled=False`` pauses it: the batch in flight ends, no new one starts)."""
        settings = self._settings.replace(options, self.kind)  # refused here, on the caller's thread, if bad
        if settings.qualifier is not None and settings.qualifier != self._settings.qualifier:
            self._lab.resolve(self.function, settings.qualifier)  # UnknownFunctionError for a missing one
        self._on_loop(self._update, dict(options))

    def failures(self) -> list[dict[str, Any]]:
        """What the on-failure destination received, oldest first: Lambda's records of discarded batches."""
        return self._on_loop(lambda: [json.loads(json.dumps(r)) for r in self._failures])

    def statistics(self) -> dict[str, int]:
        """Records put, processed, discarded and pending; batches sent, in flight, retried and throttled."""
        return self._on_loop(self._statistics)

    def batches(self) -> pd.DataFrame:
        """One row per batch sent: ``request_id``, ``shard_id``, ``first_sequence``, ``last_sequence``, ``size``,
        ``sent_at`` (epoch s), ``iterator_age_ms`` (sent minus the last record's arrival), ``retries`` (the span's
        failed attempts before) and ``outcome`` (``in_flight``, ``success``, ``error``, ``partial``, ``throttled``,
        ``too_large``)."""
        import pandas as pd

        columns = ["request_id", "shard_id", "first_sequence", "last_sequence", "size", "sent_at"]
        columns += ["iterator_age_ms", "retries", "outcome"]
        rows = self._on_loop(lambda: [dict(r) for r in self._batches])
        return pd.DataFrame(rows, columns=columns)

    def wait_until_processed(self, timeout_s: float = 60.0) -> None:
        """Block until every record put so far was processed or sent to ``failures()``; ``StreamTimeoutError``
        (a ``TimeoutError``) after ``timeout_s``; ``ConfigError`` at once once the stream is closed (nothing more
        would be processed), ``RuntimeError`` on the Lab's loop thread (waiting there would stop the loop)."""
        if on_the_loop(self._loop):
            raise RuntimeError("wait_until_processed waits for the engine, so it cannot be called on the engine's "
                               "loop thread")  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not self._on_loop(self._all_done):
            self._check_open()
            if time.monotonic() > deadline:
                raise StreamTimeoutError(f"{self.kind} stream {self.name}: not processed after {timeout_s} s: "
                                         f"{self.statistics()}")  # fmt: skip
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the mapping (its records stay). Idempotent; never raises."""
        if not self.closed:
            stop_quietly(self._lab, self._loop, self._stop)
        self.closed = True

    def _on_loop(self, fn: Callable[..., T], *args: Any) -> T:
        return call_on_loop(self._lab, self._loop, fn, *args)

    # -- the loop's side -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ConfigError(f"{self.kind} stream {self.name} is closed")

    def _accept(self, records: list[tuple[Shard, StreamRecord]]) -> None:
        """Append each record to its shard (sequence numbers already given), then let the pollers see them."""
        for shard, record in records:
            shard.records.append(record)
        self._counts["records"] += len(records)
        for shard_id in dict.fromkeys(shard.id for shard, _ in records):
            self._pump(shard_id)

    def _start(self) -> None:
        now = time.time()
        for shard_id, found in self._cursors.items():
            found.start(self._settings, now)
            self._pump(shard_id)

    def _update(self, options: dict[str, Any]) -> None:
        """Merge the changed settings into the current ones here on the loop, so concurrent updates all hold."""
        self._apply(self._settings.replace(options, self.kind))

    def _apply(self, settings: StreamSettings) -> None:
        was, self._settings = self._settings.enabled, settings
        if settings.enabled and not was:
            self._start()
        else:
            for shard_id in self._cursors:
                self._pump(shard_id)

    def _stop(self) -> None:
        self.closed = True
        for handle in (*self._window.values(), *self._backoff.values()):
            handle.cancel()
        self._window.clear()
        self._backoff.clear()

    def _all_done(self) -> bool:
        return all(c.done for c in self._cursors.values())

    def _statistics(self) -> dict[str, int]:
        pending = sum(len(c.shard.records) - c.checkpoint for c in self._cursors.values())
        in_flight = sum(c.in_flight for c in self._cursors.values())
        keys = ("records", "processed", "discarded", "batches", "retries", "splits", "throttled")
        return {**{k: self._counts[k] for k in keys}, "pending": pending, "in_flight": in_flight}

    def _pump(self, shard_id: str) -> None:
        """Carry out the shard's decisions until it delivers a batch, waits, or has nothing to do."""
        if self.closed or not self._settings.enabled or shard_id in self._backoff:
            return
        window = self._window.pop(shard_id, None)
        if window is not None:
            window.cancel()
        found = self._cursors[shard_id]
        while True:
            now = time.time()
            decision = found.next(self._settings, now)
            if isinstance(decision, rules.Discard):
                self._discard(found.shard, decision, now)
            elif isinstance(decision, rules.Wait):
                self._window[shard_id] = self._loop.call_later(decision.until - now, self._pump, shard_id)
                return
            elif isinstance(decision, rules.Deliver):
                self._deliver(found, decision.span)
                return
            else:
                return

    def _deliver(self, found: rules.Cursor, span: rules.Span) -> None:
        shard = found.shard
        records = shard.records[span.start : span.end]
        request_id, sent = str(uuid.uuid4()), time.time()
        row = {
            "request_id": request_id,
            "shard_id": shard.id,
            "first_sequence": records[0].sequence,
            "last_sequence": records[-1].sequence,
            "size": len(records),
            "sent_at": sent,
            "iterator_age_ms": max(0.0, (sent - records[-1].arrival) * 1000.0),
            "retries": span.retries,
            "outcome": "in_flight",
        }
        self._batches.append(row)
        self._counts["batches"] += 1
        self._counts["retries"] += span.retries > 0
        payload = encode_batch([r.event for r in records])
        batch = BatchInfo(self.arn, shard.id, len(records))
        try:
            future = self._lab.start_invoke(
                self.function, payload, qualifier=self.qualifier, request_id=request_id, batch=batch
            )
        except RequestTooLargeException:  # no throttle: never invocable as it is; split, or discard one record
            row["outcome"] = "too_large"
            discard = found.too_large(time.time())
            if discard is not None:
                self._discard(shard, discard, time.time())
            self._pump(shard.id)
            return
        except LambdaLabError:  # throttled (TooManyRequestsException), or the function is gone: back off, retry
            row["outcome"] = "throttled"
            self._counts["throttled"] += 1
            found.finished(rules.THROTTLED, self._settings, time.time())
            self._throttles[shard.id] += 1
            self._back_off(shard.id, _THROTTLE_S * 2 ** (self._throttles[shard.id] - 1))
            return
        self._throttles.pop(shard.id, None)
        span.invokes += 1
        span.request_id = request_id
        future.add_done_callback(lambda f: self._finished(found, span, row, f))

    def _finished(
        self, found: rules.Cursor, span: rules.Span, row: dict[str, Any], future: asyncio.Future[EngineResult]
    ) -> None:
        if self.closed or future.cancelled() or future.exception() is not None:
            return  # the Lab is closing
        result = future.result()
        outcome, failed_from = self._outcome(result, found.shard, span)
        row["outcome"] = outcome
        span.response = {"statusCode": 200, "executedVersion": result.record.version}
        if result.is_error:
            span.response["functionError"] = "Unhandled"
        splits_before = len(found.spans)
        succeeded, discard = found.finished(outcome, self._settings, time.time(), failed_from)
        self._counts["processed"] += succeeded
        self._counts["splits"] += len(found.spans) > splits_before
        if discard is not None:
            self._discard(found.shard, discard, time.time())
        retry = found.spans[0] if found.spans and found.spans[0] is span and outcome != rules.SUCCESS else None
        if retry is not None and len(found.spans) == splits_before:  # the same span again (not split): soon
            self._back_off(found.shard.id, _RETRY_S * 2 ** (retry.retries - 1))
        else:
            self._pump(found.shard.id)

    def _outcome(self, result: EngineResult, shard: Shard, span: rules.Span) -> tuple[str, int | None]:
        """SUCCESS, ERROR or PARTIAL (with the index of the lowest failed record) for a finished batch."""
        if result.is_error:
            return rules.ERROR, None
        if not self._settings.report_batch_item_failures:
            return rules.SUCCESS, None
        sequences = {shard.records[i].sequence: i for i in range(span.start, span.end)}
        failed = failed_items(result.body, sequences)
        if failed is None:
            return rules.ERROR, None
        return (rules.PARTIAL, min(failed)) if failed else (rules.SUCCESS, None)

    def _discard(self, shard: Shard, decision: rules.Discard, now: float) -> None:
        span = decision.span
        records = shard.records[span.start : span.end]
        self._failures.append(
            failure_record(
                info_key=self.info_key,
                stream_arn=self.arn,
                function_arn=self._lab.arn(self.function, self.qualifier),
                shard_id=shard.id,
                records=records,
                condition=decision.condition,
                invokes=span.invokes,
                request_id=span.request_id,
                response=span.response,
                now=now,
            )
        )
        self._counts["discarded"] += len(records)

    def _back_off(self, shard_id: str, delay: float) -> None:
        """Pump ``shard_id`` again after ``delay`` seconds (at most a second); nothing starts there before."""
        delay = min(_BACKOFF_MAX_S, delay)

        def again() -> None:
            self._backoff.pop(shard_id, None)
            self._pump(shard_id)

        self._backoff[shard_id] = self._loop.call_later(delay, again)


def failed_items(body: bytes, sequences: dict[str, int]) -> list[int] | None:
    """The indices a partial batch response names (``[]``: all succeeded); None means the whole batch failed
    (an item without a string ``itemIdentifier``, or one naming no record of the batch)."""
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return None  # not JSON: the whole batch failed (as the SQS source reads it)
    if not isinstance(answer, dict):
        return []
    items = answer.get("batchItemFailures")
    if items is None:
        return []
    if not isinstance(items, list):
        return None
    found = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in sequences:
            return None
        found.append(sequences[identifier])
    return found
