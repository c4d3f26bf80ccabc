"""Chaos under load: many invocations while environments are SIGKILLed and SIGSTOPped from outside.

Afterwards every invocation has exactly one recorded outcome, the caller got it, nobody waited
longer than the timeout plus a small slack, the platform still serves, and no process is left.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import lambdalab

pytestmark = pytest.mark.slow

HANDLER = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"i": event["i"], "pid": os.getpid()}
"""
TOTAL = int(os.environ.get("LAMBDALAB_CHAOS_INVOCATIONS", "10000"))
CONCURRENCY = 32
TIMEOUT_S = 1.0
SLACK_S = 2.0


def _runtime_pids(lab: lambdalab.Lab) -> list[int]:
    return [s.pid for e in list(lab._plane.environments.values()) for s in list(e.sandboxes.values())]


def _chaos(lab: lambdalab.Lab, stop: threading.Event, counts: dict[str, int]) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        pids = _runtime_pids(lab)
        if pids:
            pid = rng.choice(pids)
            how = signal.SIGKILL if rng.random() < 0.6 else signal.SIGSTOP
            try:
                os.kill(pid, how)
                counts[how.name] += 1
            except ProcessLookupError:
                pass
        stop.wait(0.05)


def test_every_invocation_ends_exactly_once_under_kills_and_stops():
    with lambdalab.Lab() as lab:
        fn = lab.create_function("chaos", HANDLER, timeout_s=TIMEOUT_S)
        stop, counts = threading.Event(), {"SIGKILL": 0, "SIGSTOP": 0}
        chaos = threading.Thread(target=_chaos, args=(lab, stop, counts), daemon=True)
        outcomes: dict[int, tuple[str, float]] = {}

        def one(i: int) -> None:
            started = time.monotonic()
            result = fn.invoke({"i": i, "sleep": 0.002 if i % 10 else 0.0})
            waited = time.monotonic() - started
            kind = result.error["errorType"] if result.error else "ok"
            if not result.error:
                assert result.payload["i"] == i  # the caller got its own answer
            assert i not in outcomes
            outcomes[i] = (kind, waited)

        chaos.start()
        try:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(one, range(TOTAL)))
        finally:
            stop.set()
            chaos.join(5)
        assert len(outcomes) == TOTAL
        kinds = {k for k, _ in outcomes.values()}
        assert kinds <= {"ok", "Runtime.ExitError", "Sandbox.Timedout"}, kinds
        assert counts["SIGKILL"] > 10 and counts["SIGSTOP"] > 5, counts
        assert sum(k == "Runtime.ExitError" for k, _ in outcomes.values()) > 0
        worst = max(w for _, w in outcomes.values())
        assert worst < TIMEOUT_S + 10.0 + SLACK_S, worst  # init limit + timeout + slack at the very worst
        records = lab.invocations()
        assert len(records) == TOTAL and records["request_id"].is_unique
        assert fn.invoke({"i": -1}).payload["i"] == -1  # still serves
