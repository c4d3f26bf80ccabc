"""The endpoint's front door: a lean HTTP/1.1 protocol (httptools) that owns a listening socket.

A ``Route`` says which requests it answers and how, in transport-neutral steps that the aiohttp app's
handlers take too (``begin`` / ``start`` / ``finish``): the endpoint's is ``invoke.InvokeRoute`` (the
Invoke API, ``POST /2015-03-31/functions/{name}/invocations``, with the same ``Guard``), each function
URL's is ``function_urls.UrlRoute``. The aiohttp app costs about twice the CPU per request of this path.
Every other request, and any request this path does not fully handle (not HTTP/1.1, a chunked or
``Expect`` or ``Upgrade`` request, a target the route leaves to aiohttp, a head over 16 KiB, a body over
the route's ``max_body``, a head httptools refuses) hands its connection to aiohttp unchanged: aiohttp's
request handler gets the transport and the bytes not yet answered, and keeps that connection to the end.

Framing is decided here before the parser sees a byte: a request head ends at the first blank line and
its body is ``Content-Length`` bytes, so the buffer always starts at a request's first byte and a
hand-off (or a pipelined request after a fast one) loses nothing. Each connection has one lazily re-armed
timer for its one deadline: the idle / slow-head limit (``idle_timeout_s`` from the connection's start or
its last response until a complete head), the body limit (``guard.BODY_TIMEOUT_S``: 408, closed), or the
engine limit (the invocation's timeout, init timeout and slack).

Rules: runs on the Lab's loop; never blocks; no engine and no Lambda shapes here (the routes have them).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol

import httptools
from multidict import CIMultiDict

from lambdalab.endpoint import guard, invoke

ENV = "LAMBDALAB_FAST_FRONT"  # "0": every request through aiohttp (the front door off)
MAX_HEAD = 16384  # a longer head goes to aiohttp, which answers it as it does today
_ODD = frozenset({b"transfer-encoding", b"expect", b"upgrade"})  # framing this path leaves to aiohttp
_REASONS = {status.value: status.phrase for status in HTTPStatus}  # as aiohttp words them ("" when unknown)
_NO_BODY = (204, 304)
_PAUSE_AT = 1 << 20  # pipelined bytes buffered while an invocation runs before reading pauses
_date: list[Any] = [0, ""]


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def http_date() -> str:
    now = int(time.time())
    if now != _date[0]:
        _date[0], _date[1] = now, formatdate(now, usegmt=True)
    return _date[1]  # type: ignore[no-any-return]


class Route(Protocol):
    """What a front door answers, and how. ``begin`` may answer at once (a ``Reply``: the body is then discarded)."""

    max_body: int

    def target(self, line: bytes) -> Any | None: ...  # None: the connection goes to aiohttp
    def begin(self, target: Any, headers: CIMultiDict[str], connection: Any) -> Any: ...  # .peer, .port
    def start(self, call: Any, body: bytes) -> invoke.Reply | invoke.Pending: ...
    def finish(self, call: Any, result: Any) -> invoke.Reply: ...
    def failed(self, call: Any, exc: BaseException) -> invoke.Reply: ...  # begin, start or the engine raised
    def late(self, call: Any) -> invoke.Reply: ...  # the engine's limit passed
    def slow_body(self, call: Any) -> invoke.Reply: ...  # the body did not arrive in time (then closed)


class Front:
    """One front door: a protocol factory for a listening socket, and its live fast connections."""

    def __init__(self, route: Route, make_aiohttp: Callable[[], asyncio.Protocol], idle_timeout_s: float) -> None:
        self.route, self.make_aiohttp, self.idle_timeout_s = route, make_aiohttp, idle_timeout_s
        self.connections: set[Connection] = set()
        self.handed_off = 0

    def __call__(self) -> asyncio.Protocol:
        return Connection(self)

    def close(self) -> None:
        for connection in list(self.connections):
            connection.close()


class Connection(asyncio.Protocol):
    """One client connection: the route's requests answered here until one is not, then aiohttp's."""

    def __init__(self, front: Front) -> None:
        self.front, self.route, self.idle_timeout_s = front, front.route, front.idle_timeout_s
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._aio: asyncio.Protocol | None = None  # aiohttp's handler once handed off
        self._buf = bytearray()
        self._need = 0  # body bytes of the current request still to come
        self._body: bytearray | None = None  # collected body (None: discarding after an early answer)
        self._call: Any = None
        self._head_only = False  # a HEAD request: its answer has no body
        self._waiting: asyncio.Future[Any] | None = None  # the engine's future of the current request
        self._waiting_call: Any = None
        self._keep_alive = True
        self._paused = False  # reading paused: pipelined bytes while the engine works
        self._write_paused = False  # reading paused: the client does not read its answers
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
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        self.peer = peer[0] if peer else "127.0.0.1"  # what a route may read of the connection
        self.port = str(local[1]) if local else "80"
        self.front.connections.add(self)
        self._set_deadline(self.loop.time() + self.idle_timeout_s)

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
        elif self.transport is not None:
            self._write_paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._aio is not None:
            self._aio.resume_writing()
        elif self.transport is not None:
            self._write_paused = False
            if not self._paused:
                self.transport.resume_reading()

    # -- httptools callbacks (the head only) -------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length":
            self._length = int(value)  # httptools has checked it is digits
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
                    self._set_deadline(self.loop.time() + self.idle_timeout_s)
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._hand_off()
                return
            self._head(end + 4)

    def _head(self, size: int) -> None:
        buf, route = self._buf, self.route
        line = bytes(buf[: buf.find(b"\r\n")])
        target = route.target(line)
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
        if self._odd or length > route.max_body:
            self._hand_off()
            return
        del buf[:size]
        self._keep_alive, self._head_only, self._need = keep_alive, line.startswith(b"HEAD "), length
        try:
            call = route.begin(target, CIMultiDict(self._headers), self)
        except Exception as exc:  # noqa: BLE001 - answered in the route's format, the body discarded
            call = route.failed(None, exc)
        if isinstance(call, invoke.Reply):
            self._body = None
            self._send(call)
            if self._need:  # the body still to come is read and dropped, in bounded time
                self._set_deadline(self.loop.time() + guard.BODY_TIMEOUT_S)
            return
        self._call, self._body = call, bytearray()
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
        try:
            step = self.route.start(call, payload)
        except Exception as exc:  # noqa: BLE001
            step = self.route.failed(call, exc)
        if isinstance(step, invoke.Reply):
            self._send(step)
            return
        future = step.future
        self._waiting, self._waiting_call = future, call
        if step.limit is None:  # a debug function: the engine ends the invoke itself (invoke.answer_limit)
            self._deadline = None
        else:
            self._set_deadline(self.loop.time() + step.limit)
        future.add_done_callback(lambda done: self._done(done, call))

    def _done(self, future: asyncio.Future[Any], call: Any) -> None:
        if future is not self._waiting:  # the connection closed, or the engine limit answered already
            return
        self._waiting = self._waiting_call = None
        if future.cancelled():
            self._send(self.route.failed(call, asyncio.CancelledError()))
        elif (exc := future.exception()) is not None:
            self._send(self.route.failed(call, exc))
        else:
            self._send(self.route.finish(call, future.result()))
        if self._paused and self.transport is not None:
            self._paused = False
            if not self._write_paused:
                self.transport.resume_reading()
        self._advance()

    # -- answers -----------------------------------------------------------------------------------
    def _send(self, reply: invoke.Reply, *, close: bool = False) -> None:
        """Write one answer: the route's headers, then Content-Length and Date as aiohttp adds them."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        status, body, headers = reply.status, reply.body, reply.headers
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"]
        lines += [f"{key}: {value}\r\n" for key, value in headers.items()]
        if status in _NO_BODY:
            body = b""
        else:
            lines.append(f"Content-Length: {len(body)}\r\n")
        if "Date" not in headers:
            lines.append(f"Date: {http_date()}\r\n")
        close = close or not self._keep_alive
        lines.append("Connection: close\r\n\r\n" if close else "\r\n")
        head = "".join(lines).encode("utf-8", "surrogateescape")
        if self._head_only:
            body = b""
        if len(body) < 65536:
            transport.write(head + body)
        else:
            transport.write(head)
            transport.write(body)
        if close:
            self._buf.clear()  # nothing after this request is read or run
            self._need = 0
            transport.close()
            return
        if not self._need:
            self._set_deadline(self.loop.time() + self.idle_timeout_s)

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
        if self._waiting is not None:  # the engine did not answer within the invocation's limit
            call, self._waiting, self._waiting_call = self._waiting_call, None, None
            self._send(self.route.late(call))
            self._advance()
        elif self._body is not None and self._need:  # the body did not arrive in time
            self._send(self.route.slow_body(self._call), close=True)
        else:  # idle, a head too slow to arrive, or a dropped body
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
