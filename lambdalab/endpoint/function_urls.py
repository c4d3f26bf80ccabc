"""Function URLs: a port of its own per function (or alias), any path, any method.

A request becomes a function URL event (API Gateway payload format 2.0, built by
``lambdalab.events.function_url``) and the function's answer is mapped back as Lambda does
(the "Request and response payloads" section of the function URL guide): a result with a
``statusCode`` gives that status, ``headers``, ``cookies`` (one ``Set-Cookie`` each) and ``body``
(base64-decoded when ``isBase64Encoded``); any other JSON result is sent as is with status 200
and ``content-type: application/json``. A function error answers 502, a throttle 429.

Rules: runs on the Lab's loop; invokes through the control plane like the Invoke API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from lambdalab import events
from lambdalab.core import runtime_api
from lambdalab.endpoint import shapes
from lambdalab.errors import LambdaLabError, TooManyRequestsException

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.engine.control_plane import EngineResult

_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml")
_SLACK_S = 30.0


def _plain(status: int, message: str, request_id: str, code: str | None = None) -> web.Response:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    if code:
        headers["x-amzn-ErrorType"] = code
    return web.Response(status=status, body=json.dumps({"Message": message}).encode(), headers=headers)


class UrlListener:
    """One function URL: its own loopback port, forwarding every request to one function (and qualifier)."""

    def __init__(self, endpoint: Endpoint, name: str, qualifier: str | None, auth_type: str = "NONE") -> None:
        self.endpoint, self.name, self.qualifier, self.auth_type = endpoint, name, qualifier, auth_type
        self.url_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
        self.created = shapes.timestamp()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        from lambdalab.endpoint.server import http_url

        return http_url(self.endpoint.host, self.port) + "/"

    async def start(self, host: str) -> None:
        app = web.Application(client_max_size=runtime_api.MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        from lambdalab.endpoint.server import listen

        sock = listen(host, 0)
        await web.SockSite(self._runner, sock).start()
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def configuration(self) -> dict[str, Any]:
        """``FunctionUrlConfig`` as the management API returns it."""
        plane = self.endpoint.lab._plane
        return {"FunctionUrl": self.url, "FunctionArn": plane.arn(self.name, self.qualifier), "AuthType": self.auth_type,
                "CreationTime": self.created, "LastModifiedTime": self.created, "InvokeMode": "BUFFERED"}

    async def handle(self, request: web.Request) -> web.Response:
        request_id = str(uuid.uuid4())
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _plain(413, "Request Entity Too Large", request_id)
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
        status = int(answer["statusCode"])
        for key, value in (answer.get("headers") or {}).items():
            headers[str(key)] = str(value)
        for cookie in answer.get("cookies") or []:
            headers.add("Set-Cookie", str(cookie))
        raw = answer.get("body")
        if raw is None:
            body = b""
        elif answer.get("isBase64Encoded"):
            body = base64.b64decode(raw)
        else:
            body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
    except (TypeError, ValueError, AttributeError):
        return _plain(502, "Internal Server Error", request_id)
    headers.setdefault("Content-Type", "application/json")
    headers["x-amzn-RequestId"] = request_id
    return web.Response(status=status, body=body, headers=headers)
