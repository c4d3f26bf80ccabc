"""A SnapStart version whose template dies: its restored environments die with it (PR_SET_PDEATHSIG), and the
version starts cold (``on-demand``) from then on; restores that were waiting for a spare fail at once."""

from __future__ import annotations

import time

import lambdalab
from tests.engine.snapstart_helpers import SNAPSTART_MARKS, publish_snapstart, snapshot_state

pytestmark = SNAPSTART_MARKS

# a restored runtime's parent is its template's fork server: {"k": 1} kills the template
KILLER = """
import os, time
def handler(event, context):
    if event == {"k": 1}:
        os.kill(os.getppid(), 9)
    if event == {"slow": 1}:
        time.sleep(0.3)
    return [os.getpid(), os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")]
"""


def test_a_dead_templates_version_starts_cold_and_answers_every_call() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("snap", KILLER, snap_start=True)
        version = publish_snapstart(lab, fn)
        restored = fn.invoke(qualifier=version)
        assert restored.record.restore_duration_ms is not None
        fn.invoke({"k": 1}, qualifier=version)  # kills the template (and with it this restored environment)
        time.sleep(1)
        assert snapshot_state(lab, "snap", version) in ("failed", "none")
        started = time.monotonic()
        results = [f.result(timeout=20) for f in [fn.submit(qualifier=version) for _ in range(3)]]
        took = time.monotonic() - started
        logs = fn.logs()
    assert took < 10
    for result in results:
        assert result.error is None, result.error
        assert result.payload[1] == "on-demand"  # a cold start, never told snap-start
        assert result.record.restore_duration_ms is None
    assert any(r.record.init_duration_ms is not None for r in results)
    assert logs.count("INIT_REPORT") == 1  # the template's, at publish: no runtime parks on /restore/next again


def test_restores_waiting_for_spares_fail_at_once_when_the_template_dies() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("snap", KILLER, snap_start=True)
        version = publish_snapstart(lab, fn)
        started = time.monotonic()
        killer = fn.submit({"k": 1}, qualifier=version)
        futures = [fn.submit({"slow": 1}, qualifier=version) for _ in range(15)]
        results = [f.result(timeout=20) for f in [killer, *futures]]
        took = time.monotonic() - started
    types = [r.record.error_type for r in results]
    assert "SnapStartTimeoutException" not in types, types
    assert took < 5, (took, types)  # not the 10 s restore limit
    assert set(types) <= {None, "SnapStartException", "Runtime.ExitError", "Sandbox.Failure"}, types


ASKS_AT_INIT = """
import json, os, urllib.error, urllib.request
try:
    url = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/restore/next"
    STATUS = urllib.request.urlopen(url, timeout=5).status
except urllib.error.HTTPError as e:
    STATUS = [e.code, json.loads(e.read())["errorType"]]
def handler(event, context):
    return STATUS
"""


def test_only_a_template_may_ask_for_restore_next() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("asks", ASKS_AT_INIT)
        result = fn.invoke()
        logs = fn.logs()
    assert result.error is None and result.payload[0] == 403, result.payload
    assert "INIT_REPORT" not in logs  # no snapshot was taken of an on-demand environment
