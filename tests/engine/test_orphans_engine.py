"""No environment outlives its Lab: not after close(), not after the owner is SIGKILLed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

import lambdalab
from tests.conftest import gone, start_owner

pytestmark = pytest.mark.slow

PID = "import os\ndef handler(event, context):\n    return os.getpid()\n"


def test_close_ends_every_environment_and_removes_the_lab_files():
    lab = lambdalab.Lab()
    workdir = lab._workdir
    pids = [lab.create_function(f"f{i}", PID).invoke().payload for i in range(3)]
    reaper = lab._plane.reaper.pid
    lab.close()
    assert gone(pids + [reaper], 2.0) == []
    assert not workdir.exists()
    with pytest.raises(lambdalab.LabClosedError):
        lab.create_function("late", PID)


def test_sigkill_of_the_owner_ends_its_environments_within_two_seconds(tmp_path):
    owner, info = start_owner("wait", 3)
    try:
        children = [p.pid for p in psutil.Process(owner.pid).children(recursive=True)]
        busy = [p for p in children if p not in info["pids"]]
        assert len(info["pids"]) == 3 and busy
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(5)
        assert gone(info["pids"] + busy, 2.0) == []
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
