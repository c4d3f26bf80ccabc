"""A template process of lambdalab's Python runtime under SnapStart, driven without the engine (for tests and benches).

``FakeRuntimeAPI`` is a tiny threaded Runtime API: it answers ``/restore/next`` at once, hands queued events to
``/invocation/next`` and keeps every request (path, headers, body, the time it arrived, the peer's port).
``Template`` starts ``python_bootstrap.py`` (or ``ric_bootstrap.py``) with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``
and a ``SOCK_SEQPACKET`` control socket, as ``engine/snapshot.py`` does, and makes spares and restores them.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import snapshot_restore_py

from lambdalab.engine import reaper
from lambdalab.engine.runtimes import BOOTSTRAP, RIC_BOOTSTRAP


class FakeRuntimeAPI:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes, float]] = []
        self.events: queue.Queue[bytes] = queue.Queue()
        self.arrived = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", headers: Mapping[str, str] = {}) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the runtime went (killed at the end of a test)
                    self.close_connection = True

            def _record(self) -> str:
                at = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with api.arrived:
                    api.requests.append((self.command, self.path, dict(self.headers), body, at))
                    api.arrived.notify_all()
                return self.path

            def do_GET(self) -> None:  # noqa: N802
                path = self._record()
                if path.endswith("/restore/next"):
                    self._answer(200)
                elif path.endswith("/invocation/next"):
                    event = api.events.get()
                    rid = f"req-{time.monotonic_ns()}"
                    deadline = str(int(time.time() * 1000) + 60_000)
                    self._answer(
                        200,
                        event,
                        {
                            "Lambda-Runtime-Aws-Request-Id": rid,
                            "Lambda-Runtime-Deadline-Ms": deadline,
                            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:1:function:f:1",
                            "Content-Type": "application/json",
                        },
                    )
                else:
                    self._answer(404)

            def do_POST(self) -> None:  # noqa: N802
                self._record()
                self._answer(202)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, suffix: str, count: int = 1, timeout: float = 10.0) -> list[tuple]:  # type: ignore[type-arg]
        """The first ``count`` requests whose path ends with ``suffix`` (waits up to ``timeout``)."""
        with self.arrived:
            ok = self.arrived.wait_for(
                lambda: len([r for r in self.requests if r[1].endswith(suffix)]) >= count, timeout
            )
            assert ok, f"no {count} x {suffix} in {[r[1] for r in self.requests]}"
            return [r for r in self.requests if r[1].endswith(suffix)][:count]

    def close(self) -> None:
        for _ in range(64):
            self.events.put(b"{}")  # unblock waiting handlers
        self.server.shutdown()
        self.server.server_close()


class Template:
    """One SnapStart template of ``handler`` in ``task_root``; spares forked from it; restored environments."""

    def __init__(
        self, task_root: Path, handler: str, api: FakeRuntimeAPI, *, ric: bool = False, env: Mapping[str, str] = {}
    ) -> None:
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        hooks_dir = str(Path(snapshot_restore_py.__file__).parent)
        env = {
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": handler,
            "LAMBDALAB_SNAPSHOT_FD": str(theirs.fileno()),
            "PATH": "/usr/bin:/bin",
            **env,
        }
        if ric:
            env["PYTHONPATH"] = hooks_dir
            argv = [sys.executable, "-B", "-P", "-S", "-u", str(RIC_BOOTSTRAP), handler]
        else:
            env["_LAMBDALAB_PATH"] = hooks_dir
            argv = [sys.executable, "-B", "-I", "-S", "-u", str(BOOTSTRAP)]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, cwd=task_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=[theirs.fileno()]
        )
        theirs.close()
        self.children: list[Restored] = []

    def spare(self, timeout: float = 10.0) -> Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        socket.send_fds(self.control, [json.dumps({"op": "spare"}).encode()], [theirs.fileno()])
        theirs.close()
        ours.settimeout(timeout)
        said = json.loads(ours.recv(65536))
        assert "error" not in said, said
        return Spare(said["pid"], ours)

    def output(self) -> str:
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        return (self.proc.stdout.read() or b"").decode()

    def close(self) -> None:
        self.control.close()
        for child in self.children:
            child.kill()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Spare:
    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.channel = channel

    def restore(self, env: Mapping[str, str | None] = {}) -> Restored:
        read, write = os.pipe()
        sent = time.perf_counter()
        socket.send_fds(self.channel, [json.dumps({"op": "restore", "env": dict(env)}).encode()], [write])
        os.close(write)
        self.channel.close()
        return Restored(self.pid, self.pidfd, read, sent)


class Restored:
    def __init__(self, pid: int, pidfd: int, log: int, sent: float) -> None:
        self.pid, self.pidfd, self.log, self.sent = pid, pidfd, log, sent

    def wait(self, timeout: float = 10.0) -> int:
        """The exit code, read from the pidfd (the process is the template's child, not ours)."""
        import select

        ready, _, _ = select.select([self.pidfd], [], [], timeout)
        assert ready, f"restored environment {self.pid} still runs"
        status = reaper.exit_status(self.pidfd)
        assert status is not None
        return status

    def output(self) -> str:
        os.set_blocking(self.log, False)
        chunks = []
        while True:
            try:
                data = os.read(self.log, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode()

    def kill(self) -> None:
        reaper.send(self.pidfd, 9)
