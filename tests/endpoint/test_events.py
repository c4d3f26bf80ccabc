"""Every event builder's output, read by the matching data class of aws-lambda-powertools.

The data classes are AWS's own readers of these shapes: each test reads the fields a handler would
and checks they equal the builder's parameters. No processes start here.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from aws_lambda_powertools.utilities.data_classes import (
    ALBEvent,
    APIGatewayProxyEvent,
    APIGatewayProxyEventV2,
    CloudWatchLogsEvent,
    DynamoDBStreamEvent,
    EventBridgeEvent,
    KinesisStreamEvent,
    LambdaFunctionUrlEvent,
    S3Event,
    SNSEvent,
    SQSEvent,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecordEventName

from lambdalab import events

T = 1_700_000_000.25  # a fixed time: 2023-11-14T22:13:20.250Z


def test_apigw_rest_fields() -> None:
    event = APIGatewayProxyEvent(events.apigw_rest(
        "POST", "/orders/42", body={"qty": 2}, headers={"X-Trace": ["a", "b"], "Content-Type": "application/json"},
        query={"page": "2", "tag": ["x", "y"]}, path_parameters={"id": "42"}, resource="/orders/{id}", stage="dev",
        stage_variables={"env": "dev"}, source_ip="10.0.0.9", request_id="req-1", time=T))
    assert (event.http_method, event.path, event.resource) == ("POST", "/orders/42", "/orders/{id}")
    assert event.json_body == {"qty": 2} and not event.is_base64_encoded
    assert event.headers["X-Trace"] == "b" and event.multi_value_headers["X-Trace"] == ["a", "b"]
    assert event.query_string_parameters == {"page": "2", "tag": "y"}
    assert event.multi_value_query_string_parameters == {"page": ["2"], "tag": ["x", "y"]}
    assert event.path_parameters == {"id": "42"} and event.stage_variables == {"env": "dev"}
    ctx = event.request_context
    assert (ctx.stage, ctx.request_id, ctx.http_method, ctx.resource_path) == ("dev", "req-1", "POST", "/orders/{id}")
    assert ctx.identity.source_ip == "10.0.0.9"
    assert ctx.request_time_epoch == int(T * 1000) and ctx.request_time == "14/Nov/2023:22:13:20 +0000"
    assert ctx.path == "/dev/orders/42" and ctx.account_id == events.ACCOUNT_ID


def test_apigw_rest_binary_body_is_base64() -> None:
    event = APIGatewayProxyEvent(events.apigw_rest("PUT", "/blob", body=b"\x00\xff"))
    assert event.is_base64_encoded and base64.b64decode(event.body) == b"\x00\xff"
    assert event.query_string_parameters in (None, {})  # API Gateway sends null without a query


def test_apigw_http_fields() -> None:
    event = APIGatewayProxyEventV2(events.apigw_http(
        "GET", "/items", headers={"Accept": "text/plain", "X-Multi": ["1", "2"]}, query="a=1&a=2&b=x%20y",
        cookies=["session=abc", "theme=dark"], path_parameters={"p": "v"}, route_key="GET /items", stage="prod",
        source_ip="10.1.1.1", request_id="rid", time=T))
    assert (event.http_method, event.raw_path, event.path) == ("GET", "/prod/items", "/items")
    assert event.route_key == "GET /items"
    assert event.raw_query_string == "a=1&a=2&b=x%20y"
    assert event.query_string_parameters == {"a": "1,2", "b": "x y"}
    assert event.headers["accept"] == "text/plain" and event.headers["x-multi"] == "1,2"
    assert event.cookies == ["session=abc", "theme=dark"]
    assert event.path_parameters == {"p": "v"} and event.version == "2.0"
    ctx = event.request_context
    assert (ctx.stage, ctx.request_id, ctx.route_key, ctx.time_epoch) == ("prod", "rid", "GET /items", int(T * 1000))
    assert ctx.http.method == "GET" and ctx.http.source_ip == "10.1.1.1" and ctx.http.path == "/prod/items"


def test_function_url_fields() -> None:
    event = LambdaFunctionUrlEvent(events.function_url(
        "POST", "/my/path", body="Hello from client!", headers={"content-type": "text/plain"}, query={"q": "1"},
        cookies=["c=1"], source_ip="192.0.2.1", url_id="abcdefghijklmnop", region="eu-west-1", time=T))
    assert (event.http_method, event.raw_path, event.body, event.cookies) == ("POST", "/my/path", "Hello from client!",
                                                                          ["c=1"])
    assert event.route_key == "$default" and event.request_context.stage == "$default"
    assert event.query_string_parameters == {"q": "1"} and event.raw_query_string == "q=1"
    assert event.request_context.domain_name == "abcdefghijklmnop.lambda-url.eu-west-1.on.aws"
    assert event.request_context.domain_prefix == "abcdefghijklmnop"
    assert event.request_context.http.source_ip == "192.0.2.1" and event.headers["content-type"] == "text/plain"
    assert "queryStringParameters" not in events.function_url("GET", "/")  # absent without a query


def test_alb_fields() -> None:
    event = ALBEvent(events.alb("GET", "/lambda", query={"query": "1234ABCD"}, headers={"accept": "text/html"},
                                target_group="tg-1", body="x"))
    assert (event.http_method, event.path, event.body) == ("GET", "/lambda", "x")
    assert event.query_string_parameters == {"query": "1234ABCD"} and event.headers["accept"] == "text/html"
    assert ":targetgroup/tg-1/" in event.request_context.elb_target_group_arn
    multi = ALBEvent(events.alb("GET", "/", query={"a": ["1", "2"]}, headers={"x": ["p", "q"]}, multi_value=True))
    assert multi.multi_value_query_string_parameters == {"a": ["1", "2"]}
    assert multi.multi_value_headers["x"] == ["p", "q"]


def test_s3_put_and_delete() -> None:
    put = S3Event(events.s3_put(bucket="photos", key="cats/tom cat.jpg", size=2048, etag="abc123", version_id="v1",
                                region="eu-west-2", time=T))
    record = put.record
    assert put.bucket_name == "photos" and put.object_key == "cats/tom cat.jpg"
    assert record.event_name == "ObjectCreated:Put" and record.aws_region == "eu-west-2"
    assert record.s3.get_object.size == 2048 and record.s3.get_object.etag == "abc123"
    assert record.s3.get_object.version_id == "v1" and record.s3.bucket.arn == "arn:aws:s3:::photos"
    assert record.event_time == "2023-11-14T22:13:20.250Z" and record.event_source == "aws:s3"
    gone = S3Event(events.s3_delete(bucket="photos", key="old.txt"))
    assert gone.record.event_name == "ObjectRemoved:Delete" and gone.object_key == "old.txt"
    assert gone.record.s3.get_object.sequencer


def test_sqs_batch() -> None:
    event = SQSEvent(events.sqs(["first", {"body": "second", "message_attributes": {"kind": "urgent", "n": 3}}],
                                queue="orders", region="us-west-2", account_id="111122223333", time=T))
    records = list(event.records)
    assert [r.body for r in records] == ["first", "second"]
    second = records[1]
    assert second.event_source == "aws:sqs" and second.aws_region == "us-west-2"
    assert second.event_source_arn == "arn:aws:sqs:us-west-2:111122223333:orders"
    assert second.queue_url.endswith("/111122223333/orders")
    assert second.attributes.approximate_receive_count == "1" and second.attributes.sent_timestamp == str(int(T * 1000))
    assert second.message_attributes["kind"].string_value == "urgent"
    assert second.message_attributes["n"].data_type == "Number"
    assert records[0].md5_of_body == "8b04d5e3775d298e78455efc5ca404d5"  # md5("first")


def test_sqs_md5_of_message_attributes_matches_sqs_algorithm() -> None:
    # SQS's documented example: one String attribute; value computed independently with the same encoding
    import hashlib
    import struct

    record = events.sqs_record("b", message_attributes={"City": "Any City"})
    expected = hashlib.md5()
    for part in (b"City", b"String"):
        expected.update(struct.pack(">I", len(part)) + part)
    expected.update(b"\x01" + struct.pack(">I", 8) + b"Any City")
    assert record["md5OfMessageAttributes"] == expected.hexdigest()


def test_sns_fields() -> None:
    event = SNSEvent(events.sns({"order": 7}, subject="New order", topic="orders", message_attributes={"k": "v"},
                                message_id="m-1", time=T))
    record = event.record
    assert event.sns_message == json.dumps({"order": 7}) and record.sns.subject == "New order"
    assert record.sns.topic_arn == f"arn:aws:sns:us-east-1:{events.ACCOUNT_ID}:orders"
    assert record.sns.message_id == "m-1" and record.sns.message_attributes["k"].value == "v"
    assert record.event_source == "aws:sns" and record.sns.get_type == "Notification"


def test_eventbridge_and_schedule() -> None:
    event = EventBridgeEvent(events.eventbridge({"state": "running"}, detail_type="EC2 Instance State-change",
                                                source="aws.ec2", resources=["arn:x"], event_id="e-1", time=T))
    assert (event.detail, event.detail_type, event.source) == ({"state": "running"}, "EC2 Instance State-change",
                                                              "aws.ec2")
    assert event.resources == ["arn:x"] and event.get_id == "e-1" and event.time == "2023-11-14T22:13:20Z"
    tick = EventBridgeEvent(events.schedule("nightly", region="ap-south-1"))
    assert tick.detail_type == "Scheduled Event" and tick.source == "aws.events" and tick.detail == {}
    assert tick.resources == [f"arn:aws:events:ap-south-1:{events.ACCOUNT_ID}:rule/nightly"]


@pytest.mark.parametrize("name", ["INSERT", "MODIFY", "REMOVE"])
def test_dynamodb_stream(name: str) -> None:
    raw = events.dynamodb_stream(name, keys={"pk": "user#1", "n": 5}, new_image={"pk": "user#1", "n": 5, "ok": True},
                                 old_image={"pk": "user#1", "n": 4, "tags": ["a", 1]}, table="users", time=T)
    record = next(DynamoDBStreamEvent(raw).records)
    assert record.event_name is DynamoDBRecordEventName[name]
    assert record.dynamodb.keys == {"pk": "user#1", "n": 5}
    assert record.dynamodb.stream_view_type.name == "NEW_AND_OLD_IMAGES"
    assert record.dynamodb.approximate_creation_date_time == int(T)
    assert ":table/users/stream/" in record.event_source_arn and record.event_source == "aws:dynamodb"
    if name == "REMOVE":
        assert record.dynamodb.new_image == {}
    else:
        assert record.dynamodb.new_image == {"pk": "user#1", "n": 5, "ok": True}
    if name == "INSERT":
        assert record.dynamodb.old_image == {}
    else:
        assert record.dynamodb.old_image == {"pk": "user#1", "n": 4, "tags": ["a", 1]}


def test_kinesis_records() -> None:
    event = KinesisStreamEvent(events.kinesis(["one", b"\x01\x02", {"k": 1}], stream="clicks", partition_key="p-9",
                                              shard_id="shardId-000000000003", time=T))
    records = list(event.records)
    assert records[0].kinesis.data_as_text() == "one" and records[1].kinesis.data_as_bytes() == b"\x01\x02"
    assert records[2].kinesis.data_as_json() == {"k": 1}
    assert all(r.kinesis.partition_key == "p-9" for r in records)
    assert records[0].event_id.startswith("shardId-000000000003:")
    assert records[0].event_source_arn.endswith(":stream/clicks") and records[0].event_name == "aws:kinesis:record"
    assert records[0].kinesis.approximate_arrival_timestamp == round(T, 3)
    assert int(records[0].kinesis.sequence_number) < int(records[1].kinesis.sequence_number)


def test_cloudwatch_logs_is_gzipped_base64_json() -> None:
    event = CloudWatchLogsEvent(events.cloudwatch_logs(["line one", "line two"], log_group="/aws/lambda/app",
                                                       log_stream="s-1", filter_name="errors", time=T))
    data = event.parse_logs_data()
    assert (data.log_group, data.log_stream, data.subscription_filters) == ("/aws/lambda/app", "s-1", ["errors"])
    assert data.message_type == "DATA_MESSAGE" and data.owner == events.ACCOUNT_ID
    assert [e.message for e in data.log_events] == ["line one", "line two"]
    assert {e.timestamp for e in data.log_events} == {int(T * 1000)}


def test_every_kind_is_a_json_dict_and_the_cli_prints_it() -> None:
    for kind, builder in events.KINDS.items():
        assert isinstance(json.loads(json.dumps(builder())), dict), kind
    out = subprocess.run([sys.executable, "-m", "lambdalab", "event", "s3-put", "--bucket", "photos", "--key", "a b",
                          "--size", "7"], capture_output=True, text=True, timeout=60, check=True).stdout
    record = S3Event(json.loads(out)).record
    assert (record.s3.bucket.name, record.s3.get_object.size, S3Event(json.loads(out)).object_key) == ("photos", 7, "a b")
    out = subprocess.run([sys.executable, "-m", "lambdalab", "event", "sqs", "--messages", "a", "--messages", "b"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert [r.body for r in SQSEvent(json.loads(out)).records] == ["a", "b"]


@pytest.mark.parametrize("kind", ["apigw_rest", "apigw_http", "function_url", "alb", "s3_put", "s3_delete", "sqs",
                                  "sns", "eventbridge", "dynamodb_stream", "kinesis", "schedule", "cloudwatch_logs"])
def test_the_command_line_makes_every_kind_of_event(kind, capsys):
    from lambdalab.cli import main

    assert main(["event", kind]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), dict)
