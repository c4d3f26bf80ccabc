"""Who may talk to the endpoint, and how many at once (docs/ENDPOINT.md, "What the endpoint accepts, from whom").

A ``Guard`` decides per request, from headers alone: the ``Host`` must name a loopback host
(``localhost``, ``*.localhost``, a loopback address; with ``allow_remote`` also the bound address,
or any IP literal when bound to a wildcard), so a DNS-rebound name is refused; an ``Origin``, when
present, must be in the allow-list (empty by default), so a web page cannot drive the API (nor can a page
served by path on the endpoint's own origin, whose same-origin GETs carry no ``Origin``: a browser's
``Sec-Fetch-Site`` other than ``none`` without an allowed ``Origin`` is refused); and a
call that takes JSON must not carry a browser "simple" content type (``text/plain``, form types),
the one kind of cross-site POST a browser sends without asking first. Function URLs skip the
``Origin`` rule: their CORS configuration decides (``cors.py``).

A ``Gate`` counts the open connections of an endpoint and its function URLs together; over the cap
a new connection gets ``503`` and is closed at once, so no caller can exhaust the owner's file
descriptors. Idle connections and slow request heads are bounded by ``IDLE_TIMEOUT_S``: the front
door's timer (``front.py``) and, on a connection handed to aiohttp, aiohttp's keep-alive timer, which
run from a connection's start or last response until a complete request head has arrived.

Rules: no engine here; checks are cheap (a set lookup for a Host already seen).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable

MAX_CONNECTIONS = 256
IDLE_TIMEOUT_S = 15.0  # no complete request head this long after connect or the last response: closed
BODY_TIMEOUT_S = 60.0  # a request body must arrive within this
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
_KNOWN_HOSTS = 64  # Host values remembered as allowed (a set lookup instead of parsing)
_BUSY_BODY = b'{"Type":"Service","Message":"lambdalab: too many open connections to this endpoint"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nx-amzn-ErrorType: ServiceException\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


def normal_origin(origin: str) -> str:
    """``Scheme://host[:port]`` lower-cased without a trailing slash: how browsers send ``Origin``."""
    return origin.strip().rstrip("/").lower()


def split_host(value: str) -> str | None:
    """The host name of a ``Host`` header (lower-case, no port, no brackets), or None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
    else:
        name, sep, port = value.rpartition(":")
        if not sep:
            name, rest = value, ""
        else:
            rest = ":" + port
    if rest and not (rest[0] == ":" and rest[1:].isdigit()):
        return None
    return name[:-1] if name.endswith(".") else name


def loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """The per-request checks of one endpoint (and its function URLs)."""

    def __init__(self, bound_host: str, *, allow_remote: bool = False, allow_origins: Iterable[str] = ()) -> None:
        origins = [normal_origin(o) for o in allow_origins]
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        bound = split_host(bound_host) or bound_host.lower()
        self.remote_names = frozenset({bound}) if allow_remote else frozenset()
        self.any_ip = allow_remote and _is_ip(bound) and ipaddress.ip_address(bound).is_unspecified
        self._known: set[str] = set()

    def host_allowed(self, value: str) -> bool:
        name = split_host(value)
        if name is None:
            return False
        return loopback_name(name) or name in self.remote_names or (self.any_ip and _is_ip(name))

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or normal_origin(origin) in self.origins

    def refusal(self, headers: object, *, json_api: bool, check_origin: bool = True) -> str | None:
        """Why this request is refused, or None. ``headers``: the request's case-insensitive mapping."""
        get: Callable[[str], str | None] = headers.get  # type: ignore[attr-defined]
        host = get("Host")
        if host is not None and host not in self._known:
            if not self.host_allowed(host):
                return (
                    f"Host {host!r} is not a loopback name or address; lambdalab's endpoint answers only requests "
                    "addressed to localhost (a foreign name here means DNS rebinding)"
                )
            if len(self._known) < _KNOWN_HOSTS:
                self._known.add(host)
        if check_origin:
            origin = get("Origin")
            if origin is not None and not self.origin_allowed(origin):
                return (
                    f"Origin {origin!r} is not allowed: lambdalab's endpoint refuses requests from web pages "
                    "unless their origin is listed (serve(allow_origins=[...]), lambdalab serve --allow-origin)"
                )
            # a page's own requests: a same-origin GET carries no Origin, but every current browser says where
            # it comes from (a page served by path, /_aws/lambda-url/..., shares the endpoint's origin)
            site = get("Sec-Fetch-Site")
            if site is not None and site.strip().lower() != "none" and origin is None and not self.any_origin:
                return (
                    f"a request made by a web page (Sec-Fetch-Site: {site}) without an allowed Origin: "
                    "lambdalab's API answers SDKs, the CLI and pages whose origin is listed, not other pages"
                )
        if json_api:
            kind = get("Content-Type")
            if kind is not None and kind.split(";", 1)[0].strip().lower() in SIMPLE_TYPES:
                return (
                    f"Content-Type {kind.split(';', 1)[0]!r} is refused on an API that takes JSON (a browser sends "
                    "it cross-site without asking); send Content-Type: application/json"
                )
        return None


class Gate:
    """The open connections of one endpoint and its function URLs, capped."""

    def __init__(self, cap: int = MAX_CONNECTIONS) -> None:
        self.cap, self.open, self.refused = cap, 0, 0

    def factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server``: ``make()`` while under the cap, else a refusal."""

        def build() -> asyncio.Protocol:
            if self.open >= self.cap:
                self.refused += 1
                return _Busy()
            self.open += 1
            return _Counted(make(), self)

        return build


class _Counted(asyncio.Protocol):
    """``inner`` as is (its hot methods bound straight through), counting the connection out when it ends."""

    def __init__(self, inner: asyncio.Protocol, gate: Gate) -> None:
        self._inner, self._gate = inner, gate
        self.data_received = inner.data_received  # type: ignore[method-assign]
        self.eof_received = inner.eof_received  # type: ignore[method-assign]
        self.pause_writing = inner.pause_writing  # type: ignore[method-assign]
        self.resume_writing = inner.resume_writing  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.open -= 1
        self._inner.connection_lost(exc)


class _Busy(asyncio.Protocol):
    """Over the cap: answer 503 and close."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(_BUSY)  # type: ignore[attr-defined]
        transport.close()
