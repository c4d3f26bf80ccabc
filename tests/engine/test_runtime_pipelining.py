"""lambdalab's Python runtime posts each result with the next ``GET /next`` right behind it (HTTP/1.1 pipelining).

Driven without the engine: a raw loopback socket plays the Runtime API, so the test sees the bytes the runtime
sends and when. The runtime must not wait for the ``/response`` answer before asking for the next event, must
still read that answer before the event, and must ask again on a new connection when the platform closes after
the answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lambdalab.engine.runtimes import BOOTSTRAP

HANDLER = "def handler(event, context):\n    return {'n': event['n'], 'id': context.aws_request_id}\n"
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"


def _event(request_id: str, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: %s\r\n"
        b"Lambda-Runtime-Deadline-Ms: 99999999999999\r\n"
        b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (request_id.encode(), len(body), body)
    )


def _accepted(close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    head = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n%sContent-Length: 16\r\n\r\n" % extra
    return head + b'{"status":"OK"}\n'


def _read_until(conn: socket.socket, buf: bytearray, needle: bytes, count: int = 1) -> None:
    """Receive until ``needle`` occurs ``count`` times in ``buf`` (the socket has a timeout)."""
    while buf.count(needle) < count:
        data = conn.recv(65536)
        assert data, f"the runtime closed its connection; so far: {bytes(buf)!r}"
        buf += data


@pytest.fixture
def runtime(tmp_path: Path):
    (tmp_path / "handler.py").write_text(HANDLER)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    port = server.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "_HANDLER": "handler.handler",
        "LAMBDA_TASK_ROOT": str(tmp_path),
    }
    argv = [sys.executable, "-B", "-I", "-S", "-u", str(BOOTSTRAP)]  # as engine/runtimes.py starts it
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield server, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        server.close()


def _first_invoke(server: socket.socket) -> tuple[socket.socket, bytes]:
    """Accept the runtime, answer its first /next with event r1; the connection and what came back (unanswered)."""
    conn, _ = server.accept()
    conn.settimeout(10)
    buf = bytearray()
    _read_until(conn, buf, NEXT)
    assert bytes(buf) == NEXT + b"Host: " + bytes(buf)[len(NEXT) + 6 :]  # the first /next after init: alone
    buf.clear()
    conn.sendall(_event("r1", b'{"n": 1}'))
    _read_until(conn, buf, NEXT)
    return conn, bytes(buf)


def test_the_runtime_asks_for_the_next_event_without_waiting_for_the_response_answer(runtime):
    server, proc = runtime
    conn, text = _first_invoke(server)  # nothing answered yet: the result and the next /next arrive together
    buf = bytearray()
    assert text.startswith(b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\n"), text
    assert text.index(b'{"n": 1, "id": "r1"}') < text.index(NEXT), text
    assert text.endswith(b"\r\n\r\n") and text.count(b"HTTP/1.1\r\n") == 2, text
    # the /response answer is read (and dropped) before the event that answers /next
    conn.sendall(_accepted() + _event("r2", b'{"n": 2}'))
    _read_until(conn, buf, NEXT)
    assert bytes(buf).startswith(b"POST /2018-06-01/runtime/invocation/r2/response HTTP/1.1\r\n")
    assert b'{"n": 2, "id": "r2"}' in buf
    assert proc.poll() is None
    conn.close()


def test_a_platform_that_closes_after_the_response_answer_is_asked_again_on_a_new_connection(runtime):
    server, proc = runtime
    conn, _ = _first_invoke(server)
    conn.sendall(_accepted(close=True))
    conn.close()
    again, _ = server.accept()  # the runtime reconnects and asks for the next event once
    again.settimeout(10)
    buf = bytearray()
    _read_until(again, buf, NEXT)
    assert bytes(buf).startswith(NEXT) and bytes(buf).count(NEXT) == 1
    again.sendall(_event("r2", b'{"n": 2}'))
    buf.clear()
    _read_until(again, buf, NEXT)
    assert b'{"n": 2, "id": "r2"}' in buf
    again.close()  # the platform is gone: the runtime leaves quietly
    assert proc.wait(timeout=10) == 0
