"""Debug mode: a function's Python environments run debugpy, reached through a loopback port per environment.

``FunctionConfig.debug`` turns it on (``True``: a free port each; a port number ``N``: the first environment on
``N``, the next ones on the next free ports). The engine owns each environment's public port: a ``Listener``
(an asyncio server on the Lab's loop) opened when the environment's first incarnation spawns, kept for its later
incarnations and closed when it retires or stops being live (so ``N`` is free for the next environment at once).
debugpy listens on an internal loopback port the engine chose, handed to the runtime in ``_LAMBDALAB_DEBUG``
(``variables``); ``runtimes/python_bootstrap.py`` loads debugpy from its own folder by file location (nothing is
added to the handler's ``sys.path``), runs pydevd's adapter inside the runtime process
(``in_process_debug_adapter``: no adapter process, so nothing leaves the environment's process group) and writes
``lambdalab: debugger listening on 127.0.0.1:PORT (environment ID)`` (the public port) in the environment's log.

A connection to the public port reaches debugpy only if its first bytes are the Debug Adapter Protocol's framing
(``Content-Length:``, within ``FIRST_BYTES_S``); anything else, such as the request line a web page's ``fetch``
always sends first, is closed at once, so no page can drive the debugger. One client at a time: a second one
while the first is connected is closed. A client is *attached* from the ``attach`` request it sends until its
``disconnect`` or the end of its connection; while one is, the control plane lets no deadline fire and keep-alive
reaping passes the environment by; debug environments are never frozen (a stopped debugpy could not answer an
attach). Only debug environments pay for any of it: a function without ``debug`` never reaches this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab.engine import code
from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.engine.control_plane import ControlPlane

HOST = "127.0.0.1"  # loopback only: never another address
POLL_S = 0.25  # how often a held deadline or keep-alive looks again whether the client is still attached
VARIABLE = "_LAMBDALAB_DEBUG"  # read (and removed) by runtimes/python_bootstrap.py
FLAGS = ("-X", "frozen_modules=off")  # as debugpy asks: breakpoints in frozen standard modules are not missed
FRAMING = b"Content-Length:"  # the first bytes of every DAP message
FIRST_BYTES_S = 2.0  # a client that has not sent them by then is closed
_CHUNK = 65536


@functools.cache
def debugpy_folder() -> str:
    """debugpy's package folder, found without importing it here (``ConfigError`` when it is not installed)."""
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("debug mode needs debugpy: pip install 'debugpy>=1.8'")
    return str(list(spec.submodule_search_locations)[0])


def variables(listener: Listener, environment_id: str, task_root: Path) -> dict[str, str]:
    """The runtime's ``_LAMBDALAB_DEBUG`` (JSON): where debugpy listens (the internal port), the public port it
    names in its log line, the environment, debugpy's folder, and the path mapping from the folder the code was
    deployed from to its task root, so a client's breakpoints in the user's own files match the files the
    runtime runs (a client's ``pathMappings`` replace it)."""
    source = code.origin(task_root)
    setting = {
        "address": f"{HOST}:{listener.internal}",
        "public": f"{HOST}:{listener.port}",
        "environment": environment_id,
        "debugpy": debugpy_folder(),
        "paths": [[source, str(task_root)]] if source is not None and source != str(task_root) else [],
    }
    return {VARIABLE: json.dumps(setting)}


def _bind(port: int) -> socket.socket:
    """A listening loopback socket on ``port`` (0: a free one); ``OSError`` when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT of a closed session does not count
        sock.bind((HOST, port))
        sock.listen(8)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class _Requests:
    """The commands of the DAP requests a client sends, read from its bytes as they pass (``ValueError``: not DAP)."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> list[str]:
        self.buffer += data
        commands: list[str] = []
        while True:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                if len(self.buffer) > 1024:
                    raise ValueError("no DAP header")
                return commands
            length = None
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None or length < 0:
                raise ValueError("no Content-Length")
            if len(rest) < length:
                return commands
            body, self.buffer = rest[:length], rest[length:]
            message = json.loads(body)
            if isinstance(message, dict) and message.get("type") == "request":
                commands.append(str(message.get("command")))


