"""The Invoke API: ``POST /2015-03-31/functions/{FunctionName}/invocations`` (AWS API reference, "Invoke").

RequestResponse → 200 with the function's answer (``X-Amz-Function-Error: Unhandled`` when it
failed, ``X-Amz-Executed-Version``, ``X-Amz-Log-Result`` for ``LogType=Tail``); Event → 202 (the
Lab's async queue takes it); DryRun → 204. API errors go out as ``wire.ApiError``s.

``X-Amz-Tenant-Id`` is the invoke's tenant (tenant isolation, ``lambdalab/tenancy.py``: checked against botocore's
pattern, then against the function's tenancy, ``InvalidParameterValueException``); ``X-Amzn-Trace-Id`` (what an
AWS SDK sends from inside a function) carries the caller's ``Lineage``: the invocation is one hop further down its
chain, and the function's 17th invocation in it is refused with ``RecursiveInvocationException``
(``lambdalab/lineage.py``).

Transport-neutral steps, shared by the aiohttp route (``invoke`` below) and the endpoint's front door
(``front.py``, through ``InvokeRoute``): ``begin`` checks what the request head names and asks for
(before the body is read), ``start`` takes the body and answers at once (a ``Reply``) or hands back a
``Pending`` engine future, and ``finish`` turns the engine's result into the ``Reply``.

Rules: runs on the Lab's loop and invokes through ``Lab.start_invoke`` / ``Lab.enqueue`` there (no thread hop);
never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from aiohttp import web

from lambdalab import lineage, tenancy
from lambdalab.core import runtime_api
from lambdalab.core.records import End, InitReport, InitStart, Report, Start
from lambdalab.endpoint import guard, wire
from lambdalab.errors import LambdaLabError
from lambdalab.payload import request_too_large

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.results import EngineResult

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
_PREFIX = b"POST /2015-03-31/functions/"
_SUFFIX = b"/invocations"
_VERSION = b" HTTP/1.1"
LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_BYTES = 3583
_SLACK_S = 30.0
DURABLE_ARN = "X-Amz-Durable-Execution-Arn"  # an invoke of a durable function answers with its execution's ARN
DURABLE_NAME = "X-Amz-Durable-Execution-Name"  # the execution's name: the same name and payload join it


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
    """A synchronous invocation under way: the engine's future and how long to wait for it at most (None: no
    limit of the endpoint's own, as for a debug function, ``answer_limit``)."""

    __slots__ = ("future", "limit")

    def __init__(self, future: asyncio.Future[EngineResult], limit: float | None) -> None:
        self.future, self.limit = future, limit


def answer_limit(lab: Any, name: str) -> float | None:
    """How long the endpoint waits for an invocation of ``name``: its timeout, the init timeout and slack; None
    for a debug function, whose invoke a debugger may hold for as long as it is attached (the engine ends it
    itself, a whole timeout after the debugger leaves: lambdalab/engine/debug.py)."""
    config = lab.function(name).config
    if config.debug is not False or config.durable:  # a durable execution: its service answers within 15 minutes
        return None
    return float(config.timeout_s + lab.settings.init_timeout_s + _SLACK_S)


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
    return web.Response(status=step.status, body=None if step.status in (202, 204) else step.body, headers=step.headers)


def begin(endpoint: Endpoint, raw_name: str, qualifier: str | None, headers: Mapping[str, str]) -> Call:
    """Check the head: ``raw_name`` is the percent-decoded path segment, ``qualifier`` the query's; raises ApiError."""
    settings = endpoint.lab.settings
    name, qualifier = wire.parse_name(raw_name, qualifier, region=settings.region, account_id=settings.account_id)
    kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in INVOCATION_TYPES:
        raise wire.validation(
            kind, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )
    tenant = headers.get(tenancy.HEADER)
    if tenant is not None:
        if not tenant:  # botocore's TenantId: min 1, max 256 (each bound its own words, as tenancy.check_tenant_id)
            raise wire.validation(tenant, "tenantId", "Member must have length greater than or equal to 1")
        if len(tenant) > tenancy.TENANT_ID_MAX:
            limit = tenancy.TENANT_ID_MAX
            raise wire.validation(tenant[:64], "tenantId", f"Member must have length less than or equal to {limit}")
        if tenancy.TENANT_ID_PATTERN.fullmatch(tenant) is None:
            pattern = tenancy.TENANT_ID_PATTERN.pattern
            raise wire.validation(tenant[:64], "tenantId", f"Member must satisfy regular expression pattern: {pattern}")
    return Call(name, qualifier, kind, headers)


