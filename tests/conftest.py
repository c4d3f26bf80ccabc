"""Shared fixtures: a headless Lab per test, and a check that no environment outlives its test."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
import uuid

import psutil
import pytest

import lambdalab


# One tag per test session: every Lab created here (and in owner subprocesses, which inherit it) marks
# its runtimes ``LAMBDALAB_MARKER=<tag>/...``, so the leak check finds them anywhere on the machine,
# never another session's (other test runs may share this machine).
SESSION_TAG = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["LAMBDALAB_TAG"] = SESSION_TAG


def _temp_root() -> None:
    """Where runtimes get their own /tmp (engine/mounts.py), a folder under the machine's /tmp is not what a
    handler sees at that path: pytest's ``tmp_path`` then lives where Labs keep their files (outside /tmp),
    so a test can still hand a handler a folder to write into and read it back."""
    from lambdalab.engine import mounts

    base = mounts.work_base()
    if base is not None and "PYTEST_DEBUG_TEMPROOT" not in os.environ:
        os.environ["PYTEST_DEBUG_TEMPROOT"] = base  # read by pytest's TempPathFactory (numbered dirs, kept 3 runs)


_temp_root()


def marked_processes(prefix: str = SESSION_TAG + "/") -> list[int]:
    """Live (not zombie) processes anywhere on the machine whose environment carries the marker ``prefix``."""
    needle = f"\0LAMBDALAB_MARKER={prefix}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle not in b"\0" + f.read():
                    continue
            with open(f"/proc/{name}/stat", "rb") as f:
                if f.read().rpartition(b")")[2].split()[0] in (b"Z", b"X"):
                    continue
        except OSError:
            continue
        found.append(int(name))
    return found


def gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` s for ``pids`` to exit (a zombie counts as gone); returns those still running."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if _running(p)]
    return [p for p in alive if _running(p)]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# An owner process for tests of what happens when it dies or forks: ``python -c OWNER MODE COUNT`` makes
# a Lab, COUNT warm functions (answering their pid) and one busy invoke, prints what it made as one JSON
# line, then waits (MODE "wait"), or forks a child ("fork") or starts one sharing its descriptors
# ("inherit") and ends at once without closing the Lab.
OWNER = textwrap.dedent("""
    import json, os, sys, threading, time, lambdalab
    mode, count = sys.argv[1], int(sys.argv[2])
    lab = lambdalab.Lab()
    pids = [lab.create_function(f"f{i}", "import os\\ndef handler(e, c):\\n    return os.getpid()\\n").invoke().payload
            for i in range(count)]
    slow = lab.create_function("slow", "import time\\ndef handler(e, c):\\n    time.sleep(60)\\n", timeout_s=120)
    threading.Thread(target=slow.invoke, daemon=True).start()
    time.sleep(0.5)
    forked = None
    if mode == "fork":
        forked = os.fork()
        if forked == 0:
            time.sleep(30)
            os._exit(0)
    elif mode == "inherit":
        forked = __import__("subprocess").Popen(["sleep", "30"], close_fds=False).pid
    print(json.dumps({"pids": pids, "workdir": str(lab._workdir), "reaper": lab._plane.reaper.pid,
                      "marker": lab._plane.marker, "forked": forked}), flush=True)
    if mode in ("fork", "inherit"):
        os._exit(0)  # the owner ends without closing; its child lives on
    time.sleep(600)
""")


def start_owner(mode: str, count: int = 2) -> tuple[subprocess.Popen, dict]:
    """Start an ``OWNER`` process and read what it made (waits up to 60 s for it)."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, mode, str(count)], stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([owner.stdout], [], [], 60)
    assert ready, "the owner did not start"
    return owner, json.loads(owner.stdout.readline())


def _environment_processes() -> list[psutil.Process]:
    """This session's runtime processes and everything they started, anywhere on the machine."""
    found = []
    for pid in marked_processes():
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture
def lab():
    with lambdalab.Lab() as the_lab:
        yield the_lab


@pytest.fixture(params=["python", "python-ric"])
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def no_leftover_environments():
    """Every test must leave no runtime process (or process a runtime started) behind, anywhere."""
    before = {p.pid for p in _environment_processes()}
    yield
    left = []
    for _ in range(100):
        left = [p for p in _environment_processes() if p.pid not in before]
        if not left:
            break
        psutil.wait_procs(left, timeout=0.05)
    assert not left, f"runtime processes left behind: {[p.pid for p in left]}"
