"""The Runtime API's HTTP/1.1 server: one listening socket per runtime process, on 127.0.0.1.

A lean asyncio ``Protocol`` with the httptools parser (benchmarks/bench_http.py compares it with
the floor). Each process gets its own port, so a process can only reach its own environment's
requests, and a killed process's late calls land on a closed socket. The server only parses and
frames; every decision is the ``Endpoint``'s (the control plane), which answers with a status and
a body, or parks a ``GET /next`` until it has an invocation to deliver.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

import httptools

from lambdalab.core import runtime_api as api

_REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Request Entity Too Large",
    500: b"Internal Server Error",
}
NOT_FOUND = b'{"errorType":"NotFound","errorMessage":"no such Runtime API route"}'
_NOT_FOUND = NOT_FOUND
_EXTENSION_HEADER = b"lambda-extension-"
RESTORE_NEXT_PATH = api.PREFIX + "/runtime/restore/next"  # SnapStart (engine/snap_plane.py)
RESTORE_ERROR_PATH = api.PREFIX + "/runtime/restore/error"
CREDENTIALS_PATH = "/2021-04-23/credentials"  # SnapStart's container credentials (engine/runtimes.py)
# the Extensions, Telemetry and Logs APIs share the runtime's address (engine/extensions.py, engine/telemetry.py)
_AGENT_PREFIXES = ("/2020-01-01/", "/2022-07-01/", "/2020-08-15/")
_ERROR_TYPE_HEADER = api.H_ERROR_TYPE.lower().encode("latin-1")  # httptools hands names as sent: compared lowered


class Endpoint(Protocol):
    """What the server calls; implemented by the control plane for one runtime process."""

    def on_next(self, connection: Connection) -> None: ...
    def on_response(self, request_id: str, body: bytes, too_large: bool) -> tuple[int, bytes]: ...
    def on_error(self, request_id: str, body: bytes, error_type: str | None) -> tuple[int, bytes]: ...
    def on_init_error(self, body: bytes, error_type: str | None) -> tuple[int, bytes]: ...
    def on_disconnect(self, connection: Connection) -> None: ...
    def on_connect(self, client: tuple[str, int], server: tuple[str, int]) -> object: ...
    def on_restore_next(self, connection: Connection) -> None: ...
    def on_restore_error(self, body: bytes, error_type: str | None) -> tuple[int, bytes]: ...
    def on_credentials(self, authorization: str | None) -> tuple[int, bytes]: ...
    def on_agent(
        self, connection: Connection, method: bytes, url: str, headers: dict[bytes, str], body: bytes
    ) -> None: ...


def listen() -> socket.socket:
    """A listening socket on a free loopback port (bind port 0)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    return sock


async def serve(sock: socket.socket, endpoint: Endpoint) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Connection(endpoint), sock=sock)


class Connection(asyncio.Protocol):
    """One keep-alive connection from a runtime process."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._error_type: str | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._agent_headers: dict[bytes, str] | None = None  # Lambda-Extension-* (lowered), when sent
        self._authorization: str | None = None  # the credentials route's token
        # a 202 for a result whose runtime sent GET /next right behind it (pipelining): written with what answers
        # that /next, so the runtime is not woken between invokes just to read it (see ``data_received``)
        self._held = b""
        self._next_waiting = False  # a GET /next of this connection is parked, unanswered
        self._feeding = False

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client, server = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        accepted = self._endpoint.on_connect(client, server)
        if accepted is False or accepted is None:
            transport.abort()
        elif accepted is not True:  # another environment's endpoint (a restored runtime on its template's listener)
            self._endpoint = accepted  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._feeding = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.send(400, b'{"errorType":"BadRequest","errorMessage":"malformed HTTP request"}', close=True)
        finally:
            self._feeding = False
        if self._held and not self._next_waiting:  # no /next came with it: the runtime waits for this answer
            self._write(b"")

    def _write(self, data: bytes) -> None:
        """Write ``data`` behind any held answer (every write goes through here, so answers keep their order)."""
        if self._held:
            data, self._held = self._held + data, b""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.transport = None
            self._endpoint.on_disconnect(self)

    # -- httptools callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._error_type = None
        self._agent_headers = None
        self._authorization = None
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == _ERROR_TYPE_HEADER:
            self._error_type = value.decode("latin-1")
        elif name == b"expect" and value.lower() == b"100-continue" and self.transport is not None:
            # as Lambda's Runtime API (Go's net/http) answers: curl waits a second for this on bodies over 1 MB
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
        elif name == b"authorization":
            self._authorization = value.decode("latin-1")
        elif name.startswith(_EXTENSION_HEADER):
            if self._agent_headers is None:
                self._agent_headers = {}
            self._agent_headers[name] = value.decode("latin-1").strip()

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size <= api.MAX_RESPONSE_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method()
        url = self._url.decode("latin-1")
        body = b"".join(self._body)
        too_large = self._body_size > api.MAX_RESPONSE_BYTES
        endpoint = self._endpoint
        if url == api.NEXT_PATH and method == b"GET":
            self._next_waiting = True
            endpoint.on_next(self)
            return
        if url == RESTORE_NEXT_PATH and method == b"GET":
            endpoint.on_restore_next(self)
            return
        if url.startswith(_AGENT_PREFIXES):
            endpoint.on_agent(self, method, url, self._agent_headers or {}, body)
            return
        if url == CREDENTIALS_PATH and method == b"GET":
            self.send(*endpoint.on_credentials(self._authorization))
            return
        if method != b"POST":
            self.send(405 if url.startswith(api.PREFIX) else 404, _NOT_FOUND)
            return
        if url.startswith(api.INVOCATION_PREFIX):
            request_id, _, action = url[len(api.INVOCATION_PREFIX) :].partition("/")
            if action == "response":
                status, answer = endpoint.on_response(request_id, body, too_large)
            elif action == "error":
                status, answer = endpoint.on_error(request_id, body, self._error_type)
            else:
                status, answer = 404, _NOT_FOUND
            if status == 202 and self._feeding and self._parser.should_keep_alive():
                self._held += self._head(status, answer, b"") + answer  # see data_received
                return
        elif url == api.INIT_ERROR_PATH:
            status, answer = endpoint.on_init_error(body, self._error_type)
        elif url == RESTORE_ERROR_PATH:
            status, answer = endpoint.on_restore_error(body, self._error_type)
        else:
            status, answer = 404, _NOT_FOUND
        self.send(status, answer)

    # -- writing ------------------------------------------------------------------------------
    def send(self, status: int, body: bytes, headers: bytes = b"", *, close: bool = False) -> None:
        """Write one response; ``headers`` are preformatted ``Name: value\\r\\n`` lines."""
        self._next_waiting = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        head = self._head(status, body, headers)
        self._write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            transport.write(body)
        if close:
            transport.close()

    @staticmethod
    def _head(status: int, body: bytes, headers: bytes) -> bytes:
        return b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n" % (
            status,
            _REASONS.get(status, b"Unknown"),
            headers,
            len(body),
        )

    def send_invocation(self, headers: bytes, body: bytes) -> bool:
        """Answer a parked ``GET /next``; False if the connection is gone."""
        self._next_waiting = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        self._write(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (headers, len(body), body))
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