def trace_header(headers: Mapping[str, str]) -> str | None:
    """The caller's X-Ray trace header (botocore percent-quotes what is not ``-=;:+&[]{}"',``), or None."""
    value = headers.get(lineage.TRACE_HEADER)
    if not value:
        return None
    return unquote(value) if "%" in value else value


def start(endpoint: Endpoint, call: Call, payload: bytes) -> Reply | Pending:
    """Take the body: DryRun and Event answer at once, RequestResponse is submitted; raises ApiError."""
    lab = endpoint.lab
    name, qualifier, kind = call.name, call.qualifier, call.kind
    _resolve(endpoint, name, qualifier)  # an unknown function or qualifier is a 404 before anything else
    if kind == "DryRun":
        return Reply(204, b"", {"x-amzn-RequestId": wire.new_request_id()})
    payload = _check_json(payload)
    tenant, trace = call.headers.get(tenancy.HEADER), trace_header(call.headers)
    if kind == "Event":
        try:
            request_id = lab.enqueue(
                name,
                payload,
                qualifier,
                tenant_id=tenant,
                trace_header=trace,
                durable_execution_name=call.headers.get(DURABLE_NAME),
            )
        except LambdaLabError as exc:
            raise wire.from_lab(exc) from None
        if lab.function(name).config.durable:  # the execution started: its ARN is the answer (as Lambda's header)
            return Reply(202, b"", {"x-amzn-RequestId": wire.new_request_id(), DURABLE_ARN: request_id})
        return Reply(202, b"", {"x-amzn-RequestId": request_id})
    client_context = _client_context(call.headers.get("X-Amz-Client-Context"))
    try:
        limit = answer_limit(lab, name)  # nothing started yet
        future = lab.start_invoke(
            name,
            payload,
            qualifier=qualifier,
            client_context=client_context,
            tenant_id=tenant,
            trace_header=trace,
            durable_execution_name=call.headers.get(DURABLE_NAME),
        )
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    return Pending(future, limit)


def finish(call: Call, result: EngineResult) -> Reply:
    """The 200 for an invocation that ended (its answer, or its function error); a failed SnapStart restore is the
    Invoke API's error instead (``SnapStartException`` 400, ``SnapStartTimeoutException`` 408)."""
    if result.record.error_type in wire.SNAPSTART_STATUS:
        return _reply(wire.snapstart(result.record.error_type))
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": result.record.version,
        "x-amzn-RequestId": result.record.request_id,
    }
    if result.is_error:
        headers["X-Amz-Function-Error"] = "Unhandled"
    durable_arn = getattr(result, "durable_execution_arn", None)  # a durable function's execution (any invoke type)
    if durable_arn is not None:
        headers[DURABLE_ARN] = durable_arn
    if call.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(log_tail(result)).decode()
    return Reply(200, result.body, headers)


def no_answer() -> wire.ApiError:
    """The engine did not end the invocation within its timeout, init timeout and slack."""
    return wire.ApiError(500, "ServiceException", "lambdalab: no answer from the engine in time", user=False)


def fast_target(line: bytes) -> tuple[str, str | None] | None:
    """(percent-decoded name segment, Qualifier) of an Invoke request line this path handles, or None."""
    if not (line.startswith(_PREFIX) and line.endswith(_VERSION)):
        return None
    path, _, query = line[len(_PREFIX) : -len(_VERSION)].partition(b"?")
    if not path.endswith(_SUFFIX) or b"#" in query:
        return None
    try:
        name, text = path[: -len(_SUFFIX)].decode("ascii"), query.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not name or "/" in name or " " in name:
        return None
    if "%" in name:
        name = unquote(name)
        if "%" in name or "/" in name or not name.isascii():
            return None  # double escapes, slashes, UTF-8: aiohttp decides
    qualifier = None
    if text:
        if ";" in text:
            return None
        for part in text.split("&"):
            key, _, value = part.partition("=")
            if "%" in key or "+" in key:
                return None
            if key == "Qualifier" and qualifier is None:
                qualifier = unquote_plus(value) if ("%" in value or "+" in value) else value
                if not qualifier.isascii():
                    return None
    return name, qualifier


