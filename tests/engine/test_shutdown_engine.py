"""Shutdown as Lambda does it: with extensions, SIGTERM to the runtime first (its handler runs), then SHUTDOWN to
the extensions, within the documented 300 ms / 500 ms / 2,000 ms, then SIGKILL; without, SIGKILL at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lambdalab
from tests.engine.extension_helpers import events, layer, probe, wait_for

pytestmark = pytest.mark.timeout(120)

TERM_HANDLER = """
import signal, sys, time
def _term(signum, frame):
    print("SIGTERM", repr(time.time()), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, _term)
def handler(event, context):
    return event
"""

IGNORE_TERM = """
import signal, time
signal.signal(signal.SIGTERM, lambda signum, frame: print("SIGTERM ignored", repr(time.time()), flush=True))
def handler(event, context):
    return event
"""


def _shutdown_span(lab: lambdalab.Lab) -> float:
    spans = lab.spans(include_open=False)
    shutdown = spans[spans["phase"] == "shutdown"]
    assert len(shutdown) == 1
    return float(shutdown["duration_ms"].iloc[0])


def _sigterm_at(log: str) -> float:
    (line,) = [line for line in log.splitlines() if line.startswith("SIGTERM")]
    return float(line.split()[-1])


def _gone(lab: lambdalab.Lab) -> bool:
    spans = lab.spans(include_open=False)
    return bool((spans["phase"] == "shutdown").any())


def test_with_an_extension_the_runtime_gets_sigterm_before_the_extension_gets_shutdown(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("graceful", TERM_HANDLER, layers=[version.arn])
        fn.invoke(1)
        killed = time.time()
        fn.kill()
        assert wait_for(lambda: _gone(lab), 5.0)
        log = fn.logs()
        term = _sigterm_at(log)
        ((shutdown_at, shutdown),) = [(t, e) for t, e in events(log) if e["eventType"] == "SHUTDOWN"]
        assert killed <= term < shutdown_at  # SIGTERM first, and its Python handler ran
        assert shutdown["deadlineMs"] / 1000 <= killed + 2.0 + 0.05  # the whole shutdown within 2,000 ms
        assert _shutdown_span(lab) < 2000


def test_a_runtime_that_ignores_sigterm_is_killed_after_300_ms(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("stubborn", IGNORE_TERM, layers=[version.arn])
        fn.invoke(1)
        fn.kill()
        assert wait_for(lambda: _gone(lab), 5.0)
        log = fn.logs()
        assert "SIGTERM ignored" in log
        ((shutdown_at, _),) = [(t, e) for t, e in events(log) if e["eventType"] == "SHUTDOWN"]
        term = float([line for line in log.splitlines() if line.startswith("SIGTERM ignored")][0].split()[-1])
        assert 0.28 <= shutdown_at - term <= 1.0  # the runtime's 300 ms grace, then the extensions' turn
        assert 300 <= _shutdown_span(lab) < 2000


def test_an_extension_that_ignores_shutdown_is_killed_at_the_deadline(tmp_path: Path) -> None:
    stubborn = probe(
        on_event="""
    if event["eventType"] == "SHUTDOWN":
        time.sleep(60)
"""
    )
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("stubborn", layer(tmp_path / "layer", {"stubborn": stubborn}))
        fn = lab.create_function("deadline", TERM_HANDLER, layers=[version.arn])
        fn.invoke(1)
        fn.kill()
        assert wait_for(lambda: _gone(lab), 6.0)
        assert 1950 <= _shutdown_span(lab) <= 2600  # the shutdown span shows the whole grace period


def test_an_internal_extension_gives_the_runtime_500_ms(tmp_path: Path) -> None:
    source = (
        IGNORE_TERM
        + """
import json, os, threading, urllib.request
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
request = urllib.request.Request(f"http://{API}/2020-01-01/extension/register", data=b'{"events":["INVOKE"]}',
                                 headers={"Lambda-Extension-Name": "internal"})
with urllib.request.urlopen(request) as r:
    IDENT = r.headers["Lambda-Extension-Identifier"]
def loop():
    while True:
        next_ = urllib.request.Request(f"http://{API}/2020-01-01/extension/event/next",
                                       headers={"Lambda-Extension-Identifier": IDENT})
        with urllib.request.urlopen(next_) as r:
            print("INTERNAL", json.loads(r.read())["eventType"], flush=True)
threading.Thread(target=loop, daemon=True).start()
"""
    )
    with lambdalab.Lab() as lab:
        fn = lab.create_function("internal", source)
        fn.invoke(1)
        fn.invoke(2)
        assert fn.logs().count("INTERNAL INVOKE") == 2
        fn.kill()
        assert wait_for(lambda: _gone(lab), 5.0)
        assert 480 <= _shutdown_span(lab) < 2000


def test_without_extensions_shutdown_is_sigkill_at_once() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("plain", TERM_HANDLER)
        fn.invoke(1)
        fn.kill()
        assert wait_for(lambda: _gone(lab), 5.0)
        assert "SIGTERM" not in fn.logs()  # no graceful shutdown: the handler never ran
        assert _shutdown_span(lab) < 250
