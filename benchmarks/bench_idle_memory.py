"""Resident memory per idle environment.

Figure: 50 concurrent invokes (50 threads calling ``fn.invoke``) of a handler that sleeps 0.3 s
start 50 distinct environments of one function (runtime "python", ``freeze=True``); 1 s after
they finish, the USS (``psutil memory_full_info().uss``) and RSS of every runtime process (the
children of this process with ``python_bootstrap.py`` in their cmdline) are read; reported as
mean per environment and projected to 200 environments (200 × mean USS, plus the growth of this
process's own USS per environment). Floor: USS of ``python -I -S -c 'import time;
time.sleep(5)'`` (same interpreter, read 0.5 s after spawn). Targets: ≤ 10 MiB USS per
environment and ≤ 2 GiB for 200 environments.

    python benchmarks/bench_idle_memory.py [--envs 50]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psutil  # noqa: E402

import lambdalab  # noqa: E402
from _common import PY, emit, leftover_children, median  # noqa: E402

SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(0.3)\n    return None\n"
MiB = 1024 * 1024


def runtime_processes() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("python_bootstrap.py" in part for part in child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out


def floor_uss(samples: int = 3) -> tuple[float, float]:
    uss, rss = [], []
    for _ in range(samples):
        proc = subprocess.Popen([PY, "-I", "-S", "-c", "import time; time.sleep(5)"])
        try:
            time.sleep(0.5)
            info = psutil.Process(proc.pid).memory_full_info()
            uss.append(info.uss)
            rss.append(info.rss)
        finally:
            proc.kill()
            proc.wait()
    return median(uss), median(rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--envs", type=int, default=50)
    args = parser.parse_args()
    n = args.envs

    me = psutil.Process()
    with lambdalab.Lab() as lab:
        fn = lab.create_function("sleeper", SLEEPER)
        parent_before = me.memory_full_info().uss
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda _: fn.invoke({}), range(n)))
        started = time.perf_counter() - t0
        errors = [r for r in results if r.error]
        envs = {r.environment_id for r in results}
        time.sleep(1.0)
        parent_after = me.memory_full_info().uss
        procs = runtime_processes()
        uss, rss, states = [], [], {}
        for p in procs:
            try:
                info = p.memory_full_info()
                uss.append(info.uss)
                rss.append(info.rss)
                states[p.status()] = states.get(p.status(), 0) + 1
            except psutil.Error:
                pass
    leftover = leftover_children()
    f_uss, f_rss = floor_uss()

    mean_uss = sum(uss) / len(uss)
    mean_rss = sum(rss) / len(rss)
    parent_per_env = (parent_after - parent_before) / n
    total_200 = 200 * (mean_uss + max(0.0, parent_per_env))
    print(f"{n} concurrent invokes took {started:.2f} s; {len(envs)} distinct environments, {len(errors)} errors; "
          f"{len(procs)} runtime processes measured, states {states}")
    print(f"per idle environment: USS mean {mean_uss / MiB:.2f} MiB (min {min(uss) / MiB:.2f}, max {max(uss) / MiB:.2f}),"
          f" RSS mean {mean_rss / MiB:.2f} MiB")
    print(f"owner process USS growth per environment: {parent_per_env / 1024:.0f} KiB")
    print(f"projected for 200 environments: {total_200 / MiB:,.0f} MiB USS (RSS sum would be {200 * mean_rss / MiB:,.0f} MiB)")
    print(f"floor, python -I -S sleeping: USS {f_uss / MiB:.2f} MiB, RSS {f_rss / MiB:.2f} MiB; "
          f"ratio {mean_uss / f_uss:.2f}")
    rows = [
        {"name": "idle environment USS (mean)", "figure": f"{mean_uss / MiB:.2f} MiB", "floor": f"{f_uss / MiB:.2f} MiB",
         "ratio": f"{mean_uss / f_uss:.2f}", "target": "≤ 10 MiB", "met": mean_uss <= 10 * MiB},
        {"name": "idle environment RSS (mean)", "figure": f"{mean_rss / MiB:.2f} MiB", "floor": f"{f_rss / MiB:.2f} MiB",
         "ratio": f"{mean_rss / f_rss:.2f}", "target": "—", "met": None},
        {"name": "200 environments, projected USS", "figure": f"{total_200 / MiB:,.0f} MiB",
         "floor": f"{200 * f_uss / MiB:,.0f} MiB", "ratio": f"{total_200 / (200 * f_uss):.2f}", "target": "≤ 2 GiB",
         "met": total_200 <= 2048 * MiB},
    ]
    context = [f"{n} environments measured ({len(envs)} distinct ids, states {states}); owner USS growth "
               f"{parent_per_env / 1024:.0f} KiB per environment is included in the projection"]
    emit("bench_idle_memory", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
