"""The launcher (lambdalab/runtimes/launch.c): a runtime and the children it forks at once are born inside their
environment's cgroups and namespace; without the launcher (LAMBDALAB_LAUNCHER=0) the fallback keeps the same
guarantees."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import lambdalab
from lambdalab.engine import launcher

pytestmark = pytest.mark.slow

# The module forks a child before anything else (as a bash bootstrap's first curl does) and reports where both are.
GROUPS = """
import os, subprocess
child = subprocess.Popen(["sleep", "30"])

def groups(pid):
    with open(f"/proc/{pid}/cgroup") as f:
        return {line.split(":")[1]: line.strip().split(":")[2] for line in f if line.split(":")[1]}

def handler(event, context):
    return {"runtime": groups(os.getpid()), "child": groups(child.pid), "tmp": sorted(os.listdir("/tmp"))}
"""

SCRIPT = f"""
import json, lambdalab
with lambdalab.Lab() as lab:
    result = lab.create_function("groups", {GROUPS!r}).invoke({{}})
    print(json.dumps({{"payload": result.payload, "error": result.error, "cgroups": lab.cgroups,
                      "isolation": lab.isolation, "environment": result.environment_id}}))
"""


def _run(launcher_on: bool) -> dict:
    env = dict(os.environ, LAMBDALAB_LAUNCHER="1" if launcher_on else "0")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("launcher_on", [True, False], ids=["launcher", "fallback"])
def test_runtime_and_its_first_child_are_inside_the_environments_groups(launcher_on):
    if launcher_on and launcher.path() is None:
        pytest.skip("no C compiler here: the launcher cannot be built (the fallback is tested)")
    seen = _run(launcher_on)
    assert seen["error"] is None, seen
    payload = seen["payload"]
    if seen["cgroups"] == "cgroup-v1":
        for controller in ("memory", "pids"):
            where = payload["runtime"][controller]
            assert where.endswith(f"/{seen['environment']}") and "/lambdalab-" in where, payload
            assert payload["child"][controller] == where, payload  # forked before anything: inside all the same
    if seen["isolation"] == "namespace":
        assert payload["tmp"] == [], payload  # its own /tmp, empty, whoever starts it


def test_launcher_is_built_once_and_refuses_a_bad_command_line():
    path = launcher.path()
    if path is None:
        pytest.skip("no C compiler here")
    assert launcher.path() == path and os.access(path, os.X_OK)
    done = subprocess.run([path, "9", str(os.getpid()), "-", "-", "--"], capture_output=True, text=True, timeout=10,
                          check=False)
    assert done.returncode == 127 and "usage" in done.stderr
    done = subprocess.run([path, "0", "0", "-", "-", "-", "-", "--", "/nonexistent/runtime"], capture_output=True,
                          text=True, timeout=10, check=False)
    assert done.returncode == 127 and "/nonexistent/runtime" in done.stderr
    done = subprocess.run([path, "0", str(os.getpid()), "-", "-", "-", "-", "--", "true"], timeout=10, check=False)
    assert done.returncode == 0
    # a group it cannot join: it fails closed (never a runtime outside its limits)
    done = subprocess.run([path, "0", "0", "-", "-", "-", "-", "/nonexistent/cgroup.procs", "--", "true"],
                          capture_output=True, text=True, timeout=10, check=False)
    assert done.returncode == 127 and "/nonexistent/cgroup.procs" in done.stderr
