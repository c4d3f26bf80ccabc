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