class InvokeRoute:
    """The Invoke API as the front door's ``Route`` (``front.py``)."""

    def __init__(self, endpoint: Endpoint, max_body: int) -> None:
        self.endpoint, self.max_body = endpoint, max_body

    def target(self, line: bytes) -> tuple[str, str | None] | None:
        return fast_target(line)

    def begin(self, target: tuple[str, str | None], headers: Mapping[str, str], connection: Any) -> Call:
        why = self.endpoint.guard.refusal(headers, json_api=False)
        if why is not None:
            raise wire.forbidden(why)
        return begin(self.endpoint, target[0], target[1], headers)

    def start(self, call: Call, body: bytes) -> Reply | Pending:
        return start(self.endpoint, call, body)

    def finish(self, call: Call, result: Any) -> Reply:
        return finish(call, result)

    def failed(self, call: Call | None, exc: BaseException) -> Reply:
        if not isinstance(exc, Exception):  # a cancelled engine future
            exc = LambdaLabError(f"the invocation ended without an answer ({type(exc).__name__})")
        return _reply(exc if isinstance(exc, wire.ApiError) else wire.from_lab(exc))

    def late(self, call: Call) -> Reply:
        return _reply(no_answer())

    def slow_body(self, call: Call) -> Reply:
        return _reply(
            wire.ApiError(
                408,
                "RequestTimeoutException",
                f"lambdalab: the request body did not arrive within {guard.BODY_TIMEOUT_S:g} s",
                key="Message",
                user=False,
            )
        )


def _reply(error: wire.ApiError) -> Reply:
    return Reply(error.status, error.body(), error.headers(wire.new_request_id()))


def log_tail(result: EngineResult) -> bytes:
    """The last 4 KB of this invocation's log (START … REPORT), as ``X-Amz-Log-Result`` carries it.

    Lambda's tail is the end of the log, so it also holds the init lines written right before START when they
    belong to this invocation (``INIT_START``, ``INIT_REPORT ... Phase: invoke`` of an init retried inside it):
    everything since the previous invocation's REPORT, when an init line is among it."""
    stream = result.stream
    if stream is None:
        return b""
    return stream.text(_init_before(stream, result.log_start), result.log_end).encode()[-LOG_TAIL_BYTES:]


_LOOK_BACK = 64  # entries before START searched for this invocation's init lines


def _init_before(stream: Any, start: int) -> int:
    """Where this invocation's log begins: its first init line after the previous REPORT, else ``start``."""
    first = start
    index = start - 1
    while index >= max(stream.base, start - _LOOK_BACK):
        entry = stream.entries[index - stream.base]
        if isinstance(entry, (Report, End, Start)):
            break
        if isinstance(entry, (InitStart, InitReport)):
            first = index
        index -= 1
    return first


def _resolve(endpoint: Endpoint, name: str, qualifier: str | None) -> str:
    try:
        return endpoint.lab.resolve(name, qualifier)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None


def _too_large() -> LambdaLabError:
    return request_too_large(runtime_api.MAX_REQUEST_BYTES)


def _check_json(payload: bytes) -> bytes:
    """Lambda accepts JSON or nothing (an empty body is ``{}``); ``NaN`` and ``Infinity`` are not JSON.

    JSON nested deeper than this parser goes is passed on as it is: it is JSON, and the runtime,
    which parses it again, answers as Lambda's does (``Runtime.UnmarshalError``)."""
    if not payload:
        return b"{}"
    if len(payload) > runtime_api.MAX_REQUEST_BYTES:
        return payload  # the engine answers 413 with Lambda's message
    try:  # as json.loads(payload, parse_constant=...) does, with one decoder for every request
        _STRICT.decode(payload.decode(json.detect_encoding(payload), "surrogatepass"))
    except RecursionError:
        return payload
    except ValueError as exc:
        raise wire.ApiError(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc}",
        ) from None
    return payload


def _non_standard(token: str) -> None:
    raise ValueError(f"Non-standard token '{token}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


_STRICT = json.JSONDecoder(parse_constant=_non_standard)


def _client_context(header: str | None) -> str | None:
    if not header:
        return None
    if len(header) > CLIENT_CONTEXT_BYTES:
        raise wire.invalid(f"Client context must be smaller than {CLIENT_CONTEXT_BYTES} bytes.")
    try:
        text = base64.b64decode(header, validate=True).decode()
        json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise wire.invalid("Client context must be a valid Base64-encoded JSON object.") from None
    return text
