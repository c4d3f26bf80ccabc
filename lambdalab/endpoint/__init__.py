"""A local Lambda endpoint: the Invoke API, management calls and function URLs over HTTP.

    url = lab.serve()                       # http://127.0.0.1:PORT, on the Lab's own loop
    boto3.client("lambda", endpoint_url=url, region_name="us-east-1").invoke(FunctionName="hello")
    fn.url()                                # http://127.0.0.1:PORT2/ : the function's URL

Modules: ``server`` (the aiohttp app, loopback binding), ``invoke`` (the Invoke API),
``management`` (GetFunction, CreateFunction...), ``function_urls``, ``shapes`` (response JSON),
``wire`` (errors, names), ``guard`` (Host, Origin, content types, connection limits), ``cors``
(function URL CORS), ``templates`` (SAM templates and folders), ``command`` (the CLI's
``serve`` and ``event``). docs/ENDPOINT.md lists what is supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

__all__ = ["endpoint_of", "function_url", "serve", "serve_api"]

_ORIGIN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#]+/?\Z|null\Z")


def endpoint_of(lab: Lab) -> Endpoint | None:
    from lambdalab.endpoint.server import Endpoint

    return next((item for item in lab.attached if isinstance(item, Endpoint)), None)


def serve(
    lab: Lab,
    port: int = 0,
    host: str = "127.0.0.1",
    allow_remote: bool = False,
    *,
    allow_origins: Iterable[str] = (),
    max_connections: int | None = None,
    idle_timeout_s: float | None = None,
) -> str:
    """Serve ``lab``'s functions on ``host:port`` (0: a free port); returns the endpoint URL.

    ``allow_origins``: web origins (``"http://localhost:8888"``; ``"*"`` for any) whose pages may call
    the API; none by default. ``max_connections`` (default 256, function URLs included) and
    ``idle_timeout_s`` (default 15 s: an idle connection, or one slow to send a request head, is
    closed) bound what one caller can hold open. docs/ENDPOINT.md says what is accepted from whom.
    """
    from lambdalab.endpoint.guard import IDLE_TIMEOUT_S, MAX_CONNECTIONS
    from lambdalab.endpoint.server import Endpoint, check_host

    lab.check_open()
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ConfigError(f"invalid port: {port!r}; expected 0 (any free port) to 65535")
    origins = _origins(allow_origins)
    max_connections = MAX_CONNECTIONS if max_connections is None else max_connections
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or not 1 <= max_connections <= 65536:
        raise ConfigError(f"invalid max_connections: {max_connections!r}; expected an integer from 1 to 65536")
    idle_timeout_s = IDLE_TIMEOUT_S if idle_timeout_s is None else idle_timeout_s
    if (
        isinstance(idle_timeout_s, bool)
        or not isinstance(idle_timeout_s, (int, float))
        or not 0 < idle_timeout_s <= 86400
    ):
        raise ConfigError(
            f"invalid idle_timeout_s: {idle_timeout_s!r}; expected seconds, more than 0 and at most 86400"
        )
    check_host(host, allow_remote)
    existing = endpoint_of(lab)
    if existing is not None:
        if host == existing.host and port in (0, existing.port):
            return existing.url
        raise ConfigError(f"invalid port: this Lab already serves at {existing.url}; use that, or close the Lab first")
    endpoint = Endpoint(
        lab,
        host,
        port,
        allow_remote=allow_remote,
        allow_origins=origins,
        max_connections=max_connections,
        idle_timeout_s=float(idle_timeout_s),
    )
    lab.run_on_loop(endpoint.start(), timeout=30)
    lab.attach(endpoint)
    return endpoint.url


def _origins(allow_origins: Iterable[str]) -> tuple[str, ...]:
    if isinstance(allow_origins, str):
        allow_origins = (allow_origins,)
    origins = tuple(allow_origins)
    for origin in origins:
        if not isinstance(origin, str) or not (origin == "*" or _ORIGIN.match(origin)):
            raise ConfigError(
                f"invalid allow_origins entry: {origin!r}; expected an origin such as "
                "'http://localhost:8888' (scheme://host[:port]) or '*'"
            )
    return origins


def function_url(lab: Lab, name: str, qualifier: str | None = None, cors: Mapping[str, Any] | None = None) -> str:
    """The URL of function ``name`` (at ``qualifier``), created on first use; starts the endpoint if needed.

    ``cors``: the URL's CORS configuration as Lambda's ``Cors`` (``{"AllowOrigins": [...],
    "AllowMethods": [...], "AllowHeaders", "ExposeHeaders", "MaxAge", "AllowCredentials"}``, or the
    same keys in snake_case); given for an existing URL, it replaces that URL's. None: no CORS.
    """
    from lambdalab.endpoint import wire
    from lambdalab.endpoint.cors import Cors

    try:
        config = Cors.parse(cors)
    except wire.ApiError as exc:
        raise ConfigError(f"invalid cors: {exc.message}") from None
    lab.function(name)
    if qualifier is not None:
        lab.resolve(name, qualifier)
    if endpoint_of(lab) is None:
        serve(lab)
    endpoint = endpoint_of(lab)
    assert endpoint is not None

    async def ensure() -> str:
        listener = await endpoint.ensure_url(name, qualifier, cors=config)
        if cors is not None:
            listener.cors = config
        return listener.url

    return lab.run_on_loop(ensure(), timeout=30)


def serve_api(lab: Lab, template: Any, port: int = 0, **options: Any) -> str:
    """Load a SAM template into ``lab`` and serve its Api/HttpApi routes (``api_server.serve_api``); the URL."""
    from lambdalab.endpoint.api_server import serve_api as start

    return start(lab, template, port, **options)
