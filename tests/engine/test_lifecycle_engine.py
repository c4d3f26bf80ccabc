"""The lifecycle on real processes: cold and warm starts, reuse, update, freeze, timeouts, crashes."""

from __future__ import annotations

import time

import psutil
import pytest

from tests.engine import assert_report_lines

pytestmark = pytest.mark.slow

COUNTER = """
import os
count = 0
def handler(event, context):
    global count
    count += 1
    return {"count": count, "pid": os.getpid()}
"""



def test_first_invoke_is_cold_second_is_warm_in_the_same_environment(lab, runtime):
    fn = lab.create_function("counter", COUNTER, runtime=runtime)
    first, second = fn.invoke({}), fn.invoke({})
    assert first.error is None and first.payload["count"] == 1
    assert first.cold and first.init_duration_ms is not None and first.init_duration_ms > 0
    assert second.payload["count"] == 2
    assert not second.cold and second.init_duration_ms is None
    assert second.environment_id == first.environment_id
    assert first.payload["pid"] == second.payload["pid"]
    assert first.billed_duration_ms == -(-round(first.duration_ms + first.init_duration_ms, 3) // 1)


def test_report_line_matches_lambda_format_exactly(lab, runtime):
    fn = lab.create_function("fmt", COUNTER, runtime=runtime)
    cold, warm = fn.invoke(), fn.invoke()
    assert_report_lines(cold, warm)  # measured peak RSS, never the configured size


def test_update_retires_environments_and_next_invoke_is_cold(lab, runtime):
    fn = lab.create_function("upd", COUNTER, runtime=runtime)
    old = fn.invoke()
    fn.update(source=COUNTER.replace('"count": count', '"count": count * 100'))
    new = fn.invoke()
    assert new.cold and new.environment_id != old.environment_id
    assert new.payload["count"] == 100
    assert not psutil.pid_exists(old.payload["pid"]) or _gone_soon(old.payload["pid"])
    assert [e.environment_id for e in fn.environments()] == [new.environment_id]


def _gone_soon(pid: int, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False


BACKGROUND = """
import os, threading, time
ticks = 0
def _tick():
    global ticks
    while True:
        ticks += 1
        time.sleep(0.005)
threading.Thread(target=_tick, daemon=True).start()
def handler(event, context):
    return {"ticks": ticks, "pid": os.getpid()}
"""


def _status_after(pid: int, wanted: str | None, timeout: float = 1.0) -> str:
    """The process's status once it is ``wanted`` (SIGSTOP takes effect asynchronously), or after 50 ms."""
    deadline = time.monotonic() + (timeout if wanted else 0.05)
    status = psutil.Process(pid).status()
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.002)
        status = psutil.Process(pid).status()
    return status


@pytest.mark.parametrize("freeze", [True, False])
def test_background_thread_stalls_only_while_frozen(lab, runtime, freeze):
    fn = lab.create_function("bg", BACKGROUND, runtime=runtime, freeze=freeze)
    first = fn.invoke()
    status = _status_after(first.payload["pid"], psutil.STATUS_STOPPED if freeze else None)
    time.sleep(0.4)
    second = fn.invoke()
    advanced = second.payload["ticks"] - first.payload["ticks"]
    if freeze:
        assert status == psutil.STATUS_STOPPED
        assert advanced <= 3, f"the thread ran {advanced} ticks while frozen"
    else:
        assert status != psutil.STATUS_STOPPED
        assert advanced >= 20, f"only {advanced} ticks in 0.4 s without freezing"
    phases = set(lab.spans()["phase"])
    assert ("frozen" in phases) is freeze and ("idle" in phases) is (not freeze)


SLOW = """
import os, time
count = 0
def handler(event, context):
    global count
    count += 1
    time.sleep(event.get("sleep", 0))
    return {"count": count, "pid": os.getpid()}
"""


def test_timeout_resets_the_environment_and_next_invoke_reinitialises(lab, runtime):
    fn = lab.create_function("slow", SLOW, runtime=runtime, timeout_s=1)
    warm = fn.invoke({"sleep": 0})
    started = time.monotonic()
    timed_out = fn.invoke({"sleep": 5})
    assert time.monotonic() - started < 2.5
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert timed_out.function_error == "Unhandled"
    assert timed_out.report.endswith("\tStatus: timeout")
    assert timed_out.environment_id == warm.environment_id
    assert _gone_soon(warm.payload["pid"])
    again = fn.invoke({"sleep": 0})
    assert again.error is None and again.payload["count"] == 1  # module state was lost
    assert again.environment_id == warm.environment_id and again.cold
    assert again.record.init_suppressed and "Init Duration" not in again.report
    assert again.duration_ms >= again.init_duration_ms


def test_function_error_keeps_the_environment_warm(lab, runtime):
    fn = lab.create_function("boom", """
count = 0
def handler(event, context):
    global count
    count += 1
    if event.get("fail"):
        raise KeyError("action")
    return count
""", runtime=runtime)
    failed = fn.invoke({"fail": True})
    assert failed.error["errorType"] == "KeyError"
    assert failed.error["errorMessage"] == "'action'"
    assert failed.error["requestId"] == failed.request_id
    assert any('raise KeyError("action")' in line for line in failed.error["stackTrace"])
    assert "[ERROR] KeyError: 'action'" in failed.log
    assert "Status:" not in failed.report
    ok = fn.invoke({})
    assert ok.payload == 2 and not ok.cold and ok.environment_id == failed.environment_id
