"""No process outside an environment can fetch or answer that environment's invocations.

Attackers: the owner's own process, a sibling environment (another function's handler) and a process
of another user; each over IPv4 and over IPv6 to the mapped address ``::ffff:127.0.0.1`` (whose end of
the connection the kernel lists with the IPv6 sockets). Moments: while the victim initialises (its
``GET /next`` not yet sent, so a stolen ``/next`` would take its event) and while it runs its invoke
(a forged ``/response`` would replace its answer). Every attempt must be refused at connect, before
any HTTP answer, and the victim's own answer must arrive.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lambdalab.engine import peer

pytestmark = pytest.mark.slow

FAMILIES = ("ipv4", "ipv6")

# The attack, shared by every attacker: a raw HTTP request over one family; the first bytes of the answer.
ATTACK = """
import socket
def attempt(address, family, request):
    host, port = address.rsplit(":", 1)
    kind = socket.AF_INET
    if family == "ipv6":
        host, kind = "::ffff:" + host, socket.AF_INET6
    try:
        with socket.socket(kind, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, int(port)))
            s.sendall(request)
            return s.recv(4096).decode("latin-1") or "closed"
    except OSError as exc:
        return "refused: " + type(exc).__name__
def requests(request_id):
    body = b'"hijacked"'
    post = (f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\\r\\n"
            f"Host: x\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n").encode() + body
    get = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
    return ({"post": post} if request_id else {}) | {"next": get}
def attack(address, request_id):
    return {f"{name}/{family}": attempt(address, family, request)
            for name, request in requests(request_id).items() for family in ("ipv4", "ipv6")}
"""

INTRUDER = ATTACK + """
def handler(event, context):
    return attack(event["api"], event.get("request_id"))
"""

CLI = ATTACK + """
import json, sys
print(json.dumps(attack(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
"""

VICTIM_INVOKING = """
import json, os, time
def handler(event, context):
    with open(event["note"], "w") as f:
        json.dump({"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "request_id": context.aws_request_id}, f)
    time.sleep(1.0)
    return "victim answered"
"""

VICTIM_INITIALISING = """
import json, os, time
with open(os.environ["NOTE"], "w") as f:
    json.dump({"api": os.environ["AWS_LAMBDA_RUNTIME_API"], "request_id": None}, f)
time.sleep(1.5)
def handler(event, context):
    return "victim answered"
"""

_ns: dict[str, object] = {}
exec(ATTACK, _ns)
attack_from_owner = _ns["attack"]


def _other_user_attack(seen: dict) -> dict:
    """The attack from a process running as ``nobody`` (65534), with the system's Python."""
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"

    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    argv = [python, "-I", "-S", "-c", CLI, seen["api"]] + ([seen["request_id"]] if seen["request_id"] else [])
    done = subprocess.run(argv, preexec_fn=drop, capture_output=True, text=True, timeout=15, cwd="/")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _start_victim(lab, tmp_path: Path, moment: str):
    note = tmp_path / "note.json"
    if moment == "init":
        victim = lab.create_function("victim", VICTIM_INITIALISING, timeout_s=5, env_vars={"NOTE": str(note)})
        event: dict = {}
    else:
        victim = lab.create_function("victim", VICTIM_INVOKING, timeout_s=5)
        event = {"note": str(note)}
    answer: dict = {}
    worker = threading.Thread(target=lambda: answer.update(result=victim.invoke(event)))
    worker.start()
    deadline = time.monotonic() + 5
    while not note.exists() or not note.read_text():
        assert time.monotonic() < deadline, "the victim never started"
        time.sleep(0.01)
    return worker, answer, json.loads(note.read_text())


def _assert_refused(attempts: dict, moment: str) -> None:
    expected = {"next/ipv4", "next/ipv6"} | ({"post/ipv4", "post/ipv6"} if moment == "invoke" else set())
    assert set(attempts) == expected
    for name, outcome in attempts.items():
        # refused at connect: reset or closed before any HTTP answer (not even a 403 from the state check)
        assert not outcome.startswith("HTTP/"), (name, outcome)


@pytest.mark.parametrize("moment", ["init", "invoke"])
@pytest.mark.parametrize("attacker", ["owner", "sibling", "other_user"])
def test_no_outsider_can_take_the_event_or_forge_the_answer(lab, tmp_path, attacker, moment):
    if attacker == "other_user" and (os.geteuid() != 0 or not shutil.which("python3", path="/usr/bin:/bin")):
        pytest.skip("needs root and a system python3 to run a process as another user")
    intruder = lab.create_function("intruder", INTRUDER, timeout_s=10) if attacker == "sibling" else None
    if intruder is not None:
        intruder.invoke({"api": "127.0.0.1:9", "request_id": None})  # warm: its cold start must not outlast the window
    worker, answer, seen = _start_victim(lab, tmp_path, moment)
    if attacker == "owner":
        attempts = attack_from_owner(seen["api"], seen["request_id"])
    elif attacker == "sibling":
        result = intruder.invoke(seen)
        assert result.error is None, result.error
        attempts = result.payload
    else:
        attempts = _other_user_attack(seen)
    worker.join(10)
    assert not worker.is_alive()
    _assert_refused(attempts, moment)
    assert answer["result"].error is None, answer["result"].error
    assert answer["result"].payload == "victim answered"


def test_ownership_is_found_over_both_families_and_unknown_is_none():
    """``owned_by`` finds the client's end over IPv4, IPv6-mapped and IPv6 (``::1``); a made-up pair is None."""
    me, other = os.getpid(), os.getppid()
    with socket.socket(socket.AF_INET) as v4_listener, socket.socket(socket.AF_INET6) as v6_listener:
        v4_listener.bind(("127.0.0.1", 0))
        v4_listener.listen()
        cases = [(v4_listener, socket.AF_INET, ("127.0.0.1", v4_listener.getsockname()[1])),
                 (v4_listener, socket.AF_INET6, ("::ffff:127.0.0.1", v4_listener.getsockname()[1]))]
        try:
            v6_listener.bind(("::1", 0))
            v6_listener.listen()
            cases.append((v6_listener, socket.AF_INET6, v6_listener.getsockname()[:2]))
        except OSError:
            pass  # no IPv6 loopback on this machine
        for listener, family, address in cases:
            with socket.socket(family) as client:
                client.connect(address)
                accepted, peer_address = listener.accept()
                with accepted:
                    server_address = accepted.getsockname()
                    assert peer.owned_by(peer_address, server_address, [me]) is True, address
                    assert peer.owned_by(peer_address, server_address, [other]) is False, address
                    # the slow path (no netlink) agrees
                    assert peer._proc_inode(peer_address, server_address) == os.fstat(client.fileno()).st_ino
    assert peer.owned_by(("127.0.0.1", 1), ("127.0.0.1", 2), [me]) is None
    assert peer.owned_by(("not an address", 1), ("127.0.0.1", 2), [me]) is None


def test_ownership_check_is_cheap():
    """Once per connection: well under a millisecond (reading /proc/net/tcp took milliseconds)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.socket(socket.AF_INET6) as client:
            client.connect(("::ffff:127.0.0.1", listener.getsockname()[1]))
            accepted, peer_address = listener.accept()
            with accepted:
                server_address = accepted.getsockname()
                pids = [os.getpid()]
                started = time.perf_counter()
                for _ in range(200):
                    assert peer.owned_by(peer_address, server_address, pids) is True
                per_call = (time.perf_counter() - started) / 200
    assert per_call < 0.001, f"{per_call * 1e6:.0f} us per ownership check"

