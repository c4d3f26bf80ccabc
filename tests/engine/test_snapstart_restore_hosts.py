"""Restored SnapStart environments get their own ``/etc/hosts`` as fresh ones do (``sandbox.localdomain`` on the
environment's own loopback address, bound by ``runtimes/snapshot_server.py`` in the restore spare's namespace), so
two restored environments' extensions can both listen on ``sandbox.localdomain:4243``; a spare taken for an
environment that went meanwhile is discarded, never restored (``Snapshots.discard``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lambdalab
from tests.engine.extension_helpers import collector, telemetry_example, telemetry_example_function, wait_for
from tests.engine.snapstart_helpers import SNAPSTART_MARKS, publish_snapstart

pytestmark = SNAPSTART_MARKS

HOSTS = """
import socket, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open("/etc/hosts") as f:
        lines = [line.split() for line in f if "sandbox.localdomain" in line]
    return {"resolved": socket.gethostbyname("sandbox.localdomain"), "lines": lines}
"""


def _environment_address(lab: lambdalab.Lab, environment_id: str) -> str:
    return lab._engine.call(lambda plane: plane.environments[environment_id].address)  # noqa: SLF001 - test only


def test_each_restored_environment_resolves_sandbox_localdomain_to_its_own_address() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("hosts", HOSTS, snap_start=True)
        version = publish_snapstart(lab, fn)
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


def test_the_aws_telemetry_example_runs_in_two_restored_environments(tmp_path: Path) -> None:
    root, function = telemetry_example(tmp_path / "layer")
    function += "\nimport time\n_handler = lambda_handler\ndef lambda_handler(event, context):\n"
    function += "    time.sleep(event.get('sleep', 0))\n    return _handler(event, context)\n"
    with collector() as (url, batches), lambdalab.Lab() as lab:
        fn = telemetry_example_function(lab, root, function, url, snap_start=True)
        published = publish_snapstart(lab, fn)
        futures = [fn.submit({"sleep": 1.0}, qualifier=published) for _ in range(2)]
        results = [f.result(timeout=30) for f in futures]
        environments = {r.record.environment_id for r in results}
        assert all(r.error is None for r in results), [r.error for r in results]
        fn.kill()
        assert wait_for(lambda: all("Handle Shutdown Event" in fn.logs(e) for e in environments), 10.0), fn.logs()
        logs = {e: fn.logs(e) for e in environments}
    assert all(r.record.restore_duration_ms is not None for r in results)
    assert len(environments) == 2
    for log in logs.values():
        assert "Extension successfully subscribed to telemetry api" in log
        assert "Address already in use" not in log
    received = [event for batch in batches for event in batch]
    starts = {e["record"]["requestId"] for e in received if e["type"] == "platform.start"}
    assert {r.request_id for r in results} <= starts  # each environment's listener got its own telemetry


def test_a_spare_discarded_is_never_restored() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("discard", HOSTS, snap_start=True)
        version = publish_snapstart(lab, fn)

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
