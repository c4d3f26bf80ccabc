"""Malformed requests to the durable execution APIs are Lambda's 4xx, never a 500: every body and query member of the
wrong type or outside botocore's model, sent at a real execution waiting on its callback, is refused
(``InvalidParameterValueException`` or ``ValidationException``) and leaves the execution as it was.
ListDurableExecutionsByFunction of an unknown function is 404 and its filters are checked (and botocore's ISO dates
and several ``Statuses`` filter as Lambda's). ``create_function(durable=True)`` with an invalid argument starts
nothing (no endpoint, no durable service)."""

from __future__ import annotations

import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

import lambdalab

pytest.importorskip("aws_durable_execution_sdk_python_testing")
from tests.durable.test_durable_fidelity import client, http  # noqa: E402
from tests.durable.test_durable_workflows import ORDER, asked_callback, deploy  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

REFUSALS = {"InvalidParameterValueException", "ValidationException"}
# one value of each JSON type; a member gets each one its model type does not take
VALUES: list[Any] = [7, 1.5, "x", True, [], {}, [1], {"a": 1}]


def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("lambda")


def _fits(kind: str, value: Any) -> bool:
    return {
        "structure": isinstance(value, dict),
        "map": isinstance(value, dict),
        "list": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
    }[kind]


def wrongly_typed(operation: str, valid: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``valid`` with one member (from botocore's model: the body's, and each of a first list item's or a nested
    structure's) replaced by a value of another JSON type: (the member's path, the body)."""
    shape = _model().operation_model(operation).input_shape
    payload = shape.serialization.get("payload")
    members = shape.members[payload].members if payload else shape.members
    for name, member in members.items():
        if member.serialization.get("location"):
            continue
        for value in VALUES:
            if not _fits(member.type_name, value):
                yield name, {**valid, name: value}
        inner = member.member if member.type_name == "list" else None
        if inner is not None and inner.type_name == "structure" and valid.get(name):
            for item_name, item in inner.members.items():
                for value in VALUES:
                    if not _fits(item.type_name, value):
                        yield f"{name}[0].{item_name}", {**valid, name: [{**valid[name][0], item_name: value}]}
                for nested_name, nested in getattr(item, "members", {}).items():
                    bad = "x" if nested.type_name != "string" else 7
                    body = {**valid, name: [{**valid[name][0], item_name: {nested_name: bad}}]}
                    yield f"{name}[0].{item_name}.{nested_name}", body


class Waiting(NamedTuple):
    lab: lambdalab.Lab
    fn: lambdalab.Function
    pending: Any
    arn: str
    callback_id: str

    @property
    def path(self) -> str:
        return "/2025-12-01/durable-executions/" + urllib.parse.quote(self.arn, safe="")

    @property
    def callback(self) -> str:
        return "/2025-12-01/durable-execution-callbacks/" + urllib.parse.quote(self.callback_id, safe="")


@pytest.fixture(scope="module")
def waiting(shared_lab: lambdalab.Lab) -> Waiting:
    """One execution of the approval workflow, waiting for its callback (nothing runs meanwhile)."""
    fn = deploy(shared_lab, "approval")
    pending = fn.submit(ORDER)
    callback_id = asked_callback(fn, 60)
    status, listed, _ = http(shared_lab, "GET", "/2025-12-01/functions/approval/durable-executions")
    assert status == 200 and len(listed["DurableExecutions"]) == 1
    return Waiting(shared_lab, fn, pending, listed["DurableExecutions"][0]["DurableExecutionArn"], callback_id)


def refused(answer: tuple[int, Any, Any], what: str) -> tuple[str, str]:
    status, body, headers = answer
    code = headers.get("x-amzn-ErrorType")
    assert status == 400 and code in REFUSALS, f"{what}: {status} {code} {body}"
    return code, body.get("message") or body.get("Message")


def post(waiting: Waiting, path: str, body: Any) -> tuple[int, Any, Any]:
    return http(waiting.lab, "POST", path, json.dumps(body).encode(), **{"Content-Type": "application/json"})


VALID_UPDATE = {"Id": "op-1", "Type": "STEP", "Action": "START", "Name": "n"}


def test_a_wrongly_typed_checkpoint_is_refused_with_the_member_named(waiting: Waiting) -> None:
    path = waiting.path + "/checkpoint"
    code, message = refused(post(waiting, path, {"CheckpointToken": 5, "Updates": "x"}), "token 5")
    assert code == "InvalidParameterValueException" and "'checkpointToken' must be a string" in message
    code, message = refused(post(waiting, path, {"CheckpointToken": "dA==", "Updates": [1, 2]}), "updates [1, 2]")
    assert code == "InvalidParameterValueException" and "'updates.1.member' must be an object" in message
    code, message = refused(post(waiting, path, {"Updates": []}), "no token")
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value null at 'checkpointToken' failed to satisfy constraint: "
        "Member must not be null"
    )
    bogus = {**VALID_UPDATE, "Type": "BOGUS"}
    code, message = refused(post(waiting, path, {"CheckpointToken": "dA==", "Updates": [bogus]}), "type BOGUS")
    assert code == "ValidationException" and "Value 'BOGUS' at 'updates.1.member.type'" in message
    assert "Member must satisfy enum value set: [EXECUTION, CONTEXT, STEP, WAIT, CALLBACK, CHAINED_INVOKE]" in message
    no_action = {key: value for key, value in VALID_UPDATE.items() if key != "Action"}
    _, message = refused(post(waiting, path, {"CheckpointToken": "dA==", "Updates": [no_action]}), "no action")
    assert "Value null at 'updates.1.member.action'" in message
    wait = {**VALID_UPDATE, "Type": "WAIT", "WaitOptions": {"WaitSeconds": 0}}
    _, message = refused(post(waiting, path, {"CheckpointToken": "dA==", "Updates": [wait]}), "wait 0")
    assert "Value '0' at 'updates.1.member.waitOptions.waitSeconds'" in message
    assert "Member must have value greater than or equal to 1" in message


@pytest.mark.parametrize(
    ("operation", "suffix", "valid"),
    [
        ("CheckpointDurableExecution", "/checkpoint", {"CheckpointToken": "dA==", "Updates": [VALID_UPDATE]}),
        ("StopDurableExecution", "/stop", {"ErrorMessage": "m", "ErrorType": "t", "StackTrace": ["a"]}),
        ("SendDurableExecutionCallbackFailure", "/fail", {"ErrorMessage": "m", "StackTrace": ["a"]}),
    ],
)
def test_every_wrongly_typed_body_member_is_refused(waiting: Waiting, operation: str, suffix: str, valid: dict) -> None:
    path = (waiting.callback if suffix == "/fail" else waiting.path) + suffix
    cases = list(wrongly_typed(operation, valid))
    assert len(cases) >= 20
    for member, body in cases:
        refused(post(waiting, path, body), f"{operation} {member}={body}")
    for body in (b"[]", b'"x"', b"5", b"{", b'{"a": ' * 3000):  # not a JSON object: Lambda's InvalidRequestContent
        status, answer, headers = http(waiting.lab, "POST", path, body, **{"Content-Type": "application/json"})
        assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidRequestContentException", (body[:20], answer)


BAD_QUERIES = {
    "/state": [
        "MaxItems=abc",
        "MaxItems=-1",
        "MaxItems=1001",
        "CheckpointToken=%21%21",
        f"CheckpointToken={'A' * 2049}",
    ],
    "/history": ["MaxItems=abc", "MaxItems=1001", "ReverseOrder=maybe", "IncludeExecutionData=2"],
    "": ["IncludeExecutionData=maybe"],
}


def test_every_bad_query_value_is_refused(waiting: Waiting) -> None:
    for suffix, queries in BAD_QUERIES.items():
        for query in queries:
            refused(http(waiting.lab, "GET", f"{waiting.path}{suffix}?{query}"), f"{suffix}?{query[:40]}")
    function = "/2025-12-01/functions/approval/durable-executions"
    for query in [
        "Statuses=BOGUS",
        "Statuses=RUNNING&Statuses=nope",
        "StartedAfter=notadate",
        "StartedBefore=2026-13-45T00:00:00Z",
        "MaxItems=abc",
        "MaxItems=5000",
        "ReverseOrder=maybe",
        "DurableExecutionName=semi%3Bcolon",
        f"DurableExecutionName={'a' * 65}",
        "Qualifier=%21",
    ]:
        refused(http(waiting.lab, "GET", f"{function}?{query}"), query[:40])
    code, message = refused(http(waiting.lab, "GET", f"{function}?Statuses=BOGUS"), "BOGUS")
    assert code == "ValidationException" and "Value '[BOGUS]' at 'statuses'" in message
    assert "Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED" in message


def test_listing_an_unknown_functions_executions_is_not_found(waiting: Waiting) -> None:
    lam = client(waiting.lab)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.list_durable_executions_by_function(FunctionName="nosuch")
    assert missing.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nosuch"
    )
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_list_filters_read_botocores_dates_and_several_statuses(waiting: Waiting) -> None:
    import datetime

    lam = client(waiting.lab)

    def arns(**filters: Any) -> list[str]:
        listed = lam.list_durable_executions_by_function(FunctionName="approval", **filters)["DurableExecutions"]
        return [execution["DurableExecutionArn"] for execution in listed]

    now = datetime.datetime.now(datetime.UTC)
    assert arns(StartedAfter=now - datetime.timedelta(hours=1)) == [waiting.arn]
    assert arns(StartedAfter=now + datetime.timedelta(hours=1)) == []
    assert arns(StartedBefore=now + datetime.timedelta(hours=1)) == [waiting.arn]
    assert arns(Statuses=["SUCCEEDED", "RUNNING"]) == [waiting.arn]
    assert arns(Statuses=["SUCCEEDED", "FAILED"]) == []
    with pytest.raises(lam.exceptions.ClientError) as bogus:
        lam.list_durable_executions_by_function(FunctionName="approval", Statuses=["BOGUS"])
    assert bogus.value.response["Error"]["Code"] == "ValidationException"


def test_a_callback_result_over_a_mebibyte_is_refused(waiting: Waiting) -> None:
    body = b'"' + b"x" * (1 << 20) + b'"'  # botocore's Result: at most 1,048,576 bytes
    answer = http(waiting.lab, "POST", waiting.callback + "/succeed", body, **{"Content-Type": "application/json"})
    code, message = refused(answer, "1 MiB + 2 bytes")
    assert code == "ValidationException" and "at 'result'" in message
    assert "Member must have length less than or equal to 1048576" in message


def test_the_refused_requests_left_the_execution_as_it_was(waiting: Waiting) -> None:
    """Last in the module: nothing above stopped, failed or advanced the execution; it still completes."""
    status, execution, _ = http(waiting.lab, "GET", waiting.path)
    assert status == 200 and execution["Status"] == "RUNNING"
    assert not waiting.pending.done()
    lam = client(waiting.lab)
    lam.send_durable_execution_callback_success(CallbackId=waiting.callback_id, Result=b'"approved"')
    assert waiting.pending.result(timeout=60).payload == {"order": "o-1", "decision": '"approved"'}


def _listening() -> set[tuple[str, int]]:
    import psutil

    own = psutil.Process().net_connections(kind="tcp")
    return {(c.laddr.ip, c.laddr.port) for c in own if c.status == psutil.CONN_LISTEN}


def test_an_invalid_durable_function_starts_nothing() -> None:
    with lambdalab.Lab() as lab:
        listening, threads = _listening(), {thread.name for thread in threading.enumerate()}
        for bad in ({"memory_mb": 1}, {"durable_retention_days": 0}, {"timeout_s": -1}):
            with pytest.raises(lambdalab.ConfigError):
                lab.create_function("flow", "def handler(e, c):\n    return 1\n", durable=True, **bad)
        assert lab.attached == ()  # neither the endpoint nor the durable service
        assert _listening() == listening
        assert {thread.name for thread in threading.enumerate()} <= threads
        assert lab.functions() == []
        with socket.create_server(("127.0.0.1", 0)):  # the machine still hands out ports: the check can see one
            assert len(_listening()) == len(listening) + 1
