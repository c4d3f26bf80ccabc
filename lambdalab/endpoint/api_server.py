"""``lambdalab serve --api`` and ``lab.serve_api(template)``: a template's API routes on one port, as
``sam local start-api`` serves them.

``start_api(lab, template)`` serves the routes of the template's functions already in ``lab``
(``api_routes.py``) on their own port (default 3000 on the command line), beside the endpoint, whose ``Host``
rule and connection cap it shares (loopback only unless ``allow_remote``). Each request is matched to a route,
made into API Gateway's event (``api_events.py``), invoked through ``Lab.start_invoke`` and answered as API
Gateway answers; the function's log (``START`` ... ``REPORT``), why an answer failed, and an access line
(``127.0.0.1 - - [07/Dec/2026 14:00:00] "GET /hello HTTP/1.1" 200 -``) go to ``out``, as ``sam local`` prints
them. ``serve_api(lab, template)`` loads the template first.

Rules: the handler runs on the Lab's loop; nothing here blocks it but ``out``, which gets one line at a time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.core import runtime_api
from lambdalab.endpoint import api_events, api_routes, invoke, template_globals
from lambdalab.endpoint.guard import BODY_TIMEOUT_S
from lambdalab.endpoint.listening import http_url, listen
from lambdalab.endpoint.server import Endpoint
from lambdalab.endpoint.template_values import resolve
from lambdalab.endpoint.templates import read_template
from lambdalab.errors import ConfigError, LambdaLabError
from lambdalab.results import InvocationResult

if TYPE_CHECKING:
    from lambdalab.api import Lab

DEFAULT_PORT = 3000  # sam local start-api's
_FUNCTION_TYPES = ("AWS::Serverless::Function",)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ApiServer:
    """One template's API routes on one loopback port; ``close()`` (the Lab calls it) stops it."""

    def __init__(self, endpoint: Endpoint, table: api_routes.Table, out: Callable[[str], None]) -> None:
        self.endpoint, self.table, self.out = endpoint, table, out
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return http_url(self.endpoint.host, self.port)

    async def start(self, host: str, port: int) -> None:
        app = web.Application(client_max_size=runtime_api.MAX_REQUEST_BYTES)  # API Gateway takes 10 MB; Lambda 6
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = self.endpoint.app_runner(app)
        await runner.setup()
        try:
            sock = listen(host, port)
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"invalid port: cannot listen on {host}:{port} ({exc.strerror})") from None
        assert runner.server is not None
        factory = self.endpoint.gate.factory(runner.server)
        self._server = await asyncio.get_running_loop().create_server(factory, sock=sock)
        self._runner, self.port = runner, sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._server, self._runner = None, None

    def close(self) -> None:
        """Stop serving (from the caller's thread); never raises."""
        try:
            self.endpoint.lab.run_on_loop(self.stop(), timeout=10)
        except Exception:  # noqa: BLE001 - closing must not raise (a stopped loop: nothing left to stop)
            pass

    def reload(self, template: str | Path, parameters: Mapping[str, Any] | None = None) -> list[str]:
        """Read the routes again from ``template`` (after an edit; ``serve --watch`` may call it); returns notes.

        The new table replaces the old one at once; requests under way finish on their route."""
        lab = self.endpoint.lab
        data = read_template(template)
        context = _context(lab, data, parameters or {})
        self.table, notes = api_routes.routes(data, _served(lab, data, context), context)
        return notes

    async def handle(self, request: web.Request) -> web.Response:
        began, request_id = time.time(), str(uuid.uuid4())
        reply = await self._answer(request, request_id)
        line = f'"{request.method} {request.raw_path} HTTP/{request.version.major}.{request.version.minor}"'
        self.out(
            f"{request.remote or '-'} - - [{time.strftime('%d/%b/%Y %H:%M:%S', time.localtime(began))}] {line} "
            f"{reply.status} -"
        )
        return web.Response(status=reply.status, body=reply.body or None, headers=reply.headers)

    async def _answer(self, request: web.Request, request_id: str) -> api_events.Answer:
        endpoint, lab = self.endpoint, self.endpoint.lab
        why = endpoint.guard.refusal(request.headers, json_api=False, check_origin=False)
        if why is not None:
            forbidden = api_events.not_found(api_routes.REST, request_id)
            forbidden.body = json.dumps({"message": f"Forbidden: {why}"}).encode()
            forbidden.headers["x-amzn-ErrorType"] = "AccessDeniedException"
            return forbidden
        raw_path = request.raw_path.split("?", 1)[0]
        origin, wanted = request.headers.get("Origin"), request.headers.get("Access-Control-Request-Method")
        if request.method == "OPTIONS" and origin is not None and wanted is not None:
            target = self.table.match(wanted.upper(), raw_path)
            if target is not None:
                reply = api_events.preflight(target[0], origin, self.table.methods(target[0]), request_id)
                if reply is not None:
                    return reply
        found = self.table.match(request.method, raw_path)
        if found is None:
            return api_events.not_found(self.table.kind, request_id)
        route, params = found
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await request.read()
        except (TimeoutError, web.HTTPRequestEntityTooLarge):
            answer = api_events.failure(route.kind, request_id, "the request body was too large or too slow")
            answer.status = 413
            answer.body = json.dumps({"message": "Request Entity Too Large"}).encode()
            return answer
        port = request.transport.get_extra_info("sockname")[1] if request.transport else self.port
        call = api_events.Request(
            request.method,
            raw_path,
            request.rel_url.raw_query_string,
            request.headers,
            body,
            request.remote or "127.0.0.1",
            str(port),
            request_id,
        )
        settings = lab.settings
        event = api_events.event(route, params, call, settings.region, settings.account_id)
        try:
            future = lab.start_invoke(
                route.function, json.dumps(event).encode(), qualifier=route.qualifier, request_id=request_id
            )
            limit = invoke.answer_limit(lab, route.function)  # None: a debug function (a debugger may hold it)
            engine_result = await asyncio.wait_for(asyncio.shield(future), limit)
        except (LambdaLabError, TimeoutError) as exc:
            problem = f"{route.function}: {type(exc).__name__}: {exc}"
            self.out(f"lambdalab: {problem}")
            return api_events.failure(route.kind, request_id, problem)
        result = InvocationResult.from_engine(engine_result)
        for entry in result.log.splitlines():
            self.out(entry)
        if result.error is not None:
            problem = f"{result.error.get('errorType')}: {result.error.get('errorMessage')}"
            self.out(f"lambdalab: {route.function} failed: {problem}")
            return api_events.failure(route.kind, request_id, problem)
        answer = api_events.answer(route, engine_result.body, request_id)
        if answer.problem is not None:
            self.out(f"lambdalab: invalid answer from {route.function}: {answer.problem}")
        api_events.cors_headers(route, origin, answer)
        return answer


