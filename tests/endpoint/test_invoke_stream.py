"""InvokeWithResponseStream through boto3: botocore's own event stream parser reads what the endpoint writes.

Python and Node.js (``awslambda.streamifyResponse``) handlers, a function error, ``LogType: Tail``, a qualifier, a
client context, DryRun, and the errors Invoke answers (unknown function, throttle, payload too large), plus the
encoder against botocore's decoder byte for byte.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

import lambdalab
from lambdalab import runtime_catalog
from lambdalab.endpoint import eventstream, invoke_stream
from lambdalab.errors import ConfigError
from tests.endpoint.conftest import client

BIG = """
def handler(event, context):
    return "x" * event["size"]
"""
CONTEXT = """
def handler(event, context):
    return {"custom": context.client_context.custom, "version": context.function_version}
"""
FAILS = """
def handler(event, context):
    print("about to fail")
    raise ValueError("boom")
"""


def events_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event botocore parsed from the answer's stream, in order."""
    return list(answer["EventStream"])


def payload_of(events: list[dict[str, Any]]) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)


# -- the encoder -------------------------------------------------------------------------------------
def test_a_message_is_what_botocores_decoder_reads_back() -> None:
    raw = eventstream.event("PayloadChunk", b"\x00\x01hello\xff", "application/octet-stream")
    raw += eventstream.event("InvokeComplete", b'{"LogResult": "eA=="}', "application/json")
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    first, second = list(buffer)
    assert first.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert first.payload == b"\x00\x01hello\xff"
    assert (second.headers[":event-type"], second.payload) == ("InvokeComplete", b'{"LogResult": "eA=="}')


def test_the_prelude_and_crcs_are_laid_out_as_the_format_says() -> None:
    raw = eventstream.message({"a": "b"}, b"xyz")
    head = b"\x01a\x07\x00\x01b"  # name length, name, type 7 (string), value length (uint16), value
    assert len(raw) == 12 + len(head) + 3 + 4
    assert int.from_bytes(raw[0:4], "big") == len(raw)
    assert int.from_bytes(raw[4:8], "big") == len(head)
    assert int.from_bytes(raw[8:12], "big") == zlib.crc32(raw[0:8])
    assert raw[12 : 12 + len(head)] == head
    assert raw[12 + len(head) : -4] == b"xyz"
    assert int.from_bytes(raw[-4:], "big") == zlib.crc32(raw[:-4])


def test_a_header_too_long_is_refused() -> None:
    with pytest.raises(ValueError, match="1-255 bytes"):
        eventstream.message({"n" * 256: "v"}, b"")
    with pytest.raises(ValueError, match="65,535"):
        eventstream.message({"n": "v" * 65536}, b"")


def test_chunks_cut_a_body_at_the_size_and_leave_nothing_for_an_empty_one() -> None:
    assert invoke_stream.chunks(b"") == []
    assert invoke_stream.chunks(b"abcde", 2) == [b"ab", b"cd", b"e"]
    assert invoke_stream.chunks(b"x" * invoke_stream.CHUNK_BYTES) == [b"x" * invoke_stream.CHUNK_BYTES]


