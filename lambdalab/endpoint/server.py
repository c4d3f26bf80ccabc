"""The endpoint: an aiohttp server on the Lab's own loop that speaks Lambda's API.

One ``Endpoint`` per Lab (``lab.serve()``), bound to loopback unless the caller insists. It routes
the Invoke API (``invoke.py``), the management calls (``management.py``, ``aliases.py``, ``deletion.py``,
``policies.py``, ``tags.py``, ``invoke_config.py``, ``layers.py``), the CloudWatch Logs subset
(``logs_api.py``) and owns the function URL listeners (``function_urls.py``, ``url_config.py``), which also
answer by path on this port (``/_aws/lambda-url/{url-id}/...``, ``url_paths.py``). Any SigV4 signature is
accepted: nothing is checked. What it accepts from whom (``Host``, ``Origin``, content types, connection
limits) is ``guard.py``.

Rules: every handler runs on the Lab's loop thread; a handler that needs a blocking ``Lab`` method
(deploying code) runs it on this endpoint's one worker thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.config import TENANCY_FUNCTION_URL
from lambdalab.endpoint import (
    aliases,
    deletion,
    durable_apis,
    event_sources,
    front,
    invoke,
    invoke_config,
    invoke_stream,
    layers,
    management,
    policies,
    recursion,
    scaling,
    source_apis,
    tags,
    url_config,
    url_paths,
    wire,
)
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.function_urls import UrlListener
from lambdalab.endpoint.guard import BODY_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_CONNECTIONS, Gate, Guard
from lambdalab.endpoint.listening import close_listener, http_url, listen, open_server
from lambdalab.endpoint.resources import Extras
from lambdalab.endpoint.shapes import Meta, default_meta
from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab

MAX_BODY = 32 * 1024 * 1024  # above Lambda's 6 MB so that Lambda's own 413 answers, not aiohttp's
Handler = Callable[["Endpoint", web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Loopback only, unless ``allow_remote``: the endpoint accepts any signature, so anyone who can
    reach it can run the functions."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise ConfigError(
            f"invalid host: {host!r} is not a loopback address; the endpoint accepts any signature, so "
            "anyone who can reach it could run your functions. Pass allow_remote=True "
            "(CLI: --allow-remote) if you mean it"
        )
    warnings.warn(
        f"lambdalab endpoint listening on {host}: any host that can reach it can invoke your functions "
        "(signatures are not checked)",
        RuntimeWarning,
        stacklevel=3,
    )


class Endpoint:
    """Lambda's HTTP API for one Lab."""

    def __init__(
        self,
        lab: Lab,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
        allow_origins: tuple[str, ...] = (),
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.lab, self.host, self.port = lab, host, port
        self.guard = Guard(host, allow_remote=allow_remote, allow_origins=allow_origins)
        self.gate = Gate(max_connections)  # shared with the function URLs
        self.idle_timeout_s = idle_timeout_s
        self.metas: dict[str, Meta] = {}
        self.extras: dict[str, Extras] = {}  # tags, policies, event invoke configs (resources.py)
        self.urls: dict[tuple[str, str | None], UrlListener] = {}
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.front: front.Front | None = None
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lambdalab-endpoint")

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    # -- lifecycle (on the loop) -----------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._answer_errors])
        for method, path, handler in ROUTES:
            app.router.add_route(method, path, self._bind(handler))
        for path in (url_paths.PREFIX + "{url_id}", url_paths.PREFIX + "{url_id}/{tail:.*}"):
            app.router.add_route("*", path, self._by_path)  # a URL's own rules (Host only), not the API's
        app.router.add_route("*", "/{tail:.*}", self._bind(_unknown))
        runner = self.app_runner(app)
        await runner.setup()
        try:
            sock = listen(self.host, self.port)
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"invalid port: cannot listen on {self.host}:{self.port} ({exc.strerror})") from None
        self.front, self._server = await open_server(
            runner, sock, self.gate, url_paths.MainRoute(self, invoke.InvokeRoute(self, MAX_BODY)), self.idle_timeout_s
        )
        self._runner = runner
        self.port = sock.getsockname()[1]
        return self.url

    async def stop(self) -> None:
        for listener in list(self.urls.values()):
            await listener.stop()
        self.urls.clear()
        await close_listener(self._server, self.front, self._runner)
        self._server, self.front, self._runner = None, None, None
        self._worker.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop serving (from the caller's thread); never raises."""
        try:
            self.lab.run_on_loop(self.stop(), timeout=10)
        except Exception:  # noqa: BLE001 - closing must not raise (a stopped loop: nothing left to stop)
            pass

    def app_runner(self, app: web.Application) -> web.AppRunner:
        """A runner whose connections close when idle (or slow to send a request head) for ``idle_timeout_s``."""
        return web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=2.0, keepalive_timeout=self.idle_timeout_s
        )

    # -- function URLs ---------------------------------------------------------------------------
    async def ensure_url(
        self, name: str, qualifier: str | None, auth_type: str = "NONE", cors: Cors | None = None
    ) -> UrlListener:
        key = (name, qualifier)
        if key not in self.urls:
            if self.lab.function(name).config.tenancy is not None:  # every URL is made here
                raise ConfigError(TENANCY_FUNCTION_URL)
            listener = UrlListener(self, name, qualifier, auth_type, cors)
            await listener.start(self.host)
            self.urls[key] = listener
        return self.urls[key]

    def url_by_id(self, url_id: str) -> UrlListener | None:
        """The function URL whose id is ``url_id`` (``/_aws/lambda-url/{url-id}/...``), or None."""
        return next((listener for listener in self.urls.values() if listener.url_id == url_id), None)

    async def _by_path(self, request: web.Request) -> web.Response:
        return await url_paths.handle(self, request)

    # -- helpers for handlers --------------------------------------------------------------------
    def function_name(self, request: web.Request, *, allow_qualifier: bool = True) -> tuple[str, str | None]:
        settings = self.lab.settings
        name, qualifier = wire.parse_name(
            request.match_info["name"],
            request.query.get("Qualifier"),
            region=settings.region,
            account_id=settings.account_id,
        )
        if qualifier is not None and not allow_qualifier:
            raise wire.invalid("This operation does not take a qualifier; give the unqualified function name.")
        return name, qualifier

    async def read_body(self, request: web.Request, too_large: Callable[[], Exception]) -> bytes:
        try:
            if request.content.is_eof():  # all of it has arrived (the usual case): no timer needed
                return await request.read()
            async with asyncio.timeout(BODY_TIMEOUT_S):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise wire.from_lab(too_large()) from None
        except TimeoutError:
            raise wire.ApiError(
                408,
                "RequestTimeoutException",
                f"lambdalab: the request body did not arrive within {BODY_TIMEOUT_S:g} s",
                key="Message",
                user=False,
            ) from None

    def meta(self, name: str) -> Meta:
        if name not in self.metas:
            self.metas[name] = default_meta(self.lab)
        return self.metas[name]

    async def blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking ``Lab`` call off the loop (it hands its own work back to the loop)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, lambda: fn(*args, **kwargs))

    def _bind(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        refusal = self.guard.refusal
        json_api = handler not in (invoke.invoke, invoke_stream.invoke_with_response_stream)  # the caller's bytes

        async def bound(request: web.Request) -> web.StreamResponse:
            why = refusal(request.headers, json_api=json_api)
            if why is not None:
                raise wire.forbidden(why)
            return await handler(self, request)

        return bound

    @web.middleware
    async def _answer_errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except wire.ApiError as exc:
            response = _error_response(exc)
        except web.HTTPException as exc:
            response = _error_response(
                wire.not_implemented(
                    f"lambdalab's endpoint does not implement {request.method} {request.path} "
                    f"({exc.status} {exc.reason})"
                )
            )
        except Exception as exc:  # noqa: BLE001 - a bug here must still answer in Lambda's format
            response = _error_response(wire.from_lab(exc))
        if self.front is not None:  # a connection the front door handed over: closed after this answer, so that
            response.force_close()  # the client's next connection (its next Invoke) starts on the front door
        return response


def _error_response(error: wire.ApiError) -> web.Response:
    return web.Response(status=error.status, body=error.body(), headers=error.headers(wire.new_request_id()))


async def _unknown(endpoint: Endpoint, request: web.Request) -> web.Response:
    raise wire.not_implemented(
        f"lambdalab's endpoint does not implement {request.method} {request.path}; "
        "see docs/ENDPOINT.md for the supported calls"
    )


F = "/2015-03-31/functions"
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", F + "/{name}/invocations", invoke.invoke),
    ("GET", F, management.list_functions),
    ("GET", F + "/", management.list_functions),
    ("POST", F, management.create_function),
    ("GET", F + "/{name}", management.get_function),
    ("DELETE", F + "/{name}", deletion.delete_function),
    ("GET", F + "/{name}/configuration", management.get_function_configuration),
    ("PUT", F + "/{name}/configuration", management.update_function_configuration),
    ("PUT", F + "/{name}/code", management.update_function_code),
    ("POST", F + "/{name}/versions", management.publish_version),
    ("GET", F + "/{name}/versions", management.list_versions),
    ("PUT", "/2017-10-31/functions/{name}/concurrency", management.put_function_concurrency),
    ("DELETE", "/2017-10-31/functions/{name}/concurrency", management.delete_function_concurrency),
    ("GET", "/2019-09-30/functions/{name}/concurrency", management.get_function_concurrency),
    ("PUT", "/2019-09-30/functions/{name}/provisioned-concurrency", management.put_provisioned_concurrency),
    ("GET", "/2019-09-30/functions/{name}/provisioned-concurrency", management.get_provisioned_concurrency),
    ("GET", "/2016-08-19/account-settings", management.get_account_settings),
    ("GET", "/2016-08-19/account-settings/", management.get_account_settings),
    ("POST", "/2021-10-31/functions/{name}/url", url_config.create_config),
    ("PUT", "/2021-10-31/functions/{name}/url", url_config.update_config),
    ("GET", "/2021-10-31/functions/{name}/url", management.get_function_url),
    ("DELETE", "/2021-10-31/functions/{name}/url", management.delete_function_url),
    *layers.ROUTES,
    *aliases.ROUTES,
    *policies.ROUTES,
    *tags.ROUTES,
    *invoke_config.ROUTES,
    *event_sources.ROUTES,
    *invoke_stream.ROUTES,  # InvokeWithResponseStream
    *durable_apis.ROUTES,  # the durable execution APIs (/2025-12-01/...)
    *scaling.ROUTES,  # Put/GetFunctionScalingConfig (Managed Instances)
    *recursion.ROUTES,  # Put/GetFunctionRecursionConfig (recursive loop detection)
    *source_apis.ROUTES,  # POST / by X-Amz-Target: Kinesis/SQS/DynamoDB puts, then the CloudWatch Logs subset
]
