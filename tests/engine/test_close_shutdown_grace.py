"""Lab.close keeps Lambda's SHUTDOWN grace: an extension that flushes on SHUTDOWN gets its time (up to the 2,000 ms
deadline), and what it prints then is in the function's logs; close stays bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lambdalab
from tests.engine.extension_helpers import layer, probe

pytestmark = pytest.mark.timeout(120)

ECHO = "def handler(event, context):\n    return event\n"


def test_close_waits_for_an_extensions_shutdown_flush(tmp_path: Path) -> None:
    flush = probe(
        on_event="if event['eventType'] == 'SHUTDOWN':\n    time.sleep(0.5)\n    print('FLUSHED', flush=True)"
    )
    lab = lambdalab.Lab()
    try:
        version = lab.publish_layer_version("flush", layer(tmp_path / "layer", {"flush": flush}))
        fn = lab.create_function("grace", ECHO, layers=[version.arn])
        assert fn.invoke({"n": 1}).payload == {"n": 1}
    finally:
        started = time.monotonic()
        lab.close()
        took = time.monotonic() - started
    assert 0.45 <= took < 5.0, took
    assert "FLUSHED" in fn.logs()


def test_close_is_bounded_by_the_shutdown_deadline(tmp_path: Path) -> None:
    stuck = probe(on_event="if event['eventType'] == 'SHUTDOWN':\n    time.sleep(30)")
    lab = lambdalab.Lab()
    try:
        version = lab.publish_layer_version("stuck", layer(tmp_path / "layer", {"stuck": stuck}))
        fn = lab.create_function("stuck", ECHO, layers=[version.arn])
        fn.invoke({"n": 1})
    finally:
        started = time.monotonic()
        lab.close()
        took = time.monotonic() - started
    assert 1.8 <= took < 5.0, took  # the 2,000 ms SHUTDOWN deadline, then SIGKILL
