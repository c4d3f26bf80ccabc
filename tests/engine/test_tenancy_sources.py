"""Tenant isolation refuses event source mappings: an SQS queue, a Kinesis stream or a DynamoDB stream delivering to a
tenant-isolated function has no tenant id to give each invoke (Lambda: tenant isolation is incompatible with "most
event sources (only API Gateway is supported)"), so ``lab.sqs_queue``, ``lab.kinesis_stream`` and
``lab.dynamodb_stream`` refuse it with a ``ConfigError`` and nothing is attached to the Lab."""

from __future__ import annotations

import pytest

from lambdalab import tenancy
from lambdalab.errors import ConfigError

HANDLER = "def handler(event, context):\n    return context.tenant_id\n"


@pytest.mark.parametrize("make", ["sqs_queue", "kinesis_stream", "dynamodb_stream"])
def test_an_event_source_on_a_tenant_isolated_function_is_refused(lab, make):
    lab.create_function("isolated", HANDLER, tenancy="PER_TENANT")
    before = list(lab.attached)
    with pytest.raises(ConfigError) as caught:
        getattr(lab, make)("source", "isolated")
    assert str(caught.value) == tenancy.EVENT_SOURCE_REFUSED
    assert "tenant isolation mode (PER_TENANT)" in str(caught.value)
    assert list(lab.attached) == before  # nothing polls, nothing is left to close
    assert len(lab.invocations()) == 0


def test_the_same_sources_on_a_plain_function_still_deliver(lab):
    lab.create_function("plain", "def handler(event, context):\n    return len(event['Records'])\n")
    queue = lab.sqs_queue("q", "plain")
    queue.send("one")
    queue.wait_until_empty(30)
    assert [d.outcome for d in queue.deliveries] == ["deleted"]
    stream = lab.kinesis_stream("s", "plain")
    assert stream.function == "plain"


def test_check_event_source_is_pure():
    tenancy.check_event_source(None)
    with pytest.raises(ConfigError, match="Event source mappings are not supported"):
        tenancy.check_event_source("PER_TENANT")
