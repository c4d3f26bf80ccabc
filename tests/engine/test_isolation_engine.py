"""No process outside an environment can fetch or answer that environment's invocations."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.slow

VICTIM = """
import json, os, time
def handler(event, context):
    with open(event["note"], "w") as f:
        json.dump({"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "request_id": context.aws_request_id}, f)
    time.sleep(1.0)
    return "victim answered"
"""

INTRUDER = """
import socket
def _try(api, request):
    host, port = api.split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            s.sendall(request)
            return s.recv(4096).decode("latin-1")
    except OSError as exc:
        return "refused: " + type(exc).__name__
def handler(event, context):
    body = b'"hijacked"'
    post = (f"POST /2018-06-01/runtime/invocation/{event['request_id']}/response HTTP/1.1\\r\\n"
            f"Host: x\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n").encode() + body
    get = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
    return {"post": _try(event["api"], post), "next": _try(event["api"], get)}
"""


def _http(address: str, request: bytes) -> str:
    host, port = address.split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as sock:
            sock.sendall(request)
            return sock.recv(4096).decode("latin-1")
    except OSError as exc:
        return f"refused: {type(exc).__name__}"


def test_other_environments_and_processes_cannot_answer_or_fetch(lab, tmp_path):
    victim = lab.create_function("victim", VICTIM, timeout_s=5)
    intruder = lab.create_function("intruder", INTRUDER, timeout_s=5)
    note = tmp_path / "note.json"
    answer = {}
    worker = threading.Thread(target=lambda: answer.update(result=victim.invoke({"note": str(note)})))
    worker.start()
    deadline = time.monotonic() + 5
    while not note.exists() or not note.read_text():
        assert time.monotonic() < deadline, "the victim never started"
        time.sleep(0.01)
    seen = json.loads(note.read_text())
    body = b'"hijacked"'
    post = (f"POST /2018-06-01/runtime/invocation/{seen['request_id']}/response HTTP/1.1\r\n"
            f"Host: x\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    from_owner = _http(seen["api"], post)
    from_environment = intruder.invoke(seen).payload
    worker.join(10)
    assert "202" not in from_owner and "202" not in from_environment["post"]
    assert "200 OK" not in from_environment["next"]
    assert answer["result"].payload == "victim answered"
