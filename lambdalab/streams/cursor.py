"""Where a stream mapping stands in one shard, and what it does next: the poller's rules, as pure code.

A ``Cursor`` keeps the shard's checkpoint and the spans of records still to deliver (a batch, or the parts of
a failed one), and answers ``next(settings, now)`` with one decision: deliver a span, discard a span to the
on-failure destination, wait until a time (the batching window), or nothing to do. The driver
(``mapping.py``) performs it and reports back with ``finished``. Lambda's rules kept here:
- One batch in flight per shard, records in sequence order; the checkpoint moves only past records that
  succeeded or were discarded, so a failed batch holds back the rest of its shard.
- A batch is up to ``batch_size`` records and its payload (``shards.encode_batch``, counted exactly) at most
  the 6 MB invoke limit; a record that alone cannot fit is discarded (``PayloadSizeExceeded``: Lambda could
  never invoke with it, and a request too large is no throttle to wait out); with a batching window a smaller
  batch waits until the window (from its first record's arrival, or from the end of the previous batch) closes.
- A function error retries the batch (``retries`` + 1); with ``bisect_batch_on_function_error`` a batch of
  two or more records is split in two halves instead, each keeping the batch's retry count (splitting does not
  consume the retry quota, as Lambda documents), the first half delivered first. A span that fails again after
  ``maximum_retry_attempts`` retries is discarded (``RetryAttemptsExhausted``).
- A partial batch response checkpoints before the lowest failed record; the rest is retried as one span
  (a retry). A throttle retries the same span, not counted.
- Records older than ``maximum_record_age_s`` when their span is next due are discarded (``RecordAgeExceeded``).

Rules: pure (no clock, no loop, no I/O); ``now`` is an argument. Never touches the shard's records.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import NamedTuple

from lambdalab.core.runtime_api import MAX_REQUEST_BYTES
from lambdalab.streams.settings import StreamSettings
from lambdalab.streams.shards import BATCH_ENVELOPE, BATCH_SEPARATOR, Shard

# the on-failure condition of a record that alone exceeds the invoke payload limit (Lambda documents only
# RetryAttemptsExhausted and RecordAgeExceeded; this name follows their pattern)
PAYLOAD_SIZE_EXCEEDED = "PayloadSizeExceeded"


@dataclasses.dataclass
class Span:
    """Records ``start`` to ``end`` (indices into the shard) still to deliver, and what their last attempt said."""

    start: int
    end: int
    retries: int = 0  # failed attempts counted against maximum_retry_attempts (splits are not)
    invokes: int = 0  # invocations that carried these records (approximateInvokeCount)
    request_id: str | None = None  # the last invocation's
    response: dict[str, object] | None = None  # the last invocation's responseContext

    def __len__(self) -> int:
        return self.end - self.start


class Deliver(NamedTuple):
    span: Span


class Discard(NamedTuple):
    span: Span
    condition: str  # "RetryAttemptsExhausted", "RecordAgeExceeded" or "PayloadSizeExceeded"


class Wait(NamedTuple):
    until: float  # epoch seconds


Decision = Deliver | Discard | Wait | None

SUCCESS, ERROR, PARTIAL, THROTTLED = "success", "error", "partial", "throttled"


class Cursor:
    """One shard's checkpoint and the spans still to deliver, oldest first; at most one is in flight."""

    def __init__(self, shard: Shard) -> None:
        self.shard = shard
        self.position: int | None = None  # the first record never taken; None until the mapping first starts
        self.spans: collections.deque[Span] = collections.deque()
        self.in_flight = False
        self.ready_at = 0.0  # when the shard was last free to deliver (a batching window starts no earlier)

    def start(self, settings: StreamSettings, now: float) -> None:
        """Resolve the starting position the first time the mapping is enabled; later calls resume."""
        if self.position is None:
            records = self.shard.records
            if settings.starting_position == "LATEST":
                self.position = len(records)
            elif settings.starting_position == "AT_TIMESTAMP":
                self.position = self.shard.first_at_or_after(float(settings.starting_position_timestamp or 0.0))
            else:
                self.position = 0
        self.ready_at = max(self.ready_at, now)

    @property
    def checkpoint(self) -> int:
        """The index of the first record not yet done (succeeded or discarded); 0 before the mapping first starts
        (where it will start is not known until then)."""
        if self.spans:
            return self.spans[0].start
        return 0 if self.position is None else self.position

    @property
    def done(self) -> bool:
        return not self.in_flight and not self.spans and self.checkpoint == len(self.shard.records)

    def next(self, settings: StreamSettings, now: float) -> Decision:
        """What to do now; a Deliver marks the span in flight until ``finished``."""
        if self.in_flight or self.position is None:
            return None
        if not self.spans:
            available = len(self.shard.records) - self.position
            if available == 0:
                return None
            end = self._batch_end(self.position, settings.batch_size)
            full = end - self.position >= settings.batch_size or end < len(self.shard.records)
            if settings.batching_window_s > 0 and not full:
                due = max(self.shard.records[self.position].arrival, self.ready_at) + settings.batching_window_s
                if now < due:
                    return Wait(due)
            self.spans.append(Span(self.position, end))
            self.position = end
        span = self.spans[0]
        if settings.maximum_record_age_s >= 0:
            expired = self._expired(span, now - settings.maximum_record_age_s)
            if expired:
                gone = dataclasses.replace(span, end=span.start + expired)
                span.start += expired
                if not len(span):
                    self.spans.popleft()
                return Discard(gone, "RecordAgeExceeded")
        if len(span) == 1 and BATCH_ENVELOPE + self.shard.records[span.start].size > MAX_REQUEST_BYTES:
            self.spans.popleft()
            return Discard(span, PAYLOAD_SIZE_EXCEEDED)
        self.in_flight = True
        return Deliver(span)

    def finished(
        self, outcome: str, settings: StreamSettings, now: float, failed_from: int | None = None
    ) -> tuple[int, Discard | None]:
        """The in-flight span ended with ``outcome`` (``failed_from``: the lowest failed index of a PARTIAL one);
        returns how many records succeeded and what to discard, if anything."""
        self.in_flight, self.ready_at = False, now
        span = self.spans[0]
        if outcome == SUCCESS:
            self.spans.popleft()
            return len(span), None
        if outcome == THROTTLED:
            return 0, None
        succeeded = 0
        if outcome == PARTIAL and failed_from is not None:
            succeeded, span.start = failed_from - span.start, failed_from
        split = outcome == ERROR and settings.bisect_batch_on_function_error and len(span) > 1
        if split:
            middle = span.start + len(span) // 2
            second = dataclasses.replace(span, start=middle)
            span.end = middle
            self.spans.insert(1, second)
            return succeeded, None
        if 0 <= settings.maximum_retry_attempts <= span.retries:
            self.spans.popleft()
            return succeeded, Discard(span, "RetryAttemptsExhausted")
        span.retries += 1
        return succeeded, None

    def too_large(self, now: float) -> Discard | None:
        """The in-flight span was refused as too large to invoke (``RequestTooLargeException``): split it in two
        halves (no retry counted), or discard it when it is a single record."""
        self.in_flight, self.ready_at = False, now
        span = self.spans[0]
        if len(span) == 1:
            self.spans.popleft()
            return Discard(span, PAYLOAD_SIZE_EXCEEDED)
        middle = span.start + len(span) // 2
        self.spans.insert(1, dataclasses.replace(span, start=middle))
        span.end = middle
        return None

    def _batch_end(self, start: int, batch_size: int) -> int:
        """The end of the batch from ``start``: at most ``batch_size`` records whose payload fits (at least one)."""
        records, size, end = self.shard.records, BATCH_ENVELOPE, start
        while end < len(records) and end - start < batch_size:
            size += records[end].size + (BATCH_SEPARATOR if end > start else 0)
            if end > start and size > MAX_REQUEST_BYTES:
                break
            end += 1
        return end

    def _expired(self, span: Span, born_before: float) -> int:
        records = self.shard.records
        count = 0
        while span.start + count < span.end and records[span.start + count].arrival < born_before:
            count += 1
        return count
