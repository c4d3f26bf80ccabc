"""DynamoDB stream sources on a real Lab: ReportBatchItemFailures checkpoints, the DDBStreamBatchInfo failure
record, INSERT / MODIFY / REMOVE records with their images; and an SQS queue's mapping settings and columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError

# Logs each attempt (ids, sequence numbers, event names) to $LOG, and reports as failed the records whose new
# image has fail="always", or fail="once" the first time that record is seen (a marker file per sequence number).
# An item with bad="answer" makes the first answer name an unknown record (malformed: the whole batch fails).
PARTIAL = """
import json, os
def handler(event, context):
    records = event["Records"]
    ids = [int(r["dynamodb"]["Keys"]["id"]["N"]) for r in records]
    with open(os.environ["LOG"], "a") as f:
        f.write(json.dumps({"ids": ids, "names": [r["eventName"] for r in records]}) + "\\n")
    failed = []
    for r in records:
        image = r["dynamodb"].get("NewImage", {})
        mode = image.get("fail", {}).get("S")
        marker = os.environ["LOG"] + "." + r["dynamodb"]["SequenceNumber"]
        if mode == "always" or (mode == "once" and not os.path.exists(marker)):
            open(marker, "w").close()
            failed.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
        if image.get("bad", {}).get("S") == "answer" and not os.path.exists(marker):
            open(marker, "w").close()
            return {"batchItemFailures": [{"itemIdentifier": "12345"}]}
    return {"batchItemFailures": failed}
