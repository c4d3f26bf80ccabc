"""Invokes per second through the local Lambda endpoint (``lab.serve()``), with boto3 and with raw HTTP.

Figures: a no-op function (runtime "python", default freeze) behind ``lab.serve()``; clients run
in child processes so they do not share the Lab's GIL. (1) boto3, one client, sequential
``invoke`` calls for ``--seconds``; (2) a raw-socket asyncio HTTP/1.1 client with keep-alive
sending the minimal Invoke request (``POST /2015-03-31/functions/noop/invocations``, body ``{}``),
closed loop with 1 and with 8 connections (8 warm environments). Floor: the same raw client against
a lean asyncio HTTP server in this process that answers every request with a fixed ``200 {}``
(the raw loopback HTTP round trip, no framework, no function), measured in the same run. Ratio =
figure / floor rate (higher is better). Context: an aiohttp server with a trivial handler, and the
engine alone (``plane.start_invoke`` on the Lab's loop, no HTTP).

    python benchmarks/bench_endpoint.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import PY, LoopInThread, closed_loop, emit, leftover_children, us  # noqa: E402

import lambdalab  # noqa: E402
from lambdalab.endpoint.server import listen  # noqa: E402

NOOP = "def handler(event, context):\n    return {}\n"
PATH = "/2015-03-31/functions/noop/invocations"

def message_end(buf: bytearray) -> tuple[bytes, int] | None:
    """The (lower-cased head, total size) of the first complete HTTP/1.1 message in ``buf``, if any."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    i = head.find(b"content-length:")
    n = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
    return (head, end + 4 + n) if len(buf) >= end + 4 + n else None


_RAW_CLIENT = r"""
import asyncio, json, socket, sys, time
""" + inspect.getsource(message_end).replace("bytearray", "object").replace(" -> tuple[bytes, int] | None", "") + r"""
host, port, conns, seconds, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
REQUEST = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 2\r\n\r\n{{}}").encode()

class Conn(asyncio.Protocol):
    def __init__(self, done):
        self.buf, self.done, self.n, self.lat = bytearray(), done, 0, []
    def connection_made(self, t):
        self.t = t
        t.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def send(self):
        self.t0 = time.perf_counter()
        self.t.write(REQUEST)
    def data_received(self, data):
        buf = self.buf
        buf += data
        while (framed := message_end(buf)) is not None:
            head, size = framed
            if not head.startswith(b"http/1.1 20"):
                raise SystemExit(f"bad response: {bytes(buf[:size])!r}")
            del buf[:size]
            self.n += 1
            self.lat.append(time.perf_counter() - self.t0)
            if time.perf_counter() < self.stop_at:
                self.send()
            elif not self.done.done():
                self.done.set_result(None)

async def run(duration):
    loop = asyncio.get_running_loop()
    conns_ = []
    for _ in range(conns):
        done = loop.create_future()
        _, c = await loop.create_connection(lambda: Conn(done), host, port)
        conns_.append(c)
    t0 = time.perf_counter()
    for c in conns_:
        c.stop_at = t0 + duration
        c.send()
    await asyncio.wait_for(asyncio.gather(*(c.done for c in conns_)), duration + 30)
    elapsed = time.perf_counter() - t0
    for c in conns_:
        c.t.close()
    lat = sorted(x for c in conns_ for x in c.lat)
    return sum(c.n for c in conns_), elapsed, lat

asyncio.run(run(min(0.5, seconds)))  # warm-up: connections, environments
n, elapsed, lat = asyncio.run(run(seconds))
print(json.dumps({"rate": n / elapsed, "n": n, "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)]}))
"""

_BOTO3_CLIENT = r"""
import json, sys, time
import boto3
from botocore.config import Config
url, seconds = sys.argv[1], float(sys.argv[2])
c = boto3.client("lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench", config=Config(retries={"total_max_attempts": 1}))
for _ in range(50):
    c.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read()
lat, t0 = [], time.perf_counter()
while time.perf_counter() - t0 < seconds:
    t1 = time.perf_counter()
    c.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read()
    lat.append(time.perf_counter() - t1)
elapsed = time.perf_counter() - t0
lat.sort()
print(json.dumps({"rate": len(lat) / elapsed, "n": len(lat), "p50": lat[len(lat) // 2],
                  "p99": lat[int(len(lat) * 0.99)]}))
"""


