"""The poller's rules (lambdalab/streams/cursor.py), pure: a manual clock, no Lab, no loop."""

from __future__ import annotations

import pytest

from lambdalab.errors import ConfigError
from lambdalab.streams import cursor as rules
from lambdalab.streams import settings as checks
from lambdalab.streams.cursor import Cursor, Deliver, Discard, Wait
from lambdalab.streams.shards import HASH_SPACE, Sequencer, StreamRecord, hash_key, make_shards, route


def shard_with(arrivals: list[float], size: int = 100) -> Cursor:
    (shard,) = make_shards(["shardId-000000000000"])
    numbers = Sequencer(1000)
    shard.records += [StreamRecord(numbers.next(), at, {}, size) for at in arrivals]
    return Cursor(shard)


def settings(**options: object) -> checks.StreamSettings:
    return checks.make("kinesis", dict(options))


def deliver(found: Cursor, s: checks.StreamSettings, now: float = 100.0) -> tuple[int, int]:
    decision = found.next(s, now)
    assert isinstance(decision, Deliver), decision
    return decision.span.start, decision.span.end


def test_batches_follow_batch_size_in_order_with_one_in_flight() -> None:
    found, s = shard_with([1.0] * 7), settings(batch_size=3)
    found.start(s, 0.0)
    assert deliver(found, s) == (0, 3)
    assert found.next(s, 100.0) is None  # one batch in flight per shard
    assert found.finished(rules.SUCCESS, s, 100.0) == (3, None)
    assert deliver(found, s) == (3, 6)
    found.finished(rules.SUCCESS, s, 100.0)
    assert deliver(found, s) == (6, 7)
    found.finished(rules.SUCCESS, s, 100.0)
    assert found.done and found.next(s, 100.0) is None


def test_a_batch_stops_short_of_the_6_mb_payload() -> None:
    found, s = shard_with([1.0] * 10, size=1024 * 1024), settings(batch_size=100)
    found.start(s, 0.0)
    assert deliver(found, s) == (0, 5)  # 6 records of 1 MiB and their envelope would pass 6 MiB


def test_starting_positions() -> None:
    for position, stamp, first in (("TRIM_HORIZON", None, 0), ("LATEST", None, 3), ("AT_TIMESTAMP", 2.0, 1)):
        found = shard_with([1.0, 2.0, 3.0])
        s = settings(starting_position=position, starting_position_timestamp=stamp)
        found.start(s, 10.0)
        assert found.checkpoint == first
        found.start(s, 11.0)  # a second start (enabled again) resumes where it was
        assert found.checkpoint == first


def test_the_batching_window_waits_for_a_full_batch_or_its_end() -> None:
    found, s = shard_with([10.0, 10.5]), settings(batch_size=3, batching_window_s=2)
    found.start(s, 0.0)
    assert found.next(s, 11.0) == Wait(12.0)  # from the first record's arrival
    assert deliver(found, s, now=12.0) == (0, 2)
    found.finished(rules.SUCCESS, s, 12.5)
    found.shard.records.append(StreamRecord("9999", 12.0, {}, 1))
    assert found.next(s, 12.6) == Wait(14.5)  # no earlier than the end of the previous batch
    found.shard.records += [StreamRecord(str(10000 + i), 12.7, {}, 1) for i in range(2)]
    assert deliver(found, s, now=12.7) == (2, 5)  # full: no wait


def test_a_function_error_retries_until_maximum_retry_attempts_then_discards() -> None:
    found, s = shard_with([1.0] * 4), settings(batch_size=4, maximum_retry_attempts=2)
    found.start(s, 0.0)
    for _ in range(3):  # the first attempt and two retries
        assert deliver(found, s) == (0, 4)
        succeeded, discard = found.finished(rules.ERROR, s, 100.0)
    assert succeeded == 0 and isinstance(discard, Discard)
    assert (discard.span.start, discard.span.end, discard.condition) == (0, 4, "RetryAttemptsExhausted")
    assert found.done


def test_a_throttle_retries_the_same_batch_without_counting() -> None:
    found, s = shard_with([1.0] * 2), settings(maximum_retry_attempts=0)
    found.start(s, 0.0)
    for _ in range(5):
        assert deliver(found, s) == (0, 2)
        assert found.finished(rules.THROTTLED, s, 100.0) == (0, None)
    assert found.spans[0].retries == 0


