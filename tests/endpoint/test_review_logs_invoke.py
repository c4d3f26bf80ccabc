"""The endpoint, where a review found it unlike Lambda: runtimes Lambda does not have are refused, a log tail holds
the init lines of its invocation, and a deleted function's log group can be deleted (a function made again under
the name starts with an empty group)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

import lambdalab
from lambdalab.aws import records
from lambdalab.endpoint import function_fields
from tests.packages import zip_bytes

from .conftest import client
from .test_logs_api import logs_client

pytestmark = pytest.mark.timeout(90)

ROLE = "arn:aws:iam::123456789012:role/lambdalab"
CELL = "def handler(event, context):\n    print('ran', event)\n    return event\n"
BAD = "raise RuntimeError('init')\ndef handler(event, context):\n    return 1\n"


@pytest.fixture
def endpoint() -> Iterator[tuple[lambdalab.Lab, str]]:
    with lambdalab.Lab() as lab:
        yield lab, lab.serve()


def _create(lam: Any, name: str, source: str = CELL, runtime: str = "python3.12") -> dict[str, Any]:
    result: dict[str, Any] = lam.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="lambda_function.handler",
        Code={"ZipFile": zip_bytes({"lambda_function.py": source})},
    )  # fmt: skip
    return result


def test_a_runtime_lambda_does_not_have_is_refused(endpoint: tuple[lambdalab.Lab, str]) -> None:
    lab, url = endpoint
    lam = client(url)
    for runtime in ("python3.99", "Python 3.12", "cobol"):
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as raised:
            _create(lam, "odd", runtime=runtime)
        message = raised.value.response["Error"]["Message"]
        assert f"Value {runtime} at 'runtime' failed to satisfy constraint" in message and "python3.12" in message
    assert "odd" not in lab.functions()
    _create(lam, "fine")  # one of Lambda's identifiers
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName="fine", Runtime="python3.99")


def test_the_runtime_identifiers_are_botocores() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    assert function_fields.lambda_runtimes() == tuple(model.shape_for("Runtime").enum)
    assert {"python3.12", "nodejs20.x", "provided.al2023"} <= set(function_fields.lambda_runtimes())


def _tail(response: dict[str, Any]) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def test_the_tail_of_an_init_error_holds_its_init_report_and_is_read_cold(endpoint: tuple[lambdalab.Lab, str]) -> None:
    lab, url = endpoint
    lam = client(url)
    _create(lam, "bad", BAD)
    for _ in range(2):
        response = lam.invoke(FunctionName="bad", LogType="Tail")
        tail = _tail(response)
        assert "Phase: invoke" in tail and tail.index("INIT_REPORT") < tail.index("START RequestId")
        assert tail.count("START RequestId") == 1 and tail.count("REPORT RequestId") == 1  # this invocation's only
        request_id = response["ResponseMetadata"]["RequestId"]
        got = records.record_from_tail(
            tail, function="bad", version="$LATEST", request_id=request_id, submitted=0.0, end=1.0,
            error_type="RuntimeError",
        )  # fmt: skip
        frame = lab.invocations()
        local = frame[frame["request_id"] == request_id].iloc[0]
        assert (got.cold, got.init_suppressed, got.error_type) == (local.cold, local.init_suppressed, local.error_type)
        assert got.init_duration_ms == pytest.approx(local.init_duration_ms, abs=0.01)


def test_a_warm_tail_holds_only_its_own_lines(endpoint: tuple[lambdalab.Lab, str]) -> None:
    lab, url = endpoint
    lam = client(url)
    _create(lam, "plain")
    cold = _tail(lam.invoke(FunctionName="plain", LogType="Tail", Payload=b"1"))
    warm = _tail(lam.invoke(FunctionName="plain", LogType="Tail", Payload=b"2"))
    assert cold.startswith("INIT_START") and "Init Duration" in cold
    assert warm.startswith("START RequestId") and "ran 1" not in warm and "ran 2" in warm


def test_a_deleted_functions_log_group_can_be_deleted(endpoint: tuple[lambdalab.Lab, str]) -> None:
    lab, url = endpoint
    lam, logs = client(url), logs_client(url)
    _create(lam, "again")
    lam.invoke(FunctionName="again", Payload=b"1")
    lam.delete_function(FunctionName="again")
    logs.delete_log_group(logGroupName="/aws/lambda/again")  # the group outlives its function on Lambda
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName="/aws/lambda/again")
    _create(lam, "again")
    lam.invoke(FunctionName="again", Payload=b"2")
    found = logs.filter_log_events(logGroupName="/aws/lambda/again")["events"]
    messages = [e["message"] for e in found]
    assert any("ran 2" in m for m in messages) and not any("ran 1" in m for m in messages)
    assert len({e["logStreamName"] for e in found}) == 1
