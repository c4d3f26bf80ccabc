"""Debug mode (engine/debug.py): debugpy on a loopback port per environment, the timeout and keep-alive held
while a client is attached, never frozen; functions without ``debug`` unchanged.

The client speaks the Debug Adapter Protocol over the socket (Content-Length framed JSON) with the requests VS Code's
"attach" sends (initialize, attach, setBreakpoints, configurationDone, continue, disconnect), framed by this file's
own code and, in the breakpoint test, also by debugpy's own message stream (``debugpy.common.messaging``).
"""

from __future__ import annotations

import json
import socket
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.errors import ConfigError

pytest.importorskip("debugpy")

HANDLER = textwrap.dedent(
    """\
    import os, sys, time

    def handler(event, context):
        if event.get("sleep"):
            time.sleep(event["sleep"])
        answer = event.get("x", 0) * 2  # BREAK
        return {"answer": answer, "debugpy": "debugpy" in sys.modules or "pydevd" in sys.modules,
                "variable": os.environ.get("_LAMBDALAB_DEBUG"), "pid": os.getpid()}
    """
)
BREAK_LINE = HANDLER.splitlines().index(next(line for line in HANDLER.splitlines() if "# BREAK" in line)) + 1


class Client:
    """A DAP client on one socket: requests out, responses and events in, every wait bounded."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.seq = 0
        self.seen: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> None:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = next(int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k == b"Content-Length")
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            self._recv()
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return json.loads(rest[:length])

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the debug adapter closed the connection")
        self.buffer += data

    def wait(self, kind: str, name: str, timeout: float = 15.0) -> dict[str, Any]:
        """The next response to ``name`` (kind "response") or event ``name`` (kind "event")."""
        for message in self.seen:
            if message.get("type") == kind and (message.get("command") or message.get("event")) == name:
                self.seen.remove(message)
                return message
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            message = self._read()
            if message.get("type") == kind and (message.get("command") or message.get("event")) == name:
                if kind == "response":
                    assert message.get("success"), message
                return message
            self.seen.append(message)
        raise TimeoutError(f"no {kind} {name} within {timeout} s")

    def attach(self, breakpoint_file: Path | None = None, line: int = BREAK_LINE) -> None:
        """What VS Code's attach does: initialize, attach, breakpoints, configurationDone."""
        self.send("initialize", clientID="lambdalab-test", adapterID="debugpy", pathFormat="path", linesStartAt1=True)
        self.wait("response", "initialize")
        self.send("attach", justMyCode=False, connect={"host": "127.0.0.1", "port": self.sock.getpeername()[1]})
        self.wait("event", "initialized")
        if breakpoint_file is not None:
            self.send("setBreakpoints", source={"path": str(breakpoint_file)}, breakpoints=[{"line": line}])
            answer = self.wait("response", "setBreakpoints")
            assert answer["body"]["breakpoints"][0]["verified"], answer
        self.send("configurationDone")
        self.wait("response", "configurationDone")

    def close(self) -> None:
        try:
            self.send("disconnect")
            self.wait("response", "disconnect", timeout=5)
        finally:
            self.sock.close()


class DebugpyClient(Client):
    """The same requests framed by debugpy's own message stream (``debugpy.common.messaging.JsonIOStream``, what its
    adapter and tests use), so the acceptance's "debugpy's own client" holds to the letter."""

    def __init__(self, port: int) -> None:
        from debugpy.common.messaging import JsonIOStream

        super().__init__(port)
        self.stream = JsonIOStream.from_socket(self.sock, name="lambdalab-test")

    def send(self, command: str, **arguments: Any) -> None:
        self.seq += 1
        self.stream.write_json({"seq": self.seq, "type": "request", "command": command, "arguments": arguments})

    def _read(self) -> dict[str, Any]:
        message: dict[str, Any] = self.stream.read_json()
        return message


def _debug_function(lab: lambdalab.Lab, tmp_path: Path, **options: Any) -> tuple[lambdalab.Function, Path]:
    (tmp_path / "app.py").write_text(HANDLER)
    fn = lab.create_function("dbg", path=tmp_path / "app.py", handler="handler", **options)
    return fn, Path(fn.version_info().code_folder) / "app.py"


def _wait_for(check: Any, timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"not within {timeout} s")