def start_api(
    lab: Lab,
    template: str | Path,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    allow_remote: bool = False,
    *,
    parameters: Mapping[str, Any] | None = None,
    out: Callable[[str], None] | None = None,
) -> tuple[ApiServer, list[str]]:
    """Serve the API routes of ``template``'s functions already in ``lab``; returns the server and notes.

    Starts the endpoint first if the Lab has none (it holds the ``Host`` rule and the connection cap)."""
    lab.check_open()
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ConfigError(f"invalid port: {port!r}; expected 0 (any free port) to 65535")
    endpoint = _endpoint(lab)
    if endpoint is None:
        lab.serve(host=host, allow_remote=allow_remote)
        endpoint = _endpoint(lab)
    assert endpoint is not None
    server = ApiServer(endpoint, api_routes.Table([]), out or _stderr)
    notes = server.reload(template, parameters)
    lab.run_on_loop(server.start(host, port), timeout=30)
    lab.attach(server)
    return server, notes


def serve_api(
    lab: Lab,
    template: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    allow_remote: bool = False,
    *,
    parameters: Mapping[str, Any] | None = None,
    out: Callable[[str], None] | None = None,
) -> str:
    """Load ``template`` into ``lab`` and serve its ``Api`` and ``HttpApi`` routes; returns the API's URL.

    ``port=0``: any free port. Notes on what was not loaded or routed go to ``out`` (default: stderr)."""
    from lambdalab.endpoint.template_urls import make as make_template_urls
    from lambdalab.endpoint.templates import load_template

    write = out or _stderr
    _, notes = load_template(lab, template, parameters)
    server, route_notes = start_api(lab, template, port, host, allow_remote, parameters=parameters, out=write)
    route_notes += [f"{spec.logical_id}: function URL {url} for {spec.target}" for spec, url in make_template_urls(lab)]
    for note in notes + route_notes:
        write(f"lambdalab: {note}")
    return server.url


def _endpoint(lab: Lab) -> Endpoint | None:
    """The Lab's endpoint (this module is below ``lambdalab.endpoint``'s package, which may plug it in)."""
    return next((item for item in lab.attached if isinstance(item, Endpoint)), None)


def _context(lab: Lab, template: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters and pseudo parameters, to resolve ``FunctionName``, ``Path`` and stage settings."""
    parameters: Any = template.get("Parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    context = {k: v.get("Default") for k, v in parameters.items() if isinstance(v, dict)}
    context.update({k: v for k, v in overrides.items() if k in context})
    context.update(
        {
            "AWS::Region": lab.settings.region,
            "AWS::AccountId": lab.settings.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "lambdalab",
        }
    )
    return context


def _served(lab: Lab, template: dict[str, Any], context: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Logical id -> (function name, the alias its events use) of each template function the Lab has."""
    resources = template.get("Resources") or {}
    notes: list[str] = []
    defaults = template_globals.function_globals(template, notes)
    have = set(lab.functions())
    served: dict[str, tuple[str, str | None]] = {}
    for logical_id, resource in resources.items() if isinstance(resources, dict) else ():
        if not isinstance(resource, dict) or resource.get("Type") not in _FUNCTION_TYPES:
            continue
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        name = resolve(props.get("FunctionName", logical_id), context)
        if not isinstance(name, str) or name not in have:
            continue
        try:
            merged = template_globals.merge(logical_id, defaults, props, resource.get("IgnoreGlobals"))
        except Exception:  # noqa: BLE001 - the loader skipped it already, with a note
            continue
        alias = resolve(merged.get("AutoPublishAlias"), context)
        served[logical_id] = (name, alias if isinstance(alias, str) else None)
    return served


def print_routes(server: ApiServer, out: Callable[[str], None]) -> None:
    """What ``serve --api`` prints: the API's URL and each route, as ``sam local start-api`` mounts them."""
    out(f"API at {server.url}  (the template's Api and HttpApi routes)")
    if not server.table.routes:
        out("  no Api or HttpApi events in the template")
    for route in server.table.routes:
        where = "(any path: $default)" if route.path == "$default" else route.path
        out(
            f"  {route.method:<7} {server.url}{where if route.path != '$default' else ' ' + where}  -> {route.function}"
            f"{':' + route.qualifier if route.qualifier else ''}  ({route.kind}, payload {route.version}, "
            f"stage {route.api.stage})"
        )
