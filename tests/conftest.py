"""Shared fixtures: a headless Lab per test, and a check that no environment outlives its test."""

from __future__ import annotations

import os
import uuid

import psutil
import pytest

import lambdalab


# One tag per test session: every Lab created here (and in owner subprocesses, which inherit it) marks
# its runtimes ``LAMBDALAB_MARKER=<tag>/...``, so the leak check finds them anywhere on the machine,
# never another session's (other test runs may share this machine).
SESSION_TAG = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["LAMBDALAB_TAG"] = SESSION_TAG


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
