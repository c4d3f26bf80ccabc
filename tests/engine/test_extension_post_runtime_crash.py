"""An extension that crashes after the response (post-runtime, before it asks for the next event): the caller keeps
the function's response; the record and REPORT say ``Extension.Crash``; the environment is reset."""

from __future__ import annotations

from pathlib import Path

import pytest

import lambdalab
from lambdalab.core.outcomes import Status
from tests.engine.extension_helpers import layer, probe

pytestmark = pytest.mark.timeout(120)

ECHO = "def handler(event, context):\n    return event\n"


def test_an_extension_crash_after_the_response_is_reported(tmp_path: Path) -> None:
    crash = probe(("INVOKE",), on_event="time.sleep(0.3)\nprint('CRASHING', flush=True)\nsys.exit(1)")
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("crash", layer(tmp_path / "layer", {"crash": crash}))
        fn = lab.create_function("post", ECHO, layers=[version.arn])
        result = fn.invoke({"n": 1})
        again = fn.invoke({"n": 2})
        log = fn.logs()
    assert result.error is None and result.payload == {"n": 1}  # the response was the caller's already
    assert result.record.status is Status.ERROR and result.record.error_type == "Extension.Crash"
    assert result.record.reset and result.record.extension_overhead_ms >= 250
    report = [line for line in log.splitlines() if line.startswith(f"REPORT RequestId: {result.request_id}")]
    assert len(report) == 1 and "Status: error\tError Type: Extension.Crash" in report[0]
    assert again.payload == {"n": 2} and again.cold  # a new incarnation after the reset
