"""Function URLs: a port of its own per function (or alias), any path, any method.

A request becomes a function URL event (API Gateway payload format 2.0, built by
``lambdalab.events.function_url``) and the function's answer is mapped back as Lambda does
(the "Request and response payloads" section of the function URL guide): a result with a
``statusCode`` gives that status, ``headers``, ``cookies`` (one ``Set-Cookie`` each) and ``body``
(base64-decoded when ``isBase64Encoded``); any other JSON result is sent as is with status 200
and ``content-type: application/json``. A function error answers 502, a throttle 429; so does an
answer no HTTP response can carry (a header or cookie with CR, LF or NUL, a header name that is not
an HTTP token, a ``statusCode`` that is not an integer from 200 to 599). A URL's ``Cors``
(``cors.py``) adds CORS headers and answers preflights; the endpoint's ``Guard`` checks ``Host``.

Rules: runs on the Lab's loop; invokes through the control plane like the Invoke API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from lambdalab import events
from lambdalab.core import runtime_api
from lambdalab.endpoint import shapes, wire
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.guard import BODY_TIMEOUT_S
from lambdalab.errors import LambdaLabError, TooManyRequestsException

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.engine.control_plane import EngineResult

_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml")
_SLACK_S = 30.0
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")      # an HTTP header name (RFC 9110 token)
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})  # aiohttp frames the answer itself


class _BadAnswer(Exception):
    """A function URL answer no HTTP response can carry."""


def _plain(status: int, message: str, request_id: str, code: str | None = None) -> web.Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    if code:
        headers["x-amzn-ErrorType"] = code
    return web.Response(status=status, body=json.dumps({"Message": message}).encode(), headers=headers)


class UrlListener:
    """One function URL: its own loopback port, forwarding every request to one function (and qualifier)."""

    def __init__(self, endpoint: Endpoint, name: str, qualifier: str | None, auth_type: str = "NONE",
                 cors: Cors | None = None) -> None:
        self.endpoint, self.name, self.qualifier, self.auth_type, self.cors = endpoint, name, qualifier, auth_type, cors
        self.url_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
        self.created = self.modified = shapes.timestamp()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        from lambdalab.endpoint.server import http_url

        return http_url(self.endpoint.host, self.port) + "/"

    async def start(self, host: str) -> None:
        app = web.Application(client_max_size=runtime_api.MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = self.endpoint.app_runner(app)
        await self._runner.setup()
        from lambdalab.endpoint.server import listen, open_server

        sock = listen(host, 0)
        self._server = await open_server(self._runner, sock, self.endpoint.gate)
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def configuration(self) -> dict[str, Any]:
        """``FunctionUrlConfig`` as the management API returns it."""
        plane = self.endpoint.lab._plane
        config = {"FunctionUrl": self.url, "FunctionArn": plane.arn(self.name, self.qualifier),
                  "AuthType": self.auth_type, "CreationTime": self.created, "LastModifiedTime": self.modified,
                  "InvokeMode": "BUFFERED"}
        if self.cors is not None:
            config["Cors"] = self.cors.shape()
        return config

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        why = self.endpoint.guard.refusal(request.headers, json_api=False, check_origin=False)
        if why is not None:
            return _plain(403, f"Forbidden: {why}", request_id, "AccessDeniedException")
        origin, cors = request.headers.get("Origin"), self.cors
        if origin is None or cors is None:
            return await self._invoke(request, request_id)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(status=200, headers={**cors.preflight(origin), "x-amzn-RequestId": request_id})
        response = await self._invoke(request, request_id)
        for key, value in cors.response(origin).items():
            response.headers.add(key, value)
        return response

    async def _invoke(self, request: web.Request, request_id: str) -> web.Response:
        try:
            if request.content.is_eof():
                body = await request.read()
            else:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _plain(413, "Request Entity Too Large", request_id)
        except TimeoutError:
            return _plain(408, "Request Timeout", request_id)
        event = request_event(request, body, self.url_id, self.endpoint.lab.settings.region, request_id)
        plane = self.endpoint.lab._plane
        try:
            future = plane.start_invoke(self.name, json.dumps(event).encode(), None, self.qualifier, request_id)
            limit = plane.configs[self.name].timeout_s + plane.settings.init_timeout_s + _SLACK_S
            result = await asyncio.wait_for(asyncio.shield(future), limit)
        except TooManyRequestsException:
            return _plain(429, "Rate Exceeded.", request_id, "TooManyRequestsException")
        except (LambdaLabError, TimeoutError):
            return _plain(502, "Internal Server Error", request_id)
        return http_response(result, request_id)


def request_event(request: web.Request, body: bytes, url_id: str, region: str, request_id: str) -> dict[str, Any]:
    """The function URL event for a real HTTP request."""
    headers: dict[str, list[str]] = {}
    for key, value in request.headers.items():
        headers.setdefault(key.lower(), []).append(value)
    cookies = [c.strip() for header in headers.pop("cookie", []) for c in header.split(";") if c.strip()]
    source_ip = request.remote or "127.0.0.1"
    forwarded = headers.get("x-forwarded-for", [])
    headers["x-forwarded-for"] = [",".join([*forwarded, source_ip])]
    headers.setdefault("x-forwarded-proto", [request.scheme])
    headers.setdefault("x-forwarded-port", [str(request.transport.get_extra_info("sockname")[1])
                                            if request.transport else "80"])
    content_type = request.headers.get("Content-Type", "")
    text: Any = None
    if body:
        text = body
        if not content_type or any(t in content_type.lower() for t in _TEXT_TYPES):
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text = body
    raw_path = request.raw_path.split("?", 1)[0]
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    return events.function_url(request.method, raw_path, body=text, headers=headers,
                               query=request.rel_url.raw_query_string, cookies=cookies or None, source_ip=source_ip,
                               user_agent=request.headers.get("User-Agent", ""), url_id=url_id, region=region,
                               protocol=version, request_id=request_id)


def http_response(result: EngineResult, request_id: str) -> web.Response:
    """The function's answer as the HTTP response a function URL sends."""
    if result.is_error:
        return _plain(502, "Internal Server Error", request_id)
    try:
        answer = json.loads(result.body) if result.body else None
    except ValueError:
        return _plain(502, "Internal Server Error", request_id)
    headers: CIMultiDict[str] = CIMultiDict()
    if not (isinstance(answer, dict) and "statusCode" in answer):
        headers["Content-Type"] = "application/json"
        headers["x-amzn-RequestId"] = request_id
        return web.Response(status=200, body=result.body, headers=headers)
    try:
        status = _status(answer["statusCode"])
        for key, value in (answer.get("headers") or {}).items():
            if _TOKEN.match(key) is None:
                raise _BadAnswer(f"header name {key!r}")
            if key.lower() not in _FRAMING:
                headers[key] = _text(value)
        for cookie in answer.get("cookies") or []:
            headers.add("Set-Cookie", _text(cookie))
        raw = answer.get("body")
        if raw is None:
            body = b""
        elif answer.get("isBase64Encoded"):
            body = base64.b64decode(raw, validate=True)
        else:
            body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
    except (_BadAnswer, TypeError, ValueError, AttributeError):
        return _plain(502, "Internal Server Error", request_id)
    headers.setdefault("Content-Type", "application/json")
    headers["x-amzn-RequestId"] = request_id
    return web.Response(status=status, body=body, headers=headers)


