"""InvokeWithResponseStream: ``POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations``.

The request is Invoke's (``Qualifier``, ``X-Amz-Log-Type``, ``X-Amz-Client-Context``; ``X-Amz-Invocation-Type``
``RequestResponse`` or ``DryRun``), checked and started by ``invoke.begin`` / ``invoke.start``, so a missing
function, a throttle, a payload over 6 MB or bad JSON answer exactly as Invoke answers them (status,
``x-amzn-ErrorType``). The answer is 200 ``application/vnd.amazon.eventstream`` with ``X-Amz-Executed-Version``:
``PayloadChunk`` events (``application/octet-stream``, the function's response bytes) and one ``InvokeComplete``
event (JSON: ``ErrorCode`` and ``ErrorDetails`` when the function failed, ``LogResult`` with ``LogType: Tail``),
encoded by ``eventstream.py``. DryRun: 204.

lambdalab's Runtime API takes a streamed response whole (a Node.js ``awslambda.streamifyResponse`` handler's
chunks arrive as one body), so the events go out once the function has finished, the response cut into
``CHUNK_BYTES`` pieces; the time to first byte is the whole duration (docs/FIDELITY.md).

A function URL with ``InvokeMode: RESPONSE_STREAM`` answers with the function's bytes as they are (``url_answer``):
an ``awslambda.HttpResponseStream`` prelude (JSON ``statusCode``, ``headers``, ``cookies``, then 8 NUL bytes) gives
the status and headers, and the rest is the body; without one, 200 and ``application/octet-stream``.

Rules: runs on the Lab's loop, invokes through ``Lab.start_invoke`` there, never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.core import runtime_api
from lambdalab.endpoint import eventstream, invoke, wire
from lambdalab.errors import LambdaLabError
from lambdalab.payload import request_too_large

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.results import EngineResult

PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"
CONTENT_TYPE = "application/vnd.amazon.eventstream"
CHUNK_BYTES = 64 * 1024
INVOCATION_TYPES = ("RequestResponse", "DryRun")


async def invoke_with_response_stream(endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    """The aiohttp route."""
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in INVOCATION_TYPES:
        raise wire.validation(kind, "invocationType", "Member must satisfy enum value set: [RequestResponse, DryRun]")
    call = invoke.begin(endpoint, request.match_info["name"], request.query.get("Qualifier"), request.headers)
    step = invoke.start(endpoint, call, await endpoint.read_body(request, _too_large))
    if isinstance(step, invoke.Reply):  # DryRun
        return web.Response(status=step.status, headers=step.headers)
    try:
        result = await asyncio.wait_for(asyncio.shield(step.future), step.limit)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    except TimeoutError:
        raise invoke.no_answer() from None
    if result.record.error_type in wire.SNAPSTART_STATUS:  # a failed SnapStart restore: the API's error, as Invoke
        raise wire.snapstart(result.record.error_type)
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Executed-Version": result.record.version,
            "x-amzn-RequestId": result.record.request_id,
        },
    )
    response.enable_chunked_encoding()
    complete = json.dumps(completion(result, call.headers.get("X-Amz-Log-Type") == "Tail")).encode()
    try:
        await response.prepare(request)
        for piece in chunks(b"" if result.is_error else result.body):
            await response.write(eventstream.event("PayloadChunk", piece, "application/octet-stream"))
        await response.write(eventstream.event("InvokeComplete", complete, "application/json"))
        await response.write_eof()
    except ConnectionResetError:  # the caller went away mid-stream: nothing left to answer
        pass
    return response


def chunks(body: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    """``body`` in pieces of at most ``size`` bytes (none for an empty body)."""
    return [body[start : start + size] for start in range(0, len(body), size)]


def completion(result: EngineResult, tail: bool) -> dict[str, Any]:
    """``InvokeComplete``'s fields: the error's type and message when the function failed, the log's tail if asked."""
    fields: dict[str, Any] = {}
    if result.is_error:
        fields["ErrorCode"], fields["ErrorDetails"] = error_of(result)
    if tail:
        fields["LogResult"] = base64.b64encode(invoke.log_tail(result)).decode()
    return fields


def error_of(result: EngineResult) -> tuple[str, str]:
    """(errorType, errorMessage) of a failed invocation's error document (Lambda's, or the runtime's)."""
    try:
        document = json.loads(result.body) if result.body else None
    except ValueError:
        document = None
    fallback = result.record.error_type or "Runtime.Unknown"
    if not isinstance(document, dict):
        return fallback, result.body.decode(errors="replace")
    kind, message = document.get("errorType") or fallback, document.get("errorMessage")
    if message is None:
        message = ""
    return str(kind), message if isinstance(message, str) else json.dumps(message)


# -- function URLs with InvokeMode RESPONSE_STREAM ---------------------------------------------------
PRELUDE_DELIMITER = b"\0" * 8  # what awslambda.HttpResponseStream writes after its JSON prelude
STREAM_CONTENT_TYPE = "application/octet-stream"  # a streamed response's type when the function sets none


def url_answer(result: EngineResult) -> EngineResult:
    """A RESPONSE_STREAM function URL's answer in the shape ``function_urls.http_response`` maps: the streamed bytes
    are the body (base64 in the document, so any bytes pass), the prelude's ``statusCode`` (default 200),
    ``headers`` (default ``Content-Type: application/octet-stream``) and ``cookies`` when the stream starts with one.
    A function error is left as it is (the URL answers 502)."""
    if result.is_error:
        return result
    body, meta = result.body, None
    prelude, found, rest = body.partition(PRELUDE_DELIMITER)
    if found and prelude.startswith(b"{"):
        try:
            meta = json.loads(prelude)
        except ValueError:
            meta = None
    answer: dict[str, Any] = {"statusCode": 200, "headers": {"Content-Type": STREAM_CONTENT_TYPE}}
    if isinstance(meta, dict):
        body = rest
        answer["statusCode"] = meta.get("statusCode", 200)
        headers = meta.get("headers")
        if isinstance(headers, dict):
            answer["headers"] = {**answer["headers"], **headers}
        elif headers is not None:  # not an object: the URL answers 502 (function_urls.http_response)
            answer["headers"] = headers
        answer["cookies"] = meta.get("cookies")
    answer.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    return dataclasses.replace(result, body=json.dumps(answer).encode())


def _too_large() -> LambdaLabError:
    return request_too_large(runtime_api.MAX_REQUEST_BYTES)


ROUTES = [("POST", PATH, invoke_with_response_stream)]
