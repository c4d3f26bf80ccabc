"""The event source mapping APIs, driven by boto3 against ``lab.serve()`` with botocore's own validation:
Create/Get/List/Update/DeleteEventSourceMapping on SQS queue ARNs (local queues) and Kinesis / DynamoDB stream
ARNs (local streams), Lambda's shapes and errors, and mappings made in Python listed beside them."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

import lambdalab
import lambdalab.streams

from .conftest import client

pytestmark = pytest.mark.slow

ACCOUNT, REGION = "123456789012", "us-east-1"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs"
STREAM = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"
TABLE_STREAM = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026-12-07T00:00:00.000"
# appends each batch's bodies (SQS) or decoded data (Kinesis) to RECORDS_FILE, one JSON line per batch
KEEPER = """
import base64, json, os

def handler(event, context):
    out = []
    for record in event["Records"]:
        if "body" in record:
            out.append(record["body"])
        elif "kinesis" in record:
            out.append(base64.b64decode(record["kinesis"]["data"]).decode())
        else:
            out.append(record["eventName"])
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps(out) + "\\n")
    return {"batchItemFailures": []}
"""


def error_of(caught: pytest.ExceptionInfo[Any]) -> tuple[str, int, str]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def batches(path: Path, count: int, timeout_s: float = 30.0) -> list[list[str]]:
    """The batches written to ``path`` once ``count`` records are there (fails after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if sum(len(b) for b in found) >= count:
            return found
        assert time.monotonic() < deadline, f"only {found} after {timeout_s} s"
        time.sleep(0.05)


@pytest.fixture
def keeper(tmp_path: Path) -> Any:
    out = tmp_path / "records.jsonl"
    with lambdalab.Lab() as lab:
        lab.create_function("keeper", KEEPER, env_vars={"RECORDS_FILE": str(out)})
        yield lab, client(lab.serve()), out


def test_an_sqs_mapping_through_its_whole_life(keeper: Any) -> None:
    lab, c, out = keeper
    created = c.create_event_source_mapping(
        EventSourceArn=QUEUE,
        FunctionName="keeper",
        BatchSize=4,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
    )
    uuid = created["UUID"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {k: v for k, v in created.items() if k not in ("ResponseMetadata", "LastModified")} == {
        "UUID": uuid,
        "BatchSize": 4,
        "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": QUEUE,
        "FunctionArn": lab.arn("keeper"),
        "State": "Creating",
        "StateTransitionReason": "USER_INITIATED",
        "ScalingConfig": {"MaximumConcurrency": 3},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
    }
    assert isinstance(created["LastModified"], datetime.datetime)
    assert abs(created["LastModified"].timestamp() - time.time()) < 60

    # the mapping is a local queue of the Lab: what is sent to it reaches the function in batches of 4
    (queue,) = lambdalab.streams.sources(lab)
    assert (queue.name, queue.function, queue.uuid) == ("jobs", "keeper", uuid)
    queue.send_batch([f"m{i}" for i in range(10)])
    queue.wait_until_empty(timeout_s=30)
    got = batches(out, 10)
    assert sorted(x for b in got for x in b) == sorted(f"m{i}" for i in range(10)) and max(map(len, got)) <= 4

    read = c.get_event_source_mapping(UUID=uuid)
    assert read["State"] == "Enabled" and read["BatchSize"] == 4 and read["LastModified"] == created["LastModified"]

    updated = c.update_event_source_mapping(UUID=uuid, BatchSize=20, MaximumBatchingWindowInSeconds=1)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202 and updated["State"] == "Updating"
    assert (updated["BatchSize"], updated["MaximumBatchingWindowInSeconds"]) == (20, 1)
    assert updated["LastModified"] >= created["LastModified"]
    assert (queue.batch_size, queue.batching_window_s) == (20, 1)

    paused = c.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert paused["State"] == "Updating" and c.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert c.update_event_source_mapping(UUID=uuid, Enabled=True)["BatchSize"] == 20
    assert c.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"

    deleted = c.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    assert queue.closed and lambdalab.streams.sources(lab) == []
    for call in (c.get_event_source_mapping, c.delete_event_source_mapping):
        with pytest.raises(c.exceptions.ResourceNotFoundException) as caught:
            call(UUID=uuid)
        assert error_of(caught) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    assert c.list_event_source_mappings()["EventSourceMappings"] == []


def test_list_filters_and_pages_and_shows_mappings_made_in_python(keeper: Any) -> None:
    lab, c, _ = keeper
    lab.create_function("other", "def handler(event, context):\n    return None\n")
    fn = lab.function("keeper")
    fn.publish()
    fn.create_alias("live", "1")
    made = [
        c.create_event_source_mapping(EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:q{i}", FunctionName=name)
        for i, name in enumerate(["keeper", "other", lab.arn("keeper", "live")])
    ]
    assert made[2]["FunctionArn"] == lab.arn("keeper", "live")  # qualified, as given
    python = lab.sqs_queue("from-python", "other", batch_size=2)

    listed = c.list_event_source_mappings()["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [m["UUID"] for m in made] + [python.uuid]
    assert listed[3]["EventSourceArn"] == python.arn and listed[3]["BatchSize"] == 2
    assert c.get_event_source_mapping(UUID=listed[3]["UUID"])["FunctionArn"] == lab.arn("other")

    by_function = c.list_event_source_mappings(FunctionName="keeper")["EventSourceMappings"]
    assert [m["UUID"] for m in by_function] == [made[0]["UUID"], made[2]["UUID"]]
    by_alias = c.list_event_source_mappings(FunctionName="keeper:live")["EventSourceMappings"]
    assert [m["UUID"] for m in by_alias] == [made[2]["UUID"]]
    by_arn = c.list_event_source_mappings(EventSourceArn=python.arn, FunctionName=lab.arn("other"))
    assert [m["UUID"] for m in by_arn["EventSourceMappings"]] == [python.uuid]

    first = c.list_event_source_mappings(MaxItems=3)
    assert len(first["EventSourceMappings"]) == 3 and "NextMarker" in first
    rest = c.list_event_source_mappings(MaxItems=3, Marker=first["NextMarker"])
    assert [m["UUID"] for m in rest["EventSourceMappings"]] == [listed[3]["UUID"]] and "NextMarker" not in rest
    pages = c.get_paginator("list_event_source_mappings").paginate(PaginationConfig={"PageSize": 1})
    assert [m["UUID"] for page in pages for m in page["EventSourceMappings"]] == [m["UUID"] for m in listed]


def test_lambdas_errors(keeper: Any) -> None:
    lab, c, _ = keeper
    create = c.create_event_source_mapping

    def refused(exception: Any, **request: Any) -> tuple[str, int, str]:
        with pytest.raises(exception) as caught:
            create(**request)
        return error_of(caught)

    invalid = c.exceptions.InvalidParameterValueException
    assert refused(c.exceptions.ResourceNotFoundException, EventSourceArn=QUEUE, FunctionName="nope") == (
        "ResourceNotFoundException",
        404,
        f"Function not found: {lab.arn('nope')}",
    )
    assert refused(c.exceptions.ResourceNotFoundException, EventSourceArn=QUEUE, FunctionName="keeper:9")[2] == (
        f"Function not found: {lab.arn('keeper', '9')}"
    )
    assert refused(invalid, EventSourceArn=QUEUE, FunctionName="keeper", BatchSize=11) == (
        "InvalidParameterValueException",
        400,
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    )
    assert refused(invalid, EventSourceArn=QUEUE, FunctionName="keeper", StartingPosition="LATEST")[2] == (
        "StartingPosition is not valid for SQS event sources."
    )
    assert refused(invalid, EventSourceArn=QUEUE, FunctionName="keeper", MaximumRetryAttempts=2)[2] == (
        "Unsupported MaximumRetryAttempts parameter for given event source mapping type."
    )
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"
    assert refused(invalid, EventSourceArn=topic, FunctionName="keeper")[2] == (
        "Unrecognized event source, must be kinesis, dynamodb stream or sqs."
    )
    assert (
        "own account and region"
        in refused(invalid, EventSourceArn="arn:aws:sqs:eu-west-1:123456789012:jobs", FunctionName="keeper")[2]
    )
    kafka = f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/c/abc"
    assert refused(c.exceptions.ClientError, EventSourceArn=kafka, FunctionName="keeper")[:2] == ("NotImplemented", 501)
    # streams: StartingPosition is required; a DynamoDB stream cannot start AT_TIMESTAMP
    assert refused(invalid, EventSourceArn=STREAM, FunctionName="keeper")[2] == (
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null."
    )
    at = {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": datetime.datetime(2026, 1, 1)}
    assert refused(invalid, EventSourceArn=TABLE_STREAM, FunctionName="keeper", **at)[2] == (
        f"Unsupported starting position for arn type: {TABLE_STREAM}"
    )
    assert refused(
        invalid,
        EventSourceArn=STREAM,
        FunctionName="keeper",
        StartingPosition="LATEST",
        ScalingConfig={"MaximumConcurrency": 2},
    )[2] == ("Unsupported ScalingConfig parameter for given event source mapping type.")
    # botocore's own validation runs first: out of the model's range never leaves the client
    with pytest.raises(botocore.exceptions.ParamValidationError):
        create(EventSourceArn=QUEUE, FunctionName="keeper", BatchSize=0)

    # one mapping per local queue
    first = create(EventSourceArn=QUEUE, FunctionName="keeper")["UUID"]
    assert refused(c.exceptions.ResourceConflictException, EventSourceArn=QUEUE, FunctionName="keeper") == (
        "ResourceConflictException",
        409,
        f'An event source mapping with SQS arn (" {QUEUE} ") and function (" keeper ") already exists. Please '
        f"update or delete the existing mapping with UUID {first}",
    )
    lab.create_function("other", "def handler(event, context):\n    return None\n")
    other = refused(c.exceptions.ResourceConflictException, EventSourceArn=QUEUE, FunctionName="other")[2]
    assert "already delivers to keeper" in other and first in other
    # update: Lambda's rules on the settings it would have; unknown mappings
    with pytest.raises(invalid) as caught:
        c.update_event_source_mapping(UUID=first, BatchSize=50)
    assert "Maximum batch window in seconds" in error_of(caught)[2]
    with pytest.raises(invalid):
        c.update_event_source_mapping(UUID=first, BisectBatchOnFunctionError=True)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.update_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000", BatchSize=1)
    assert c.get_event_source_mapping(UUID=first)["BatchSize"] == 10  # nothing changed by a refusal


def test_a_disabled_mapping_delivers_nothing_until_enabled(keeper: Any) -> None:
    lab, c, out = keeper
    created = c.create_event_source_mapping(EventSourceArn=QUEUE, FunctionName="keeper", Enabled=False)
    assert created["State"] == "Creating" and c.get_event_source_mapping(UUID=created["UUID"])["State"] == "Disabled"
    (queue,) = lambdalab.streams.sources(lab)
    queue.send("held")
    time.sleep(0.5)
    assert not out.exists()
    c.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
    assert batches(out, 1) == [["held"]]


def test_a_kinesis_mapping_delivers_in_order_and_changes_with_update(keeper: Any) -> None:
    import lambdalab.streams

    lab, c, out = keeper
    failure = f"arn:aws:sqs:{REGION}:{ACCOUNT}:failed"
    created = c.create_event_source_mapping(
        EventSourceArn=STREAM,
        FunctionName="keeper",
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        MaximumRecordAgeInSeconds=120,
        ParallelizationFactor=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failure}},
    )
    uuid = created["UUID"]
    assert {k: v for k, v in created.items() if k not in ("ResponseMetadata", "LastModified")} == {
        "UUID": uuid,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 3,
        "MaximumBatchingWindowInSeconds": 0,
        "ParallelizationFactor": 1,
        "EventSourceArn": STREAM,
        "FunctionArn": lab.arn("keeper"),
        "LastProcessingResult": "No records processed",
        "State": "Creating",
        "StateTransitionReason": "User action",
        "DestinationConfig": {"OnFailure": {"Destination": failure}},
        "MaximumRecordAgeInSeconds": 120,
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 1,
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "EventSourceMappingArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}",
    }
    (stream,) = lambdalab.streams.sources(lab)  # the Python handle of the mapping made over the API
    assert (stream.uuid, stream.arn, stream.settings()["on_failure"]) == (uuid, STREAM, failure)
    for i in range(7):
        stream.put_record(f"r{i}", "one-key")  # one partition key: one shard, in order
    stream.wait_until_processed(timeout_s=30)
    got = batches(out, 7)
    assert [x for b in got for x in b] == [f"r{i}" for i in range(7)] and max(map(len, got)) <= 3
    read = c.get_event_source_mapping(UUID=uuid)
    assert (read["State"], read["LastProcessingResult"]) == ("Enabled", "OK")

    fn = lab.function("keeper")
    fn.publish()
    fn.create_alias("live", "1")
    moved = c.update_event_source_mapping(
        UUID=uuid, FunctionName="keeper:live", BatchSize=10, MaximumRetryAttempts=-1, DestinationConfig={}
    )
    assert moved["State"] == "Updating" and moved["FunctionArn"] == lab.arn("keeper", "live")
    assert (moved["BatchSize"], moved["MaximumRetryAttempts"], moved["MaximumRecordAgeInSeconds"]) == (10, -1, 120)
    assert stream.qualifier == "live" and stream.settings()["batch_size"] == 10
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.update_event_source_mapping(UUID=uuid, FunctionName="other-function")
    assert error_of(caught)[0] == "ResourceNotFoundException"
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        c.update_event_source_mapping(UUID=uuid, MaximumRecordAgeInSeconds=30)  # Lambda: -1 or 60 and more
    assert "invalid MaximumRecordAgeInSeconds: 30" in error_of(caught)[2]  # the API's field, not a Python keyword
    assert c.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting" and stream.closed


def test_a_dynamodb_stream_mapping(keeper: Any) -> None:
    import lambdalab.streams

    lab, c, out = keeper
    created = c.create_event_source_mapping(
        EventSourceArn=TABLE_STREAM, FunctionName="keeper", StartingPosition="TRIM_HORIZON", Enabled=False
    )
    assert created["State"] == "Creating" and c.get_event_source_mapping(UUID=created["UUID"])["State"] == "Disabled"
    (table,) = lambdalab.streams.sources(lab)
    assert table.table == "orders" and table.arn == TABLE_STREAM  # the stream ARN given, label and all
    # the table's stream, whatever its label: listed by the ARN given, and a second mapping on it refused
    other_label = TABLE_STREAM.rsplit("/", 1)[0] + "/2027-01-01T00:00:00.000"
    listed = c.list_event_source_mappings(EventSourceArn=other_label)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]] and listed[0]["EventSourceArn"] == table.arn
    with pytest.raises(c.exceptions.ResourceConflictException):
        c.create_event_source_mapping(EventSourceArn=other_label, FunctionName="keeper", StartingPosition="LATEST")
    table.put_item({"id": "a", "n": 1})
    table.put_item({"id": "a", "n": 2})
    table.remove_item({"id": "a"})
    time.sleep(0.3)
    assert not out.exists()  # disabled: nothing delivered
    c.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
    table.wait_until_processed(timeout_s=30)
    assert [x for b in batches(out, 3) for x in b] == ["INSERT", "MODIFY", "REMOVE"]


def test_boto3_kinesis_sqs_and_dynamodb_clients_feed_the_local_sources(keeper: Any) -> None:
    """Without a Python handle (``lambdalab serve``): PutRecord(s), SendMessage(Batch), PutItem/DeleteItem."""
    import boto3
    from botocore.config import Config

    lab, c, out = keeper
    url = lab.serve()

    def aws(service: str) -> Any:
        return boto3.session.Session(
            aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="lambdalab-secret", region_name=REGION
        ).client(service, endpoint_url=url, config=Config(connect_timeout=5, read_timeout=30,
                                                          retries={"total_max_attempts": 1}))  # fmt: skip

    lab.kinesis_stream("clicks", "keeper", shards=2)
    kinesis = aws("kinesis")
    one = kinesis.put_record(StreamName="clicks", Data=b"k0", PartitionKey="a")
    assert one["ShardId"] in ("shardId-000000000000", "shardId-000000000001") and one["SequenceNumber"].isdigit()
    many = kinesis.put_records(StreamARN=STREAM, Records=[{"Data": f"k{i}".encode(), "PartitionKey": "a"}
                                                          for i in (1, 2)])  # fmt: skip
    assert many["FailedRecordCount"] == 0 and {r["ShardId"] for r in many["Records"]} == {one["ShardId"]}
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException) as caught:
        kinesis.put_record(StreamName="nope", Data=b"x", PartitionKey="a")
    assert error_of(caught)[2] == f"Stream nope under account {ACCOUNT} not found."
    assert [x for b in batches(out, 3) for x in b] == ["k0", "k1", "k2"]

    lab.sqs_queue("jobs", "keeper")
    sqs = aws("sqs")
    queue_url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    assert queue_url == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/jobs"
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody="s0",
                            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}})  # fmt: skip
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"s0").hexdigest()
    # SQS's digest of the attributes, as the record Lambda delivers carries it
    record = lambdalab.events.sqs_record("s0", message_attributes={"kind": "test"})
    assert sent["MD5OfMessageAttributes"] == record["md5OfMessageAttributes"]
    batch = sqs.send_message_batch(QueueUrl=queue_url, Entries=[{"Id": "a", "MessageBody": "s1"},
                                                                {"Id": "b", "MessageBody": "s2"}])  # fmt: skip
    assert [e["Id"] for e in batch["Successful"]] == ["a", "b"] and batch["Failed"] == []
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/nope", MessageBody="x")
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2)
    assert sorted(x for b in batches(out, 6) for x in b)[3:] == ["s0", "s1", "s2"]

    lab.dynamodb_stream("orders", "keeper", key_attributes=("pk",))
    dynamodb = aws("dynamodb")
    dynamodb.put_item(TableName="orders", Item={"pk": {"S": "p1"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName="orders", Item={"pk": {"S": "p1"}, "n": {"N": "2"}})
    dynamodb.delete_item(TableName="orders", Key={"pk": {"S": "p1"}})
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.put_item(TableName="nope", Item={"pk": {"S": "x"}})
    assert [x for b in batches(out, 9) for x in b][6:] == ["INSERT", "MODIFY", "REMOVE"]
    # other operations of those services are not served; the Logs subset still answers behind them
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        kinesis.list_streams()
    assert error_of(caught)[0] == "UnknownOperationException"
    logs = aws("logs")
    assert logs.describe_log_groups()["logGroups"][0]["logGroupName"] == "/aws/lambda/keeper"


POISON = """
import base64, json, os

def handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    if "poison" in data:
        raise ValueError("poison in the batch")
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps(data) + "\\n")
"""


def test_a_poison_record_is_isolated_and_sent_to_the_on_failure_destination(tmp_path: Path) -> None:
    """The issue's acceptance over the API: bisect on a poison record, per-shard order kept, the record isolated
    fails MaximumRetryAttempts + 1 times and goes to the on-failure destination, the rest processed."""
    import boto3

    out = tmp_path / "records.jsonl"
    with lambdalab.Lab() as lab:
        lab.create_function("poisoned", POISON, env_vars={"RECORDS_FILE": str(out)})
        url = lab.serve()
        c = client(url)
        failed = f"arn:aws:sqs:{REGION}:{ACCOUNT}:failed"
        created = c.create_event_source_mapping(
            EventSourceArn=STREAM, FunctionName="poisoned", StartingPosition="TRIM_HORIZON", BatchSize=10,
            BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": failed}},
        )  # fmt: skip
        kinesis = boto3.session.Session(
            aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="lambdalab-secret", region_name=REGION
        ).client("kinesis", endpoint_url=url)
        data = [f"r{i}" if i != 4 else "poison" for i in range(10)]
        put = kinesis.put_records(
            StreamName="clicks", Records=[{"Data": d.encode(), "PartitionKey": "k"} for d in data]
        )
        (stream,) = lambdalab.streams.sources(lab)
        assert stream.uuid == created["UUID"]
        stream.wait_until_processed(timeout_s=60)
        written = [x for b in batches(out, 9) for x in b]
        assert written == [d for d in data if d != "poison"]  # the rest, in the shard's order
        (failure,) = stream.failures()
        info = failure["KinesisBatchInfo"]
        poison_sequence = put["Records"][4]["SequenceNumber"]
        assert (info["batchSize"], info["startSequenceNumber"], info["endSequenceNumber"]) == (
            1,
            poison_sequence,
            poison_sequence,
        )
        assert info["streamArn"] == STREAM and failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert failure["requestContext"]["approximateInvokeCount"] >= 2  # at least MaximumRetryAttempts + 1 alone
        assert c.get_event_source_mapping(UUID=created["UUID"])["LastProcessingResult"] == "OK"


def test_the_aws_cli_makes_and_lists_a_mapping(keeper: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import cli_env

    lab, _, out = keeper
    url = lab.serve()
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", url, "--output", "json"]

    def run(*args: str) -> Any:
        done = subprocess.run([*aws, *args], env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    made = run("lambda", "create-event-source-mapping", "--function-name", "keeper", "--event-source-arn", STREAM,
               "--starting-position", "LATEST", "--batch-size", "2")  # fmt: skip
    assert made["State"] == "Creating" and made["BatchSize"] == 2
    listed = run("lambda", "list-event-source-mappings", "--function-name", "keeper")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [made["UUID"]]
    run("kinesis", "put-record", "--stream-name", "clicks", "--partition-key", "p", "--data", "hello")  # CLI v1: raw
    assert batches(out, 1) == [["hello"]]
    assert run("lambda", "delete-event-source-mapping", "--uuid", made["UUID"])["State"] == "Deleting"


def _raw(url: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """A request botocore's own validation would never send (a field of the wrong type), straight to the endpoint."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {"code": exc.headers.get("x-amzn-ErrorType"), **json.loads(exc.read() or b"{}")}


def test_fields_off_botocores_shapes_are_refused_and_list_keeps_working(keeper: Any) -> None:
    lab, c, _ = keeper
    url = lab.serve()
    path = "/2015-03-31/event-source-mappings/"
    stream = {"EventSourceArn": STREAM, "FunctionName": "keeper", "StartingPosition": "LATEST"}
    invalid = "InvalidParameterValueException"
    refused = [
        ({"FilterCriteria": "not-a-structure"}, "InvalidRequestContentException"),
        ({"FilterCriteria": {"Filters": "x"}}, "InvalidRequestContentException"),
        ({"FilterCriteria": {"Filters": [{"Pattern": 5}]}}, "InvalidRequestContentException"),
        ({"FilterCriteria": {"Filters": [{"Pattern": '{"a": [1]}'}] * 6}}, "InvalidParameterValueException"),
        ({"FilterCriteria": {"Filters": [{"Pattern": "x" * 4097}]}}, "ValidationException"),
        ({"FilterCriteria": {"Filters": [{"Pattern": "not json"}]}}, "InvalidParameterValueException"),
        ({"DestinationConfig": {"OnFailure": "x"}}, "InvalidRequestContentException"),
        ({"DestinationConfig": "x"}, "InvalidRequestContentException"),
        ({"DestinationConfig": {"OnFailure": {"Destination": "javascript:alert(1)"}}}, "ValidationException"),
        ({"DestinationConfig": {"OnFailure": {"Destination": QUEUE + "x" * 350}}}, "ValidationException"),
        ({"BatchSize": "10"}, "InvalidRequestContentException"),
        ({"BatchSize": 20_000}, "ValidationException"),
        ({"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": int("9" * 400)}, invalid),
    ]  # fmt: skip
    for fields, code in refused:
        status, answer = _raw(url, "POST", path, {**stream, **fields})
        assert (status, answer["code"]) == (400, code), (fields, answer)
    assert lambdalab.streams.sources(lab) == []  # nothing was made
    # one that botocore's model allows is kept and echoed; boto3 and its parser read every mapping
    pattern = {"Filters": [{"Pattern": '{"data": {"kind": ["a"]}}'}]}
    made = c.create_event_source_mapping(**stream, FilterCriteria=pattern,
                                         DestinationConfig={"OnFailure": {"Destination": QUEUE}})  # fmt: skip
    status, _ = _raw(url, "PUT", path + made["UUID"], {"FilterCriteria": "not-a-structure"})
    assert status == 400
    listed = c.list_event_source_mappings()["EventSourceMappings"]
    assert [(m["UUID"], m["FilterCriteria"]) for m in listed] == [(made["UUID"], pattern)]
    assert listed[0]["DestinationConfig"] == {"OnFailure": {"Destination": QUEUE}}


def test_refusals_name_the_apis_fields_and_other_partitions_are_refused(keeper: Any) -> None:
    lab, c, _ = keeper
    invalid = c.exceptions.InvalidParameterValueException
    with pytest.raises(invalid) as caught:
        c.create_event_source_mapping(EventSourceArn=STREAM, FunctionName="keeper", StartingPosition="LATEST",
                                      MaximumRecordAgeInSeconds=30)  # fmt: skip
    message = error_of(caught)[2]
    assert "MaximumRecordAgeInSeconds" in message and "maximum_record_age_s" not in message
    for partition in ("aws-cn", "aws-us-gov"):
        with pytest.raises(invalid) as caught:
            c.create_event_source_mapping(EventSourceArn=f"arn:{partition}:sqs:{REGION}:{ACCOUNT}:jobs",
                                          FunctionName="keeper")  # fmt: skip
        assert "partition aws" in error_of(caught)[2]
    assert lambdalab.streams.sources(lab) == []


def test_last_processing_result_reads_the_last_batch(tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.write_text("1")
    code = (f"import os\ndef handler(event, context):\n    if os.path.exists({str(flag)!r}):\n"
            "        raise ValueError('no')\n")  # fmt: skip
    with lambdalab.Lab() as lab:
        lab.create_function("flaky", code)
        c = client(lab.serve())
        made = c.create_event_source_mapping(EventSourceArn=STREAM, FunctionName="flaky", StartingPosition="LATEST",
                                             MaximumRetryAttempts=0)  # fmt: skip
        assert c.get_event_source_mapping(UUID=made["UUID"])["LastProcessingResult"] == "No records processed"
        (stream,) = lambdalab.streams.sources(lab)
        stream.put_record(b"a", "k")
        stream.wait_until_processed(timeout_s=30)
        assert c.get_event_source_mapping(UUID=made["UUID"])["LastProcessingResult"] == "PROBLEM: Function call failed"
        flag.unlink()
        stream.put_record(b"b", "k")
        stream.wait_until_processed(timeout_s=30)
        assert c.get_event_source_mapping(UUID=made["UUID"])["LastProcessingResult"] == "OK"
