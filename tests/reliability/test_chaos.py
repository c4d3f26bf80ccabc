"""Chaos under load: many invocations while environments are SIGKILLed and SIGSTOPped from outside.

Afterwards every invocation has exactly one recorded outcome, the caller got it, nobody waited
longer than the timeout plus a small slack, the platform still serves, and no process is left.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


# -- the reaper killed mid-run, then the owner -----------------------------------------------------
CHAOS_OWNER = """
import json, os, threading, time, lambdalab
lab = lambdalab.Lab()
busy = lab.create_function("busy", "import time\\ndef handler(e, c):\\n    time.sleep(e.get('s', 0))\\n    return 1\\n",
                           timeout_s=60)
fns = [lab.create_function(f"f{i}", "def handler(e, c):\\n    return 1\\n") for i in range(3)]
for fn in fns:
    fn.invoke()  # idle environments, frozen
def load():
    while True:
        try:
            busy.invoke({"s": 0.01})
        except Exception:
            return
for _ in range(4):
    threading.Thread(target=load, daemon=True).start()
for _ in range(2):
    threading.Thread(target=busy.invoke, args=({"s": 60},), daemon=True).start()
time.sleep(0.5)
print(json.dumps({"workdir": str(lab._workdir), "marker": lab._plane.marker, "reaper": lab._plane.reaper.pid}),
      flush=True)
time.sleep(600)
"""


def _left(marker: str, workdir: str) -> tuple[list[int], bool, list[str]]:
    from tests.conftest import marked_processes
    lab_id = marker.split("/")[1]
    cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/lambdalab-{lab_id}")]
    return marked_processes(marker), Path(workdir).exists(), cgroups


def test_reaper_then_owner_killed_mid_run_leave_nothing_within_three_seconds():
    owner = subprocess.Popen([sys.executable, "-c", CHAOS_OWNER], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([owner.stdout], [], [], 60)
        assert ready
        info = json.loads(owner.stdout.readline())
        assert len(_left(info["marker"], info["workdir"])[0]) >= 5  # idle + busy runtimes, all marked
        os.kill(info["reaper"], signal.SIGKILL)
        os.kill(owner.pid, signal.SIGKILL)  # right after: maybe before the owner even noticed
        owner.wait(5)
        deadline = time.monotonic() + 3.0
        left = _left(info["marker"], info["workdir"])
        while any(left) and time.monotonic() < deadline:
            time.sleep(0.05)
            left = _left(info["marker"], info["workdir"])
        assert left == ([], False, []), left
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


def test_close_after_the_reaper_was_killed_raises_nothing_and_leaves_nothing():
    lab = lambdalab.Lab()
    fns = [lab.create_function(f"f{i}", "import os\ndef handler(e, c):\n    return os.getpid()\n") for i in range(3)]
    pids = [fn.invoke().payload for fn in fns]
    marker, workdir = lab._plane.marker, str(lab._workdir)
    os.kill(lab._plane.reaper.pid, signal.SIGKILL)
    lab.close()  # no BrokenPipeError, whether or not the reaper was respawned yet
    deadline = time.monotonic() + 3.0
    left = _left(marker, workdir)
    while any(left) and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _left(marker, workdir)
    assert left == ([], False, []), left
    assert not any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z" for p in pids)
