"""The feed APIs on ``POST /`` (Kinesis PutRecord(s), SQS SendMessage(Batch), DynamoDB PutItem/DeleteItem): every
malformed request is the service's own 400 (never a 500, never a stalled Lab), DynamoDB numbers are checked as
text (38 digits, DynamoDB's range) and items reach the stream's images exactly as sent, SQS's 1 MiB limit, and a
body over the endpoint's limit answered in the service's shape."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import lambdalab

pytestmark = pytest.mark.slow

# writes each DynamoDB record's NewImage (or each SQS body) as one JSON line
KEEPER = """
import json, os

def handler(event, context):
    with open(os.environ["RECORDS_FILE"], "a") as f:
        for record in event["Records"]:
            f.write(json.dumps(record["dynamodb"].get("NewImage") if "dynamodb" in record else record["body"]) + "\\n")
"""
TARGETS = {
    "kinesis": ("Kinesis_20131202.", "application/x-amz-json-1.1"),
    "sqs": ("AmazonSQS.", "application/x-amz-json-1.0"),
    "dynamodb": ("DynamoDB_20120810.", "application/x-amz-json-1.0"),
}


def post(url: str, service: str, operation: str, body: Any, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    prefix, content_type = TARGETS[service]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": prefix + operation, "Content-Type": content_type}
    request = urllib.request.Request(url + "/", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def lines(path: Path, count: int, timeout_s: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"only {found} after {timeout_s} s"
        time.sleep(0.05)


@pytest.fixture
def fed(tmp_path: Path) -> Any:
    out = tmp_path / "records.jsonl"
    with lambdalab.Lab() as lab:
        lab.create_function("keeper", KEEPER, env_vars={"RECORDS_FILE": str(out)})
        lab.dynamodb_stream("orders", "keeper", stream_view_type="NEW_IMAGE")
        lab.kinesis_stream("clicks", "keeper", enabled=False)
        lab.sqs_queue("jobs", "keeper")
        yield lab, lab.serve(), out


def test_a_huge_dynamodb_exponent_is_refused_at_once(fed: Any) -> None:
    lab, url, _ = fed
    for text, word in (("1e1000000", "overflow"), ("1e-1000000", "underflow"), ("9" * 4000, "38 significant")):
        started = time.monotonic()
        status, body = post(url, "dynamodb", "PutItem", _item(x={"N": text}))
        assert time.monotonic() - started < 1.0
        assert (status, body["__type"]) == (400, "ValidationException") and word in body["message"], body
    for text in ("1e126", "1e-131", "123456789012345678901234567890123456789"):  # just outside DynamoDB's numbers
        status, body = post(url, "dynamodb", "PutItem", _item(x={"N": text}))
        assert (status, body["__type"]) == (400, "ValidationException"), text


def test_dynamodb_items_reach_the_images_exactly_as_sent(fed: Any) -> None:
    lab, url, out = fed
    item = {
        "id": {"S": "a"},
        "big": {"N": "12345678901234567890.123"},
        "edge": {"N": "9.9999999999999999999999999999999999999E+125"},
        "tiny": {"N": "1E-130"},
        "blobs": {"BS": ["AQI=", "AwQ="]},
        "nums": {"NS": ["1.50", "2"]},
        "no": {"BOOL": False},
        "nothing": {"NULL": True},
        "deep": {"M": {"list": {"L": [{"S": "x"}, {"N": "-0.0"}, {"B": "AQI="}]}}},
    }
    status, body = post(url, "dynamodb", "PutItem", {"TableName": "orders", "Item": item})
    assert (status, body) == (200, {})
    assert lines(out, 1)[0] == item


def _item(**attributes: Any) -> dict[str, Any]:
    return {"TableName": "orders", "Item": {"id": {"S": "a"}, **attributes}}


def _message(**fields: Any) -> dict[str, Any]:
    return {"QueueUrl": "jobs", "MessageBody": "x", **fields}


SERIAL, INVALID, SQS_INVALID = "SerializationException", "ValidationException", "InvalidParameterValue"
MALFORMED = [
    ("kinesis", "PutRecords", {"StreamName": "clicks", "Records": "abc"}, SERIAL),
    ("kinesis", "PutRecords", {"StreamName": "clicks", "Records": [1, 2]}, SERIAL),
    ("kinesis", "PutRecord", {"StreamName": "clicks", "Data": 5, "PartitionKey": "a"}, SERIAL),
    ("kinesis", "PutRecord", {"StreamName": ["clicks"], "Data": "AQI=", "PartitionKey": "a"}, SERIAL),
    ("kinesis", "PutRecord", {"StreamName": "clicks", "Data": "AQI=", "PartitionKey": 7}, SERIAL),
    ("dynamodb", "PutItem", _item(m={"M": "x"}), SERIAL),
    ("dynamodb", "PutItem", _item(n={"N": "abc"}), INVALID),
    ("dynamodb", "PutItem", _item(n={"N": "Infinity"}), INVALID),
    ("dynamodb", "PutItem", _item(n={"N": "NaN"}), INVALID),
    ("dynamodb", "PutItem", _item(b={"BOOL": "false"}), SERIAL),
    ("dynamodb", "PutItem", _item(s={"NS": []}), INVALID),
    ("dynamodb", "PutItem", _item(s={"SS": ["x", "x"]}), INVALID),
    ("dynamodb", "PutItem", _item(t={"S": "x", "N": "1"}), INVALID),
    ("dynamodb", "PutItem", _item(big={"S": "x" * 410_000}), INVALID),
    ("dynamodb", "PutItem", {"TableName": "orders", "Item": "abc"}, SERIAL),
    ("dynamodb", "DeleteItem", {"TableName": "orders", "Key": [1]}, SERIAL),
    ("sqs", "SendMessage", _message(MessageAttributes={"a": "b"}), SQS_INVALID),
    ("sqs", "SendMessage", _message(MessageAttributes={"a": {"StringValue": "b"}}), SQS_INVALID),
    ("sqs", "SendMessage", _message(MessageAttributes="abc"), SQS_INVALID),
    ("sqs", "SendMessage", _message(QueueUrl=["jobs"]), SQS_INVALID),
    ("sqs", "SendMessageBatch", {"QueueUrl": "jobs", "Entries": "abc"}, SQS_INVALID),
    ("sqs", "SendMessageBatch", {"QueueUrl": "jobs", "Entries": [{"Id": {}, "MessageBody": "x"}]}, SQS_INVALID),
]


@pytest.mark.parametrize(("service", "operation", "body", "code"), MALFORMED)
def test_malformed_requests_are_each_services_400(fed: Any, service: str, operation: str, body: Any, code: str) -> None:
    lab, url, _ = fed
    status, answer = post(url, service, operation, body)
    assert status == 400, answer
    assert answer["__type"].rsplit("#", 1)[-1] == code, answer


def test_json_nested_too_deep_is_a_400(fed: Any) -> None:
    lab, url, _ = fed
    value: Any = {"S": "x"}
    for _ in range(40):  # DynamoDB nests 32 levels at most
        value = {"L": [value]}
    status, answer = post(url, "dynamodb", "PutItem", {"TableName": "orders", "Item": {"id": {"S": "a"}, "v": value}})
    assert (status, answer["__type"]) == (400, "ValidationException") and "Nesting" in answer["message"]
    deep = b'{"TableName": "orders", "Item": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    status, answer = post(url, "dynamodb", "PutItem", deep)
    assert (status, answer["__type"]) == (400, "SerializationException")


def test_sqs_messages_are_at_most_one_mib(fed: Any) -> None:
    lab, url, out = fed
    limit = 1_048_576
    status, answer = post(url, "sqs", "SendMessage", {"QueueUrl": "jobs", "MessageBody": "x" * limit})
    assert status == 200, answer
    attributes = {"name": {"DataType": "String", "StringValue": "value"}}
    too_big = _message(MessageBody="x" * (limit - 10), MessageAttributes=attributes)
    status, answer = post(url, "sqs", "SendMessage", too_big)
    assert (status, answer["__type"]) == (400, "com.amazonaws.sqs#InvalidParameterValue")
    assert (
        answer["message"] == "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )
    entries = [{"Id": str(i), "MessageBody": "y" * 300_000} for i in range(4)]
    status, answer = post(url, "sqs", "SendMessageBatch", {"QueueUrl": "jobs", "Entries": entries})
    assert (status, answer["__type"]) == (400, "com.amazonaws.sqs#BatchRequestTooLong")
    assert answer["message"] == "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."
    assert len(lines(out, 1)[0]) == limit  # the 1 MiB message was delivered; the others were not sent
    time.sleep(0.5)
    assert len(lines(out, 1)) == 1


def test_boto3_sees_the_services_errors(fed: Any) -> None:
    import boto3
    from botocore.config import Config

    lab, url, _ = fed
    session = boto3.session.Session(aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="lambdalab-secret",
                                    region_name="us-east-1")  # fmt: skip
    config = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1})
    sqs = session.client("sqs", endpoint_url=url, config=config)
    queue_url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": "y" * 300_000} for i in range(4)]
        )
    dynamodb = session.client("dynamodb", endpoint_url=url, config=config)
    with pytest.raises(dynamodb.exceptions.ClientError) as caught:
        dynamodb.put_item(TableName="orders", Item={"id": {"S": "a"}, "x": {"N": "1e1000000"}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_a_body_over_the_endpoints_limit_is_answered_in_the_services_shape(fed: Any) -> None:
    lab, url, _ = fed
    huge = b'{"StreamName": "clicks", "Data": "' + b"A" * (33 * 1024 * 1024) + b'", "PartitionKey": "a"}'
    status, answer = post(url, "kinesis", "PutRecord", huge, timeout=60)
    assert status == 413 and answer["__type"] == "InvalidArgumentException", answer
    assert "Type" not in answer  # not Lambda's error shape
