"""An HTTP request to a template's API as API Gateway's proxy event, and the function's answer as API Gateway's.

Events are built by ``lambdalab.events.apigw_rest`` (payload 1.0: ``resource``, ``httpMethod``,
``pathParameters``, single- and multi-value headers and query strings, ``requestContext.stage``) and
``lambdalab.events.apigw_http`` (payload 2.0: ``routeKey``, ``rawPath``, ``rawQueryString``, lower-case headers
with repeats joined, ``cookies``). A body is text, or base64 with ``isBase64Encoded``: for a REST API when its
``Content-Type`` is one of the API's ``BinaryMediaTypes`` (or the bytes are not UTF-8), for payload 2.0 when the
type is not textual, as function URLs do.

Answers: payload 1.0 must be a proxy response (a JSON object of ``statusCode``, ``headers``,
``multiValueHeaders``, ``body`` as a string and ``isBase64Encoded``, nothing else); anything else is API
Gateway's "Malformed Lambda proxy response". Payload 2.0 takes that too (``cookies`` as ``Set-Cookie``), and any
other JSON (a string, an object without ``statusCode``) is sent as the body with 200 and ``application/json``.
A REST API answers a function error, a throttle or a malformed answer with 502 ``{"message": "Internal server
error"}``, an HTTP API with 500 ``{"message":"Internal Server Error"}``; ``answer`` says why, for the log.

Rules: pure; no Lab, no I/O.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from multidict import CIMultiDict

from lambdalab import events
from lambdalab.endpoint.api_routes import HTTP, REST, Route

_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # an HTTP header name (RFC 9110 token)
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_V2_KEYS = _V1_KEYS | {"cookies"}


class Request:
    """What an event is built from: the request line's parts, headers (repeats kept), body, peer."""

    __slots__ = ("method", "raw_path", "query", "headers", "body", "source_ip", "port", "request_id")

    def __init__(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Any,
        body: bytes,
        source_ip: str,
        port: str,
        request_id: str,
    ) -> None:
        self.method, self.raw_path, self.query, self.headers, self.body = method, raw_path, query, headers, body
        self.source_ip, self.port, self.request_id = source_ip, port, request_id


def event(route: Route, params: Mapping[str, str], request: Request, region: str, account_id: str) -> dict[str, Any]:
    """The event API Gateway sends ``route``'s function for ``request``."""
    headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        headers.setdefault(key, []).append(value)
    content_type = request.headers.get("Content-Type", "")
    user_agent = request.headers.get("User-Agent", "")
    body = _body(route, request.body, content_type)
    api = route.api
    if route.version == "1.0":
        for key, value in (("X-Forwarded-Proto", "http"), ("X-Forwarded-Port", request.port)):
            if key not in request.headers:
                headers[key] = [value]
        forwarded = request.headers.getall("X-Forwarded-For", [])
        headers["X-Forwarded-For"] = [", ".join([*forwarded, request.source_ip])]
        rest = events.apigw_rest(
            request.method,
            unquote(request.raw_path),
            body=body,
            headers=headers,
            query=request.query,
            path_parameters=dict(params) or None,
            resource="/{proxy+}" if route.path == "$default" else route.path,
            stage=api.stage,
            stage_variables=api.variables or None,
            source_ip=request.source_ip,
            user_agent=user_agent,
            api_id=api.api_id,
            account_id=account_id,
            region=region,
            request_id=request.request_id,
        )
        return {"version": "1.0", **rest} if route.kind == HTTP else rest  # an HTTP API's 1.0 event says its version
    lower: dict[str, list[str]] = {}
    for key, values in headers.items():
        lower.setdefault(key.lower(), []).extend(values)
    cookies = [c.strip() for header in lower.pop("cookie", []) for c in header.split(";") if c.strip()]
    lower["x-forwarded-for"] = [",".join([*lower.get("x-forwarded-for", []), request.source_ip])]
    lower.setdefault("x-forwarded-proto", ["http"])
    lower.setdefault("x-forwarded-port", [request.port])
    return events.apigw_http(
        request.method,
        request.raw_path,
        body=body,
        headers=lower,
        query=request.query,
        cookies=cookies or None,
        path_parameters=dict(params) or None,
        route_key=route.route_key,
        stage=api.stage,
        stage_variables=api.variables or None,
        source_ip=request.source_ip,
        user_agent=user_agent,
        api_id=api.api_id,
        account_id=account_id,
        region=region,
        request_id=request.request_id,
    )


def _body(route: Route, body: bytes, content_type: str) -> str | bytes | None:
    """Text as text; bytes (sent base64-encoded with ``isBase64Encoded``) where API Gateway encodes them."""
    if not body:
        return None
    if route.kind == REST and route.version == "1.0":
        binary = route.api.is_binary(content_type)
    else:
        binary = bool(content_type) and not any(t in content_type.lower() for t in _TEXT_TYPES)
    if binary:
        return body
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body


class Answer:
    """The HTTP answer: status, headers (repeats kept), body; ``problem`` says why it is an error answer."""

    __slots__ = ("status", "headers", "body", "problem")

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes, problem: str | None = None) -> None:
        self.status, self.headers, self.body, self.problem = status, headers, body, problem


class _Malformed(Exception):
    """An answer API Gateway cannot map: "Malformed Lambda proxy response"."""


