"""How many environments fit in 1,024 file descriptors.

Figure: an owner process limited to 1,024 open files (soft and hard, so lambdalab cannot raise it)
submits 400 concurrent invocations of a handler that sleeps 1 s; the environments that ran are
counted, the rest must be throttled with ``EnvironmentCapacityExceeded`` (no raw ``OSError``, one
record each). Floor: the environments that would fit if every descriptor the owner had not opened
yet went to environments at the measured cost (``FDS_PER_ENVIRONMENT``), keeping no reserve for the
endpoint, a kernel's sockets or files: the ratio is the share lambdalab lets environments use.

    python benchmarks/bench_fd_budget.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import PY, emit, leftover_children  # noqa: E402

from lambdalab.engine.fd_budget import FDS_PER_ENVIRONMENT  # noqa: E402

LIMIT = 1024
OWNER = r'''
import collections, json, time
from concurrent.futures import wait
import lambdalab
from lambdalab.engine.fd_budget import open_descriptors
baseline = open_descriptors()
SRC = "import time\ndef handler(event, context):\n    time.sleep(1)\n    return 'ok'\n"
with lambdalab.Lab() as lab:
    fn = lab.create_function("burst", SRC, timeout_s=10)
    t0 = time.perf_counter()
    futures = [fn.submit({}) for _ in range(400)]
    done, hung = wait(futures, timeout=90)
    seconds = time.perf_counter() - t0
    kinds = collections.Counter(type(f.exception()).__name__ if f.exception() else "ok" for f in done)
    records = len(lab.invocations())
print(json.dumps({"baseline": baseline, "kinds": kinds, "hung": len(hung), "records": records, "seconds": seconds}))
'''


def main() -> None:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))

    proc = subprocess.run([PY, "-c", OWNER], capture_output=True, text=True, timeout=180, preexec_fn=limit)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    fit = out["kinds"].get("ok", 0)
    floor = (LIMIT - out["baseline"]) // FDS_PER_ENVIRONMENT
    print(f"open-file limit {LIMIT}: {fit} environments ran at once; outcomes {dict(out['kinds'])}, "
          f"{out['records']} records, {out['hung']} hung, {out['seconds']:.1f} s")
    print(f"floor: {floor} environments at {FDS_PER_ENVIRONMENT} descriptors each with no reserve "
          f"(the owner had {out['baseline']} open); ratio {fit / floor:.2f}")
    rows = [{"name": "environments in 1,024 descriptors", "figure": str(fit), "floor": str(floor),
             "ratio": f"{fit / floor:.2f}", "target": "400 records, none raw", "met":
             out["records"] == 400 and set(out["kinds"]) <= {"ok", "TooManyRequestsException"}}]
    context = [f"outcomes of 400 concurrent 1 s invocations: {dict(out['kinds'])}; "
               f"{FDS_PER_ENVIRONMENT} descriptors per live environment"]
    emit("bench_fd_budget", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover_children())


if __name__ == "__main__":
    main()
