"""Templates with Kinesis streams and DynamoDB table streams: ``AWS::Kinesis::Stream`` (``Ref``, ``GetAtt Arn``,
``ShardCount``), ``AWS::DynamoDB::Table`` with ``StreamSpecification`` (``GetAtt StreamArn``, ``KeySchema``), SAM
``Events`` of ``Type: Kinesis`` and ``Type: DynamoDB`` and ``AWS::Lambda::EventSourceMapping`` wired to local
streams that deliver; the bad ones skipped with a note naming their logical id; the endpoint lists them all."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import lambdalab
import lambdalab.streams
from lambdalab.endpoint.templates import load_template

from .conftest import client

pytestmark = pytest.mark.slow

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  OutFile: {Type: String, Default: /nowhere}
Globals:
  Function:
    Runtime: python3.11
    Environment:
      Variables: {RECORDS_FILE: !Ref OutFile}
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {Name: clicks, ShardCount: 2}
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Plain:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: plain, KeySchema: [{AttributeName: id, KeyType: HASH}]}
  BadStream:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: many}
  Failed:
    Type: AWS::SQS::Queue
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      CodeUri: app/
      Environment:
        Variables: {STREAM: !Ref Clicks, STREAM_ARN: !GetAtt Clicks.Arn, TABLE_STREAM: !GetAtt Orders.StreamArn}
      Events:
        FromClicks:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: 2
            MaximumRecordAgeInSeconds: 3600
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt Failed.Arn}}
        FromOrders:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Orders.StreamArn
            StartingPosition: LATEST
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FilterCriteria: {Filters: [{Pattern: '{"eventName": ["INSERT"]}'}]}
        NoPosition:
          Type: Kinesis
          Properties: {Stream: "arn:aws:kinesis:us-east-1:123456789012:stream/elsewhere"}
        AtTimestamp:
          Type: DynamoDB
          Properties: {Stream: !GetAtt Orders.StreamArn, StartingPosition: AT_TIMESTAMP}
  Raw:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: app.handler, Code: app/}
  OutsideMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: arn:aws:kinesis:us-east-1:123456789012:stream/outside
      FunctionName: !Ref Raw
      StartingPosition: LATEST
      Enabled: false
  SecondOnClicks:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Clicks.Arn, FunctionName: !GetAtt Raw.Arn, StartingPosition: LATEST}
  OnPlain:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Plain.StreamArn, FunctionName: !Ref Raw, StartingPosition: LATEST}
"""

APP = """
import base64, json, os

def handler(event, context):
    out = []
    for record in event.get("Records", []):
        if "kinesis" in record:
            out.append(base64.b64decode(record["kinesis"]["data"]).decode())
        else:
            out.append([record["eventName"], record["dynamodb"]["Keys"], record["dynamodb"].get("NewImage")])
    with open(os.environ["RECORDS_FILE"], "a") as f:
        f.write(json.dumps(out) + "\\n")
    return {"batchItemFailures": [], "env": {k: os.environ.get(k) for k in ("STREAM", "STREAM_ARN", "TABLE_STREAM")}}
"""


def records(path: Path, count: int, timeout_s: float = 30.0) -> list[object]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = [x for line in path.read_text().splitlines() for x in json.loads(line)] if path.exists() else []
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"only {found} after {timeout_s} s"
        time.sleep(0.05)


