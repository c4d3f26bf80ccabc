"""Stream mappings' limits and concurrency: batches sized exactly to the 6 MB invoke payload, a record that alone
cannot fit discarded (PayloadSizeExceeded) rather than throttled forever, batch columns only for invocations that
left a record, updates from two threads both kept, waits refused where they would stop the loop, ASCII names,
explicit hash keys as Kinesis reads them, no starting timestamp in the future."""

from __future__ import annotations

import threading
import time

import pytest

import lambdalab
from lambdalab.core.runtime_api import MAX_REQUEST_BYTES
from lambdalab.errors import ConfigError, RequestTooLargeException
from lambdalab.results import BatchInfo
from lambdalab.streams import cursor as rules
from lambdalab.streams import settings as checks
from lambdalab.streams.cursor import Cursor, Deliver, Discard
from lambdalab.streams.shards import (
    HASH_SPACE,
    Sequencer,
    StreamRecord,
    batch_size_bytes,
    encode_batch,
    event_size,
    hash_key,
    make_shards,
)

FN = "def handler(e, c):\n    return None\n"


def cursor_of(sizes: list[int]) -> Cursor:
    (shard,) = make_shards(["shardId-000000000000"])
    numbers = Sequencer(1000)
    shard.records += [StreamRecord(numbers.next(), 1.0, {}, size) for size in sizes]
    return Cursor(shard)


def test_the_batch_size_is_the_encoded_payloads_exactly() -> None:
    events = [{"a": "é" * i, "b": ["😀", i], "c": {"d": None}} for i in range(50)]
    for n in (0, 1, 2, 50):
        assert batch_size_bytes([event_size(e) for e in events[:n]]) == len(encode_batch(events[:n]))


def test_batches_fill_the_6_mb_payload_exactly_and_never_pass_it() -> None:
    s = checks.make("kinesis", {"batch_size": 10_000})
    found = cursor_of([628] * 10_000)  # 10,000 of these fit a 1-byte-separator estimate, not the real payload
    found.start(s, 0.0)
    decision = found.next(s, 100.0)
    assert isinstance(decision, Deliver)
    n = len(decision.span)
    assert batch_size_bytes([628] * n) <= MAX_REQUEST_BYTES < batch_size_bytes([628] * (n + 1))
    assert n < 10_000


def test_a_record_that_alone_cannot_fit_is_discarded_and_the_shard_moves_on() -> None:
    s = checks.make("kinesis", {})
    found = cursor_of([100, MAX_REQUEST_BYTES, 100])
    found.start(s, 0.0)
    first = found.next(s, 100.0)
    assert isinstance(first, Deliver) and (first.span.start, first.span.end) == (0, 1)
    found.finished(rules.SUCCESS, s, 100.0)
    gone = found.next(s, 100.0)
    assert isinstance(gone, Discard) and gone.condition == "PayloadSizeExceeded"
    assert (gone.span.start, gone.span.end) == (1, 2)
    last = found.next(s, 100.0)
    assert isinstance(last, Deliver) and (last.span.start, last.span.end) == (2, 3)


def test_a_span_refused_as_too_large_splits_then_discards_one_record() -> None:
    s = checks.make("kinesis", {})
    found = cursor_of([100, 100])
    found.start(s, 0.0)
    assert isinstance(found.next(s, 100.0), Deliver)
    assert found.too_large(100.0) is None  # split in halves, no retry counted
    half = found.next(s, 100.0)
    assert isinstance(half, Deliver) and (half.span.start, half.span.end, half.span.retries) == (0, 1, 0)
    gone = found.too_large(100.0)
    assert isinstance(gone, Discard) and gone.condition == "PayloadSizeExceeded"
    rest = found.next(s, 100.0)
    assert isinstance(rest, Deliver) and (rest.span.start, rest.span.end) == (1, 2)