def _status(value: Any) -> int:
    """An HTTP status from ``statusCode``: an integer (or an integral number) from 200 to 599."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float)
                                                                          and not value.is_integer()):
        raise _BadAnswer(f"statusCode {value!r}")
    status = int(value)
    if not 200 <= status <= 599:  # 1xx are interim in HTTP/1.1: they cannot end a request
        raise _BadAnswer(f"statusCode {value!r}")
    return status


def _text(value: Any) -> str:
    """A header value: a string, number or boolean (as JSON writes it), without CR, LF or NUL."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        raise _BadAnswer(f"header value {value!r}")
    if "\r" in text or "\n" in text or "\0" in text:
        raise _BadAnswer(f"header value {value!r}")
    return text


# -- FunctionUrlConfig: the Cors part (management.py creates, reads and deletes the URL itself) ---
async def create_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    """CreateFunctionUrlConfig: management.py's, plus the ``Cors`` of the body (checked before anything is made)."""
    from lambdalab.endpoint import management

    cors = Cors.parse(_object(await request.read()).get("Cors"))
    response = await management.create_function_url(endpoint, request)
    if cors is None:
        return response
    listener = endpoint.urls[endpoint.function_name(request)]
    listener.cors = cors
    return _reply(listener.configuration(), 201)


async def update_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    """UpdateFunctionUrlConfig: ``AuthType`` and ``Cors`` (``InvokeMode`` only as ``BUFFERED``)."""
    name, qualifier = endpoint.function_name(request)
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise wire.ApiError(400, "InvalidRequestContentException", "Could not parse request body into json") from None
    if not isinstance(body, dict):
        raise wire.ApiError(400, "InvalidRequestContentException", "The request body must be a JSON object")
    listener = endpoint.urls.get((name, qualifier))
    if listener is None:
        if name not in endpoint.lab._plane.configs:
            raise wire.not_found(endpoint.lab._plane.arn(name))
        raise wire.ApiError(404, "ResourceNotFoundException", "The resource you requested does not exist.",
                            key="Message")
    auth = body.get("AuthType", listener.auth_type)
    if auth not in ("NONE", "AWS_IAM"):
        raise wire.validation(str(auth), "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]")
    if body.get("InvokeMode", "BUFFERED") != "BUFFERED":
        raise wire.not_implemented("lambdalab's function URLs support InvokeMode BUFFERED only")
    cors = Cors.parse(body["Cors"]) if "Cors" in body else listener.cors
    listener.auth_type, listener.cors, listener.modified = auth, cors, shapes.timestamp()
    return _reply(listener.configuration(), 200)


def _object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or {} (the management handler then answers what is wrong)."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reply(data: dict[str, Any], status: int) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json", "x-amzn-RequestId": wire.new_request_id()})
