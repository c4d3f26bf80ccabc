"""Restored SnapStart environments get their own ``/etc/hosts`` as fresh ones do (``sandbox.localdomain`` on the
environment's own loopback address, bound by ``runtimes/snapshot_server.py`` in the restore spare's namespace), so
two restored environments' extensions can both listen on ``sandbox.localdomain:4243``; a spare taken for an
environment that went meanwhile is discarded, never restored (``Snapshots.discard``)."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

import lambdalab
from tests.engine.extension_helpers import FIXTURES, aws_sample, wait_for

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        "snap_start" not in inspect.signature(lambdalab.Lab.create_function).parameters,
        reason="snap_start is not a function setting yet",
    ),
]

HOSTS = """
import socket, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open("/etc/hosts") as f:
        lines = [line.split() for line in f if "sandbox.localdomain" in line]
    return {"resolved": socket.gethostbyname("sandbox.localdomain"), "lines": lines}
"""


def _ready(lab: lambdalab.Lab, name: str, version: str) -> str:
    state = "taking"
    deadline = time.monotonic() + 20
    while state == "taking" and time.monotonic() < deadline:
        state = lab._engine.call(lambda plane: plane.snapshot_state(name, version))  # noqa: SLF001 - test only
        time.sleep(0.02)
    return state


def _publish(lab: lambdalab.Lab, fn: lambdalab.Function) -> str:
    version = fn.publish()
    if _ready(lab, fn.name, version) != "ready":
        pytest.skip("SnapStart needs the launcher, cgroups and pidfd exit status here")
    time.sleep(0.3)  # its first restore spare is made
    return version


def _environment_address(lab: lambdalab.Lab, environment_id: str) -> str:
    return lab._engine.call(lambda plane: plane.environments[environment_id].address)  # noqa: SLF001 - test only


def test_each_restored_environment_resolves_sandbox_localdomain_to_its_own_address() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("hosts", HOSTS, snap_start=True)
        version = _publish(lab, fn)
        futures = [fn.submit({"sleep": 1.0}, qualifier=version) for _ in range(2)]
        results = [f.result(timeout=30) for f in futures]
        addresses = {r.record.environment_id: _environment_address(lab, r.record.environment_id) for r in results}
    assert all(r.record.restore_duration_ms is not None for r in results)  # both restored
    assert len(addresses) == 2
    for result in results:
        own = addresses[result.record.environment_id]
        assert own.startswith("127.") and own != "127.0.0.1"
        assert result.payload["resolved"] == own  # its own, not the template's
        assert [line[0] for line in result.payload["lines"]] == [own]
    assert len(set(addresses.values())) == 2


class _Collector(BaseHTTPRequestHandler):
    batches: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        size = int(self.headers.get("Content-Length", 0))
        type(self).batches.append(json.loads(self.rfile.read(size)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_aws_telemetry_example_runs_in_two_restored_environments(tmp_path: Path) -> None:
    root = aws_sample(
        tmp_path / "layer", "python-example-telemetry-api-extension", "python_example_telemetry_api_extension"
    )
    function = (FIXTURES / "python-example-telemetry-api-extension" / "function" / "lambda_function.py").read_text()
    function += "\nimport time\n_handler = lambda_handler\ndef lambda_handler(event, context):\n"
    function += "    time.sleep(event.get('sleep', 0))\n    return _handler(event, context)\n"
    _Collector.batches = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with lambdalab.Lab() as lab:
            version = lab.publish_layer_version("telemetry-example", root)
            fn = lab.create_function(
                "telemetry",
                function,
                handler="lambda_handler",
                layers=[version.arn],
                snap_start=True,
                env_vars={
                    "DISPATCH_MIN_BATCH_SIZE": "1",
                    "DISPATCH_POST_URI": f"http://127.0.0.1:{server.server_address[1]}/",
                },
            )
            published = _publish(lab, fn)
            futures = [fn.submit({"sleep": 1.0}, qualifier=published) for _ in range(2)]
            results = [f.result(timeout=30) for f in futures]
            environments = {r.record.environment_id for r in results}
            assert all(r.error is None for r in results), [r.error for r in results]
            fn.kill()
            assert wait_for(lambda: all("Handle Shutdown Event" in fn.logs(e) for e in environments), 10.0), fn.logs()
            logs = {e: fn.logs(e) for e in environments}
    finally:
        server.shutdown()
    assert all(r.record.restore_duration_ms is not None for r in results)
    assert len(environments) == 2
    for log in logs.values():
        assert "Extension successfully subscribed to telemetry api" in log
        assert "Address already in use" not in log
    received = [event for batch in _Collector.batches for event in batch]
    starts = {e["record"]["requestId"] for e in received if e["type"] == "platform.start"}
    assert {r.request_id for r in results} <= starts  # each environment's listener got its own telemetry


def test_a_spare_discarded_is_never_restored() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("discard", HOSTS, snap_start=True)
        version = _publish(lab, fn)

        def take_and_discard(plane):  # type: ignore[no-untyped-def]
            snapshots = plane.snap.snapshots

            async def run():  # type: ignore[no-untyped-def]
                spare = await snapshots.wait_spare(("discard", version), 128)
                folder, groups = spare.tmp.parent, list(spare.cgroups)
                snapshots.discard(spare)
                return spare.pid, folder, groups, snapshots.stats(("discard", version))["restored"]

            return asyncio.run_coroutine_threadsafe(run(), plane.loop)

        future = lab._engine.call(take_and_discard)  # noqa: SLF001 - test only
        pid, folder, groups, restored = future.result(timeout=15)
        assert restored == 0
        assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 5.0)  # it ended, never ran a hook or /next
        assert wait_for(lambda: not folder.exists() and not any(g.exists() for g in groups), 5.0), (
            folder.exists() and list(folder.rglob("*")),
            [(g, g.exists() and (g / "cgroup.procs").read_text()) for g in groups],
        )
        assert fn.invoke({}, qualifier=version).record.restore_duration_ms is not None  # the next spare restores
