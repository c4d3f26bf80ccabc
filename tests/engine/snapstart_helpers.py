"""Publishing SnapStart versions for the engine's SnapStart tests: the marks they share, the snapshot's state, and a
publish that waits for the snapshot (skipping where SnapStart cannot run)."""

from __future__ import annotations

import inspect
import time

import pytest

import lambdalab

# the module marks of a SnapStart engine test: a time limit, and skipped while snap_start is not a setting
SNAPSTART_MARKS = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        "snap_start" not in inspect.signature(lambdalab.Lab.create_function).parameters,
        reason="snap_start is not a function setting yet",
    ),
]


def snapshot_state(lab: lambdalab.Lab, name: str, version: str) -> str:
    """The version's snapshot state once it is no longer ``taking`` (or after 20 s)."""
    state = "taking"
    deadline = time.monotonic() + 20
    while state == "taking" and time.monotonic() < deadline:
        state = lab._engine.call(lambda plane: plane.snapshot_state(name, version))  # noqa: SLF001 - test only
        time.sleep(0.02)
    return state


def publish_snapstart(lab: lambdalab.Lab, fn: lambdalab.Function, *, settle_s: float = 0.3) -> str:
    """Publish ``fn`` (a SnapStart function) and wait for its snapshot, then ``settle_s`` for the first restore spare
    to be made; skip the test where SnapStart cannot run. The published version."""
    version = fn.publish()
    if snapshot_state(lab, fn.name, version) != "ready":
        pytest.skip("SnapStart needs the launcher, cgroups and pidfd exit status here")
    time.sleep(settle_s)
    return version
