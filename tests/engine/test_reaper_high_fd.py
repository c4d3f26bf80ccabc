"""``reaper.exited`` answers for a pidfd numbered above select()'s FD_SETSIZE (1,024).

A Lab under load holds more than 1,024 descriptors; ``select`` raised ``ValueError`` for such a pidfd, inside
``stop_then_kill`` before its SIGKILL, leaving a timed-out environment's processes stopped instead of killed.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from lambdalab.engine import reaper


@pytest.fixture
def high_fd_room():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} leaves no room above 1,024")
    resource.setrlimit(
        resource.RLIMIT_NOFILE,
        (max(soft, 1100) if hard == resource.RLIM_INFINITY else min(hard, max(soft, 1100)), hard),
    )
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_exited_on_a_pidfd_above_fd_setsize(high_fd_room) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    low = os.pidfd_open(child.pid)
    pidfd = os.dup2(low, 1050)  # a descriptor number select() cannot take
    os.close(low)
    try:
        assert reaper.exited(pidfd) is False
        child.stdin.close()
        assert child.wait(timeout=10) == 0
        assert reaper.exited(pidfd) is True
    finally:
        os.close(pidfd)
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
