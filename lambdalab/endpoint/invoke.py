"""The Invoke API: ``POST /2015-03-31/functions/{FunctionName}/invocations`` (LAMBDA-SPEC §6.1-6.3).

RequestResponse → 200 with the function's answer (``X-Amz-Function-Error: Unhandled`` when it
failed, ``X-Amz-Executed-Version``, ``X-Amz-Log-Result`` for ``LogType=Tail``); Event → 202 (the
Lab's async queue takes it); DryRun → 204. API errors go out as ``wire.ApiError``s.

Transport-neutral steps, shared by the aiohttp route (``invoke`` below) and the endpoint's front door
(``front.py``): ``begin`` checks what the request head names and asks for (before the body is read),
``start`` takes the body and answers at once (a ``Reply``) or hands back a ``Pending`` engine future,
and ``finish`` turns the engine's result into the ``Reply``.

Rules: runs on the Lab's loop and calls the control plane directly (no thread hop); never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
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


class Call:
    """One Invoke request whose head passed ``begin``: the function, qualifier, invocation type and headers."""

    __slots__ = ("name", "qualifier", "kind", "headers")

    def __init__(self, name: str, qualifier: str | None, kind: str, headers: Mapping[str, str]) -> None:
        self.name, self.qualifier, self.kind, self.headers = name, qualifier, kind, headers


class Reply:
    """One answer: status, body and headers (the server adds framing: Content-Length, Date)."""

    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers


class Pending:
    """A synchronous invocation under way: the engine's future and how long to wait for it at most."""

    __slots__ = ("future", "limit")

    def __init__(self, future: asyncio.Future[EngineResult], limit: float) -> None:
        self.future, self.limit = future, limit


async def invoke(endpoint: Endpoint, request: web.Request) -> web.Response:
    """The aiohttp route."""
    call = begin(endpoint, request.match_info["name"], request.query.get("Qualifier"), request.headers)
    step = start(endpoint, call, await endpoint.read_body(request, _too_large))
    if isinstance(step, Pending):
        try:
            result = await asyncio.wait_for(asyncio.shield(step.future), step.limit)
        except LambdaLabError as exc:
            raise wire.from_lab(exc) from None
        except TimeoutError:
            raise no_answer() from None
        step = finish(call, result)
    return web.Response(status=step.status, body=None if step.status in (202, 204) else step.body,
                        headers=step.headers)


def begin(endpoint: Endpoint, raw_name: str, qualifier: str | None, headers: Mapping[str, str]) -> Call:
    """Check the head: ``raw_name`` is the percent-decoded path segment, ``qualifier`` the query's; raises ApiError."""
    settings = endpoint.lab.settings
    name, qualifier = wire.parse_name(raw_name, qualifier, region=settings.region, account_id=settings.account_id)
    kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in INVOCATION_TYPES:
        raise wire.validation(kind, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
    return Call(name, qualifier, kind, headers)


def start(endpoint: Endpoint, call: Call, payload: bytes) -> Reply | Pending:
    """Take the body: DryRun and Event answer at once, RequestResponse is submitted; raises ApiError."""
    plane = endpoint.lab._plane
    name, qualifier, kind = call.name, call.qualifier, call.kind
    _resolve(endpoint, name, qualifier)  # an unknown function or qualifier is a 404 before anything else
    if kind == "DryRun":
        return Reply(204, b"", {"x-amzn-RequestId": wire.new_request_id()})
    payload = _check_json(payload)
    if kind == "Event":
        try:
            request_id = plane.enqueue(name, payload, qualifier)
        except LambdaLabError as exc:
            raise wire.from_lab(exc) from None
        return Reply(202, b"", {"x-amzn-RequestId": request_id})
    options = _client_context(call.headers.get("X-Amz-Client-Context"))
    try:
        future = plane.start_invoke(name, payload, options, qualifier)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    return Pending(future, plane.configs[name].timeout_s + plane.settings.init_timeout_s + _SLACK_S)


def finish(call: Call, result: EngineResult) -> Reply:
    """The 200 for an invocation that ended (its answer, or its function error)."""
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": result.record.version,
               "x-amzn-RequestId": result.record.request_id}
    if result.is_error:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if call.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(log_tail(result)).decode()
    return Reply(200, result.body, headers)


def no_answer() -> wire.ApiError:
    """The engine did not end the invocation within its timeout, init timeout and slack."""
    return wire.ApiError(500, "ServiceException", "lambdalab: no answer from the engine in time", user=False)


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