def _child(script: str, *args: object, timeout: float) -> dict:
    out = subprocess.run([PY, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def raw(port: int, conns: int, seconds: float, path: str = PATH) -> dict:
    return _child(_RAW_CLIENT, "127.0.0.1", port, conns, seconds, path, timeout=seconds + 60)


def boto3_client(url: str, seconds: float) -> dict:
    """Sequential boto3 ``invoke`` of ``noop`` at ``url`` for ``seconds`` in a child process: rate, p50, p99."""
    return _child(_BOTO3_CLIENT, url, seconds, timeout=seconds + 120)


class _Fixed(asyncio.Protocol):
    """The floor server: parse just enough HTTP/1.1 to answer each request with a fixed 200."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport, self.buf = transport, bytearray()
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while (framed := message_end(buf)) is not None:
            head, size = framed
            del buf[:size]
            self.transport.write(self.ANSWER)  # type: ignore[attr-defined]


def floors(seconds: float) -> tuple[dict, dict, dict]:
    """Lean asyncio server (1 and 8 connections) and an aiohttp trivial handler (1 connection)."""
    from aiohttp import web

    lt = LoopInThread()

    async def start() -> tuple[asyncio.base_events.Server, web.AppRunner, int, int]:
        server = await asyncio.get_running_loop().create_server(_Fixed, "127.0.0.1", 0)

        async def fixed(_: web.Request) -> web.Response:
            return web.Response(body=b"{}", content_type="application/json")

        app = web.Application()
        app.router.add_post(PATH, fixed)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        sock = listen("127.0.0.1", 0)  # TCP_NODELAY, as the endpoint's own sockets
        await web.SockSite(runner, sock).start()
        return server, runner, server.sockets[0].getsockname()[1], sock.getsockname()[1]

    server, runner, lean_port, aio_port = lt.run(start())
    try:
        return raw(lean_port, 1, seconds), raw(lean_port, 8, seconds), raw(aio_port, 1, seconds)
    finally:
        async def stop() -> None:
            server.close()
            await runner.cleanup()

        lt.run(stop())
        lt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    s = args.seconds

    with lambdalab.Lab() as lab:
        lab.create_function("noop", NOOP)
        url = lab.serve()
        port = int(url.rsplit(":", 1)[1])
        boto = boto3_client(url, s)
        raw1 = raw(port, 1, s)
        raw8 = raw(port, 8, s)
        plane = lab._plane
        engine_rate = asyncio.run_coroutine_threadsafe(
            closed_loop(lambda: plane.start_invoke("noop", b"{}"), 1, s), lab._thread.loop).result(s + 60)[0]
        environments = len(lab.function("noop").environments())
    lean1, lean8, aio1 = floors(s)
    leftover = leftover_children()

    rows = []
    table = [("boto3, 1 client, sequential", boto, lean1), ("raw HTTP keep-alive, 1 connection", raw1, lean1),
             ("raw HTTP keep-alive, 8 connections", raw8, lean8)]
    print("| client | invokes/s | p50 | p99 | floor (raw loopback HTTP) | ratio |")
    print("|---|---|---|---|---|---|")
    for name, got, floor in table:
        ratio = got["rate"] / floor["rate"]
        print(f"| {name} | {got['rate']:,.0f} | {us(got['p50'])} | {us(got['p99'])} | {floor['rate']:,.0f}/s "
              f"| {ratio:.2f} |")
        rows.append({"name": f"endpoint invokes/s, {name}", "figure": f"{got['rate']:,.0f}/s",
                     "floor": f"{floor['rate']:,.0f}/s", "ratio": f"{ratio:.2f}", "target": "—", "met": None})
    context = [f"floor connections: lean asyncio server, fixed 200; aiohttp trivial handler, 1 connection: "
               f"{aio1['rate']:,.0f}/s (p50 {us(aio1['p50'])})",
               f"engine alone (plane.start_invoke on the Lab's loop, 1 in flight, no HTTP): {engine_rate:,.0f}/s",
               f"p50 latency: boto3 {us(boto['p50'])}, raw 1 connection {us(raw1['p50'])}, "
               f"floor 1 connection {us(lean1['p50'])}",
               f"{environments} environments after the 8-connection run; {os.cpu_count()} CPUs"]
    for line in context:
        print(line)
    emit("bench_endpoint", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
