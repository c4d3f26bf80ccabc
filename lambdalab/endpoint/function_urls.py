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

Each URL's port is served by the endpoint's front door (``front.py``) with ``UrlRoute``; a request with
framing the front door leaves alone (chunked, ``Expect``, HTTP/1.0, a body over 6 MB) goes to the URL's
aiohttp app, whose handler takes the same ``UrlRoute`` steps.

Rules: runs on the Lab's loop; invokes through ``Lab.start_invoke`` like the Invoke API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import string
import uuid
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from lambdalab import events
from lambdalab.core import runtime_api
from lambdalab.endpoint import invoke_stream, shapes
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.guard import BODY_TIMEOUT_S
from lambdalab.endpoint.invoke import Pending, Reply, answer_limit
from lambdalab.endpoint.listening import close_listener, http_url, listen, open_server
from lambdalab.errors import LambdaLabError, TooManyRequestsException

if TYPE_CHECKING:
    from lambdalab.endpoint.front import Front
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.results import EngineResult

_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")  # an HTTP header name (RFC 9110 token)
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})  # aiohttp frames the answer itself


class _BadAnswer(Exception):
    """A function URL answer no HTTP response can carry."""


def _plain(status: int, message: str, request_id: str, code: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    if code:
        headers["x-amzn-ErrorType"] = code
    return Reply(status, json.dumps({"Message": message}).encode(), headers)


class UrlCall:
    """One request to a function URL once its head passed: what the event is built from, and the CORS to add."""

    __slots__ = ("request_id", "method", "path", "query", "headers", "source_ip", "port", "origin", "cors")

    def __init__(
        self,
        request_id: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        source_ip: str,
        port: str,
        origin: str | None,
        cors: Cors | None,
    ) -> None:
        self.request_id, self.method, self.path, self.query, self.headers = request_id, method, path, query, headers
        self.source_ip, self.port, self.origin, self.cors = source_ip, port, origin, cors


class UrlListener:
    """One function URL: its own loopback port, forwarding every request to one function (and qualifier).

    Its ``UrlRoute`` serves the front door of its port (every request with plain framing) and its aiohttp
    handler (the rest) alike: both go through ``begin`` / ``start`` / ``finish``."""

    def __init__(
        self, endpoint: Endpoint, name: str, qualifier: str | None, auth_type: str = "NONE", cors: Cors | None = None
    ) -> None:
        self.endpoint, self.name, self.qualifier, self.auth_type, self.cors = endpoint, name, qualifier, auth_type, cors
        self.url_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
        self.invoke_mode = "BUFFERED"  # or RESPONSE_STREAM: the function's bytes as they are (invoke_stream.py)
        self.created = self.modified = shapes.timestamp()
        self.port = 0
        self.route = UrlRoute(self)
        self.front: Front | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return http_url(self.endpoint.host, self.port) + "/"

    @property
    def path_url(self) -> str:
        """The same URL by path on the endpoint's own port (``url_paths.py``)."""
        return f"{self.endpoint.url}/_aws/lambda-url/{self.url_id}/"

    async def start(self, host: str) -> None:
        app = web.Application(client_max_size=runtime_api.MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = self.endpoint.app_runner(app)
        await self._runner.setup()
        sock = listen(host, 0)
        self.front, self._server = await open_server(
            self._runner, sock, self.endpoint.gate, self.route, self.endpoint.idle_timeout_s
        )
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        await close_listener(self._server, self.front, self._runner)
        self._server, self.front, self._runner = None, None, None

    def configuration(self) -> dict[str, Any]:
        """``FunctionUrlConfig`` as the management API returns it."""
        config: dict[str, Any] = {
            "FunctionUrl": self.url,
            "FunctionArn": self.endpoint.lab.arn(self.name, self.qualifier),
            "AuthType": self.auth_type,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "InvokeMode": self.invoke_mode,
        }
        if self.cors is not None:
            config["Cors"] = self.cors.shape()
        return config

    # -- the aiohttp handler -----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.Response:
        return await self.handle_path(request, request.raw_path.split("?", 1)[0])

    async def handle_path(self, request: web.Request, path: str) -> web.Response:
        """``request`` as a request for ``path`` (its own port: the whole path; the endpoint's: what follows the id)."""
        route = self.route
        port = str(request.transport.get_extra_info("sockname")[1]) if request.transport else "80"
        call = route.begin(
            (request.method, path, request.rel_url.raw_query_string),
            request.headers,
            SimpleNamespace(peer=request.remote or "127.0.0.1", port=port),
        )
        if isinstance(call, Reply):
            return _response(call)
        try:
            if request.content.is_eof():
                body = await request.read()
            else:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _response(route.too_large(call))
        except TimeoutError:
            return _response(route.slow_body(call))
        if len(body) > route.max_body:  # the endpoint's port reads up to its own, larger, limit
            return _response(route.too_large(call))
        step = route.start(call, body)
        if isinstance(step, Pending):
            try:
                result = await asyncio.wait_for(asyncio.shield(step.future), step.limit)
            except (LambdaLabError, TimeoutError) as exc:
                return _response(route.failed(call, exc))
            step = route.finish(call, result)
        return _response(step)


class UrlRoute:
    """A function URL's requests as ``front.Route`` steps (the aiohttp handler takes the same steps)."""

    max_body = runtime_api.MAX_REQUEST_BYTES

    def __init__(self, listener: UrlListener) -> None:
        self.listener = listener

    def target(self, line: bytes) -> tuple[str, str, str] | None:
        return parse_target(line)

    def begin(self, target: tuple[str, str, str], headers: Mapping[str, str], connection: Any) -> UrlCall | Reply:
        """The head: refused (403), a preflight answered by the platform (CORS), or a call to run."""
        request_id, listener = str(uuid.uuid4()), self.listener
        why = listener.endpoint.guard.refusal(headers, json_api=False, check_origin=False)
        if why is not None:
            return self.forbidden(why, request_id)
        method, path, query = target
        origin, cors = headers.get("Origin"), listener.cors
        if (
            origin is not None
            and cors is not None
            and method == "OPTIONS"
            and "Access-Control-Request-Method" in headers
        ):
            return Reply(200, b"", {**cors.preflight(origin), "x-amzn-RequestId": request_id})
        return UrlCall(request_id, method, path, query, headers, connection.peer, connection.port, origin, cors)

    def start(self, call: UrlCall, body: bytes) -> Reply | Pending:
        listener = self.listener
        event = request_event(call, body, listener.url_id, listener.endpoint.lab.settings.region)
        lab = listener.endpoint.lab
        try:
            future = lab.start_invoke(
                listener.name, json.dumps(event).encode(), qualifier=listener.qualifier, request_id=call.request_id
            )
            limit = answer_limit(lab, listener.name)
        except TooManyRequestsException:
            return self.cors(call, _plain(429, "Rate Exceeded.", call.request_id, "TooManyRequestsException"))
        except LambdaLabError:
            return self.failed(call, None)
        return Pending(future, limit)

    def finish(self, call: UrlCall, result: EngineResult) -> Reply:
        if self.listener.invoke_mode == "RESPONSE_STREAM":
            result = invoke_stream.url_answer(result)
        return self.cors(call, http_response(result, call.request_id))

    def failed(self, call: UrlCall | None, exc: BaseException | None) -> Reply:
        if call is None:  # begin raised: a bug, answered as the platform's fault
            return _plain(502, "Internal Server Error", str(uuid.uuid4()))
        return self.cors(call, _plain(502, "Internal Server Error", call.request_id))

    def late(self, call: UrlCall) -> Reply:
        return self.failed(call, None)

    def slow_body(self, call: UrlCall) -> Reply:
        return self.cors(call, _plain(408, "Request Timeout", call.request_id))

    def too_large(self, call: UrlCall) -> Reply:
        return self.cors(call, _plain(413, "Request Entity Too Large", call.request_id))

    @staticmethod
    def forbidden(why: str, request_id: str | None = None) -> Reply:
        """The ``Guard``'s refusal of a request to a function URL."""
        return _plain(403, f"Forbidden: {why}", request_id or str(uuid.uuid4()), "AccessDeniedException")

    @staticmethod
    def cors(call: UrlCall, reply: Reply) -> Reply:
        """Any answer but a preflight gets the URL's CORS headers for an allowed ``Origin``."""
        if call.origin is not None and call.cors is not None:
            extra = call.cors.response(call.origin)
            if extra:
                headers = CIMultiDict(reply.headers)
                for key, value in extra.items():
                    headers.add(key, value)
                reply.headers = headers  # type: ignore[assignment]
        return reply


def parse_target(line: bytes) -> tuple[str, str, str] | None:
    """(method, raw path, raw query) of a request line with an origin-form ASCII target, or None."""
    parts = line.split(b" ")
    if len(parts) != 3 or parts[2] != b"HTTP/1.1" or not parts[0].isalpha() or not parts[0].isupper():
        return None
    try:
        raw = parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not raw.startswith("/") or "#" in raw:
        return None
    path, _, query = raw.partition("?")
    return parts[0].decode(), path, query


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body or None, headers=reply.headers)


def request_event(call: UrlCall, body: bytes, url_id: str, region: str) -> dict[str, Any]:
    """The function URL event for a real HTTP request."""
    headers: dict[str, list[str]] = {}
    for key, value in call.headers.items():
        headers.setdefault(key.lower(), []).append(value)
    cookies = [c.strip() for header in headers.pop("cookie", []) for c in header.split(";") if c.strip()]
    forwarded = headers.get("x-forwarded-for", [])
    headers["x-forwarded-for"] = [",".join([*forwarded, call.source_ip])]
    headers.setdefault("x-forwarded-proto", ["http"])
    headers.setdefault("x-forwarded-port", [call.port])
    content_type = call.headers.get("Content-Type", "")
    text: Any = None
    if body:
        text = body
        if not content_type or any(t in content_type.lower() for t in _TEXT_TYPES):
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text = body
    return events.function_url(
        call.method,
        call.path,
        body=text,
        headers=headers,
        query=call.query,
        cookies=cookies or None,
        source_ip=call.source_ip,
        user_agent=call.headers.get("User-Agent", ""),
        url_id=url_id,
        region=region,
        protocol="HTTP/1.1",
        request_id=call.request_id,
    )


def http_response(result: EngineResult, request_id: str) -> Reply:
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
        return Reply(200, result.body, headers)  # type: ignore[arg-type]
    try:
        status = _status(answer["statusCode"])
        for key, value in (answer.get("headers") or {}).items():
            if _TOKEN.match(key) is None:
                raise _BadAnswer(f"header name {key!r}")
            if key.lower() not in _FRAMING:
                headers[key] = _text(value)
        for cookie in _cookies(answer.get("cookies")):
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
    return Reply(status, body, headers)  # type: ignore[arg-type]


def _cookies(value: Any) -> list[Any]:
    """``cookies``: a list of ``Set-Cookie`` values, as Lambda documents it; a lone string is one cookie."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _BadAnswer(f"cookies {value!r}")
    return value


def _status(value: Any) -> int:
    """An HTTP status from ``statusCode``: an integer (or an integral number) from 200 to 599."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not value.is_integer())
    ):
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
