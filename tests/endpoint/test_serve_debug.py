"""``lambdalab serve --debug-port N``: every Python function in debug mode, the first environment on N."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from ..engine.test_debug import Client
from .conftest import cli_env, client, serve_cli

pytest.importorskip("debugpy")

APP = """
import sys
def handler(event, context):
    return {"debugpy": "debugpy" in sys.modules}
"""


def test_serve_debug_port_runs_functions_under_debugpy_from_that_port(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [str(tmp_path), "--port", "0", "--no-urls", "--debug-port", str(port)]
    with serve_cli(args, cli_env(tmp_path)) as run:
        assert f"Debugging: environments listen from 127.0.0.1:{port}" in run.output
        answer = json.loads(client(run.url).invoke(FunctionName="app")["Payload"].read())
        assert answer == {"debugpy": True}
        debugger = Client(port)  # the first environment listens on the port asked for
        try:
            debugger.attach()
        finally:
            debugger.close()
        time.sleep(0.6)  # a turn of serve's loop prints the port (failing, serve would exit non-zero: serve_cli checks)


def test_serve_refuses_a_debug_port_out_of_range(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "lambdalab", "serve", str(tmp_path), "--debug-port", "80"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(tmp_path),
    )
    assert done.returncode == 2 and "not a port from 1024 to 65535" in done.stderr


SLEEPS = """
import json, time
def handler(event, context):
    if "body" in event:  # a function URL's request
        event = json.loads(event["body"])
    time.sleep(event.get("sleep", 0))
    return {"slept": True}
"""


def test_the_endpoint_waits_while_a_debugger_holds_the_invoke(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invoke, InvokeWithResponseStream and a function URL: no answer limit of the endpoint's own for a debug
    function (its slack shortened here so the old limit, timeout + init timeout + slack, passes within the test)."""
    import urllib.request

    import lambdalab
    from lambdalab.endpoint import invoke

    monkeypatch.setattr(invoke, "_SLACK_S", 0.3)
    with lambdalab.Lab(init_timeout_s=1) as lab:
        fn = lab.create_function("held", SLEEPS, timeout_s=1, debug=True)
        fn.invoke({})
        url = lab.serve()
        debugger = Client(next(iter(fn.debug_ports().values())))
        try:
            debugger.attach()
            lam = client(url, retries={"max_attempts": 0})
            answer = lam.invoke(FunctionName="held", Payload=json.dumps({"sleep": 3}))
            assert answer["StatusCode"] == 200 and "FunctionError" not in answer, answer
            assert json.loads(answer["Payload"].read()) == {"slept": True}
            streamed = lam.invoke_with_response_stream(FunctionName="held", Payload=json.dumps({"sleep": 3}))
            chunks = b"".join(e["PayloadChunk"]["Payload"] for e in streamed["EventStream"] if "PayloadChunk" in e)
            assert json.loads(chunks) == {"slept": True}
            request = urllib.request.Request(fn.url(), data=json.dumps({"sleep": 3}).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=30) as reply:
                assert reply.status == 200 and json.loads(reply.read()) == {"slept": True}
        finally:
            debugger.close()


URL_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: code/
      Handler: app.handler
      MemorySize: {memory}
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: {mode}
"""


def test_a_watched_template_edit_keeps_debug_mode_and_applies_url_settings(tmp_path: Path) -> None:
    import lambdalab
    from lambdalab.endpoint.command import debug_functions
    from lambdalab.endpoint.serve_watch import serve_watcher
    from lambdalab.endpoint.template_urls import make
    from lambdalab.endpoint.templates import load_template

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(APP)
    template = tmp_path / "template.yaml"
    template.write_text(URL_TEMPLATE.format(memory=128, mode="BUFFERED"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines: list[str] = []
    with lambdalab.Lab() as lab:
        names, _ = load_template(lab, template)
        url = lab.serve()
        ((made_spec, made_url),) = make(lab)
        assert debug_functions(lab, names, port) == []
        fn = lab.function("Fn")
        lam = client(url)
        assert lam.get_function_url_config(FunctionName="Fn")["InvokeMode"] == "BUFFERED"
        watcher = serve_watcher(lab, names, template, None, lines.append, debounce_ms=100)
        try:
            template.write_text(URL_TEMPLATE.format(memory=256, mode="RESPONSE_STREAM"))
            deadline = time.monotonic() + 10
            while fn.config.memory_mb != 256 or not any("function URL" in line for line in lines):
                assert time.monotonic() < deadline, lines
                time.sleep(0.05)
            assert fn.config.debug == port  # serve's --debug-port stays in force
            assert fn.invoke({}).payload == {"debugpy": True}
            config = lam.get_function_url_config(FunctionName="Fn")
            assert (config["InvokeMode"], config["FunctionUrl"]) == ("RESPONSE_STREAM", made_url)
            assert not any("made once the Lab serves" in line for line in lines), lines
            assert watcher.errors == [], (watcher.errors, lines)
        finally:
            watcher.close()
