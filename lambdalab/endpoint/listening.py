"""Listening sockets for the endpoint and its function URLs: bound, served through the front door, closed.

``listen`` makes the socket, ``open_server`` serves it (the front door for its route, aiohttp for the rest),
``close_listener`` stops all three. Both ``server.Endpoint`` and ``function_urls.UrlListener`` use them.
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from lambdalab.endpoint import front
from lambdalab.endpoint.guard import Gate


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket with TCP_NODELAY, which accepted connections inherit (aiohttp never sets it, and
    without it a response written in two parts can wait ~40 ms for a delayed ACK)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def open_server(
    runner: web.AppRunner, sock: socket.socket, gate: Gate, route: front.Route, idle_timeout_s: float
) -> tuple[front.Front | None, asyncio.AbstractServer]:
    """Serve on ``sock`` through ``gate`` (the connection cap): ``route``'s requests by the front door, the rest by
    ``runner``'s app (everything by the app when the front door is off); close it before the runner's cleanup."""
    assert runner.server is not None
    door = front.Front(route, runner.server, idle_timeout_s) if front.enabled() else None
    server = await asyncio.get_running_loop().create_server(gate.factory(door or runner.server), sock=sock)
    return door, server


async def close_listener(
    server: asyncio.AbstractServer | None, door: front.Front | None, runner: web.AppRunner | None
) -> None:
    """Stop one listening socket's server, its front door and its aiohttp runner (each may be None)."""
    if server is not None:
        server.close()
    if door is not None:
        door.close()
    if runner is not None:
        await runner.cleanup()


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