@pytest.mark.parametrize("make_client", [Client, DebugpyClient], ids=["dap-by-hand", "debugpy-messaging"])
def test_a_breakpoint_pauses_longer_than_the_timeout_and_the_invoke_finishes_after_continue(lab, tmp_path, make_client):
    fn, _ = _debug_function(lab, tmp_path, timeout_s=1, debug=True)
    source = tmp_path / "app.py"  # the user's own file, as an editor names it: mapped to the task root's copy
    first = fn.invoke({"x": 1})
    assert first.payload["answer"] == 2 and first.payload["debugpy"] is True
    assert first.payload["variable"] is None  # the runtime took it out of the handler's environment
    ports = fn.debug_ports()
    assert list(ports) == [first.environment_id]
    port = ports[first.environment_id]
    assert f"lambdalab: debugger listening on 127.0.0.1:{port} (environment {first.environment_id})" in fn.logs()
    assert fn.debug_ports(attached=True) == {}
    client = make_client(port)
    try:
        client.attach(source)
        assert _wait_for(lambda: fn.debug_ports(attached=True)) == ports
        future = fn.submit({"x": 21})
        stopped = client.wait("event", "stopped", timeout=15)
        assert stopped["body"]["reason"] == "breakpoint"
        client.send("stackTrace", threadId=stopped["body"]["threadId"])
        frames = client.wait("response", "stackTrace")["body"]["stackFrames"]
        assert (frames[0]["source"]["path"], frames[0]["line"]) == (str(source), BREAK_LINE)
        time.sleep(2.5)  # paused well past the 1 s timeout
        assert not future.done()
        assert fn.environments()[0].frozen is False
        client.send("continue", threadId=stopped["body"]["threadId"])
        client.wait("response", "continue")
        result = future.result(timeout=15)
    finally:
        client.close()
    assert result.error is None, result.error
    assert result.payload["answer"] == 42 and result.payload["pid"] == first.payload["pid"]
    assert result.duration_ms > 2500
    assert "Task timed out" not in fn.logs()
    assert fn.environments()[0].frozen is False  # debug environments rest idle, never stopped


def test_without_a_client_the_timeout_fires_as_usual_in_debug_mode(lab, tmp_path):
    fn, _ = _debug_function(lab, tmp_path, timeout_s=1, debug=True)
    fn.invoke({})
    port = next(iter(fn.debug_ports().values()))
    client = Client(port)  # attached, then gone: the next timeout is not held
    client.attach()
    client.close()
    _wait_for(lambda: not fn.debug_ports(attached=True))
    started = time.monotonic()
    result = fn.invoke({"sleep": 5})
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert time.monotonic() - started < 3.0
    assert "Status: timeout" in fn.logs()


def test_an_attached_client_holds_the_timeout_and_keep_alive_and_releases_them_when_it_leaves(tmp_path):
    with lambdalab.Lab(keep_alive_s=0.5) as lab:
        fn, _ = _debug_function(lab, tmp_path, timeout_s=1, debug=True)
        fn.invoke({})
        port = next(iter(fn.debug_ports().values()))
        client = Client(port)
        try:
            client.attach()
            running = fn.submit({"sleep": 2.0})  # no breakpoint: it just runs past its timeout
            result = running.result(timeout=15)
            assert result.error is None and result.duration_ms > 1900
            time.sleep(1.5)  # past the keep-alive window: not reaped while attached
            assert fn.debug_ports() == {result.environment_id: port}
        finally:
            client.close()
        _wait_for(lambda: not fn.environments(), timeout=10)  # gone once the client has left


def test_once_the_client_leaves_the_held_invoke_gets_a_whole_timeout_again_and_then_times_out(lab, tmp_path):
    fn, _ = _debug_function(lab, tmp_path, timeout_s=1, debug=True)
    fn.invoke({})
    client = Client(next(iter(fn.debug_ports().values())))
    client.attach()
    running = fn.submit({"sleep": 6})
    time.sleep(2.0)  # held past its 1 s deadline while attached
    assert not running.done()
    client.close()
    left = time.monotonic()
    result = running.result(timeout=15)
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    assert 0.7 < time.monotonic() - left < 2.5  # one whole timeout (1 s, checked every 0.25 s) after it left
    assert 2500 < result.duration_ms < 5000


