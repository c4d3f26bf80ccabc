"""The endpoint's front door: a lean HTTP/1.1 protocol (httptools) that owns the endpoint's listening socket.

It answers the Invoke API (``POST /2015-03-31/functions/{name}/invocations``) itself, through the same
transport-neutral steps as the aiohttp route (``invoke.begin`` / ``start`` / ``finish``) and the same
``Guard``; the aiohttp app is 2-3 times the CPU per request of this path. Every other request, and any
request this path does not fully handle (not HTTP/1.1, a chunked or ``Expect`` or ``Upgrade`` request, a
name or query that needs more decoding than plain percent-escapes, a head over 16 KiB, a body over the
app's ``client_max_size``, a head httptools refuses) hands its connection to aiohttp unchanged: aiohttp's
request handler gets the transport and the bytes not yet answered, and keeps that connection to the end.

Framing is decided here before the parser sees a byte: a request head ends at the first blank line and
its body is ``Content-Length`` bytes, so the buffer always starts at a request's first byte and a
hand-off (or a pipelined request after a fast one) loses nothing. Each connection has one lazily re-armed
timer for its one deadline: the idle / slow-head limit (``idle_timeout_s`` from the connection's start or
its last response until a complete head), the body limit (``guard.BODY_TIMEOUT_S``: 408, closed), or the
engine limit (the invocation's timeout, init timeout and slack: ``invoke.no_answer``).

Rules: runs on the Lab's loop; never blocks; no engine names here (``invoke.py`` speaks to the engine).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

import httptools
from multidict import CIMultiDict

from lambdalab.endpoint import guard, invoke, wire
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

MAX_HEAD = 16384                 # a longer head goes to aiohttp, which answers it as it does today
_PREFIX = b"POST /2015-03-31/functions/"
_SUFFIX = b"/invocations"
_VERSION = b" HTTP/1.1"
_ODD = frozenset({b"transfer-encoding", b"expect", b"upgrade"})   # framing this path leaves to aiohttp
_REASONS = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable"}
_PAUSE_AT = 1 << 20              # pipelined bytes buffered while an invocation runs before reading pauses
_date: list[Any] = [0, ""]


def http_date() -> str:
    now = int(time.time())
    if now != _date[0]:
        _date[0], _date[1] = now, formatdate(now, usegmt=True)
    return _date[1]  # type: ignore[no-any-return]


def fast_target(line: bytes) -> tuple[str, str | None] | None:
    """(percent-decoded name segment, Qualifier) of an Invoke request line this path handles, or None."""
    if not (line.startswith(_PREFIX) and line.endswith(_VERSION)):
        return None
    path, _, query = line[len(_PREFIX):-len(_VERSION)].partition(b"?")
    if not path.endswith(_SUFFIX) or b"#" in query:
        return None
    try:
        name, text = path[:-len(_SUFFIX)].decode("ascii"), query.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not name or "/" in name or " " in name:
        return None
    if "%" in name:
        name = unquote(name)
        if "%" in name or "/" in name or not name.isascii():
            return None                                    # double escapes, slashes, UTF-8: aiohttp decides
    qualifier = None
    if text:
        if ";" in text:
            return None
        for part in text.split("&"):
            key, _, value = part.partition("=")
            if "%" in key or "+" in key:
                return None
            if key == "Qualifier" and qualifier is None:
                qualifier = unquote_plus(value) if ("%" in value or "+" in value) else value
                if not qualifier.isascii():
                    return None
    return name, qualifier


class Front:
    """The front door of one endpoint: a protocol factory for its socket, and its live fast connections."""

    def __init__(self, endpoint: Endpoint, make_aiohttp: Callable[[], asyncio.Protocol], max_body: int) -> None:
        self.endpoint, self.make_aiohttp, self.max_body = endpoint, make_aiohttp, max_body
        self.connections: set[Connection] = set()
        self.handed_off = 0

    def __call__(self) -> asyncio.Protocol:
        return Connection(self)

    def close(self) -> None:
        for connection in list(self.connections):
            connection.close()


class Connection(asyncio.Protocol):
    """One client connection: Invoke requests answered here until one is not, then aiohttp's."""

    def __init__(self, front: Front) -> None:
        self.front, self.endpoint = front, front.endpoint
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._aio: asyncio.Protocol | None = None           # aiohttp's handler once handed off
        self._buf = bytearray()
        self._need = 0                                      # body bytes of the current request still to come
        self._body: bytearray | None = None                 # collected body (None: discarding after an early answer)
        self._call: invoke.Call | None = None
        self._waiting: asyncio.Future[Any] | None = None    # the engine's future of the current request
        self._keep_alive = True
        self._paused = False
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._headers: list[tuple[str, str]] = []
        self._length = 0
        self._odd = False

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.connections.add(self)
        self._set_deadline(self.loop.time() + self.endpoint.idle_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._aio is not None:
            self._aio.data_received(data)
            return
        self._buf += data
        if self._waiting is None:
            self._advance()
        elif len(self._buf) > _PAUSE_AT and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self._aio is not None:
            return self._aio.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._aio is not None:
            self._aio.connection_lost(exc)
            return
        self.front.connections.discard(self)
        self.transport, self._waiting = None, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause_writing(self) -> None:
        if self._aio is not None:
            self._aio.pause_writing()

    def resume_writing(self) -> None:
        if self._aio is not None:
            self._aio.resume_writing()

    # -- httptools callbacks (the head only) -------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length":
            self._length = int(value)                      # httptools has checked it is digits
        elif lower in _ODD or (lower == b"connection" and b"upgrade" in value.lower()):
            self._odd = True
        self._headers.append((name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))

    # -- requests ----------------------------------------------------------------------------------
    def _advance(self) -> None:
        """Handle what the buffer holds, one request at a time, until it needs more bytes or waits."""
        buf = self._buf
        while buf and self._waiting is None and self._aio is None and self.transport is not None:
            if self._need:
                take = min(self._need, len(buf))
                if self._body is not None:
                    self._body += buf[:take]
                del buf[:take]
                self._need -= take
                if self._need:
                    return
                if self._body is not None:
                    self._run()
                else:
                    self._set_deadline(self.loop.time() + self.endpoint.idle_timeout_s)
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._hand_off()
                return
            self._head(end + 4)

    def _head(self, size: int) -> None:
        buf = self._buf
        target = fast_target(bytes(buf[:buf.find(b"\r\n")]))
        if target is None or size > MAX_HEAD:
            self._hand_off()
            return
        self._headers, self._length, self._odd = [], 0, False
        parser = httptools.HttpRequestParser(self)
        try:
            parser.feed_data(bytes(buf[:size]))
            keep_alive = parser.should_keep_alive()
        except (httptools.HttpParserError, ValueError):
            self._hand_off()
            return
        length = self._length
        if self._odd or length > self.front.max_body:
            self._hand_off()
            return
        del buf[:size]
        self._keep_alive = keep_alive
        self._need = length
        headers = CIMultiDict(self._headers)
        endpoint = self.endpoint
        why = endpoint.guard.refusal(headers, json_api=False)
        try:
            if why is not None:
                raise wire.forbidden(why)
            self._call = invoke.begin(endpoint, target[0], target[1], headers)
        except Exception as exc:  # noqa: BLE001 - answered in Lambda's format, the body discarded
            self._body = None
            self._error(exc)
            return
        self._body = bytearray()
        if length == 0:
            self._run()
        elif len(buf) < length:
            self._set_deadline(self.loop.time() + guard.BODY_TIMEOUT_S)
        else:
            self._deadline = None

    def _run(self) -> None:
        """The body is complete: start the call."""
        call, payload = self._call, bytes(self._body or b"")
        self._call, self._body = None, None
        assert call is not None
        try:
            step = invoke.start(self.endpoint, call, payload)
        except Exception as exc:  # noqa: BLE001
            self._error(exc)
            return
        if isinstance(step, invoke.Reply):
            self._send(step)
            return
        future = step.future
        self._waiting = future
        self._set_deadline(self.loop.time() + step.limit)
        future.add_done_callback(lambda done: self._done(done, call))

    def _done(self, future: asyncio.Future[Any], call: invoke.Call) -> None:
        if future is not self._waiting:        # the connection closed, or the engine limit answered already
            return
        self._waiting = None
        if future.cancelled():
            self._error(wire.ApiError(500, "ServiceException", "lambdalab: the invocation was cancelled", user=False))
        elif (exc := future.exception()) is not None:
            self._error(exc)
        else:
            self._send(invoke.finish(call, future.result()))
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        self._advance()

    # -- answers -----------------------------------------------------------------------------------
    def _error(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, wire.ApiError) else wire.from_lab(exc if isinstance(exc, Exception) else
                                                                         LambdaLabError(repr(exc)))
        self._send(_reply(error))

    def _send(self, reply: invoke.Reply, *, close: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        status, body = reply.status, reply.body
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
        lines += [f"{key}: {value}\r\n" for key, value in reply.headers.items()]
        if status != 204:
            lines.append(f"Content-Length: {len(body)}\r\n")
        close = close or not self._keep_alive
        lines.append(f"Date: {http_date()}\r\nConnection: close\r\n\r\n" if close else f"Date: {http_date()}\r\n\r\n")
        head = "".join(lines).encode("utf-8", "surrogateescape")
        if len(body) < 65536:
            transport.write(head + body)
        else:
            transport.write(head)
            transport.write(body)
        if close:
            transport.close()
            return
        if not self._need:
            self._set_deadline(self.loop.time() + self.endpoint.idle_timeout_s)

    # -- the one deadline --------------------------------------------------------------------------
    def _set_deadline(self, when: float) -> None:
        self._deadline = when
        if self._timer is None or self._timer_at > when:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._timer_at = self.loop.call_at(when, self._tick), when

    def _tick(self) -> None:
        self._timer = None
        deadline = self._deadline
        if self.transport is None or self._aio is not None or deadline is None:
            return
        if self.loop.time() < deadline:
            self._timer, self._timer_at = self.loop.call_at(deadline, self._tick), deadline
            return
        self._deadline = None
        if self._waiting is not None:               # the engine did not answer within the invocation's limit
            self._waiting = None
            self._error(invoke.no_answer())
            self._advance()
        elif self._body is not None and self._need:  # the body did not arrive in time
            self._send(_reply(wire.ApiError(408, "RequestTimeoutException", "lambdalab: the request body did not "
                                            f"arrive within {guard.BODY_TIMEOUT_S:g} s", key="Message",
                                            user=False)), close=True)
        else:                                        # idle, or a head too slow to arrive
            self.transport.close()

    # -- to aiohttp --------------------------------------------------------------------------------
    def _hand_off(self) -> None:
        """From here on this connection is aiohttp's: its handler gets the transport and the unanswered bytes."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline = None
        self.front.connections.discard(self)
        self.front.handed_off += 1
        aio = self.front.make_aiohttp()
        self._aio = aio
        assert self.transport is not None
        aio.connection_made(self.transport)
        data = bytes(self._buf)
        self._buf.clear()
        if data:
            aio.data_received(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _reply(error: wire.ApiError) -> invoke.Reply:
    return invoke.Reply(error.status, error.body(), error.headers(wire.new_request_id()))
