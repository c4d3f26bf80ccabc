"""engine/snapshot.py on real processes: a template started through the launcher (its cgroups, its namespace, its
control socket), restore spares that join their own groups and /tmp, restored runtimes watched through pidfds."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import pytest
import snapshot_restore_py

from lambdalab.engine import mounts
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper, remove_tree
from lambdalab.engine.runtimes import BOOTSTRAP
from lambdalab.engine.sandbox import Sandbox, lab_marker, marked_environment
from lambdalab.engine.snapshot import Snapshots
from tests.engine.snapstart_harness import FakeRuntimeAPI

HANDLER = """
import os, random, time
time.sleep(float(os.environ.get("SLEEP", "0")))
with open("/tmp/from-init.txt", "w") as f:
    f.write("init")
DRAW = random.random()

def handler(event, context):
    mine = f"/tmp/restored-{os.getpid()}"
    open(mine, "w").close()
    with open("/proc/self/cgroup") as f:
        groups = f.read()
    return {
        "pid": os.getpid(),
        "draw": DRAW,
        "tmp": sorted(os.listdir("/tmp")),
        "groups": groups,
        "api": os.environ["AWS_LAMBDA_RUNTIME_API"],
    }
"""
KEY = ("f", "1")


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def _scenario(tmp_path: Path, api: FakeRuntimeAPI) -> dict:  # type: ignore[type-arg]
    loop = asyncio.get_running_loop()
    lab_id = f"p15snap-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "lab"
    environments = workdir / "environments"
    task_root = workdir / "code"
    task_root.mkdir(parents=True)
    (task_root / "app.py").write_text(HANDLER)
    mounts.share(workdir)  # as a Lab does: mounts made under it later reach the runtimes' namespaces
    limits = Limits(lab_id)
    reaper = Reaper(loop)
    snapshots = Snapshots(workdir=workdir, limits=limits, reaper=reaper, hide=str(environments))
    if not snapshots.available():
        pytest.skip("SnapStart restores need the launcher, v1 cgroups and Linux 6.15+")
    template_tmp = environments / "template" / "tmp"
    template_tmp.mkdir(parents=True)
    mounts.mount_tmpfs(template_tmp, 512)
    groups = limits.create("template", 256)
    fd, variables = snapshots.template_channel(KEY)
    marker = f"{lab_marker(lab_id)}template/1/"
    env = marked_environment(
        {
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": "app.handler",
            "_LAMBDALAB_PATH": str(Path(snapshot_restore_py.__file__).parent),
            "PATH": "/usr/bin:/bin",
            **variables,
        },
        marker,
    )
    template_out = bytearray()
    template = Sandbox(
        [sys.executable, "-B", "-I", "-S", "-u", str(BOOTSTRAP)],
        cwd=task_root,
        env_vars=env,
        on_output=template_out.extend,
        on_exit=lambda code: None,
        mounts=(str(template_tmp), None),
        cgroups=groups,
        shared=(str(task_root),),
        hide=str(environments),
        pass_fds=[fd],
    )
    results: dict = {"exits": {}}  # type: ignore[type-arg]
    try:
        template.guard(reaper, groups, marker)
        snapshots.template_started(KEY, template, template_tmp, marker)
        await loop.run_in_executor(None, api.wait_for, "/restore/next")
        snapshots.taken(KEY)
        restored = []
        for _ in range(2):
            spare = await snapshots.wait_spare(KEY, 128)
            assert spare.pid != template.pid
            await _until(lambda: _state(template.pid) == "T")  # stopped between spares
            output = bytearray()
            sandbox = snapshots.restore(
                spare,
                env={"AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_LOG_STREAM_NAME": None},
                on_output=output.extend,
                on_exit=lambda code, pid=spare.pid: results["exits"].__setitem__(pid, code),
                owner=(f"env-{spare.pid}", 1),
            )
            assert snapshots.owner_of(spare.pid) == (f"env-{spare.pid}", 1)
            sandbox.guard(reaper, spare.cgroups, spare.marker)
            restored.append((sandbox, spare, output))
        await loop.run_in_executor(None, api.wait_for, "/invocation/next", 2)
        api.events.put(b"{}")
        api.events.put(b"{}")
        await loop.run_in_executor(None, api.wait_for, "/response", 2)
        results["answers"] = [json.loads(r[3]) for r in api.wait_for("/response", 2)]
        results["spares"] = [(s.name, s.pid) for _, s, _ in restored]
        first = restored[0][0]
        first.freeze()
        await _until(lambda: _state(first.pid) == "T")
        results["frozen"] = _state(first.pid)
        first.thaw()
        await _until(lambda: _state(first.pid) != "T")
        first.kill()
        await _until(lambda: first.pid in results["exits"])
        results["owner_after_exit"] = snapshots.owner_of(first.pid)
        results["memory"] = restored[1][0].max_memory_mb()
        results["stats"] = snapshots.stats(KEY)
    finally:
        snapshots.close()
        await _until(lambda: template.returncode is not None)
        for sandbox, spare, _ in restored:
            await _until(lambda sandbox=sandbox: sandbox.returncode is not None)
            limits.remove(spare.cgroups)
            remove_tree(spare.tmp.parent)
        remove_tree(template_tmp.parent)
        for _ in range(200):  # spares being made die with the template a moment later, then their groups go
            for path in sorted(limits.lab_dirs()[0].glob("*/"), reverse=True) + [groups[0]]:
                limits.remove([path, *(p / path.name for p in limits.lab_dirs()[1:])])
            limits.remove_lab()
            if not any(p.exists() for p in limits.lab_dirs()):
                break
            await asyncio.sleep(0.01)
        reaper.close()
        remove_tree(workdir)
    results["template_output"] = template_out.decode()
    return results


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def test_restored_runtimes_get_their_own_groups_and_tmp_and_share_the_snapshot(tmp_path: Path) -> None:
    api = FakeRuntimeAPI()
    try:
        results = asyncio.run(asyncio.wait_for(_scenario(tmp_path, api), 60))
    finally:
        api.close()
    first, second = results["answers"]
    assert first["draw"] == second["draw"]
    assert first["pid"] != second["pid"]
    names = dict((pid, name) for name, pid in results["spares"])
    assert {first["pid"], second["pid"]} == set(names)
    for answer in results["answers"]:
        assert f"/{names[answer['pid']]}" in answer["groups"]  # its own memory and pids groups, not the template's
        assert "from-init.txt" in answer["tmp"]  # the snapshot's /tmp, copied
    assert f"restored-{first['pid']}" not in second["tmp"]  # but each its own
    assert results["frozen"] == "T"
    killed = results["spares"][0][1]
    assert results["exits"][killed] == -9  # read from the pidfd: not our child
    assert results["owner_after_exit"] is None
    assert results["memory"] > 5
    assert results["stats"]["restored"] == 2
