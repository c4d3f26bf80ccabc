"""Tenant isolation on real processes: environments never shared across tenants, ``context.tenant_id`` in the invoke
phase only, the invoke's tenant id checked as Lambda checks it."""

from __future__ import annotations

import json
import time

import pytest

import lambdalab
from lambdalab.errors import ConfigError, InvalidParameterValueException

TENANT_AWARE = """
import os
def handler(event, context):
    return {"tenant": context.tenant_id, "pid": os.getpid()}
"""

NODE_TENANT = """
exports.handler = async (event, context) => ({ tenant: context.tenantId, pid: process.pid });
"""


def _tenant_function(lab: lambdalab.Lab, name: str = "tenants", **options: object) -> lambdalab.Function:
    return lab.create_function(name, TENANT_AWARE, tenancy="PER_TENANT", **options)


def test_context_tenant_id_is_the_invokes_tenant(lab, runtime):
    fn = _tenant_function(lab, runtime=runtime)
    result = fn.invoke({}, tenant_id="blue")
    assert result.error is None, result.payload
    assert result.payload["tenant"] == "blue"
    other = fn.invoke({}, tenant_id="green")
    assert other.payload["tenant"] == "green"


def test_tenants_a_and_b_never_share_an_environment(lab):
    fn = _tenant_function(lab)
    seen: dict[str, set[str]] = {"a": set(), "b": set()}
    for _ in range(3):  # sequential: each tenant's own environment is warm and reused, never the other's
        for tenant in ("a", "b"):
            result = fn.invoke({}, tenant_id=tenant)
            assert result.payload["tenant"] == tenant
            seen[tenant].add(result.environment_id)
    futures = [fn.submit({}, tenant_id=t) for t in ("a", "b", "a", "b")]  # and concurrently
    for tenant, future in zip(("a", "b", "a", "b"), futures, strict=True):
        result = future.result(30)
        assert result.payload["tenant"] == tenant
        seen[tenant].add(result.environment_id)
    assert seen["a"] and seen["b"]
    assert not seen["a"] & seen["b"], seen
    table = lab.invocations()
    assert set(table["tenant_id"]) == {"a", "b"}
    by_environment = table.groupby("environment_id")["tenant_id"].nunique()
    assert (by_environment == 1).all(), by_environment


def test_the_same_tenant_reuses_its_warm_environment(lab):
    fn = _tenant_function(lab)
    first = fn.invoke({}, tenant_id="a")
    second = fn.invoke({}, tenant_id="a")
    assert first.cold and not second.cold
    assert first.environment_id == second.environment_id


def test_an_invoke_without_a_tenant_id_fails_before_anything_runs(lab):
    fn = _tenant_function(lab)
    with pytest.raises(InvalidParameterValueException) as caught:
        fn.invoke({})
    assert caught.value.code == "InvalidParameterValueException" and caught.value.status == 400
    assert "Tenant ID" in str(caught.value)
    assert isinstance(caught.value, ConfigError)
    with pytest.raises(InvalidParameterValueException):
        fn.invoke_async({})
    with pytest.raises(InvalidParameterValueException):
        fn.submit({}).result(10)
    assert fn.environments() == []  # nothing started
    assert len(lab.invocations()) == 0


def test_a_tenant_id_on_a_function_without_tenant_isolation_fails(lab):
    fn = lab.create_function("plain", TENANT_AWARE)
    with pytest.raises(InvalidParameterValueException):
        fn.invoke({}, tenant_id="a")
    assert fn.invoke({}).payload["tenant"] is None  # and without one it runs, context.tenant_id None


@pytest.mark.parametrize("bad", ["", "x" * 257, "semi;colon", "tab\there"])
def test_a_tenant_id_outside_lambdas_pattern_is_refused(lab, bad):
    fn = _tenant_function(lab)
    with pytest.raises(ConfigError, match="tenantId"):
        fn.invoke({}, tenant_id=bad)


def test_an_async_invoke_carries_its_tenant(lab):
    fn = _tenant_function(lab)
    fn.invoke_async({}, tenant_id="c")
    deadline = time.monotonic() + 30
    while not fn.destinations.on_success and time.monotonic() < deadline:
        time.sleep(0.02)
    records = fn.destinations.on_success
    assert len(records) == 1 and records[0]["responsePayload"]["tenant"] == "c"


def test_function_urls_are_refused_for_tenant_isolated_functions(lab):
    fn = _tenant_function(lab)
    with pytest.raises(ConfigError, match="tenant isolation"):
        fn.url()


def test_node_context_has_the_tenant_id(lab):
    try:
        fn = lab.create_function("node-tenants", NODE_TENANT, runtime="nodejs", tenancy="PER_TENANT")
    except ConfigError as exc:  # no node on this machine
        pytest.skip(str(exc))
    assert fn.invoke({}, tenant_id="blue").payload["tenant"] == "blue"


LOGGING_TENANT = """
import logging
logging.getLogger().setLevel(logging.INFO)
logging.info("at init")
def handler(event, context):
    logging.info("serving")
    return context.tenant_id
"""


def test_json_log_records_carry_the_tenant_id_in_the_invoke_phase_only(lab, runtime):
    fn = lab.create_function(
        "logged", LOGGING_TENANT, runtime=runtime, tenancy="PER_TENANT", log_format="JSON", application_log_level="INFO"
    )
    assert fn.invoke({}, tenant_id="blue").payload == "blue"
    records = [json.loads(line) for line in fn.logs().splitlines() if line.startswith("{") and '"message"' in line]
    by_message = {r["message"]: r for r in records if r.get("message") in ("at init", "serving")}
    assert by_message["serving"]["tenantId"] == "blue"
    assert "tenantId" not in by_message["at init"]  # no tenant during init


def test_a_tenants_throttle_is_that_tenants_row(lab):
    fn = lab.create_function(
        "busy",
        "import time\ndef handler(event, context):\n    time.sleep(0.5)\n",
        tenancy="PER_TENANT",
        reserved_concurrency=1,
    )
    first = fn.submit({}, tenant_id="a")
    with pytest.raises(lambdalab.TooManyRequestsException):
        fn.invoke({}, tenant_id="b")
    assert first.result(30).error is None
    table = lab.invocations()
    throttled = table[table["status"] == "throttled"]
    assert list(throttled["tenant_id"]) == ["b"]
