"""The Invoke API through the real clients: boto3 and the AWS CLI (LAMBDA-SPEC §6)."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import lambdalab

from .conftest import cli_env, client

pytestmark = pytest.mark.slow


def test_request_response_returns_the_payload_and_lambdas_headers(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    answer = client(url).invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in answer and "LogResult" not in answer
    assert json.loads(answer["Payload"].read())["event"] == {"a": 1}
    assert len(answer["ResponseMetadata"]["RequestId"]) == 36


def test_empty_payload_is_an_empty_object(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    assert json.loads(client(url).invoke(FunctionName="echo")["Payload"].read())["event"] == {}


def test_event_is_accepted_with_202_and_runs(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    answer = client(url).invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"async": true}')
    assert answer["StatusCode"] == 202 and answer["Payload"].read() == b""
    request_id = answer["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 20
    while not lab.function("echo").destinations.on_success and time.monotonic() < deadline:
        time.sleep(0.02)
    record = lab.function("echo").destinations.on_success[0]
    assert record["requestContext"]["requestId"] == request_id and record["requestPayload"] == {"async": True}


def test_dry_run_is_204_and_runs_nothing(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    answer = client(url).invoke(FunctionName="echo", InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    assert lab.function("echo").environments() == []


def test_log_tail_is_the_last_4kb_of_this_invocations_log(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lambda_client = client(url)
    lambda_client.invoke(FunctionName="echo", Payload=b'{"first": 1}')
    answer = lambda_client.invoke(FunctionName="echo", Payload=b'{"second": 2}', LogType="Tail")
    log = base64.b64decode(answer["LogResult"]).decode()
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert log.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert "event {'second': 2}" in log and "first" not in log
    assert f"END RequestId: {request_id}\n" in log and log.rstrip("\n").split("\n")[-1].startswith("REPORT RequestId")
    lab.create_function("chatty", "def handler(e, c):\n    print('x' * 9000)\n    return 1\n")
    big = base64.b64decode(lambda_client.invoke(FunctionName="chatty", LogType="Tail")["LogResult"])
    assert len(big) == 4096 and big.decode().rstrip("\n").split("\n")[-1].startswith("REPORT")


def test_function_error_is_unhandled_with_lambdas_error_payload(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    answer = client(url).invoke(FunctionName="echo", Payload=b'{"fail": true}')
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom"
    assert error["requestId"] == answer["ResponseMetadata"]["RequestId"] and isinstance(error["stackTrace"], list)


def test_alias_qualifier_in_every_form(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    fn = lab.function("echo")
    version = fn.publish()
    fn.create_alias("prod", version)
    lambda_client = client(url)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    for name, qualifier in [("echo", "prod"), ("echo:prod", None), (f"{arn}:prod", None), (arn, "prod"),
                            ("123456789012:function:echo:prod", None)]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        answer = lambda_client.invoke(FunctionName=name, **extra)
        assert answer["ExecutedVersion"] == version, name
        assert json.loads(answer["Payload"].read())["arn"] == f"{arn}:prod"
    assert lambda_client.invoke(FunctionName=arn, Qualifier="$LATEST")["ExecutedVersion"] == "$LATEST"
    assert lambda_client.invoke(FunctionName="echo", Qualifier=version)["ExecutedVersion"] == version


def test_throttle_raises_too_many_requests_with_lambdas_reason(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.function("echo").update(reserved_concurrency=0)
    # botocore: "max_attempts" counts retries in legacy mode; "total_max_attempts" counts every attempt
    lambda_client = client(url, retries={"total_max_attempts": 1})
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as caught:
        lambda_client.invoke(FunctionName="echo")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded" and response["Type"] == "User"
    assert response["message"] == "Rate Exceeded." and response["ResponseMetadata"]["RetryAttempts"] == 0
    assert lab.function("echo").statistics()["throttles"] == 1  # one attempt reached the Lab


def test_unknown_function_or_qualifier_is_resource_not_found(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    lambda_client = client(url)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as caught:
        lambda_client.invoke(FunctionName="nope")
    assert caught.value.response["Error"]["Message"] == \
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    assert caught.value.response["Type"] == "User"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="echo", Qualifier="staging")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):  # another account's function
        lambda_client.invoke(FunctionName="arn:aws:lambda:us-east-1:999999999999:function:echo")


def test_bad_requests_get_lambdas_error_codes(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    lambda_client = client(url)
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=b"{not json")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"].startswith("Could not parse request body into json")
    with pytest.raises(lambda_client.exceptions.ClientError) as caught:
        lambda_client.invoke(FunctionName="echo", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert caught.value.response["Error"]["Message"] == \
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(lambda_client.exceptions.ClientError) as caught:
        lambda_client.invoke(FunctionName="bad name!")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.invoke(FunctionName="echo:prod", Qualifier="other")


def test_wire_headers_on_the_raw_http_exchange(served: tuple[lambdalab.Lab, str]) -> None:
    """No client library in between: percent-encoded names, the exact headers and error bodies."""
    _, url = served
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho"
                     "/invocations?Qualifier=%24LATEST", body=b'{"x": 1}')
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200 and json.loads(body)["event"] == {"x": 1}
        assert response.getheader("X-Amz-Executed-Version") == "$LATEST"
        assert response.getheader("Content-Type") == "application/json"
        assert len(response.getheader("x-amzn-RequestId")) == 36
        assert response.getheader("X-Amz-Function-Error") is None
        conn.request("POST", "/2015-03-31/functions/missing/invocations", body=b"{}")
        response = conn.getresponse()
        assert response.status == 404 and response.getheader("x-amzn-ErrorType") == "ResourceNotFoundException"
        assert json.loads(response.read()) == {
            "Type": "User", "Message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"}
        conn.request("POST", "/2015-03-31/functions/echo/invocations", body=b"{}",
                     headers={"X-Amz-Invocation-Type": "Event"})
        response = conn.getresponse()
        assert response.status == 202 and response.read() == b"" and response.getheader("x-amzn-RequestId")
    finally:
        conn.close()


def test_aws_cli_invoke_writes_the_payload_file_and_prints_the_status(served: tuple[lambdalab.Lab, str],
                                                                       tmp_path: Path) -> None:
    _, url = served
    out = tmp_path / "out.json"
    aws = Path(sys.executable).parent / "aws"
    result = subprocess.run([str(aws), "lambda", "invoke", "--function-name", "echo", "--payload", '{"cli": true}',
                             "--endpoint-url", url, str(out)], capture_output=True, text=True, timeout=120,
                            env=cli_env(tmp_path), check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text())["event"] == {"cli": True}
    result = subprocess.run([str(aws), "lambda", "invoke", "--function-name", "echo", "--payload", '{"fail": 1}',
                             "--endpoint-url", url, str(out)], capture_output=True, text=True, timeout=120,
                            env=cli_env(tmp_path), check=False)
    assert json.loads(result.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorMessage"] == "boom"


def test_serve_twice_returns_the_same_url_and_close_stops_it() -> None:
    with lambdalab.Lab() as lab:
        url = lab.serve()
        assert lab.serve() == url
        with pytest.raises(lambdalab.ConfigError, match="already serves"):
            lab.serve(port=1)
        with pytest.raises(lambdalab.ConfigError, match="not a loopback address"):
            lambdalab.Lab.serve(lab, host="0.0.0.0")
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    with pytest.raises(OSError):
        conn.request("GET", "/2016-08-19/account-settings")
        conn.getresponse()
    conn.close()


def test_close_with_a_request_in_flight_ends_in_bounded_time() -> None:
    import threading

    lab = lambdalab.Lab()
    try:
        lab.create_function("slow", "import time\ndef handler(e, c):\n    time.sleep(2.5)\n    return 1\n", timeout_s=5)
        url = lab.serve()
        errors: list[BaseException] = []

        def call() -> None:
            try:
                client(url, retries={"total_max_attempts": 1}).invoke(FunctionName="slow")
            except BaseException as exc:  # noqa: BLE001 - the outcome is not the point
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 10
        while not lab.function("slow").environments() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        started = time.monotonic()
        lab.close()
    assert time.monotonic() - started < 8
    caller.join(30)
    assert not caller.is_alive()
