"""SnapStart through the control plane (engine/snap_plane.py): publish takes the snapshot in a template; new
environments of the version are restored from it, faster than the init they replace, sharing its random state."""

from __future__ import annotations

import inspect
import time

import pytest

import lambdalab

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        "snap_start" not in inspect.signature(lambdalab.Lab.create_function).parameters,
        reason="snap_start is not a function setting yet",
    ),
]

SLOW_INIT = """
import random, time
time.sleep(1)
SEED = random.random()
def handler(event, context):
    return SEED
"""


def _ready(lab: lambdalab.Lab, name: str, version: str) -> str:
    state = "taking"
    deadline = time.monotonic() + 20
    while state == "taking" and time.monotonic() < deadline:
        state = lab._engine.call(lambda plane: plane.snapshot_state(name, version))  # noqa: SLF001 - test only
        time.sleep(0.02)
    return state


def test_a_published_snapstart_version_restores_instead_of_init() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("snap", SLOW_INIT, snap_start=True)
        version = fn.publish()
        if _ready(lab, "snap", version) != "ready":
            pytest.skip("SnapStart needs the launcher, cgroups and pidfd exit status here")
        assert "INIT_REPORT Init Duration: " in fn.logs()  # the template's init, at publish
        time.sleep(0.3)  # its first restore spare is made
        first = fn.invoke(qualifier=version)
        futures = [fn.submit(qualifier=version) for _ in range(2)]
        others = [f.result(timeout=30) for f in futures]
        frame = lab.invocations()
    restored = frame[frame["restore_duration_ms"].notna()]
    assert len(restored) >= 2
    assert (restored["restore_duration_ms"] < 100).all()  # a 1 s init replaced by a restore well under 100 ms
    assert restored["init_duration_ms"].isna().all()
    assert {r.payload for r in [first, *others]} == {first.payload}  # the init-time random value is shared


def test_extensions_start_afresh_in_a_restored_environment(tmp_path) -> None:
    from tests.engine.extension_helpers import events, layer, probe

    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("snapext", SLOW_INIT, snap_start=True, layers=[version.arn])
        published = fn.publish()
        if _ready(lab, "snapext", published) != "ready":
            pytest.skip("SnapStart needs the launcher, cgroups and pidfd exit status here")
        time.sleep(0.3)
        result = fn.invoke(qualifier=published)
        log = fn.logs(result.record.environment_id)
    assert result.record.restore_duration_ms is not None
    assert "REGISTERED probe" in log  # launched and registered within the restore
    invokes = [e for _, e in events(log) if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [result.request_id]
