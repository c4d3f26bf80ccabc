"""Running out of file descriptors: every invocation still gets one outcome, nothing is half-created.

The owner spends ``FDS_PER_ENVIRONMENT`` descriptors per live environment; at a soft limit of 1,024 about
200 environments used to exhaust the table, and then 500 submits gave raw ``OSError(EMFILE)``s, hung callers,
missing records, environments stuck "initializing" and tens of thousands of tracebacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import wait

import pytest

import lambdalab
from lambdalab.engine.fd_budget import FDS_PER_ENVIRONMENT, FdBudget, open_descriptors

pytestmark = pytest.mark.slow

SLEEPER = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0.3))\n    return 'ok'\n"


def test_an_environment_costs_what_the_budget_counts():
    with lambdalab.Lab() as lab:
        fn = lab.create_function("fds", SLEEPER, timeout_s=5)
        fn.invoke({"s": 0})  # the first environment also opens the Lab's shared things (cgroup files, ...)
        before = open_descriptors()
        futures = [fn.submit({"s": 0.5}) for _ in range(10)]
        wait(futures, timeout=30)
        assert all(f.result().error is None for f in futures)
        after = open_descriptors()
        live = sum(1 for e in fn.environments() if e.state != "reset")
    per_environment = (after - before) / (live - 1)
    assert live >= 10
    assert FDS_PER_ENVIRONMENT - 1 <= per_environment <= FDS_PER_ENVIRONMENT, per_environment


def test_the_budget_keeps_a_reserve_and_counts_slots():
    budget = FdBudget(limit=1024, baseline=30)
    assert budget.reserve == 30 + 256
    assert budget.capacity == (1024 - 286) // FDS_PER_ENVIRONMENT
    taken = [budget.acquire() for _ in range(budget.capacity + 3)]
    assert taken.count(True) == budget.capacity and budget.free() == 0
    budget.release()
    assert budget.free() == 1 and budget.acquire()


OWNER = textwrap.dedent('''
    import collections, json, os, resource, sys, time
    from concurrent.futures import wait
    import lambdalab
    from lambdalab.errors import TooManyRequestsException
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (1024, 1024)
    SRC = "import time\\ndef handler(event, context):\\n    time.sleep(1)\\n    return 'ok'\\n"
    started = time.monotonic()
    lab = lambdalab.Lab()
    fn = lab.create_function("burst", SRC, timeout_s=10)
    futures = [fn.submit({}) for _ in range(400)]
    done, not_done = wait(futures, timeout=90)
    outcomes = collections.Counter()
    for f in done:
        exc = f.exception()
        if exc is None:
            outcomes["ok" if f.result().error is None else "error:" + f.result().error["errorType"]] += 1
        elif isinstance(exc, TooManyRequestsException):
            outcomes["throttled:" + exc.reason] += 1
        else:
            outcomes["raw:" + type(exc).__name__] += 1
    records = lab.invocations()
    stuck = [e for e in fn.environments() if e.state in ("initializing", "starting")]
    workdir = str(lab._workdir)
    lab.close()
    print(json.dumps({"outcomes": outcomes, "hung": len(not_done), "records": len(records),
                      "statuses": records["status"].value_counts().to_dict(), "stuck": len(stuck),
                      "workdir": workdir, "seconds": time.monotonic() - started}))
''')


def test_400_submits_at_1024_descriptors_each_end_once_and_leave_nothing(tmp_path):
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    proc = subprocess.run([sys.executable, "-c", OWNER], capture_output=True, text=True, timeout=240,
                          preexec_fn=limit, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    outcomes = result["outcomes"]
    assert result["hung"] == 0
    assert not [k for k in outcomes if k.startswith("raw:")], outcomes
    assert sum(outcomes.values()) == 400
    assert result["records"] == 400, result
    assert outcomes.get("ok", 0) >= 100, outcomes          # a budget of ~140 environments at 1,024 descriptors
    assert set(outcomes) <= {"ok", "throttled:EnvironmentCapacityExceeded"}, outcomes
    assert result["stuck"] == 0
    assert not os.path.exists(result["workdir"])
    # the condition is said once, not once per refused invocation
    assert proc.stderr.count("EnvironmentCapacityExceeded") <= 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    time.sleep(0.5)
    cgroups = [p for base in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids")
               for p in (os.listdir(base) if os.path.isdir(base) else [])
               if p.startswith("lambdalab-") and os.path.basename(result["workdir"]).rsplit("-", 1)[-1] in p]
    assert cgroups == []
