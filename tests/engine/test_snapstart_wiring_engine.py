"""SnapStart through the control plane (engine/snap_plane.py): publish takes the snapshot in a template; new
environments of the version are restored from it, faster than the init they replace, sharing its random state."""

from __future__ import annotations

import lambdalab
from tests.engine.snapstart_helpers import SNAPSTART_MARKS, publish_snapstart

pytestmark = SNAPSTART_MARKS

SLOW_INIT = """
import random, time
time.sleep(1)
SEED = random.random()
def handler(event, context):
    return SEED
"""


def test_a_published_snapstart_version_restores_instead_of_init() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("snap", SLOW_INIT, snap_start=True)
        version = publish_snapstart(lab, fn)
        assert "INIT_REPORT Init Duration: " in fn.logs()  # the template's init, at publish
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
        published = publish_snapstart(lab, fn)
        result = fn.invoke(qualifier=published)
        log = fn.logs(result.record.environment_id)
    assert result.record.restore_duration_ms is not None
    assert "REGISTERED probe" in log  # launched and registered within the restore
    invokes = [e for _, e in events(log) if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [result.request_id]