def test_bisect_splits_until_the_poison_record_is_isolated_and_keeps_order() -> None:
    poison = 5
    found, s = shard_with([1.0] * 8), settings(batch_size=8, bisect_batch_on_function_error=True,
                                               maximum_retry_attempts=1)  # fmt: skip
    found.start(s, 0.0)
    delivered, discarded = [], []
    while not found.done:
        start, end = deliver(found, s)
        delivered.append((start, end))
        outcome = rules.ERROR if start <= poison < end else rules.SUCCESS
        _, discard = found.finished(outcome, s, 100.0)
        if discard is not None:
            discarded.append((discard.span.start, discard.span.end, discard.span.retries))
    assert delivered == [(0, 8), (0, 4), (4, 8), (4, 6), (4, 5), (5, 6), (5, 6), (6, 8)]
    assert discarded == [(5, 6, 1)]  # isolated, then failed maximum_retry_attempts + 1 times


def test_a_partial_batch_response_checkpoints_at_the_lowest_failed_record() -> None:
    found, s = shard_with([1.0] * 6), settings(batch_size=6, maximum_retry_attempts=1)
    found.start(s, 0.0)
    deliver(found, s)
    assert found.finished(rules.PARTIAL, s, 100.0, failed_from=2) == (2, None)
    assert found.checkpoint == 2
    assert deliver(found, s) == (2, 6)  # the rest of the batch, again (one retry)


def test_a_partial_batch_response_past_the_retries_discards_the_rest() -> None:
    found, s = shard_with([1.0] * 6), settings(batch_size=6, maximum_retry_attempts=1)
    found.start(s, 0.0)
    deliver(found, s)
    found.finished(rules.PARTIAL, s, 100.0, failed_from=2)
    deliver(found, s)
    succeeded, discard = found.finished(rules.PARTIAL, s, 100.0, failed_from=4)
    assert succeeded == 2 and discard is not None and (discard.span.start, discard.span.end) == (4, 6)


def test_records_past_maximum_record_age_are_discarded_before_delivery() -> None:
    found, s = shard_with([0.0, 0.0, 50.0, 70.0]), settings(batch_size=10, maximum_record_age_s=60)
    found.start(s, 0.0)
    decision = found.next(s, 100.0)  # the first two are 100 s old
    assert isinstance(decision, Discard) and decision.condition == "RecordAgeExceeded"
    assert (decision.span.start, decision.span.end) == (0, 2)
    assert deliver(found, s) == (2, 4)
    found.finished(rules.ERROR, s, 115.0)
    decision = found.next(s, 115.0)  # while retrying, the record of 50.0 grew too old
    assert isinstance(decision, Discard) and (decision.span.start, decision.span.end) == (2, 3)
    assert deliver(found, s, now=115.0) == (3, 4)


def test_records_route_by_the_md5_of_their_partition_key_or_an_explicit_hash_key() -> None:
    shards = make_shards(["a", "b", "c"])
    assert shards[0].start_hash == 0 and shards[-1].end_hash == HASH_SPACE - 1
    assert all(left.end_hash + 1 == right.start_hash for left, right in zip(shards, shards[1:], strict=False))
    # md5("user-1") = d6d77053...: in the last third of the hash key range
    assert f"{hash_key('user-1'):032x}"[:8] == "d6d77053" and route(shards, hash_key("user-1")).id == "c"
    assert route(shards, hash_key("x", explicit_hash_key="0")).id == "a"
    assert route(shards, hash_key("x", explicit_hash_key=str(HASH_SPACE - 1))).id == "c"
    with pytest.raises(ConfigError, match="explicit_hash_key"):
        hash_key("x", explicit_hash_key=str(HASH_SPACE))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"batching_window_s": 301}, "batching_window_s"),
        ({"maximum_retry_attempts": -2}, "maximum_retry_attempts"),
        ({"maximum_record_age_s": 59}, "maximum_record_age_s"),
        ({"parallelization_factor": 11}, "parallelization_factor"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position_timestamp"),
        ({"starting_position": "NOW"}, "starting_position"),
        ({"bisect_batch_on_function_error": 1}, "bisect_batch_on_function_error"),
        ({"nope": 1}, "option"),
    ],
)
def test_settings_are_checked_as_lambda_checks_them(options: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid {field}"):
        checks.make("kinesis", options)


def test_dynamodb_streams_have_no_at_timestamp() -> None:
    with pytest.raises(ConfigError, match="TRIM_HORIZON or LATEST"):
        checks.make("dynamodb", {"starting_position": "AT_TIMESTAMP", "starting_position_timestamp": 1.0})
