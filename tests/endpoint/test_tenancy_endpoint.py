"""Tenant isolation through the endpoint with boto3: ``Invoke(TenantId=...)`` sends ``X-Amz-Tenant-Id``, the handler
sees it as ``context.tenant_id``, tenants never share an environment, and Lambda's refusals (no tenant id, a tenant
id on a function without tenant isolation, a tenant id outside the pattern, a function URL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

import lambdalab
from tests.endpoint.conftest import client

pytestmark = pytest.mark.slow

TENANT_ECHO = """
import os
def handler(event, context):
    return {"tenant": context.tenant_id, "pid": os.getpid()}
"""


@pytest.fixture
def tenants() -> Iterator[tuple[lambdalab.Lab, object]]:
    with lambdalab.Lab() as lab:
        lab.create_function("isolated", TENANT_ECHO, tenancy="PER_TENANT")
        lab.create_function("shared", TENANT_ECHO)
        yield lab, client(lab.serve(), retries={"total_max_attempts": 1})


def _payload(answer: dict) -> dict:
    return json.loads(answer["Payload"].read())


def test_invoke_with_tenant_id_reaches_context_tenant_id(tenants):
    lab, boto = tenants
    answer = boto.invoke(FunctionName="isolated", TenantId="blue", Payload=b"{}")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert _payload(answer)["tenant"] == "blue"


def test_tenants_never_share_an_environment_through_the_endpoint(tenants):
    lab, boto = tenants
    pids: dict[str, set[int]] = {"a": set(), "b": set()}
    for _ in range(3):
        for tenant in ("a", "b"):
            body = _payload(boto.invoke(FunctionName="isolated", TenantId=tenant, Payload=b"{}"))
            assert body["tenant"] == tenant
            pids[tenant].add(body["pid"])
    assert not pids["a"] & pids["b"]
    table = lab.invocations()
    assert (table.groupby("environment_id")["tenant_id"].nunique() == 1).all()
    assert set(table["tenant_id"]) == {"a", "b"}


def test_an_invoke_without_a_tenant_id_is_refused(tenants):
    lab, boto = tenants
    with pytest.raises(boto.exceptions.InvalidParameterValueException) as caught:
        boto.invoke(FunctionName="isolated", Payload=b"{}")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Tenant ID" in response["Error"]["Message"]
    assert lab.function("isolated").environments() == []


def test_a_tenant_id_on_a_function_without_tenant_isolation_is_refused(tenants):
    lab, boto = tenants
    with pytest.raises(boto.exceptions.InvalidParameterValueException):
        boto.invoke(FunctionName="shared", TenantId="blue", Payload=b"{}")
    with pytest.raises(boto.exceptions.InvalidParameterValueException):
        boto.invoke(FunctionName="shared", TenantId="blue", InvocationType="Event", Payload=b"{}")
    assert _payload(boto.invoke(FunctionName="shared", Payload=b"{}"))["tenant"] is None


def test_a_tenant_id_outside_the_pattern_is_a_validation_error(tenants):
    lab, boto = tenants
    with pytest.raises(boto.exceptions.ClientError) as caught:
        boto.invoke(FunctionName="isolated", TenantId="semi;colon", Payload=b"{}")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException" and "tenantId" in error["Message"]


def test_an_event_invoke_carries_its_tenant(tenants):
    lab, boto = tenants
    answer = boto.invoke(FunctionName="isolated", TenantId="green", InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202
    fn = lab.function("isolated")
    deadline = time.monotonic() + 30
    while not fn.destinations.on_success:
        assert time.monotonic() < deadline, "no outcome after 30 s"
        time.sleep(0.05)
    assert fn.destinations.on_success[0]["responsePayload"]["tenant"] == "green"
    with pytest.raises(boto.exceptions.InvalidParameterValueException):  # refused before the 202
        boto.invoke(FunctionName="isolated", InvocationType="Event", Payload=b"{}")


def test_a_function_url_is_refused_for_a_tenant_isolated_function(tenants):
    lab, boto = tenants
    with pytest.raises(boto.exceptions.ClientError) as caught:
        boto.create_function_url_config(FunctionName="isolated", AuthType="NONE")
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "tenant isolation" in error["Message"]
    assert boto.create_function_url_config(FunctionName="shared", AuthType="NONE")["FunctionUrl"]
