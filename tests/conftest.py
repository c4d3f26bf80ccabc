"""Shared fixtures: a headless Lab per test, and a check that no environment outlives its test."""

from __future__ import annotations

import os

import psutil
import pytest

import lambdalab


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


def _environment_processes() -> list[psutil.Process]:
    """Processes that look like lambdalab runtimes (any owner), except zombies."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if ("python_bootstrap.py" in cmd or "-m awslambdaric" in cmd) and proc.info["status"] != "zombie":
            found.append(proc)
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
