"""Scaling: closed-loop load from 50 clients, control-plane cost vs idle environments, provisioning time.

1. 50 closed-loop clients (threads calling ``fn.invoke``) for 10 s against a handler that sleeps
   10 ms: throughput, latency p50/p99, environments used. Floor: the ideal rate, 50 clients / 10 ms
   = 5,000/s (no platform at all); ratio = figure / ideal.
2. Control-plane cost per warm invoke with 1, 50 and 200 idle environments of the same function
   (all frozen), measured as the loop thread's CPU time per invoke over 2,000 sequential invokes
   driven on the loop (the median of three such windows); must not grow with the number of idle environments. Floor: the 1-environment
   figure (ratio = cost / that).
3. Time to provision 20 environments (``provisioned_concurrency=20`` until all 20 are idle), against
   the cold start of one environment measured in the same run (floor); ratio = time / floor.

    python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import emit, leftover_children, median, pct  # noqa: E402

SLEEP_10MS = "import time\ndef handler(event, context):\n    time.sleep(0.01)\n    return None\n"
NOOP = "def handler(event, context):\n    return None\n"
HOLD = "import time\ndef handler(event, context):\n    time.sleep(event.get('hold', 0))\n    return None\n"


def closed_loop(seconds: float = 10.0, clients: int = 50) -> dict:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("ten_ms", SLEEP_10MS)
        stop = time.monotonic() + seconds
        latencies: list[list[float]] = [[] for _ in range(clients)]
        environments: set[str] = set()

        def client(i: int) -> None:
            while time.monotonic() < stop:
                t = time.perf_counter()
                result = fn.invoke({})
                latencies[i].append(time.perf_counter() - t)
                environments.add(result.environment_id)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        flat = [x for per in latencies for x in per]
        return {"rate": len(flat) / elapsed, "p50": pct(flat, 0.5), "p99": pct(flat, 0.99),
                "environments": len(environments), "count": len(flat)}


def cost_per_invoke(idle: int, invokes: int = 2000) -> float:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("many", HOLD)
        futures = [fn.submit({"hold": 0.5}) for _ in range(idle)]
        for f in futures:
            f.result(60)
        plane = lab._plane

        async def drive() -> float:
            cpu = time.thread_time()
            for _ in range(invokes):
                await plane.start_invoke("many", b"{}")
            return (time.thread_time() - cpu) / invokes

        # the median of three windows: one full garbage collection (100-200 ms with 200 environments' objects on the
        # heap) falling inside a window would otherwise decide the row, whichever number of environments it hit
        costs = [asyncio.run_coroutine_threadsafe(drive(), lab._thread.loop).result(120) for _ in range(3)]
        assert fn.statistics()["environments"] == max(idle, 1)
        return median(costs)


def provision_time(count: int = 20) -> tuple[float, float]:
    with lambdalab.Lab() as lab:
        cold = []
        for i in range(5):
            t = time.perf_counter()
            lab.create_function(f"one{i}", NOOP).invoke({})
            cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        fn = lab.create_function("pc", NOOP, provisioned_concurrency=count)
        while fn.statistics()["idle"] < count:
            time.sleep(0.002)
        return time.perf_counter() - t, median(cold)


def main() -> None:
    loop = closed_loop()
    print(f"closed loop, 50 clients x 10 ms handler: {loop['rate']:,.0f}/s, p50 {loop['p50']*1e3:.1f} ms, "
          f"p99 {loop['p99']*1e3:.1f} ms, {loop['environments']} environments, {loop['count']} invokes")
    costs = {n: cost_per_invoke(n) for n in (1, 50, 200)}
    for n, c in costs.items():
        print(f"control-plane CPU per warm invoke with {n} idle environments: {c*1e6:.0f} µs")
    provision, cold = provision_time()
    print(f"provision 20 environments: {provision*1e3:.0f} ms (one cold start: {cold*1e3:.1f} ms)")
    ideal = 50 / 0.010
    rows = [
        {"name": "50 clients × 10 ms handler, throughput", "figure": f"{loop['rate']:,.0f}/s",
         "floor": f"{ideal:,.0f}/s (ideal)", "ratio": round(loop["rate"] / ideal, 2), "target": "—", "met": None},
        {"name": "50 clients × 10 ms handler, latency p50 / p99", "figure":
         f"{loop['p50']*1e3:.1f} / {loop['p99']*1e3:.1f} ms", "floor": "10.0 ms", "ratio":
         round(loop["p50"] / 0.010, 2), "target": "—", "met": None},
        {"name": "50 clients × 10 ms handler, environments used", "figure": str(loop["environments"]),
         "floor": "50", "ratio": round(loop["environments"] / 50, 2), "target": "—", "met": None},
    ]
    base = costs[1]
    for n, c in costs.items():
        rows.append({"name": f"control-plane CPU per invoke, {n} idle environments", "figure": f"{c*1e6:.0f} µs",
                     "floor": f"{base*1e6:.0f} µs (1 env)", "ratio": round(c / base, 2),
                     "target": "no growth (≤ 1.2×)", "met": c <= 1.2 * base})
    rows.append({"name": "provision 20 environments", "figure": f"{provision*1e3:.0f} ms",
                 "floor": f"{cold*1e3:.1f} ms (1 cold start)", "ratio": round(provision / cold, 2),
                 "target": "—", "met": None})
    emit("bench_scaling", __doc__.split("\n\n")[0] + " " + " ".join(__doc__.split("\n\n")[1:4]).replace("\n", " "),
         rows, leftover=leftover_children())


if __name__ == "__main__":
    main()