def test_kinesis_and_dynamodb_events_are_wired_to_local_streams(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text(APP)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    out = tmp_path / "records.jsonl"
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml", parameters={"OutFile": str(out)})
        assert names == ["Reader", "Raw"], notes
        by_id = {n.split(":", 1)[0]: n for n in notes}
        assert by_id["BadStream"] == "BadStream: ShardCount 'many' is not a number; no local stream"
        assert by_id["ReaderFromClicks"].startswith("ReaderFromClicks: local Kinesis stream clicks delivers to Reader")
        assert by_id["ReaderFromOrders"].startswith(
            "ReaderFromOrders: local DynamoDB stream of table orders delivers to Reader"
        ) and by_id["ReaderFromOrders"].endswith("(FilterCriteria noted, not applied)")
        assert by_id["ReaderNoPosition"] == (
            "ReaderNoPosition: 1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null.; not wired"
        )
        assert by_id["ReaderAtTimestamp"].startswith("ReaderAtTimestamp: Unsupported starting position for arn type")
        assert "stands in" in by_id["OutsideMapping"] and "paused" in by_id["OutsideMapping"]
        assert "already delivers to Reader" in by_id["SecondOnClicks"] and by_id["SecondOnClicks"].endswith("not wired")
        assert by_id["OnPlain"] == (
            "OnPlain: its queue or stream cannot be resolved (EventSourceArn / Queue); not wired"
        )  # a table without a stream has no StreamArn

        found = {s.name: s for s in lambdalab.streams.sources(lab)}
        assert set(found) == {"clicks", "orders", "outside"}
        clicks, orders, outside = found["clicks"], found["orders"], found["outside"]
        settings = clicks.settings()
        assert (settings["shards"], settings["batch_size"], settings["bisect_batch_on_function_error"]) == (2, 5, True)
        assert (settings["maximum_retry_attempts"], settings["maximum_record_age_s"]) == (2, 3600)
        assert settings["report_batch_item_failures"] is True
        assert settings["on_failure"] == "arn:aws:sqs:us-east-1:123456789012:Failed"
        assert (orders.stream_view_type, orders.key_attributes) == ("NEW_IMAGE", ("pk", "sk"))
        assert orders.settings()["batching_window_s"] == 1 and orders.settings()["starting_position"] == "LATEST"
        assert outside.function == "Raw" and outside.settings()["enabled"] is False

        env = lab.function("Reader").config.env_vars
        assert env["STREAM"] == "clicks" and env["STREAM_ARN"] == clicks.arn
        assert env["TABLE_STREAM"] == orders.arn  # GetAtt StreamArn is the local stream's ARN
        assert orders.arn.startswith("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/")

        for i in range(6):
            clicks.put_record(f"c{i}", "same-key")
        clicks.wait_until_processed(timeout_s=30)
        assert [x for x in records(out, 6)] == [f"c{i}" for i in range(6)]  # one key: one shard, in order
        orders.put_item({"pk": "p", "sk": "1", "n": 5})
        orders.wait_until_processed(timeout_s=30)
        assert records(out, 7)[6] == [
            "INSERT",
            {"pk": {"S": "p"}, "sk": {"S": "1"}},
            {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "5"}},
        ]

        # the endpoint lists the template's mappings, with their settings
        c = client(lab.serve())
        listed = {m["EventSourceArn"]: m for m in c.list_event_source_mappings()["EventSourceMappings"]}
        assert set(listed) == {clicks.arn, orders.arn, outside.arn}
        assert listed[clicks.arn]["UUID"] == clicks.uuid and listed[clicks.arn]["BatchSize"] == 5
        assert listed[clicks.arn]["DestinationConfig"] == {"OnFailure": {"Destination": settings["on_failure"]}}
        assert listed[orders.arn]["LastProcessingResult"] == "OK" and listed[outside.arn]["State"] == "Disabled"
        assert listed[outside.arn]["FunctionArn"] == lab.arn("Raw")


SERVED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Events:
    Type: AWS::Kinesis::Stream
    Properties: {{Name: events, ShardCount: 1}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: KEYS_ONLY}}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: app/
      Environment: {{Variables: {{RECORDS_FILE: "{out}"}}}}
      Events:
        Stream: {{Type: Kinesis, Properties: {{Stream: !GetAtt Events.Arn, StartingPosition: LATEST}}}}
        Changes: {{Type: DynamoDB, Properties: {{Stream: !GetAtt Table.StreamArn, StartingPosition: TRIM_HORIZON}}}}
"""


def test_serve_a_template_and_feed_its_streams_with_boto3(tmp_path: Path) -> None:
    """``lambdalab serve --template``: no Python handle; boto3's kinesis and dynamodb clients feed the streams and the
    lambda client lists the mappings."""
    import boto3

    from .conftest import cli_env, serve_cli

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text(APP)
    out = tmp_path / "records.jsonl"
    (tmp_path / "template.yaml").write_text(SERVED.format(out=out))
    with serve_cli(
        ["--template", str(tmp_path / "template.yaml"), "--port", "0", "--no-urls"], cli_env(tmp_path)
    ) as run:
        session = boto3.session.Session(
            aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="lambdalab-secret", region_name="us-east-1"
        )
        listed = client(run.url).list_event_source_mappings(FunctionName="Reader")["EventSourceMappings"]
        assert sorted(m["EventSourceArn"].split(":")[2] for m in listed) == ["dynamodb", "kinesis"]
        assert {m["State"] for m in listed} == {"Enabled"}
        session.client("kinesis", endpoint_url=run.url).put_record(StreamName="events", Data=b"hello", PartitionKey="p")
        session.client("dynamodb", endpoint_url=run.url).put_item(TableName="Table", Item={"id": {"S": "i1"}})
        got = records(out, 2)
        assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, ["hello", ["INSERT", {"id": {"S": "i1"}}, None]]))
    assert "ReaderStream: local Kinesis stream events delivers to Reader" in run.stderr
    assert "ReaderChanges: local DynamoDB stream of table Table delivers to Reader" in run.stderr


def test_a_table_streams_arn_is_the_same_when_the_template_is_read_again(tmp_path: Path) -> None:
    """``serve --watch`` reads the template again in another Lab: ``GetAtt StreamArn`` must not change under the
    function (its environment would point at a stream that is not served)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text(APP)
    (tmp_path / "template.yaml").write_text(SERVED.format(out=tmp_path / "records.jsonl"))
    arns = []
    for _ in range(2):
        with lambdalab.Lab() as lab:
            load_template(lab, tmp_path / "template.yaml")
            (table,) = [s for s in lambdalab.streams.sources(lab) if s.arn.split(":")[2] == "dynamodb"]
            arns.append(table.arn)
        time.sleep(1.1)  # a label made now would differ
    assert arns[0] == arns[1]


