"""Kinesis stream sources on a real Lab: per-shard order, bisect to the poison record, the on-failure record,
starting positions, batching, pausing, the invocations table, the iterator age chart and closing."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError
from lambdalab.streams import KinesisStream, StreamTimeoutError, sources
from lambdalab.viz.streams import iterator_age

# Each attempt appends one line to $LOG: the shard, the sequence numbers and the data it saw, and whether it
# failed (a record whose data is "poison" fails the batch).
RECORDER = """
import base64, json, os
def handler(event, context):
    records = event["Records"]
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in records]
    line = {"shard": records[0]["eventID"].split(":")[0], "data": data, "failed": "poison" in data,
            "seqs": [r["kinesis"]["sequenceNumber"] for r in records],
            "ids_ok": all(r["eventID"] == r["eventID"].split(":")[0] + ":" + r["kinesis"]["sequenceNumber"]
                          for r in records)}
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps(line) + "\\n")
    if line["failed"]:
        raise ValueError("poison record")
    return None
"""


def attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def recorder(lab: lambdalab.Lab, tmp_path: Path) -> tuple[lambdalab.Function, Path]:
    log = tmp_path / "attempts.jsonl"
    return lab.create_function("consumer", RECORDER, env_vars={"LOG": str(log)}), log


def test_bisect_isolates_a_poison_record_keeps_order_and_sends_it_to_the_failure_destination(
    lab: lambdalab.Lab, tmp_path: Path
) -> None:
    fn, log = recorder(lab, tmp_path)
    stream = lab.kinesis_stream("clicks", fn, shards=2, batch_size=10, bisect_batch_on_function_error=True,
                                maximum_retry_attempts=2)  # fmt: skip
    data = [f"r{i}" for i in range(40)]
    data[13] = "poison"
    put = stream.put_records([{"Data": d, "PartitionKey": f"user-{i % 7}"} for i, d in enumerate(data)])
    stream.wait_until_processed(timeout_s=25)

    poison = put[13]
    (failure,) = stream.failures()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"] == lab.arn("consumer")
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == poison["ShardId"] and info["batchSize"] == 1 and info["streamArn"] == stream.arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison["SequenceNumber"]
    assert len(info["approximateArrivalOfFirstRecord"]) == len("2026-01-01T00:00:00.000Z")

    seen = attempts(log)
    assert all(a["ids_ok"] for a in seen)
    holding = [a for a in seen if poison["SequenceNumber"] in a["seqs"]]
    sizes = [len(a["seqs"]) for a in holding]
    assert sizes[-3:] == [1, 1, 1]  # isolated, then failed maximum_retry_attempts + 1 times
    assert all(a["failed"] for a in holding)
    assert all(later in (size // 2, size - size // 2) for size, later in zip(sizes[:-3], sizes[1:-2], strict=True))
    for shard in stream.shard_ids:  # per shard, what succeeded is every other record, in put order, once
        done = [s for a in seen if a["shard"] == shard and not a["failed"] for s in a["seqs"]]
        expected = [p["SequenceNumber"] for p in put if p["ShardId"] == shard and p != poison]
        assert done == expected
    stats = stream.statistics()
    assert (stats["records"], stats["processed"], stats["discarded"], stats["pending"]) == (40, 39, 1, 0)
    assert stats["splits"] >= 2

    rows = lab.invocations().set_index("request_id")
    batches = stream.batches()
    assert len(rows) == len(batches) == len(seen)
    for batch in batches.itertuples():
        row = rows.loc[batch.request_id]
        assert (row.event_source_arn, row.shard_id, row.batch_size) == (stream.arn, batch.shard_id, batch.size)
        assert (row.status == "success") == (batch.outcome == "success")
    assert set(batches["shard_id"]) == set(stream.shard_ids)

    figure = iterator_age(stream)
    assert sorted(t.name for t in figure.data) == sorted(stream.shard_ids)
    assert sum(len(t.x) for t in figure.data) == len(batches)
    assert all(min(t.y) >= 0 for t in figure.data)


def test_records_of_one_partition_key_share_a_shard_and_keys_spread_over_shards(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("sink", "def handler(e, c):\n    return None\n")
    stream = lab.kinesis_stream("spread", fn, shards=4, enabled=False)
    put = stream.put_records([{"Data": {"n": i}, "PartitionKey": f"k{i % 20}"} for i in range(60)])
    by_key: dict[str, set[str]] = {}
    for i, answer in enumerate(put):
        by_key.setdefault(f"k{i % 20}", set()).add(answer["ShardId"])
    assert all(len(shards) == 1 for shards in by_key.values())
    assert {s for shards in by_key.values() for s in shards} == set(stream.shard_ids)
    numbers = [int(p["SequenceNumber"]) for p in put]
    assert numbers == sorted(numbers) and all(len(p["SequenceNumber"]) == 56 for p in put)
    last = stream.put_record(b"raw", "any", explicit_hash_key=str(2**128 - 1))
    assert last["ShardId"] == "shardId-000000000003"


@pytest.mark.parametrize(("position", "expected"), [("TRIM_HORIZON", 5), ("LATEST", 2)])
def test_latest_starts_after_the_records_put_before_the_mapping_started(
    lab: lambdalab.Lab, tmp_path: Path, position: str, expected: int
) -> None:
    fn, log = recorder(lab, tmp_path)
    stream = lab.kinesis_stream("start", fn, starting_position=position, enabled=False)
    stream.put_records([{"Data": f"early{i}", "PartitionKey": "p"} for i in range(3)])
    stream.update(enabled=True)
    stream.put_records([{"Data": f"late{i}", "PartitionKey": "p"} for i in range(2)])
    stream.wait_until_processed(timeout_s=15)
    seen = [d for a in attempts(log) for d in a["data"]]
    assert len(seen) == expected and seen[-2:] == ["late0", "late1"]


def test_batch_size_and_the_batching_window(lab: lambdalab.Lab, tmp_path: Path) -> None:
    fn, log = recorder(lab, tmp_path)
    stream = lab.kinesis_stream("window", fn, batch_size=5, batching_window_s=0.6)
    started = time.time()
    stream.put_records([{"Data": f"r{i}", "PartitionKey": "p"} for i in range(12)])
    stream.wait_until_processed(timeout_s=15)
    assert [len(a["data"]) for a in attempts(log)] == [5, 5, 2]
    batches = stream.batches()
    assert list(batches["size"]) == [5, 5, 2]
    # full batches go at once; the last two records wait out the window (from their arrival, 0.6 s)
    assert batches["sent_at"].iloc[0] - started < 0.5
    assert batches["iterator_age_ms"].iloc[2] >= 550.0


def test_update_enabled_false_pauses_and_true_resumes(lab: lambdalab.Lab, tmp_path: Path) -> None:
    fn, log = recorder(lab, tmp_path)
    stream = lab.kinesis_stream("pause", fn, batch_size=100)
    stream.update(enabled=False)
    assert stream.settings()["enabled"] is False and stream.settings()["batch_size"] == 100
    stream.put_records([{"Data": f"r{i}", "PartitionKey": "p"} for i in range(4)])
    with pytest.raises(StreamTimeoutError) as raised:
        stream.wait_until_processed(timeout_s=0.4)
    assert isinstance(raised.value, TimeoutError)
    assert attempts(log) == [] and stream.statistics()["pending"] == 4
    stream.update(enabled=True, batch_size=2)
    stream.wait_until_processed(timeout_s=15)
    assert [a["data"] for a in attempts(log)] == [["r0", "r1"], ["r2", "r3"]]
    with pytest.raises(ConfigError, match="cannot be updated"):
        stream.update(starting_position="LATEST")


def test_a_timeout_is_a_function_error_retried_in_order(lab: lambdalab.Lab, tmp_path: Path) -> None:
    sleep_once = (
        '    if "slow" in data and not os.path.exists(os.environ["LOG"] + ".slept"):\n'
        '        open(os.environ["LOG"] + ".slept", "w").close()\n'
        "        import time; time.sleep(5)\n"
    )
    source = RECORDER.replace('    if line["failed"]:', sleep_once + '    if line["failed"]:')
    log = tmp_path / "attempts.jsonl"
    fn = lab.create_function("consumer", source, env_vars={"LOG": str(log)}, timeout_s=1)
    stream = lab.kinesis_stream("slow", fn, batch_size=2)
    stream.put_records([{"Data": d, "PartitionKey": "p"} for d in ("slow", "b")])
    stream.wait_until_processed(timeout_s=15)
    assert list(stream.batches()["outcome"]) == ["error", "success"]
    assert stream.batches()["retries"].tolist() == [0, 1] and stream.failures() == []
    rows = lab.invocations().set_index("request_id")
    first, second = stream.batches()["request_id"]
    assert (rows.loc[first, "status"], rows.loc[second, "status"]) == ("timeout", "success")


def test_a_throttled_batch_is_retried_without_counting_against_the_retries(lab: lambdalab.Lab, tmp_path: Path) -> None:
    log = tmp_path / "attempts.jsonl"
    fn = lab.create_function("consumer", RECORDER, env_vars={"LOG": str(log)}, reserved_concurrency=0)
    stream = lab.kinesis_stream("throttled", fn, maximum_retry_attempts=0, enabled=False)
    stream.put_records([{"Data": f"r{i}", "PartitionKey": "p"} for i in range(3)])
    with pytest.raises(StreamTimeoutError):
        stream.wait_until_processed(timeout_s=0.2)  # never started: its records are pending
    stream.update(enabled=True)
    with pytest.raises(StreamTimeoutError):
        stream.wait_until_processed(timeout_s=0.5)  # throttled at 0, 0.1 and 0.3 s (backing off)
    assert set(stream.batches()["outcome"]) == {"throttled"} and stream.statistics()["throttled"] >= 3
    assert stream.failures() == [] and attempts(log) == []
    fn.update(reserved_concurrency=1)
    stream.wait_until_processed(timeout_s=10)
    assert [a["data"] for a in attempts(log)] == [["r0", "r1", "r2"]] and stream.failures() == []
    throttles = lab.invocations()
    assert (throttles["shard_id"] == "shardId-000000000000").all() and (throttles["batch_size"] == 3).all()


def test_a_batch_failing_forever_is_retried_with_a_back_off_and_holds_its_shard(
    lab: lambdalab.Lab, tmp_path: Path
) -> None:
    fn, log = recorder(lab, tmp_path)
    stream = lab.kinesis_stream("stuck", fn)  # maximum_retry_attempts=-1: retried until the record expires
    stream.put_records([{"Data": d, "PartitionKey": "p"} for d in ("poison", "next")])
    time.sleep(1.2)
    retries = stream.batches()["retries"].tolist()
    assert 4 <= len(retries) <= 8 and retries == list(range(len(retries)))  # 50, 100, 200, 400 ms ... apart
    assert all(a["data"] == ["poison", "next"] for a in attempts(log))  # "next" waits behind it, in order
    assert stream.statistics()["pending"] == 2 and stream.failures() == []
    deadline = time.monotonic() + 5
    while stream.statistics()["in_flight"] and time.monotonic() < deadline:  # between attempts: backing off
        time.sleep(0.005)
    stream.close()
    count = len(attempts(log))
    time.sleep(0.3)
    assert len(attempts(log)) == count  # closed: the back-off timer was cancelled


def test_a_mapping_on_a_version_invokes_it_and_names_it_in_the_failure(lab: lambdalab.Lab, tmp_path: Path) -> None:
    fn, log = recorder(lab, tmp_path)
    version = fn.publish()
    stream = lab.kinesis_stream("versioned", fn, qualifier=version, maximum_retry_attempts=0)
    stream.put_record("poison", "p")
    stream.wait_until_processed(timeout_s=15)
    (failure,) = stream.failures()
    assert failure["requestContext"]["functionArn"] == lab.arn("consumer", version)
    assert failure["requestContext"]["approximateInvokeCount"] == 1
    assert failure["responseContext"]["executedVersion"] == version == "1"
    assert lab.invocations()["version"].tolist() == ["1"]


def test_closing_stops_the_mapping_and_the_lab_closes_its_streams(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        fn, log = recorder(lab, tmp_path)
        waiting = lab.kinesis_stream("waiting", fn, batch_size=10, batching_window_s=0.3)
        other = lab.kinesis_stream("other", fn)
        queue = lab.sqs_queue("q", fn)
        assert sources(lab) == [waiting, other, queue]
        waiting.put_record("never", "p")  # its window timer is armed ...
        waiting.close()  # ... and cancelled
        assert waiting.closed and sources(lab) == [other, queue]
        time.sleep(0.6)
        assert attempts(log) == [] and waiting.statistics()["batches"] == 0
        with pytest.raises(ConfigError, match="closed"):
            waiting.put_record("late", "p")
    assert other.closed and queue.closed
    assert isinstance(other, KinesisStream) and other.uuid != waiting.uuid


def test_kinesis_stream_arguments_are_checked(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("sink", "def handler(e, c):\n    return None\n")
    with pytest.raises(ConfigError, match="invalid shards"):
        lab.kinesis_stream("s", fn, shards=0)
    with pytest.raises(ConfigError, match="invalid name"):
        lab.kinesis_stream("bad name", fn)
    with pytest.raises(lambdalab.UnknownFunctionError):
        lab.kinesis_stream("s", "missing")
    with pytest.raises(lambdalab.UnknownFunctionError):
        lab.kinesis_stream("s", fn, qualifier="nope")
    stream = lab.kinesis_stream("s", fn, enabled=False)
    assert stream.arn == "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    with pytest.raises(ConfigError, match="partition_key"):
        stream.put_record("x", "")
    with pytest.raises(ConfigError, match="invalid data"):
        stream.put_record(b"x" * (1024 * 1024), "p")
    assert stream.settings() == {
        "batch_size": 100, "batching_window_s": 0.0, "starting_position": "TRIM_HORIZON",
        "starting_position_timestamp": None, "bisect_batch_on_function_error": False, "maximum_retry_attempts": -1,
        "maximum_record_age_s": -1, "report_batch_item_failures": False, "parallelization_factor": 1,
        "qualifier": None, "enabled": False, "on_failure": None, "shards": 1,
    }  # fmt: skip


def test_the_event_is_lambdas_kinesis_record(lab: lambdalab.Lab, tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    source = "import json, os\ndef handler(e, c):\n    open(os.environ['OUT'], 'w').write(json.dumps(e))\n"
    lab.create_function("echo", source, env_vars={"OUT": str(out)})
    stream = lab.kinesis_stream("shape", "echo")
    answer = stream.put_record({"a": 1}, "pk")
    stream.wait_until_processed(timeout_s=15)
    (record,) = json.loads(out.read_text())["Records"]
    assert record["eventID"] == f"{answer['ShardId']}:{answer['SequenceNumber']}"
    assert record["eventSourceARN"] == stream.arn and record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record" and record["awsRegion"] == "us-east-1"
    assert record["kinesis"]["partitionKey"] == "pk" and record["kinesis"]["sequenceNumber"] == answer["SequenceNumber"]
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert abs(record["kinesis"]["approximateArrivalTimestamp"] - stream.batches()["sent_at"].iloc[0]) < 1.0
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"a": 1}
