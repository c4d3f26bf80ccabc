"""Shared helpers for the benchmarks: statistics, result lines, leftover checks, and the floors.

Floors are measured in the same run with the same interpreter (``sys.executable``) as the
benchmark itself, because the machine is shared and noisy (see /work/shared/PERF-FLOORS.md).

The main floor is ``LeanHttpPlatform``: the cheapest known way to do what lambdalab's warm path
does, i.e. the PERF-FLOORS row "HTTP, lean asyncio server + raw-socket client". A lean asyncio
``Protocol`` (hand-parsed HTTP/1.1, TCP_NODELAY, no framework) runs on an event loop in a thread
of the benchmark process; each "runtime" is a child process (``python -I``) with a raw-socket
keep-alive client looping ``GET /next`` -> ``json.loads`` the event -> ``json.dumps`` a reply ->
``POST /response``. An invoke is: hand the payload to a parked ``/next``, wait for its
``/response``. There is no state machine, no records, no logs, no freezing.

``LeanHttpPlatform(n, freeze=True)`` adds exactly what the engine does around each invoke and
nothing more: each runtime runs in its own session / process group, which is SIGSTOPped when it
parks on ``GET /next`` with nothing queued and SIGCONTed right before an event is written to it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Self, cast

PY = sys.executable


# ---------------------------------------------------------------------------------------------- stats
def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank on a sorted copy."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = min(len(data) - 1, max(0, round(q * (len(data) - 1))))
    return data[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


# ---------------------------------------------------------------------------------------------- output
def emit(benchmark: str, method: str, rows: list[dict[str, Any]], context: list[str] | None = None,
         leftover: int | None = None) -> None:
    """Print the machine-readable line ``run_all.py`` collects (after the human-readable lines).

    Each row: name, figure, floor, ratio, target, met (True/False/None).
    """
    line = {"benchmark": benchmark, "method": method, "rows": rows, "context": context or [],
            "leftover_children": leftover}
    print("RESULT " + json.dumps(line, ensure_ascii=False), flush=True)



def write_section(path: Any, title: str, section: list[str]) -> None:
    """Replace the ``## <title>`` section of RESULTS.md at ``path`` (or append it), leaving the rest alone."""
    heading = f"## {title}"
    text = path.read_text() if path.exists() else "# lambdalab benchmarks\n"
    lines = text.splitlines()
    try:
        begin = lines.index(heading)
        end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[begin:end] = section
    except ValueError:
        if lines and lines[-1].strip():
            lines.append("")
        lines += section
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote the {title} section of {path}")