def test_the_debugger_adds_no_process_and_nothing_outlives_the_lab(tmp_path):
    from tests.conftest import gone, marked_processes

    with lambdalab.Lab() as lab:
        fn, _ = _debug_function(lab, tmp_path, debug=True)
        first = fn.invoke({})
        pid = first.payload["pid"]
        port = fn.debug_ports()[first.environment_id]
        client = Client(port)
        try:
            client.attach()
            # debugpy's adapter runs in the runtime: the environment has no process of its own besides it
            assert [p for p in marked_processes() if _marker(p).split("/")[2] == first.environment_id] == [pid]
        finally:
            client.close()
    assert gone([pid], 5.0) == []
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def _marker(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as f:
        variables = dict(v.partition(b"=")[::2] for v in f.read().split(b"\0"))
    return variables.get(b"LAMBDALAB_MARKER", b"").decode()


def test_debug_port_n_gives_the_first_environment_n_and_the_next_ones_the_next_free_ports(lab, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    fn, _ = _debug_function(lab, tmp_path, debug=base)
    results = [f.result(timeout=30) for f in [fn.submit({"sleep": 0.5}) for _ in range(2)]]
    ports = fn.debug_ports()
    assert sorted(ports) == sorted(r.environment_id for r in results)
    assert min(ports.values()) == base and max(ports.values()) > base


def test_functions_without_debug_are_unchanged(lab, tmp_path):
    (tmp_path / "app.py").write_text(HANDLER)
    fn = lab.create_function("plain", path=tmp_path / "app.py", handler="handler")
    result = fn.invoke({"x": 1})
    assert result.payload["debugpy"] is False and result.payload["variable"] is None
    assert fn.debug_ports() == {}
    assert "debugger" not in fn.logs()
    assert fn.environments()[0].frozen is True


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"debug": "yes"}, "invalid debug"),
        ({"debug": 80}, "invalid debug"),
        ({"debug": 70_000}, "invalid debug"),
        ({"debug": True, "runtime": "provided"}, "needs the python runtime"),
    ],
)
def test_debug_settings_are_checked(lab, options, words):
    with pytest.raises(ConfigError, match=words):
        lab.create_function("bad", "def handler(e, c):\n    return 1\n", **options)


def test_a_web_pages_request_never_reaches_the_debugger(lab, tmp_path):
    """What a browser's no-cors ``fetch`` POST sends: a request line first. The engine closes it unread by debugpy."""
    fn, _ = _debug_function(lab, tmp_path, debug=True)
    fn.invoke({})
    port = next(iter(fn.debug_ports().values()))
    target = tmp_path / "pwned"
    body = json.dumps(
        {
            "seq": 1,
            "type": "request",
            "command": "evaluate",
            "arguments": {"expression": f"open({str(target)!r}, 'w').write('x')"},
        }
    ).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: https://evil.example\r\nSec-Fetch-Site: cross-site\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        assert sock.recv(65536) == b""  # closed at once, nothing answered
    time.sleep(0.5)
    assert not target.exists()
    assert fn.debug_ports(attached=True) == {}
    client = Client(port)  # a DAP client still gets through afterwards
    try:
        client.attach()
        assert _wait_for(lambda: fn.debug_ports(attached=True))
    finally:
        client.close()


SELF_HOLD = textwrap.dedent(
    """\
    import socket, time

    def handler(event, context):
        held = socket.create_connection(("127.0.0.1", event["port"]))
        if event.get("dap"):
            held.sendall(b"Content-Length: 2\\r\\n\\r\\n{}")
        time.sleep(5)
        return "done"
    """
)


@pytest.mark.parametrize("dap", [False, True])
def test_a_connection_that_never_attaches_does_not_hold_the_timeout(lab, dap):
    fn = lab.create_function("selfhold", SELF_HOLD, timeout_s=1, debug=True)
    fn.invoke({"port": 9})  # a cold start: the port exists once an environment does (port 9: refused, an error)
    port = next(iter(fn.debug_ports().values()))
    started = time.monotonic()
    result = fn.invoke({"port": port, "dap": dap})
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout", result.payload
    assert time.monotonic() - started < 3.0


def test_one_client_at_a_time_and_attached_ends_with_its_disconnect(lab, tmp_path):
    fn, _ = _debug_function(lab, tmp_path, timeout_s=1, debug=True)
    fn.invoke({})
    port = next(iter(fn.debug_ports().values()))
    first = Client(port)
    first.attach()
    second = Client(port)  # refused while the first is connected: closed without an answer
    second.send("initialize", clientID="second", adapterID="debugpy")
    with pytest.raises((EOFError, ConnectionResetError)):
        second.wait("response", "initialize", timeout=5)
    second.sock.close()
    assert _wait_for(lambda: fn.debug_ports(attached=True))
    first.send("disconnect")
    first.wait("response", "disconnect", timeout=5)  # its socket stays open, but it is no longer attached
    try:
        assert _wait_for(lambda: not fn.debug_ports(attached=True))
        result = fn.invoke({"sleep": 4})
        assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    finally:
        first.sock.close()


def test_debug_port_n_is_the_first_environment_after_every_redeploy(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    with lambdalab.Lab(keep_alive_s=1) as lab:
        fn, _ = _debug_function(lab, tmp_path, debug=base)
        seen = []
        for memory in (256, 320, 384, 448):
            result = fn.invoke({})
            seen.append(fn.debug_ports()[result.environment_id])
            fn.update(memory_mb=memory)
        assert seen == [base] * 4