DECLARED = """\
Resources:
  Idle:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 3}
  Slow:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 45, RedrivePolicy: {maxReceiveCount: 2}}
  Worker:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: index.handler, Code: {ZipFile: "def handler(e, c):\\n    return 1\\n"}}
"""


def test_a_mapping_made_later_on_a_source_the_template_declared_takes_its_settings(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(DECLARED)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        assert names == ["Worker"] and notes == [] and lambdalab.streams.sources(lab) == []  # nothing reads them yet
        c = client(lab.serve())
        stream = c.create_event_source_mapping(
            EventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/Idle",
            FunctionName="Worker",
            StartingPosition="LATEST",
        )
        queue = c.create_event_source_mapping(
            EventSourceArn="arn:aws:sqs:us-east-1:123456789012:Slow", FunctionName="Worker"
        )
        found = {s.uuid: s for s in lambdalab.streams.sources(lab)}
        assert found[stream["UUID"]].settings()["shards"] == 3
        slow = found[queue["UUID"]]
        assert (slow.visibility_timeout_s, slow.max_receive_count) == (45.0, 2)


MALFORMED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  ListKeyType:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: listed
      KeySchema: [{AttributeName: id, KeyType: [HASH]}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  BadSpec:
    Type: AWS::DynamoDB::Table
    Properties: {TableName: spec, StreamSpecification: [NEW_IMAGE]}
  TooManyShards:
    Type: AWS::Kinesis::Stream
    Properties: {Name: wide, ShardCount: 101}
  Fine:
    Type: AWS::Kinesis::Stream
    Properties: {Name: fine, ShardCount: 100}
  OddQueue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: odd, RedrivePolicy: {maxReceiveCount: [3]}}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      InlineCode: "def handler(event, context):\\n    return None\\n"
      Handler: index.handler
      Events:
        NotAMapping: {Type: Kinesis, Properties: not-a-mapping}
        ListProps: {Type: SQS, Properties: [1, 2]}
        Good: {Type: Kinesis, Properties: {Stream: !GetAtt Fine.Arn, StartingPosition: LATEST}}
  ListMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: [FunctionName, Reader]
  OddMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Reader
      EventSourceArn: arn:aws:kinesis:us-east-1:123456789012:stream/other
      StartingPosition: LATEST
      DestinationConfig: {OnFailure: {Destination: "javascript:alert(1)"}}
"""


def test_a_malformed_stream_queue_or_event_is_noted_by_its_logical_id(tmp_path: Path) -> None:
    """One malformed resource or event never aborts the template: each is skipped with a note naming it."""
    (tmp_path / "template.yaml").write_text(MALFORMED)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        assert names == ["Reader"], notes
        by_id = {n.split(":", 1)[0]: n for n in notes}
        assert by_id["ListKeyType"] == "ListKeyType: KeySchema KeyType ['HASH'] must be HASH or RANGE; no local stream"
        assert by_id["TooManyShards"].startswith("TooManyShards: ShardCount 101 is outside 1-100")
        assert by_id["OddQueue"].startswith("OddQueue: ") and by_id["OddQueue"].endswith("no local queue")
        assert by_id["ReaderNotAMapping"] == "ReaderNotAMapping: Properties must be a mapping; not wired"
        assert by_id["ReaderListProps"] == "ReaderListProps: Properties must be a mapping; not wired"
        assert by_id["ListMapping"] == "ListMapping: Properties must be a mapping; not wired"
        assert "destinationConfig.onFailure.destination" in by_id["OddMapping"] and by_id["OddMapping"].endswith(
            "not wired"
        )
        assert by_id["ReaderGood"].startswith("ReaderGood: local Kinesis stream fine delivers to Reader")
        assert "BadSpec" not in by_id  # a table whose StreamSpecification is not a mapping has no stream: nothing local
        assert [s.name for s in lambdalab.streams.sources(lab)] == ["fine"]
        assert lambdalab.streams.sources(lab)[0].settings()["shards"] == 100
