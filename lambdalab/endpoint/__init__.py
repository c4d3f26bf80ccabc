"""A local Lambda endpoint: the Invoke API, management calls and function URLs over HTTP.

    url = lab.serve()                       # http://127.0.0.1:PORT, on the Lab's own loop
    boto3.client("lambda", endpoint_url=url, region_name="us-east-1").invoke(FunctionName="hello")
    fn.url()                                # http://127.0.0.1:PORT2/ : the function's URL

Modules: ``server`` (the aiohttp app, loopback binding), ``invoke`` (the Invoke API),
``management`` (GetFunction, CreateFunction...), ``function_urls``, ``shapes`` (response JSON),
``wire`` (errors, names), ``templates`` (SAM templates and folders), ``command`` (the CLI's
``serve`` and ``event``). docs/ENDPOINT.md lists what is supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

__all__ = ["endpoint_of", "function_url", "serve"]


def endpoint_of(lab: Lab) -> Endpoint | None:
    from lambdalab.endpoint.server import Endpoint

    return next((item for item in lab._attached if isinstance(item, Endpoint)), None)


def serve(lab: Lab, port: int = 0, host: str = "127.0.0.1", allow_remote: bool = False) -> str:
    """Serve ``lab``'s functions on ``host:port`` (0: a free port); returns the endpoint URL."""
    from lambdalab.endpoint.server import Endpoint, check_host

    lab._check_open()
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ConfigError(f"invalid port: {port!r}; expected 0 (any free port) to 65535")
    check_host(host, allow_remote)
    existing = endpoint_of(lab)
    if existing is not None:
        if host == existing.host and port in (0, existing.port):
            return existing.url
        raise ConfigError(f"invalid port: this Lab already serves at {existing.url}; use that, or close the Lab first")
    endpoint = Endpoint(lab, host, port)
    lab._thread.run(endpoint.start(), timeout=30)
    lab._attached.append(endpoint)
    return endpoint.url


def function_url(lab: Lab, name: str, qualifier: str | None = None) -> str:
    """The URL of function ``name`` (at ``qualifier``), created on first use; starts the endpoint if needed."""
    lab.function(name)
    if qualifier is not None:
        lab._call(lambda plane: plane._resolve(name, qualifier))
    if endpoint_of(lab) is None:
        serve(lab)
    endpoint = endpoint_of(lab)
    assert endpoint is not None
    return lab._thread.run(endpoint.ensure_url(name, qualifier), timeout=30).url
