"""``lab.telemetry()`` of a function without extensions: the records built from its log stream when read carry
the whole invoke's story (init, start, the handler's lines, runtimeDone, report), in time order."""

from __future__ import annotations

SOURCE = (
    "def handler(event, context):\n    print('hello from the handler')\n    if event:\n        raise ValueError('no')\n"
    "    return 1\n"
)


def test_a_plain_functions_telemetry_has_init_runtime_done_function_lines_and_report(lab):
    fn = lab.create_function("plain", SOURCE)
    ok, failed = fn.invoke({}), fn.invoke({"fail": True})
    frame = lab.telemetry()
    types = frame["type"].tolist()
    assert types[:4] == ["platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.start"]
    assert types.count("platform.runtimeDone") == 2 and types.count("platform.report") == 2
    assert list(frame["time"]) == sorted(frame["time"])
    records = frame["record"].tolist()
    init_report = records[types.index("platform.initReport")]
    assert init_report["initializationType"] == "on-demand"
    assert init_report["metrics"]["durationMs"] == round(ok.init_duration_ms, 3)
    done = [r for t, r in zip(types, records, strict=True) if t == "platform.runtimeDone"]
    assert [(d["requestId"], d["status"]) for d in done] == [(ok.request_id, "success"), (failed.request_id, "error")]
    assert done[1]["errorType"] == "ValueError"
    lines = [r for t, r in zip(types, records, strict=True) if t == "function"]
    assert lines.count("hello from the handler") == 2


def test_a_snapstart_templates_init_records_say_snap_start(lab):
    fn = lab.create_function("snappy", "def handler(event, context):\n    return 1\n", snap_start=True)
    version = fn.publish()
    if fn.version_info(version).snapshot != "ready":
        import pytest

        pytest.skip("SnapStart is not available on this machine")
    frame = lab.telemetry()
    kinds = {
        r["initializationType"]
        for t, r in zip(frame["type"], frame["record"], strict=True)
        if t == "platform.initStart"
    }
    assert "snap-start" in kinds