class Listener:
    """One debug environment's public port: DAP clients proxied to its runtime's debugpy, one at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.internal = _free_port()  # where the runtime's debugpy listens
        self.attached = False  # a client has sent ``attach`` and has neither disconnected nor gone
        self.session: asyncio.Task[None] | None = None
        self.closed = False
        self._accepted: set[asyncio.StreamWriter] = set()
        self._server = loop.create_task(asyncio.start_server(self._accept, sock=sock))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._accepted.add(writer)
        try:
            try:
                first = await asyncio.wait_for(reader.readexactly(len(FRAMING)), FIRST_BYTES_S)
            except (TimeoutError, asyncio.IncompleteReadError, OSError):
                return
            if first != FRAMING or self.session is not None or self.closed:
                return  # not DAP (a web page's request line), or a client is already connected
            self.session = asyncio.current_task()
            try:
                await self._proxy(first, reader, writer)
            finally:
                self.session = None
                self.attached = False
        finally:
            self._accepted.discard(writer)
            writer.close()

    async def _proxy(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.internal), 2.0)
        except (TimeoutError, OSError):
            return  # debugpy does not listen (between incarnations): the client may try again
        requests = _Requests()

        async def client_to_debugpy() -> None:
            data = first
            while data:
                for command in requests.feed(data):
                    if command == "attach":
                        self.attached = True
                    elif command in ("disconnect", "terminate"):
                        self.attached = False
                up_writer.write(data)
                await up_writer.drain()
                data = await reader.read(_CHUNK)

        async def debugpy_to_client() -> None:
            while data := await up_reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()

        pumps = [asyncio.ensure_future(client_to_debugpy()), asyncio.ensure_future(debugpy_to_client())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for pump in pumps:
                with contextlib.suppress(BaseException):
                    await pump
            up_writer.close()

    def close(self) -> None:
        """Free the port now (synchronously) and end any client's connection."""
        if self.closed:
            return
        self.closed = True
        self.attached = False

        def _close(done: asyncio.Task[asyncio.Server]) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().close()

        if self._server.done():
            _close(self._server)
        else:
            self._server.add_done_callback(_close)
        with contextlib.suppress(OSError):
            self.sock.close()
        for writer in list(self._accepted):
            writer.close()
        if self.session is not None:
            self.session.cancel()


class Debugger:
    """The public debug ports of one Lab's environments: one per environment, kept across its incarnations."""

    def __init__(self, loop: asyncio.AbstractEventLoop, live: Callable[[str], bool]) -> None:
        """``live(environment_id)``: whether that environment still runs or may run again (not shutting down)."""
        self.loop = loop
        self.live = live
        self.listeners: dict[str, Listener] = {}  # environment id -> its listener

    def open(self, environment_id: str, wanted: bool | int) -> Listener:
        """The environment's listener: the one it has, else one on a free port (``True``) or on the first port
        from ``wanted`` that no live environment holds (one held by an environment shutting down is taken over)."""
        listener = self.listeners.get(environment_id)
        if listener is not None:
            return listener
        if wanted is True:
            sock = _bind(0)
        else:
            holders = {held.port: owner for owner, held in self.listeners.items()}
            for port in range(int(wanted), 65_536):
                owner = holders.get(port)
                if owner is not None:
                    if self.live(owner):
                        continue
                    self.close(owner)
                try:
                    sock = _bind(port)
                    break
                except OSError:
                    continue
            else:
                raise OSError(f"no free loopback port from {wanted}")
        listener = self.listeners[environment_id] = Listener(self.loop, sock)
        return listener

    def close(self, environment_id: str) -> None:
        listener = self.listeners.pop(environment_id, None)
        if listener is not None:
            listener.close()

    def close_all(self) -> None:
        for environment_id in list(self.listeners):
            self.close(environment_id)


# -- read by the API (Function.debug_ports) -------------------------------------------------------------
def ports(plane: ControlPlane, function: str, attached_only: bool | None = None) -> dict[str, int]:
    """``{environment id: port}`` of ``function``'s debug environments whose runtime runs now; ``attached_only``
    True: only those with a client attached, False: only those waiting for one."""
    found = {}
    for environment in list(plane.environments.values()):
        listener = environment.debugger
        if listener is None or listener.closed or environment.retired or not environment.sandboxes:
            continue
        if environment.pool.spec.function != function:
            continue
        if attached_only is None or listener.attached is attached_only:
            found[environment.id] = listener.port
    return found