def test_ten_thousand_records_near_the_limit_are_processed_not_throttled(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", FN, memory_mb=512)
    stream = lab.kinesis_stream("big", fn, batch_size=10_000, enabled=False)
    for _ in range(20):
        stream.put_records([{"Data": b"x" * 60, "PartitionKey": "kkk"} for _ in range(500)])
    stream.update(enabled=True)
    stream.wait_until_processed(timeout_s=60)
    stats = stream.statistics()
    assert stats["processed"] == 10_000 and stats["throttled"] == 0 and stats["discarded"] == 0
    assert stream.failures() == [] and set(stream.batches()["outcome"]) == {"success"}


def test_batch_columns_stay_with_their_rows_when_invokes_are_refused(tmp_path: object) -> None:
    with lambdalab.Lab(max_records=5) as lab:
        lab.create_function("c", FN)
        good = BatchInfo("arn:aws:kinesis:us-east-1:123456789012:stream/s", "shardId-000000000000", 1)

        async def run() -> int:
            await lab.start_invoke("c", b"{}", request_id="good-1", batch=good)
            refused = 0
            for i in range(10):
                try:
                    lab.start_invoke("c", b'"' + b"x" * MAX_REQUEST_BYTES + b'"', batch=BatchInfo("x", "y", i + 1))
                except RequestTooLargeException:
                    refused += 1
            return refused

        assert lab.run_on_loop(run(), timeout=30) == 10
        rows = lab.invocations()
        row = rows[rows["request_id"] == "good-1"].iloc[0]
        assert (row["event_source_arn"], row["shard_id"], row["batch_size"]) == (
            good.event_source_arn,
            good.shard_id,
            1,
        )


def test_concurrent_updates_are_all_kept(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", FN)
    stream = lab.kinesis_stream("s", fn, enabled=False)
    queue = lab.sqs_queue("q", fn, enabled=False)
    for round_ in range(15):
        size = 7 + round_
        changes = [
            lambda size=size: stream.update(batch_size=size),
            lambda size=size: stream.update(maximum_retry_attempts=size),
            lambda size=size: queue.update(batch_size=size % 10 + 1),
            lambda size=size: queue.update(max_concurrency=size),
        ]
        threads = [threading.Thread(target=change) for change in changes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert (stream.settings()["batch_size"], stream.settings()["maximum_retry_attempts"]) == (size, size)
        assert (queue.settings()["batch_size"], queue.settings()["max_concurrency"]) == (size % 10 + 1, size)


def test_wait_until_processed_refused_on_the_loop_and_at_once_when_closed(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", FN)
    stream = lab.kinesis_stream("s", fn, enabled=False)
    stream.put_record("a", "k")

    async def on_loop() -> None:
        stream.wait_until_processed(timeout_s=5)

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="loop thread"):
        lab.run_on_loop(on_loop(), timeout=10)
    stream.close()
    with pytest.raises(ConfigError, match="closed"):
        stream.wait_until_processed(timeout_s=5)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("name", ["ストリーム²", "abc²", "a b", "ab/c"])
def test_names_are_ascii_as_aws_requires(lab: lambdalab.Lab, name: str) -> None:
    fn = lab.create_function("c", FN)
    with pytest.raises(ConfigError, match="invalid name"):
        lab.kinesis_stream(name, fn)
    with pytest.raises(ConfigError, match="invalid table"):
        lab.dynamodb_stream(name + "xyz", fn)
    with pytest.raises(ConfigError, match="invalid name"):
        lab.sqs_queue(name, fn)
    with pytest.raises(ConfigError, match="invalid stream_label"):
        lab.dynamodb_stream("orders", fn, stream_label="²")


@pytest.mark.parametrize("key", ["０", "٣", "007", "", " 1", str(HASH_SPACE), "1" * 40])
def test_explicit_hash_keys_are_ascii_decimal_without_leading_zeros(key: str) -> None:
    with pytest.raises(ConfigError, match="explicit_hash_key"):
        hash_key("p", key)


def test_explicit_hash_key_range_ends() -> None:
    assert hash_key("p", "0") == 0 and hash_key("p", str(HASH_SPACE - 1)) == HASH_SPACE - 1


def test_a_starting_timestamp_in_the_future_is_refused(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", FN)
    with pytest.raises(ConfigError, match="starting_position_timestamp"):
        lab.kinesis_stream("s", fn, starting_position="AT_TIMESTAMP", starting_position_timestamp=time.time() + 3600)
    stream = lab.kinesis_stream("s", fn, starting_position="AT_TIMESTAMP", starting_position_timestamp=time.time() - 1)
    assert stream.settings()["starting_position"] == "AT_TIMESTAMP"
