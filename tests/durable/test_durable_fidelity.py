"""Durable functions as Lambda shows them to callers: execution ARNs in Lambda's shape everywhere (the APIs take them
as botocore sends them, percent-encoded, and as written), the synchronous Invoke's ``X-Amz-Durable-Execution-Arn``,
``X-Amz-Durable-Execution-Name`` on Event invokes, the tenant and the trace header carried into every replay, and the
function's own error when every replay fails."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

import lambdalab

pytest.importorskip("aws_durable_execution_sdk_python_testing")
from tests.durable.test_durable_workflows import ORDER, SDK, WORKFLOWS, deploy  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def arn_pattern() -> re.Pattern[str]:
    """botocore's ``DurableExecutionArn`` pattern (the Lambda model in the venv)."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("lambda").shape_for("DurableExecutionArn")
    return re.compile(shape.metadata["pattern"])


def client(lab: lambdalab.Lab) -> Any:
    import boto3

    return boto3.client(
        "lambda",
        endpoint_url=lab.serve(),
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def http(lab: lambdalab.Lab, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, Any, Any]:
    """A raw request to the Lab's endpoint (path as given, not re-encoded): (status, JSON body, headers)."""
    request = urllib.request.Request(lab.serve() + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the Lab's loopback endpoint
            return answer.status, json.loads(answer.read() or b"null"), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


def test_execution_arns_have_lambdas_shape_everywhere(shared_lab: lambdalab.Lab) -> None:
    pattern = arn_pattern()
    fn = deploy(shared_lab, "steps")
    result = fn.invoke(ORDER)
    arn = result.durable_execution_arn
    match = pattern.fullmatch(arn)
    assert match is not None, arn
    assert match.group(4) == fn.name and match.group(5) == "$LATEST"
    assert arn.startswith(f"arn:aws:lambda:us-east-1:{shared_lab.settings.account_id}:function:steps:$LATEST/")
    table = shared_lab.durable_executions()
    assert arn in set(table["execution_arn"]) and all(pattern.fullmatch(a) for a in table["execution_arn"])
    assert match.group(6) == table[table["execution_arn"] == arn]["name"].iloc[0]
    assert fn.durable_history(arn).attrs["execution_arn"] == arn
    lam = client(shared_lab)
    answer = lam.invoke(FunctionName=fn.name, Payload=json.dumps(ORDER).encode(), DurableExecutionName="shaped")
    sync_arn = answer["DurableExecutionArn"]  # the synchronous Invoke names its execution too
    assert pattern.fullmatch(sync_arn) and "/durable-execution/shaped/" in sync_arn
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-durable-execution-arn"] == sync_arn
    got = lam.get_durable_execution(DurableExecutionArn=sync_arn)  # botocore percent-encodes ':', '/', '$'
    assert got["DurableExecutionArn"] == sync_arn and got["Status"] == "SUCCEEDED"
    events = lam.get_durable_execution_history(DurableExecutionArn=sync_arn)["Events"]
    assert [e["Name"] for e in events if e["EventType"] == "StepSucceeded"] == ["validate", "price", "charge"]
    listed = lam.list_durable_executions_by_function(FunctionName=fn.name)["DurableExecutions"]
    assert sync_arn in {e["DurableExecutionArn"] for e in listed}
    assert all(pattern.fullmatch(e["DurableExecutionArn"]) for e in listed)
    status, body, _ = http(shared_lab, "GET", "/2025-12-01/durable-executions/" + sync_arn)  # as written
    assert status == 200 and body["DurableExecutionArn"] == sync_arn
    quoted = urllib.parse.quote(sync_arn, safe="")
    status, body, _ = http(shared_lab, "GET", f"/2025-12-01/durable-executions/{quoted}/history")
    assert status == 200 and len(body["Events"]) == len(events)


def test_the_functions_sdk_sees_the_executions_arn(shared_lab: lambdalab.Lab) -> None:
    """The SDK inside the function checkpoints under the ARN callers see (its DurableExecutionArn is Lambda's)."""
    fn = deploy(shared_lab, "wait")
    result = fn.invoke({**ORDER, "wait_s": 2})
    assert result.error is None, result.error
    history = fn.durable_history(result.durable_execution_arn)
    assert list(history.attrs["replays"]["outcome"]) == ["PENDING", "SUCCEEDED"]


def test_event_invokes_honour_the_execution_name(shared_lab: lambdalab.Lab) -> None:
    fn = deploy(shared_lab, "wait")
    lam = client(shared_lab)
    payload = json.dumps({**ORDER, "wait_s": 2}).encode()
    first = lam.invoke(FunctionName=fn.name, Payload=payload, InvocationType="Event", DurableExecutionName="ev-1")
    again = lam.invoke(FunctionName=fn.name, Payload=payload, InvocationType="Event", DurableExecutionName="ev-1")
    assert first["StatusCode"] == again["StatusCode"] == 202
    assert first["DurableExecutionArn"] == again["DurableExecutionArn"]  # a retried start joins the execution
    assert "/durable-execution/ev-1/" in first["DurableExecutionArn"]
    assert lam.get_durable_execution(DurableExecutionArn=first["DurableExecutionArn"])["DurableExecutionName"] == "ev-1"
    with pytest.raises(lam.exceptions.DurableExecutionAlreadyStartedException) as refused:
        lam.invoke(FunctionName=fn.name, Payload=b'{"id": "o-2"}', InvocationType="Event", DurableExecutionName="ev-1")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    through_lab = shared_lab.enqueue(fn.name, payload, durable_execution_name="ev-1")
    assert through_lab == first["DurableExecutionArn"]
    table = shared_lab.durable_executions()
    assert list(table["name"]).count("ev-1") == 1


def test_replays_keep_the_tenant_and_the_trace_header(shared_lab: lambdalab.Lab) -> None:
    fn = shared_lab.create_function(
        "whoami",
        path=WORKFLOWS,
        handler="order_workflows.whoami",
        requirements=SDK,
        durable=True,
        tenancy="PER_TENANT",
    )
    with pytest.raises(lambdalab.InvalidParameterValueException):  # a tenant-isolated function needs a tenant id
        fn.invoke({"wait_s": 2})
    result = fn.invoke({"wait_s": 2}, tenant_id="tenant-a")
    assert result.error is None, result.error
    assert result.payload["first"][0] == result.payload["last"][0] == "tenant-a"  # every replay: context.tenant_id
    replays = fn.durable_history(result.durable_execution_arn).attrs["replays"]
    invocations = shared_lab.invocations().set_index("request_id")
    assert len(replays) == 2 and set(invocations.loc[list(replays["request_id"]), "tenant_id"]) == {"tenant-a"}
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=3:1a2b3c4d:0"
    status, body, headers = http(
        shared_lab,
        "POST",
        "/2015-03-31/functions/whoami/invocations",
        b'{"wait_s": 2}',
        **{"X-Amz-Tenant-Id": "tenant-b", "X-Amzn-Trace-Id": trace},
    )
    assert status == 200, body
    assert body == {"first": ["tenant-b", "4"], "last": ["tenant-b", "4"]}  # both replays one hop past the caller
    assert arn_pattern().fullmatch(headers["X-Amz-Durable-Execution-Arn"])
    looped = trace.replace("Lineage=3:", "Lineage=16:")  # the 17th: recursive loop detection stops it
    status, body, _ = http(
        shared_lab,
        "POST",
        "/2015-03-31/functions/whoami/invocations",
        b'{"wait_s": 2}',
        **{"X-Amz-Tenant-Id": "tenant-b", "X-Amzn-Trace-Id": looped},
    )
    assert status == 400 and "recursive loop" in json.dumps(body), body
    notices = shared_lab.recursion_notices()
    assert notices[-1]["function"] == "whoami" and notices[-1]["hop"] == 17
    status, _, headers = http(
        shared_lab,
        "POST",
        "/2015-03-31/functions/whoami/invocations",
        b'{"wait_s": 2}',
        **{"X-Amz-Tenant-Id": "tenant-b", "X-Amzn-Trace-Id": looped, "X-Amz-Invocation-Type": "Event"},
    )
    assert status == 202
    lam = client(shared_lab)
    arn = headers["X-Amz-Durable-Execution-Arn"]
    deadline = time.monotonic() + 30
    while (got := lam.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        assert time.monotonic() < deadline, "the looping execution never ended"
        time.sleep(0.05)
    assert got["Status"] == "FAILED" and got["Error"]["ErrorType"] == "RecursiveInvocationException"
    assert fn.durable_history(arn).attrs["replays"].empty  # refused at once: nothing ran, nothing retried


def test_a_durable_function_that_cannot_start_fails_with_its_own_error(shared_lab: lambdalab.Lab) -> None:
    """Every replay fails with Runtime.ImportModuleError: the execution fails with that error, not the runner's."""
    fn = shared_lab.create_function("broken", path=WORKFLOWS, handler="no_such_module.handler", durable=True)
    began = time.monotonic()
    result = fn.invoke(ORDER)
    assert time.monotonic() - began < 60
    assert result.function_error == "Unhandled"
    assert result.error["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module" in result.error["errorMessage"]
    table = shared_lab.durable_executions()
    row = table[table["function"] == "broken"].iloc[0]
    assert row["status"] == "FAILED" and row["error_type"] == "Runtime.ImportModuleError"
    assert row["replays"] >= 2  # invoked again after each failure, then given up
    got = client(shared_lab).get_durable_execution(DurableExecutionArn=result.durable_execution_arn)
    assert got["Error"]["ErrorType"] == "Runtime.ImportModuleError"
    assert "aws_durable_execution_sdk_python_testing" not in json.dumps(got["Error"])
