"""Tenant isolation refuses event source mappings through the endpoint and in templates: CreateEventSourceMapping on
a tenant-isolated function answers 400 ``InvalidParameterValueException`` (an SQS queue, a Kinesis stream, a DynamoDB
stream) and makes nothing; a template's mapping to such a function is skipped with a note naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

import lambdalab
from lambdalab import tenancy
from lambdalab.endpoint.templates import load_template
from tests.endpoint.conftest import client

pytestmark = pytest.mark.slow

REGION, ACCOUNT = "us-east-1", "123456789012"
HANDLER = "def handler(event, context):\n    return context.tenant_id\n"
SOURCES = [
    f"arn:aws:sqs:{REGION}:{ACCOUNT}:jobs",
    f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks",
    f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2024-01-01T00:00:00.000",
]


@pytest.mark.parametrize("arn", SOURCES)
def test_create_event_source_mapping_on_a_tenant_isolated_function_is_refused(arn):
    with lambdalab.Lab() as lab:
        lab.create_function("isolated", HANDLER, tenancy="PER_TENANT")
        boto = client(lab.serve(), retries={"total_max_attempts": 1})
        options = {} if ":sqs:" in arn else {"StartingPosition": "LATEST"}
        with pytest.raises(boto.exceptions.InvalidParameterValueException) as caught:
            boto.create_event_source_mapping(EventSourceArn=arn, FunctionName="isolated", **options)
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == tenancy.EVENT_SOURCE_REFUSED
        assert boto.list_event_source_mappings(FunctionName="isolated")["EventSourceMappings"] == []
        lab.create_function("plain", HANDLER)  # the same source on a plain function is taken
        made = boto.create_event_source_mapping(EventSourceArn=arn, FunctionName="plain", **options)
        assert made["FunctionArn"].endswith(":function:plain")


SOURCES = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
"""  # the queue and the stream both templates map

TEMPLATE = SOURCES + """  JobsToIsolated:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Jobs.Arn
      FunctionName: isolated
  ClicksToIsolated:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Clicks.Arn
      FunctionName: isolated
      StartingPosition: LATEST
  JobsToPlain:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Jobs.Arn
      FunctionName: plain
"""


def test_a_templates_mapping_to_a_tenant_isolated_function_is_skipped_with_a_note(tmp_path: Path):
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with lambdalab.Lab() as lab:
        lab.create_function("isolated", HANDLER, tenancy="PER_TENANT")
        lab.create_function("plain", HANDLER)
        _, notes = load_template(lab, tmp_path / "template.yaml")
        for logical_id in ("JobsToIsolated", "ClicksToIsolated"):
            (note,) = [n for n in notes if n.startswith(f"{logical_id}:")]
            assert tenancy.EVENT_SOURCE_REFUSED in note, notes
        assert any(n.startswith("JobsToPlain: local SQS queue Jobs delivers to plain") for n in notes), notes
        delivering = [(type(s).__name__, s.function) for s in lab.attached if hasattr(s, "function")]
        assert delivering == [("SqsQueue", "plain")]


SAM = SOURCES + """  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      TenancyConfig:
        TenantIsolationMode: PER_TENANT
      Events:
        FromJobs:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn}
        FromClicks:
          Type: Kinesis
          Properties: {Stream: !GetAtt Clicks.Arn, StartingPosition: LATEST}
  Odd:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      TenancyConfig: {TenantIsolationMode: SHARED}
"""


def test_a_sam_function_with_tenancy_config_is_tenant_isolated_and_its_events_are_skipped(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(SAM)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        assert names == ["Worker"]
        assert lab.function("Worker").config.tenancy == "PER_TENANT"
        assert lab.function("Worker").invoke({}, tenant_id="blue").payload == "blue"
        for logical_id in ("WorkerFromJobs", "WorkerFromClicks"):
            (note,) = [n for n in notes if n.startswith(f"{logical_id}:")]
            assert tenancy.EVENT_SOURCE_REFUSED in note, notes
        (odd,) = [n for n in notes if n.startswith("Odd:")]
        assert "TenancyConfig must be {TenantIsolationMode: PER_TENANT}" in odd
        assert not [s for s in lab.attached if getattr(s, "function", None) == "Worker"]
