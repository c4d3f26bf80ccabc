"""Function URLs by path on the endpoint's own port: ``/_aws/lambda-url/{url-id}/...``.

Besides its own port, each function URL answers on the endpoint's main port under
``/_aws/lambda-url/{url-id}`` (as other local emulators offer), where ``url-id`` is the URL's id: the host
label of its ``domainName`` (``{url-id}.lambda-url.{region}.on.aws``) in the events it sends, and of
``UrlListener.path_url``. What follows the id is the request's path (``rawPath``; nothing: ``/``), and the
event (payload format 2.0), the answer's mapping, CORS and the ``Host`` rule are the URL's own
(``function_urls.UrlRoute``): the same request gives the same event on either port, but for
``x-forwarded-port``, the port it came in on.

``MainRoute`` is the main port's front door route: the Invoke API (``invoke.InvokeRoute``) and these paths;
``handle`` is the aiohttp route for requests the front door hands over (chunked bodies, HTTP/1.0, ``Expect``).
An id no URL has answers 404 ``ResourceNotFoundException``.

Rules: runs on the Lab's loop; no Lambda shapes of its own (the routes have them).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint.function_urls import UrlListener, UrlRoute, parse_target
from lambdalab.endpoint.invoke import InvokeRoute, Pending, Reply

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

PREFIX = "/_aws/lambda-url/"
_PREFIX_BYTES = PREFIX.encode()


def split(path: str) -> tuple[str, str] | None:
    """(url-id, the function's path) of a raw path under ``PREFIX``, or None."""
    if not path.startswith(PREFIX):
        return None
    url_id, slash, rest = path[len(PREFIX) :].partition("/")
    if not url_id:
        return None
    return url_id, slash + rest if slash else "/"


def not_found(url_id: str) -> Reply:
    body = json.dumps({"Message": f"No function URL with the id {url_id!r} in this Lab."}).encode()
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": str(uuid.uuid4()),
        "x-amzn-ErrorType": "ResourceNotFoundException",
    }
    return Reply(404, body, headers)


class _Tagged:
    """A call of one of the main port's routes, with that route."""

    __slots__ = ("route", "call")

    def __init__(self, route: Any, call: Any) -> None:
        self.route, self.call = route, call


class _Missing:
    """A request for a URL id nobody has: 404 once the head passed the guard."""

    def __init__(self, endpoint: Endpoint, url_id: str) -> None:
        self.endpoint, self.url_id = endpoint, url_id


class MainRoute:
    """The endpoint's main port as one front door ``Route``: the Invoke API, and function URLs by path."""

    def __init__(self, endpoint: Endpoint, invoke_route: InvokeRoute) -> None:
        self.endpoint, self.invoke = endpoint, invoke_route
        self.max_body = invoke_route.max_body  # a URL's body over its own limit answers 413 in ``start``

    def target(self, line: bytes) -> tuple[Any, Any] | None:
        if line.startswith(b"POST /2015-03-31/"):  # the Invoke API first: the hot path
            invoke_target = self.invoke.target(line)
            return None if invoke_target is None else (self.invoke, invoke_target)
        space = line.find(b" ")
        if line[space + 1 : space + 1 + len(_PREFIX_BYTES)] == _PREFIX_BYTES:
            parsed = parse_target(line)
            found = split(parsed[1]) if parsed is not None else None
            if parsed is None or found is None:
                return None  # aiohttp answers what this path cannot read
            url_id, path = found
            listener = self.endpoint.url_by_id(url_id)
            if listener is None:
                return _Missing(self.endpoint, url_id), None
            return listener.route, (parsed[0], path, parsed[2])
        invoke_target = self.invoke.target(line)
        return None if invoke_target is None else (self.invoke, invoke_target)

    def begin(self, target: tuple[Any, Any], headers: Mapping[str, str], connection: Any) -> Any:
        route, inner = target
        if isinstance(route, _Missing):
            why = self.endpoint.guard.refusal(headers, json_api=False, check_origin=False)
            return not_found(route.url_id) if why is None else UrlRoute.forbidden(why)
        try:
            call = route.begin(inner, headers, connection)
        except Exception as exc:  # noqa: BLE001 - answered in that route's format
            return route.failed(None, exc)
        return call if isinstance(call, Reply) else _Tagged(route, call)

    def start(self, call: _Tagged, body: bytes) -> Reply | Pending:
        route = call.route
        if isinstance(route, UrlRoute) and len(body) > route.max_body:
            return route.too_large(call.call)
        return route.start(call.call, body)  # type: ignore[no-any-return]

    def finish(self, call: _Tagged, result: Any) -> Reply:
        return call.route.finish(call.call, result)  # type: ignore[no-any-return]

    def failed(self, call: _Tagged | None, exc: BaseException) -> Reply:
        if call is None:
            return self.invoke.failed(None, exc)
        return call.route.failed(call.call, exc)  # type: ignore[no-any-return]

    def late(self, call: _Tagged) -> Reply:
        return call.route.late(call.call)  # type: ignore[no-any-return]

    def slow_body(self, call: _Tagged) -> Reply:
        return call.route.slow_body(call.call)  # type: ignore[no-any-return]


async def handle(endpoint: Endpoint, request: web.Request) -> web.Response:
    """The aiohttp route for ``/_aws/lambda-url/...``: what the front door hands over, or all when it is off."""
    found = split(request.raw_path.split("?", 1)[0])
    if found is None:
        return _response(not_found(""))
    url_id, path = found
    listener = endpoint.url_by_id(url_id)
    if listener is None:
        why = endpoint.guard.refusal(request.headers, json_api=False, check_origin=False)
        return _response(not_found(url_id) if why is None else UrlRoute.forbidden(why))
    return await listener.handle_path(request, path)


def _response(reply: Reply) -> web.Response:
    return web.Response(status=reply.status, body=reply.body or None, headers=reply.headers)


def path_url(lab: Lab, name: str, qualifier: str | None = None) -> str:
    """Function ``name``'s URL by path on the endpoint's port (``http://127.0.0.1:PORT/_aws/lambda-url/ID/``);
    makes the URL (and starts the endpoint) if there is none yet, as ``Function.url`` does."""
    lab.function(name).url(qualifier)
    for item in lab.attached:  # the endpoint (this module cannot import server.py: it imports this one)
        urls = getattr(item, "urls", None)
        if isinstance(urls, dict) and isinstance(urls.get((name, qualifier)), UrlListener):
            return str(urls[(name, qualifier)].path_url)
    raise LookupError(f"no function URL for {name!r}")  # unreachable: url() made it
