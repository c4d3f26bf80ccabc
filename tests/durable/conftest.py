"""One Lab for a module of durable tests (``shared_lab``): the SDK's import makes every cold start slow, and the
waits are shortened by ``time_scale``. Its environments (and the Lab's spare) outlive each test, so the per-test
leftover check is replaced by one at the module's end: nothing the module started may outlive its Lab."""

from __future__ import annotations

import pytest

import lambdalab
from tests.conftest import gone, marked_processes

SCALE = 10.0


@pytest.fixture(autouse=True)
def no_leftover_environments():
    """See the module: ``shared_lab`` checks, when it closes, that none of its processes outlives it."""
    yield


@pytest.fixture(scope="module")
def shared_lab():
    before = set(marked_processes())
    with lambdalab.Lab(time_scale=SCALE) as lab:
        yield lab
    left = gone([pid for pid in marked_processes() if pid not in before], timeout=5.0)
    assert not left, f"runtime processes left behind by the module's Lab: {left}"
