"""Shared fixtures: a headless Lab per test, and a check that no environment outlives its test."""

from __future__ import annotations

import os

import psutil
import pytest

import lambdalab


def _environment_processes() -> list[psutil.Process]:
    """This test run's processes that look like lambdalab runtimes, except zombies.

    Only descendants of this process count, so that runtimes of other programs on the machine
    (another test run, a notebook) never fail a test here.
    """
    found = []
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            if ("python_bootstrap.py" in cmd or "-m awslambdaric" in cmd) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
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
    """Every test must leave no runtime process behind."""
    before = {p.pid for p in _environment_processes()}
    yield
    left = []
    for _ in range(100):
        left = [p for p in _environment_processes() if p.pid not in before]
        if not left:
            break
        psutil.wait_procs(left, timeout=0.05)
    assert not left, f"runtime processes left behind: {[p.pid for p in left]}"
