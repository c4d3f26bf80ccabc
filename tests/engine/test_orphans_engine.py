"""No environment outlives its Lab: not after close(), not after the owner is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import lambdalab

pytestmark = pytest.mark.slow

PID = "import os\ndef handler(event, context):\n    return os.getpid()\n"


def _all_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.02)
    return alive


def test_close_ends_every_environment_and_removes_the_lab_files():
    lab = lambdalab.Lab()
    workdir = lab._workdir
    pids = [lab.create_function(f"f{i}", PID).invoke().payload for i in range(3)]
    reaper = lab._plane.reaper.pid
    lab.close()
    assert _all_gone(pids + [reaper], 2.0) == []
    assert not workdir.exists()
    with pytest.raises(lambdalab.LabClosedError):
        lab.create_function("late", PID)


OWNER = textwrap.dedent("""
    import json, sys, time, lambdalab
    lab = lambdalab.Lab()
    pids = [lab.create_function(f"f{i}", "import os\\ndef handler(e, c):\\n    return os.getpid()\\n").invoke().payload
            for i in range(3)]
    slow = lab.create_function("slow", "import os, time\\ndef handler(e, c):\\n    time.sleep(60)\\n", timeout_s=120)
    import threading
    threading.Thread(target=slow.invoke, daemon=True).start()
    time.sleep(0.5)
    print(json.dumps({"pids": pids, "workdir": str(lab._workdir)}), flush=True)
    time.sleep(600)
""")


def test_sigkill_of_the_owner_ends_its_environments_within_two_seconds(tmp_path):
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    try:
        line = owner.stdout.readline()
        info = json.loads(line)
        children = [p.pid for p in psutil.Process(owner.pid).children(recursive=True)]
        busy = [p for p in children if p not in info["pids"]]
        assert len(info["pids"]) == 3 and busy
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(5)
        assert _all_gone(info["pids"] + busy, 2.0) == []
        deadline = time.monotonic() + 2
        while Path(info["workdir"]).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not Path(info["workdir"]).exists()
        leftovers = list(Path("/sys/fs/cgroup/memory").glob(f"lambdalab-*{Path(info['workdir']).name.rsplit('-', 1)[-1]}"))
        assert leftovers == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