def leftover_children(grace_s: float = 3.0) -> int:
    """Children of this process still alive after a grace period (should be 0 once Labs are closed)."""
    import psutil

    me = psutil.Process()
    deadline = time.monotonic() + grace_s
    while True:
        alive = [c for c in me.children(recursive=True) if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        if not alive or time.monotonic() > deadline:
            for c in alive:
                print(f"  leftover child: pid={c.pid} {' '.join(c.cmdline())[:120]}", flush=True)
            return len(alive)
        time.sleep(0.05)


class LoopInThread:
    """An asyncio loop on a daemon thread (like lambdalab's LoopThread), for the floors."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


# ---------------------------------------------------------------------------------------------- HTTP floor
_CLIENT = r"""
import json, socket, sys
s = socket.create_connection((b"127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = bytearray()
def response():
    while (end := buf.find(b"\r\n\r\n")) < 0:
        data = s.recv(65536)
        if not data: sys.exit(0)
        buf.extend(data)
    head = bytes(buf[:end]).lower(); del buf[:end + 4]
    i = head.find(b"content-length:"); n = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None])
    j = head.find(b"lambda-runtime-aws-request-id:")
    rid = head[j + 30:head.find(b"\r\n", j)].strip() if j >= 0 else b""
    while len(buf) < n:
        data = s.recv(65536)
        if not data: sys.exit(0)
        buf.extend(data)
    body = bytes(buf[:n]); del buf[:n]
    return rid, body
while True:
    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    rid, body = response()
    out = json.dumps(json.loads(body)).encode()
    s.sendall(b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
              % (rid, len(out), out))
    response()
"""


class _LeanConn(asyncio.Protocol):
    pgid = 0  # the runtime's process group; set only by _FreezingConn (freeze=True)

    def __init__(self, platform: LeanHttpPlatform) -> None:
        self.platform = platform
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.future: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(buf[:end])
            i = head.find(b"Content-Length:")
            n = int(head[i + 15:head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(buf) < end + 4 + n:
                return
            body = bytes(buf[end + 4:end + 4 + n])
            del buf[:end + 4 + n]
            if head.startswith(b"GET"):
                self.platform.parked(self)
            else:
                self.transport.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
                future, self.future = self.future, None
                if future is not None and not future.done():
                    future.set_result(body)

    def deliver(self, rid: bytes, payload: bytes, future: asyncio.Future[bytes]) -> None:
        self.future = future
        self.transport.write(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
                             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (rid, len(payload), payload))


class _FreezingConn(_LeanConn):
    """A connection that knows its runtime's process group (``freeze=True`` only)."""

    platform: _FreezingLeanHttpPlatform

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        with self.platform._spawning:  # released once the runtime being spawned has its pid recorded
            self.pgid = self.platform._spawning_pgid


class LeanHttpPlatform:
    """The floor platform: a lean asyncio HTTP server plus ``n`` raw-socket runtime processes.

    ``freeze=True`` returns a ``_FreezingLeanHttpPlatform`` (SIGSTOP/SIGCONT around each invoke, as
    the engine does); the default path has no freeze code in it at all.
    """

    _conn_class: type[_LeanConn] = _LeanConn

    def __new__(cls, runtimes: int = 1, freeze: bool = False) -> Self:
        if freeze and cls is LeanHttpPlatform:
            return cast(Self, super().__new__(_FreezingLeanHttpPlatform))
        return super().__new__(cls)

    def __init__(self, runtimes: int = 1, freeze: bool = False) -> None:
        self.freeze = freeze
        self.lt = LoopInThread()
        self._idle: collections.deque[_LeanConn] = collections.deque()
        self._queue: collections.deque[tuple[bytes, asyncio.Future[bytes]]] = collections.deque()
        self._count = 0
        self.loop_cpu = 0.0  # CPU time of the loop thread during latencies_in_loop (seconds)
        self.server = self.lt.run(self._listen())
        port = self.server.sockets[0].getsockname()[1]
        self.procs: list[subprocess.Popen[bytes]] = []
        self._spawn(port, runtimes)

    def _spawn(self, port: int, runtimes: int) -> None:
        self.procs = [subprocess.Popen([PY, "-I", "-c", _CLIENT, str(port)]) for _ in range(runtimes)]
        self.lt.run(self._wait_parked(runtimes))

    async def _listen(self) -> asyncio.base_events.Server:
        conn_class = self._conn_class
        return await asyncio.get_running_loop().create_server(lambda: conn_class(self), "127.0.0.1", 0)

    async def _wait_parked(self, n: int) -> None:
        while len(self._idle) < n:
            await asyncio.sleep(0.01)

    # -- on the loop -----------------------------------------------------------------------------
    def parked(self, conn: _LeanConn) -> None:
        if self._queue:
            payload, future = self._queue.popleft()
            self._count += 1
            conn.deliver(b"%d" % self._count, payload, future)
        else:
            self._idle.append(conn)

    def start_invoke(self, payload: bytes) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = self.lt.loop.create_future()
        if self._idle:
            self._count += 1
            self._idle.popleft().deliver(b"%d" % self._count, payload, future)
        else:
            self._queue.append((payload, future))
        return future

    # -- measurements ------------------------------------------------------------------------------
    def latencies_in_loop(self, n: int, payload: bytes = b"{}") -> list[float]:
        """Round trips measured on the loop itself (no thread hop): the PERF-FLOORS row."""
        out, cpu = self.lt.run(timed_on_loop(lambda: self.start_invoke(payload), n), timeout=120)
        self.loop_cpu += cpu
        return out

    def latencies_from_thread(self, n: int, payload: bytes = b"{}") -> list[float]:
        """Round trips from the calling thread, handed to the loop as ``Lab._invoke`` does."""
        import concurrent.futures

        loop = self.lt.loop
        out = []
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            answer: concurrent.futures.Future[bytes] = concurrent.futures.Future()

            def start(answer: concurrent.futures.Future[bytes] = answer) -> None:
                self.start_invoke(payload).add_done_callback(lambda f: answer.set_result(f.result()))

            loop.call_soon_threadsafe(start)
            answer.result(10)
            out.append(clock() - t0)
        return out

    def closed_loop_rate(self, in_flight: int, seconds: float, payload: bytes = b"{}") -> tuple[float, int]:
        """Invokes/s with ``in_flight`` outstanding at all times, driven on the loop."""
        return self.lt.run(closed_loop(lambda: self.start_invoke(payload), in_flight, seconds), timeout=seconds + 30)[:2]

    def close(self) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.lt.loop.call_soon_threadsafe(self.server.close)
        self.lt.close()


class _FreezingLeanHttpPlatform(LeanHttpPlatform):
    """``LeanHttpPlatform(freeze=True)``: the lean floor plus the engine's freeze/thaw, nothing else.

    Each runtime is started in its own session (``start_new_session=True``, so pgid == pid); its
    process group is SIGSTOPped when it parks on ``GET /next`` with nothing queued and SIGCONTed
    right before an event is written to it. Runtimes are spawned one at a time so that each
    connection can be tied to its process group.
    """

    _conn_class = _FreezingConn

    def _spawn(self, port: int, runtimes: int) -> None:
        self._spawning = threading.Lock()
        self._spawning_pgid = 0
        for i in range(runtimes):
            with self._spawning:  # the new connection's connection_made waits for the pid
                proc = subprocess.Popen([PY, "-I", "-c", _CLIENT, str(port)], start_new_session=True)
                self.procs.append(proc)
                self._spawning_pgid = proc.pid
            self.lt.run(self._wait_parked(i + 1))

    # parked and start_invoke repeat the base class's with the signals inlined, on purpose: this is a
    # lower bound, so it must not pay for super() calls or hooks the engine would not need either.
    def parked(self, conn: _LeanConn) -> None:
        if self._queue:
            payload, future = self._queue.popleft()
            self._count += 1
            cast(_FreezingConn, conn).deliver(b"%d" % self._count, payload, future)
        else:
            self._idle.append(conn)
            os.killpg(cast(_FreezingConn, conn).pgid, signal.SIGSTOP)

    def start_invoke(self, payload: bytes) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = self.lt.loop.create_future()
        if self._idle:
            self._count += 1
            conn = cast(_FreezingConn, self._idle.popleft())
            os.killpg(conn.pgid, signal.SIGCONT)
            conn.deliver(b"%d" % self._count, payload, future)
        else:
            self._queue.append((payload, future))
        return future

    def close(self) -> None:
        for p in self.procs:  # SIGKILL ends stopped processes too; the whole group, in case
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
        super().close()  # kill() is then a no-op on the dead ones; wait() reaps them


async def timed_on_loop(start: Callable[[], Awaitable[Any]], n: int) -> tuple[list[float], float]:
    """``n`` sequential awaits of ``start()`` on the running loop: their latencies and the loop thread's CPU."""
    out = []
    clock = time.perf_counter
    c0 = time.thread_time()
    for _ in range(n):
        t0 = clock()
        await start()
        out.append(clock() - t0)
    return out, time.thread_time() - c0


async def closed_loop(start: Callable[[], asyncio.Future[Any]], in_flight: int, seconds: float
                      ) -> tuple[float, int, list[Any]]:
    """Keep ``in_flight`` invocations outstanding for ``seconds``; returns (rate, completed, results)."""
    loop = asyncio.get_running_loop()
    done_all = loop.create_future()
    results: list[Any] = []
    state = {"completed": 0, "outstanding": 0, "stop": False}
    t0 = time.perf_counter()
    stop_at = t0 + seconds

    def on_done(future: asyncio.Future[Any]) -> None:
        state["outstanding"] -= 1
        state["completed"] += 1
        results.append(future.result())
        if time.perf_counter() < stop_at:
            submit()
        elif state["outstanding"] == 0 and not done_all.done():
            done_all.set_result(None)

    def submit() -> None:
        state["outstanding"] += 1
        start().add_done_callback(on_done)

    for _ in range(in_flight):
        submit()
    await done_all
    elapsed = time.perf_counter() - t0
    return state["completed"] / elapsed, state["completed"], results


# ---------------------------------------------------------------------------------------------- pipe floor
_PIPE_ECHO = r"""
import os, sys
r, w = 0, 1
def read(n):
    b = b""
    while len(b) < n:
        d = os.read(r, n - len(b))
        if not d: sys.exit(0)
        b += d
    return b
while True:
    n = int.from_bytes(read(4), "little")
    msg = read(n)
    os.write(w, len(msg).to_bytes(4, "little") + msg)
"""


def pipe_round_trips(n: int, payload: bytes = b"{}") -> list[float]:
    """Synchronous length-prefixed round trips over a pipe pair to a child echo process."""
    proc = subprocess.Popen([PY, "-I", "-S", "-c", _PIPE_ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    w, r = proc.stdin.fileno(), proc.stdout.fileno()
    frame = len(payload).to_bytes(4, "little") + payload
    out = []
    clock = time.perf_counter
    try:
        for i in range(n + 200):
            t0 = clock()
            os.write(w, frame)
            got = b""
            while len(got) < len(frame):
                got += os.read(r, 65536)
            if i >= 200:
                out.append(clock() - t0)
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    return out


def spawn_exit_times(argv: Sequence[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(list(argv), check=True)
        out.append(time.perf_counter() - t0)
    return out