"""


def attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def consumer(lab: lambdalab.Lab, tmp_path: Path) -> tuple[lambdalab.Function, Path]:
    log = tmp_path / "attempts.jsonl"
    return lab.create_function("consumer", PARTIAL, env_vars={"LOG": str(log)}), log


def test_report_batch_item_failures_restarts_from_the_lowest_failed_record(lab: lambdalab.Lab, tmp_path: Path) -> None:
    fn, log = consumer(lab, tmp_path)
    table = lab.dynamodb_stream("orders", fn, report_batch_item_failures=True, batch_size=10, enabled=False)
    for i in range(1, 7):
        table.put_item({"id": i, "fail": "once"} if i in (5, 3) else {"id": i})
    table.update(enabled=True)
    table.wait_until_processed(timeout_s=15)
    assert [a["ids"] for a in attempts(log)] == [[1, 2, 3, 4, 5, 6], [3, 4, 5, 6]]
    assert list(table.batches()["outcome"]) == ["partial", "success"]
    assert table.failures() == [] and table.statistics()["processed"] == 6


def test_a_record_failing_past_the_retries_sends_the_rest_of_its_batch_to_the_destination(
    lab: lambdalab.Lab, tmp_path: Path
) -> None:
    fn, log = consumer(lab, tmp_path)
    table = lab.dynamodb_stream("orders", fn, report_batch_item_failures=True, maximum_retry_attempts=1,
                                enabled=False, on_failure="arn:aws:sqs:us-east-1:123456789012:dlq")  # fmt: skip
    answers = [table.put_item({"id": i, "fail": "always"} if i == 2 else {"id": i}) for i in range(1, 5)]
    table.update(enabled=True)
    table.wait_until_processed(timeout_s=15)
    assert [a["ids"] for a in attempts(log)] == [[1, 2, 3, 4], [2, 3, 4]]
    (failure,) = table.failures()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}  # no function error
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        answers[1]["SequenceNumber"], answers[3]["SequenceNumber"],
    )  # fmt: skip
    assert info["batchSize"] == 3 and info["streamArn"] == table.arn and info["shardId"] == answers[1]["ShardId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfLastRecord"])  # seconds
    assert table.settings()["on_failure"] == "arn:aws:sqs:us-east-1:123456789012:dlq"


def test_a_malformed_batch_item_failures_answer_fails_the_whole_batch(lab: lambdalab.Lab, tmp_path: Path) -> None:
    fn, log = consumer(lab, tmp_path)
    table = lab.dynamodb_stream("orders", fn, report_batch_item_failures=True, enabled=False)
    table.put_item({"id": 1})
    table.put_item({"id": 2, "bad": "answer"})
    table.update(enabled=True)
    table.wait_until_processed(timeout_s=15)
    assert [a["ids"] for a in attempts(log)] == [[1, 2], [1, 2]]  # an unknown itemIdentifier: all again
    assert list(table.batches()["outcome"]) == ["error", "success"]


def test_put_and_remove_make_insert_modify_and_remove_records(lab: lambdalab.Lab, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    source = "import json, os\ndef handler(e, c):\n    open(os.environ['OUT'], 'a').write(json.dumps(e) + '\\n')\n"
    lab.create_function("echo", source, env_vars={"OUT": str(out)})
    table = lab.dynamodb_stream("people", "echo", key_attributes=("pk", "sk"), batch_size=100, enabled=False)
    assert table.put_item({"pk": "a", "sk": 1, "name": "Ann"})["eventName"] == "INSERT"
    assert table.put_item({"pk": "a", "sk": 1, "name": "Ann"}) is None  # nothing changed: no record
    assert table.put_item({"pk": "a", "sk": 1, "name": "Anna"})["eventName"] == "MODIFY"
    assert table.remove_item({"pk": "a", "sk": 1})["eventName"] == "REMOVE"
    assert table.remove_item({"pk": "a", "sk": 1}) is None and table.items() == []
    table.update(enabled=True)
    table.wait_until_processed(timeout_s=15)
    (event,) = [json.loads(line) for line in out.read_text().splitlines()]
    insert, modify, remove = event["Records"]
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert all(r["eventSourceARN"] == table.arn and r["eventSource"] == "aws:dynamodb" for r in event["Records"])
    assert insert["dynamodb"]["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert "OldImage" not in insert["dynamodb"] and insert["dynamodb"]["NewImage"]["name"] == {"S": "Ann"}
    assert modify["dynamodb"]["OldImage"]["name"] == {"S": "Ann"} and modify["dynamodb"]["NewImage"]["name"] == {
        "S": "Anna"
    }
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["name"] == {"S": "Anna"}
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]]
    assert numbers == sorted(numbers) and all(len(str(n)) == 21 for n in numbers)
    assert re.fullmatch(r"arn:aws:dynamodb:us-east-1:123456789012:table/people/stream/\d{4}-\d\d-\d\dT[\d:.]{12}",
                        table.arn)  # fmt: skip
    assert re.fullmatch(r"shardId-\d{20}-[0-9a-f]{8}", table.shard_ids[0])


def test_keys_only_streams_send_no_images_and_bad_items_are_refused(lab: lambdalab.Lab, tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    source = "import json, os\ndef handler(e, c):\n    open(os.environ['OUT'], 'w').write(json.dumps(e))\n"
    lab.create_function("sink", source, env_vars={"OUT": str(out)})
    table = lab.dynamodb_stream("slim", "sink", stream_view_type="KEYS_ONLY")
    table.record("MODIFY", {"id": 7}, new_image={"id": 7, "x": 1})
    table.wait_until_processed(timeout_s=15)
    (record,) = json.loads(out.read_text())["Records"]
    assert record["dynamodb"]["Keys"] == {"id": {"N": "7"}} and record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
    assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]
    with pytest.raises(ConfigError, match="key attributes"):
        table.put_item({"other": 1})
    with pytest.raises(ConfigError, match="event_name"):
        table.record("UPSERT", {"id": 1})
    with pytest.raises(ConfigError, match="starting_position"):
        lab.dynamodb_stream("slim2", "sink", starting_position="AT_TIMESTAMP", starting_position_timestamp=1.0)
    assert table.statistics()["records"] == 1 and table.settings()["stream_view_type"] == "KEYS_ONLY"
    labelled = lab.dynamodb_stream("slim3", "sink", stream_label="2026-01-02T03:04:05.678", enabled=False)
    assert labelled.arn == "arn:aws:dynamodb:us-east-1:123456789012:table/slim3/stream/2026-01-02T03:04:05.678"
    assert labelled.settings()["stream_label"] == "2026-01-02T03:04:05.678"


def test_an_sqs_queue_mapping_has_a_uuid_settings_update_and_fills_the_batch_columns(
    lab: lambdalab.Lab,
) -> None:
    lab.create_function("sink", "def handler(e, c):\n    return None\n")
    queue = lab.sqs_queue("jobs", "sink", batch_size=5)
    assert len(queue.uuid) == 36 and queue.arn == "arn:aws:sqs:us-east-1:123456789012:jobs"
    assert queue.settings() == {
        "qualifier": None, "batch_size": 5, "batching_window_s": 0.0, "visibility_timeout_s": 30.0,
        "max_receive_count": None, "report_batch_item_failures": False, "max_concurrency": 5, "enabled": True,
    }  # fmt: skip
    queue.update(enabled=False)
    queue.send_batch([f"m{i}" for i in range(3)])
    with pytest.raises(TimeoutError):
        queue.wait_until_empty(timeout_s=0.3)
    assert queue.statistics()["batches"] == 0
    queue.update(enabled=True, batch_size=2)
    queue.wait_until_empty(timeout_s=15)
    frame = lab.invocations()
    assert sorted(frame["batch_size"]) == [1, 2]
    assert set(frame["event_source_arn"]) == {queue.arn} and frame["shard_id"].isna().all()
    with pytest.raises(ConfigError, match="cannot be updated"):
        queue.update(visibility_timeout_s=60)
    with pytest.raises(ConfigError, match="batch_size"):
        queue.update(batch_size=0)


def test_a_plain_invoke_has_no_batch_columns(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("plain", "def handler(e, c):\n    return 1\n")
    fn.invoke({})
    row = lab.invocations().iloc[0]
    assert (row.event_source_arn, row.shard_id, row.batch_size) == (None, None, 0)
    assert lab.invocations()["batch_size"].dtype == "int64"
