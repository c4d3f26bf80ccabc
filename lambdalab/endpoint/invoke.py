"""The Invoke API: ``POST /2015-03-31/functions/{FunctionName}/invocations`` (LAMBDA-SPEC §6.1-6.3).

RequestResponse → 200 with the function's answer (``X-Amz-Function-Error: Unhandled`` when it
failed, ``X-Amz-Executed-Version``, ``X-Amz-Log-Result`` for ``LogType=Tail``); Event → 202 (the
Lab's async queue takes it); DryRun → 204. API errors go out as ``wire.ApiError``s.

Rules: runs on the Lab's loop and calls the control plane directly (no thread hop); never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import TYPE_CHECKING

from aiohttp import web

from lambdalab.core import runtime_api
from lambdalab.endpoint import wire
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.engine.control_plane import EngineResult

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_BYTES = 3583
_SLACK_S = 30.0


async def invoke(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in INVOCATION_TYPES:
        raise wire.validation(kind, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    plane = endpoint.lab._plane
    payload = await endpoint.read_body(request, _too_large)
    _resolve(endpoint, name, qualifier)  # an unknown function or qualifier is a 404 before anything else
    if kind == "DryRun":
        return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})
    payload = _check_json(payload)
    if kind == "Event":
        try:
            request_id = plane.enqueue(name, payload, qualifier)
        except LambdaLabError as exc:
            raise wire.from_lab(exc) from None
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})
    options = _client_context(request.headers.get("X-Amz-Client-Context"))
    try:
        future = plane.start_invoke(name, payload, options, qualifier)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    config = plane.configs[name]
    limit = config.timeout_s + plane.settings.init_timeout_s + _SLACK_S
    try:
        result = await asyncio.wait_for(asyncio.shield(future), limit)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    except TimeoutError:
        raise wire.ApiError(500, "ServiceException", "lambdalab: no answer from the engine in time", user=False) from None
    return web.Response(status=200, body=result.body, headers=_headers(result, request))


def _headers(result: EngineResult, request: web.Request) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": result.record.version,
               "x-amzn-RequestId": result.record.request_id}
    if result.is_error:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(log_tail(result)).decode()
    return headers


def log_tail(result: EngineResult) -> bytes:
    """The last 4 KB of this invocation's log (START … REPORT), as ``X-Amz-Log-Result`` carries it."""
    if result.stream is None:
        return b""
    return result.stream.text(result.log_start, result.log_end).encode()[-LOG_TAIL_BYTES:]


def _resolve(endpoint: Endpoint, name: str, qualifier: str | None) -> str:
    try:
        return endpoint.lab._plane._resolve(name, qualifier)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None


def _too_large() -> LambdaLabError:
    from lambdalab.errors import RequestTooLargeException

    limit = runtime_api.MAX_REQUEST_BYTES
    return RequestTooLargeException(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


def _check_json(payload: bytes) -> bytes:
    """Lambda accepts JSON or nothing (an empty body is ``{}``); ``NaN`` and ``Infinity`` are not JSON.

    JSON nested deeper than this parser goes is passed on as it is: it is JSON, and the runtime,
    which parses it again, answers as Lambda's does (``Runtime.UnmarshalError``)."""
    if not payload:
        return b"{}"
    if len(payload) > runtime_api.MAX_REQUEST_BYTES:
        return payload  # the engine answers 413 with Lambda's message
    try:
        json.loads(payload, parse_constant=_non_standard)
    except RecursionError:
        return payload
    except ValueError as exc:
        raise wire.ApiError(400, "InvalidRequestContentException",
                            f"Could not parse request body into json: Could not parse payload into json: {exc}") from None
    return payload


def _non_standard(token: str) -> None:
    raise ValueError(f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


def _client_context(header: str | None) -> dict[str, str] | None:
    if not header:
        return None
    if len(header) > CLIENT_CONTEXT_BYTES:
        raise wire.invalid(f"Client context must be smaller than {CLIENT_CONTEXT_BYTES} bytes.")
    try:
        text = base64.b64decode(header, validate=True).decode()
        json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise wire.invalid("Client context must be a valid Base64-encoded JSON object.") from None
    return {"client_context": text}