def failure(kind: str, request_id: str, problem: str) -> Answer:
    """API Gateway's answer when the function failed or its answer is malformed."""
    if kind == HTTP:
        return _message(500, "Internal Server Error", request_id, problem)
    return _message(502, "Internal server error", request_id, problem)


def not_found(kind: str, request_id: str) -> Answer:
    """No route: a REST API's 403 ``Missing Authentication Token``, an HTTP API's 404 ``Not Found``."""
    if kind == HTTP:
        return _message(404, "Not Found", request_id)
    answer = _message(403, "Missing Authentication Token", request_id)
    answer.headers["x-amzn-ErrorType"] = "MissingAuthenticationTokenException"
    return answer


def preflight(route: Route, origin: str, methods: list[str], request_id: str) -> Answer | None:
    """The platform's answer to a CORS preflight for ``route``'s API (None: the API has no CORS)."""
    cors = route.api.cors
    if cors is None:
        return None
    headers: CIMultiDict[str] = CIMultiDict()
    if isinstance(cors, dict):  # a REST API: SAM's OPTIONS method answers every preflight alike
        headers.update(cors)
        headers.setdefault("Access-Control-Allow-Methods", ",".join(methods))
    else:
        headers.update(cors.preflight(origin))
    headers["apigw-requestid" if route.kind == HTTP else "x-amzn-RequestId"] = request_id
    return Answer(204 if route.kind == HTTP else 200, headers, b"")


def cors_headers(route: Route, origin: str | None, answer: Answer) -> None:
    """An HTTP API with CORS adds its headers to every answer for an allowed ``Origin`` (a REST API adds none)."""
    cors = route.api.cors
    if origin is not None and cors is not None and not isinstance(cors, dict):
        for key, value in cors.response(origin).items():
            answer.headers.add(key, value)


def _message(status: int, message: str, request_id: str, problem: str | None = None) -> Answer:
    headers: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json", "x-amzn-RequestId": request_id})
    return Answer(status, headers, json.dumps({"message": message}).encode(), problem)


def answer(route: Route, body: bytes, request_id: str) -> Answer:
    """The function's successful answer (its JSON ``body``) as API Gateway maps it for ``route``."""
    try:
        value = json.loads(body) if body else None
    except ValueError:
        return failure(route.kind, request_id, "Malformed Lambda proxy response: the answer is not JSON")
    try:
        if route.version == "2.0" and not (isinstance(value, dict) and "statusCode" in value):
            headers: CIMultiDict[str] = CIMultiDict({"Content-Type": "application/json"})
            return _finish(route, Answer(200, headers, body), request_id)
        return _finish(route, _proxy(value, route.version), request_id)
    except _Malformed as exc:
        return failure(route.kind, request_id, f"Malformed Lambda proxy response: {exc}")


def _finish(route: Route, reply: Answer, request_id: str) -> Answer:
    reply.headers.setdefault("Content-Type", "application/json")
    reply.headers["apigw-requestid" if route.kind == HTTP else "x-amzn-RequestId"] = request_id
    return reply


def _proxy(value: Any, version: str) -> Answer:
    if not isinstance(value, dict):
        raise _Malformed(f"expected a JSON object with statusCode, got {type(value).__name__} {value!r:.80}")
    extra = sorted(set(value) - (_V1_KEYS if version == "1.0" else _V2_KEYS))
    if extra:
        raise _Malformed(f"unexpected keys {extra} (a proxy response has {sorted(_V1_KEYS)})")
    if "statusCode" not in value:
        raise _Malformed("no statusCode")
    status = _status(value["statusCode"])
    headers: CIMultiDict[str] = CIMultiDict()
    single = value.get("headers") or {}
    multi = value.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise _Malformed("headers and multiValueHeaders must be JSON objects")
    for key, item in single.items():
        _add(headers, key, item, joined=version == "2.0")
    for key, items in multi.items():
        if not isinstance(items, list):
            raise _Malformed(f"multiValueHeaders[{key!r}] must be a list")
        for item in items:
            _add(headers, key, item)
    cookies = value.get("cookies") or []
    if not isinstance(cookies, list):
        raise _Malformed("cookies must be a list")
    for cookie in cookies:
        _add(headers, "Set-Cookie", cookie)
    raw = value.get("body")
    if raw is None:
        data = b""
    elif not isinstance(raw, str):
        if version == "1.0":
            raise _Malformed(f"body must be a string, got {type(raw).__name__}")
        data = json.dumps(raw).encode()
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            raise _Malformed("isBase64Encoded is true but body is not base64") from None
    else:
        data = raw.encode()
    return Answer(status, headers, data)


def _status(raw: Any) -> int:
    """``statusCode``: an integer (or its digits as a string, as API Gateway takes it) from 200 to 599
    (a 1xx cannot end an HTTP/1.1 request)."""
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 200 <= raw <= 599:
        raise _Malformed(f"statusCode {raw!r} is not an HTTP status")
    return raw


def _add(headers: CIMultiDict[str], key: Any, value: Any, joined: bool = False) -> None:
    if not isinstance(key, str) or _TOKEN.match(key) is None:
        raise _Malformed(f"header name {key!r}")
    if key.lower() in _FRAMING:
        return
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    elif joined and isinstance(value, list):
        text = ",".join(str(v) for v in value)
    else:
        raise _Malformed(f"header {key}: value {value!r:.60} is not a string")
    if "\r" in text or "\n" in text or "\0" in text:
        raise _Malformed(f"header {key}: value holds CR, LF or NUL")
    headers.add(key, text)