# -- through boto3 -----------------------------------------------------------------------------------
def test_python_handler_answers_payload_chunks_and_invoke_complete(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    answer = client(url).invoke_with_response_stream(FunctionName="echo", Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert answer["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    assert answer["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = events_of(answer)
    assert list(events[-1]) == ["InvokeComplete"]
    assert events[-1]["InvokeComplete"] == {}  # no error, no log asked for
    assert all(list(e) == ["PayloadChunk"] for e in events[:-1]) and len(events) == 2
    body = json.loads(payload_of(events))
    assert body["event"] == {"a": 1}
    assert body["arn"] == lab.arn("echo")
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert request_id in set(lab.invocations()["request_id"])


def test_a_large_answer_comes_in_64_kib_chunks_that_join_to_it(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.create_function("big", BIG, memory_mb=512)
    size = 200_000
    events = events_of(client(url).invoke_with_response_stream(FunctionName="big", Payload=json.dumps({"size": size})))
    sizes = [len(e["PayloadChunk"]["Payload"]) for e in events if "PayloadChunk" in e]
    expected = json.dumps("x" * size).encode()
    assert sizes == [65536, 65536, 65536, len(expected) - 3 * 65536]
    assert payload_of(events) == expected


def test_a_function_error_is_in_invoke_complete(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.create_function("fails", FAILS)
    answer = client(url).invoke_with_response_stream(FunctionName="fails", LogType="Tail")
    assert answer["StatusCode"] == 200
    events = events_of(answer)
    assert len(events) == 1  # no payload chunk: the error is InvokeComplete's
    complete = events[0]["InvokeComplete"]
    assert (complete["ErrorCode"], complete["ErrorDetails"]) == ("ValueError", "boom")
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "about to fail" in log and log.rstrip().splitlines()[-1].startswith("REPORT RequestId:")


def test_a_timeout_is_sandbox_timedout(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.create_function("slow", "import time\ndef handler(event, context):\n    time.sleep(5)\n", timeout_s=1)
    events = events_of(client(url).invoke_with_response_stream(FunctionName="slow"))
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


def test_log_type_tail_gives_this_invocations_log(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    answer = client(url).invoke_with_response_stream(FunctionName="echo", Payload=b'{"tail": 1}', LogType="Tail")
    complete = events_of(answer)[-1]["InvokeComplete"]
    assert set(complete) == {"LogResult"}
    log = base64.b64decode(complete["LogResult"]).decode()
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log
    assert "event {'tail': 1}" in log


def test_a_qualifier_runs_that_version_and_says_so(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    fn = lab.function("echo")
    fn.publish()
    fn.create_alias("live", "1")
    lambda_client = client(url)
    for kwargs in ({"Qualifier": "live"}, {"FunctionName": "echo:1"}, {"FunctionName": lab.arn("echo", "live")}):
        answer = lambda_client.invoke_with_response_stream(**{"FunctionName": "echo", **kwargs})
        assert answer["ExecutedVersion"] == "1"
        assert json.loads(payload_of(events_of(answer)))["version"] == "1"


def test_client_context_reaches_the_handler(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.create_function("ctx", CONTEXT)
    context = base64.b64encode(json.dumps({"custom": {"who": "me"}}).encode()).decode()
    lambda_client = client(url)
    answer = lambda_client.invoke_with_response_stream(FunctionName="ctx", ClientContext=context)
    assert json.loads(payload_of(events_of(answer))) == {"custom": {"who": "me"}, "version": "$LATEST"}
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException, match="valid Base64-encoded JSON"):
        lambda_client.invoke_with_response_stream(FunctionName="ctx", ClientContext="not base64!")


def test_dry_run_answers_204_and_runs_nothing(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    answer = client(url).invoke_with_response_stream(FunctionName="echo", InvocationType="DryRun")
    assert answer["StatusCode"] == 204
    assert events_of(answer) == []
    assert lab.function("echo").statistics()["invocations"] == 0


def test_errors_before_the_invoke_answer_as_invoke_does(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lambda_client = client(url, retries={"total_max_attempts": 1})
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match="Function not found: arn:"):
        lambda_client.invoke_with_response_stream(FunctionName="nobody")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke_with_response_stream(FunctionName="echo", Qualifier="7")
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException, match="Could not parse"):
        lambda_client.invoke_with_response_stream(FunctionName="echo", Payload=b"{nope")
    with pytest.raises(Exception) as too_large:
        lambda_client.invoke_with_response_stream(FunctionName="echo", Payload=b'"' + b"x" * 6_291_456 + b'"')
    error = too_large.value.response  # type: ignore[attr-defined]
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "RequestEntityTooLargeException",
        413,
    )
    lab.function("echo").update(reserved_concurrency=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as throttled:
        lambda_client.invoke_with_response_stream(FunctionName="echo")
    assert throttled.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_event_is_not_an_invocation_type_here(served: tuple[lambdalab.Lab, str]) -> None:
    """botocore validates the enum itself; a raw request with ``Event`` gets Lambda's ValidationException."""
    import urllib.error
    import urllib.request

    _, url = served
    request = urllib.request.Request(
        f"{url}/2021-11-15/functions/echo/response-streaming-invocations",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert refused.value.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "[RequestResponse, DryRun]" in json.loads(refused.value.read())["message"]


# -- Node.js: awslambda.streamifyResponse ------------------------------------------------------------
def _node() -> str:
    try:
        runtime_catalog.resolve("nodejs")
    except ConfigError as exc:
        pytest.skip(f"Node.js is not installed here: {exc}")
    return "nodejs"


def test_a_streamify_response_handler_streams_what_it_wrote(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    source = (
        "exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  responseStream.setContentType('text/plain');\n"
        "  for (const word of ['one ', 'two ', 'three']) {\n"
        "    responseStream.write(word);\n"
        "    await new Promise((r) => setTimeout(r, 10));\n"
        "  }\n"
        "  responseStream.end();\n"
        "});\n"
    )
    lab.create_function("streamer", source, runtime=_node(), handler="index.handler")
    answer = client(url).invoke_with_response_stream(FunctionName="streamer", Payload=b"{}", LogType="Tail")
    events = events_of(answer)
    assert payload_of(events) == b"one two three"
    complete = events[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "REPORT RequestId:" in base64.b64decode(complete["LogResult"]).decode()


def test_a_streamify_handler_that_throws_mid_stream_sends_what_it_wrote(served: tuple[lambdalab.Lab, str]) -> None:
    """What the handler wrote before it threw arrives; the error reaches only the log (docs/FIDELITY.md: lambdalab's
    Runtime API does not act on the error trailers of a streamed response, so the invocation does not end in error)."""
    lab, url = served
    source = (
        "exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  responseStream.write('partial');\n"
        "  throw new TypeError('mid-stream');\n"
        "});\n"
    )
    lab.create_function("midstream", source, runtime=_node(), handler="index.handler")
    events = events_of(client(url).invoke_with_response_stream(FunctionName="midstream", LogType="Tail"))
    assert payload_of(events) == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert '"errorType":"TypeError","errorMessage":"mid-stream"' in base64.b64decode(complete["LogResult"]).decode()


# -- function URLs with InvokeMode RESPONSE_STREAM -----------------------------------------------------
def _fetch(url: str) -> tuple[int, Any, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def test_a_response_stream_url_sends_the_streamed_bytes_with_the_preludes_status(
    served: tuple[lambdalab.Lab, str],
) -> None:
    lab, url = served
    node = _node()
    prelude = (
        "exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  const s = awslambda.HttpResponseStream.from(responseStream, {statusCode: 201,\n"
        "    headers: {'Content-Type': 'text/csv', 'x-made-by': 'stream'}, cookies: ['a=1', 'b=2']});\n"
        "  s.write('id,name\\n'); s.write('1,tom\\n'); s.end();\n"
        "});\n"
    )
    plain = (
        "exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  responseStream.write('hello '); responseStream.write('world'); responseStream.end();\n"
        "});\n"
    )
    lab.create_function("csv", prelude, runtime=node, handler="index.handler")
    lab.create_function("words", plain, runtime=node, handler="index.handler")
    lab.create_function("fails", FAILS)
    lambda_client = client(url)
    urls = {}
    for name in ("csv", "words", "fails"):
        config = lambda_client.create_function_url_config(
            FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
        )
        assert config["InvokeMode"] == "RESPONSE_STREAM"
        urls[name] = config["FunctionUrl"]
    assert lambda_client.get_function_url_config(FunctionName="csv")["InvokeMode"] == "RESPONSE_STREAM"
    status, headers, body = _fetch(urls["csv"])
    assert (status, body) == (201, b"id,name\n1,tom\n")
    assert (headers["Content-Type"], headers["x-made-by"]) == ("text/csv", "stream")
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    status, headers, body = _fetch(urls["words"])
    assert (status, headers["Content-Type"], body) == (200, "application/octet-stream", b"hello world")
    assert _fetch(urls["fails"])[0] == 502
    # BUFFERED maps the answer as a JSON document: a stream of words is not one
    lambda_client.update_function_url_config(FunctionName="words", InvokeMode="BUFFERED")
    assert lambda_client.get_function_url_config(FunctionName="words")["InvokeMode"] == "BUFFERED"
    assert _fetch(urls["words"])[0] == 502
    with pytest.raises(lambda_client.exceptions.ClientError, match="invokeMode"):
        lambda_client.update_function_url_config(FunctionName="words", InvokeMode="STREAMING")
    assert lambda_client.get_function_url_config(FunctionName="words")["InvokeMode"] == "BUFFERED"


def test_a_caller_that_leaves_mid_stream_leaves_the_endpoint_serving(served: tuple[lambdalab.Lab, str]) -> None:
    import socket
    from urllib.parse import urlsplit

    lab, url = served
    lab.create_function("big", BIG, memory_mb=512)
    address = urlsplit(url)
    body = json.dumps({"size": 5_000_000}).encode()
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(
            b"POST /2021-11-15/functions/big/response-streaming-invocations HTTP/1.1\r\n"
            b"Host: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (address.netloc.encode(), len(body), body)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
    answer = client(url).invoke_with_response_stream(FunctionName="echo", Payload=b'{"after": 1}')
    assert json.loads(payload_of(events_of(answer)))["event"] == {"after": 1}
    assert lab.function("big").statistics()["invocations"] == 1


def test_a_prelude_without_headers_keeps_the_stream_type_and_a_string_cookies_is_one_cookie(
    served: tuple[lambdalab.Lab, str],
) -> None:
    lab, url = served
    node = _node()
    bare = (
        "exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {\n"
        "  const s = awslambda.HttpResponseStream.from(responseStream, {statusCode: 200, cookies: 'a=1'});\n"
        "  s.write('raw'); s.end();\n"
        "});\n"
    )
    lab.create_function("bare", bare, runtime=node, handler="index.handler")
    lab.create_function(
        "buffered", "def handler(event, context):\n    return {'statusCode': 200, 'cookies': 'b=2', 'body': 'ok'}\n"
    )
    lambda_client = client(url)
    streamed = lambda_client.create_function_url_config(
        FunctionName="bare", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    buffered = lambda_client.create_function_url_config(FunctionName="buffered", AuthType="NONE")["FunctionUrl"]
    status, headers, body = _fetch(streamed)
    assert (status, headers["Content-Type"], body) == (200, "application/octet-stream", b"raw")
    assert headers.get_all("Set-Cookie") == ["a=1"]
    status, headers, body = _fetch(buffered)
    assert (status, body, headers.get_all("Set-Cookie")) == (200, b"ok", ["b=2"])
