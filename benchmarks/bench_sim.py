"""The simulator: simulated invocations per second, against SimFaaS on the same scenario, in one run.

Scenario: SimFaaS's README (Poisson arrivals at 0.9/s, exponential warm service 1.991 s, cold
service 2.244 s, expiration 600 s). Rates: three interleaved rounds of lambdalab
``Simulation(...).run(count=100_000)`` (no records kept, the shared core) and SimFaaS 0.2.2
``generate_trace`` with ``max_time=1e5`` (about 90,000 requests), in this process; the median of
each, in requests per second of CPU time (``time.process_time``: the machine is shared). Then one
run of ``--count`` (default one million) requests for the headline time, CPU and wall.
Targets: one million invocations in at most 10 s, and at least 3× SimFaaS's rate.

A plain heapq model of the same system (no lifecycle, no records, no limits: the floor of any
event-heap simulator in Python) is timed too. The installed core and simulator are compiled with
mypyc (setup.py); the pure-Python path they are built from is timed as well, in a child process
on a copy of the package without compiled modules, and a cProfile of 50,000 requests there splits
its time between the core, the simulator and the rest.

    /work/main/.venv/bin/python benchmarks/bench_sim.py [--count 1000000] [--rounds 3]

Prints a markdown table, then one RESULT line (``_common.emit``). Asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import importlib.machinery
import itertools
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# the package to time: this checkout, or (for the pure-Python round, see pure_python) a .py-only copy
sys.path.insert(0, os.environ.get("BENCH_SIM_PACKAGE_ROOT", os.path.dirname(HERE)))

from _common import emit

from lambdalab.load.patterns import Poisson
from lambdalab.sim import Exponential, Simulation

RATE, WARM_S, COLD_S, EXPIRATION_S = 0.9, 1.991, 2.244, 600.0
ROUND_COUNT, ROUND_SIMFAAS_S = 100_000, 1e5


def timed(fn: Any) -> tuple[Any, float, float]:
    """(result, CPU seconds, wall seconds)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def simulation() -> Simulation:
    return Simulation(Poisson(RATE, seed=1), service=Exponential(WARM_S), cold_service=Exponential(COLD_S),
                      keep_alive_s=EXPIRATION_S, max_records=0, seed=1)


def run_lambdalab(count: int) -> dict[str, Any]:
    result, cpu, wall = timed(lambda: simulation().run(count=count))
    s = result.summary
    return {"requests": s.requests, "cpu": cpu, "wall": wall, "cold": s.cold_start_probability,
            "instances": s.mean_environments}


def run_simfaas(max_time: float) -> dict[str, Any] | None:
    try:
        import numpy as np
        from simfaas.ServerlessSimulator import ServerlessSimulator
    except ImportError:
        return None
    np.random.seed(1)
    sim = ServerlessSimulator(arrival_rate=RATE, warm_service_rate=1 / WARM_S, cold_service_rate=1 / COLD_S,
                              expiration_threshold=EXPIRATION_S, max_time=max_time)
    _, cpu, wall = timed(sim.generate_trace)
    r = sim.get_result_dict()
    return {"requests": r["reqs_total"], "cpu": cpu, "wall": wall, "cold": r["prob_cold"],
            "instances": float(r["inst_count_avg"])}


def heapq_model(count: int, seed: int = 1) -> int:
    """The same system as a bare event heap: MRU warm choice, fixed expiration, nothing recorded."""
    rng = random.Random(seed)
    heap: list[tuple[float, int, int, int]] = []   # (time, kind 0=departure 1=arrival 2=expiry, seq, instance)
    seq = itertools.count()
    idle: dict[int, float] = {}                     # instance -> when it expires (insertion = MRU order)
    next_id = cold = 0
    heapq.heappush(heap, (rng.expovariate(RATE), 1, next(seq), -1))
    arrived = 0
    while heap and arrived < count:
        at, kind, _, instance = heapq.heappop(heap)
        if kind == 1:
            arrived += 1
            if idle:
                instance, _ = idle.popitem()
                service = rng.expovariate(1 / WARM_S)
            else:
                instance, next_id, cold = next_id, next_id + 1, cold + 1
                service = rng.expovariate(1 / COLD_S)
            heapq.heappush(heap, (at + service, 0, next(seq), instance))
            heapq.heappush(heap, (at + rng.expovariate(RATE), 1, next(seq), -1))
        elif kind == 0:
            idle[instance] = at + EXPIRATION_S
            heapq.heappush(heap, (at + EXPIRATION_S, 2, next(seq), instance))
        elif idle.get(instance) == at:  # still idle since the departure that set this expiry
            del idle[instance]
    return cold


def where_time_goes(count: int = 50_000) -> dict[str, float]:
    """Share of profiled time (tottime) in lambdalab/core, lambdalab/sim, and everything else."""
    profile = cProfile.Profile()
    profile.runcall(simulation().run, count=count)
    shares = {"core": 0.0, "sim": 0.0, "other": 0.0}
    for (path, _, _), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        key = "core" if "lambdalab/core/" in path else "sim" if "lambdalab/sim/" in path else "other"
        shares[key] += tottime
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def compiled() -> bool:
    import lambdalab.core.lifecycle
    import lambdalab.sim.driver

    return all(m.__file__ and m.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
               for m in (lambdalab.core.lifecycle, lambdalab.sim.driver))


def pure_python(rounds: int) -> dict[str, Any]:
    """The pure-Python path: this file's rounds and profile, in a child on a .py-only copy of lambdalab."""
    import lambdalab

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(os.path.dirname(lambdalab.__file__), os.path.join(tmp, "lambdalab"),
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import bench_sim as b; "
                "rates = [(lambda r: r['requests'] / r['cpu'])(b.run_lambdalab(b.ROUND_COUNT)) for _ in range(%d)]; "
                "print(json.dumps({'rates': rates, 'shares': b.where_time_goes(), 'compiled': b.compiled()}))" % rounds)
        env = {**os.environ, "BENCH_SIM_PACKAGE_ROOT": tmp}
        proc = subprocess.run([sys.executable, "-c", code, HERE], capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    rates: dict[str, list[float]] = {"lambdalab": [], "SimFaaS": [], "heapq": []}
    ours = ref = None
    for _ in range(args.rounds):  # interleaved, so that a noisy neighbour slows all three alike
        ours = run_lambdalab(ROUND_COUNT)
        rates["lambdalab"].append(ours["requests"] / ours["cpu"])
        ref = run_simfaas(ROUND_SIMFAAS_S)
        if ref:
            rates["SimFaaS"].append(ref["requests"] / ref["cpu"])
        _, cpu, _ = timed(lambda: heapq_model(ROUND_COUNT))
        rates["heapq"].append(ROUND_COUNT / cpu)
    ours_rate, floor_rate = statistics.median(rates["lambdalab"]), statistics.median(rates["heapq"])
    ref_rate = statistics.median(rates["SimFaaS"]) if rates["SimFaaS"] else float("nan")
    for name, values in rates.items():
        print(f"{name}: " + ", ".join(f"{v:,.0f}/s" for v in values) + " (CPU)")
    big = run_lambdalab(args.count)
    print(f"lambdalab, {big['requests']:,} requests: {big['cpu']:.1f} s CPU, {big['wall']:.1f} s wall; "
          f"cold-start probability {big['cold']:.5f}, instances {big['instances']:.3f}")
    if ref:
        print(f"SimFaaS, {ref['requests']:,} requests: cold-start probability {ref['cold']:.5f}, "
              f"instances {ref['instances']:.3f}")
    is_compiled = compiled()
    pure = pure_python(args.rounds)
    assert not pure["compiled"], "the pure-Python child imported compiled modules"
    pure_rate, shares = statistics.median(pure["rates"]), pure["shares"]
    print(f"installed core and simulator compiled with mypyc: {'yes' if is_compiled else 'NO (pure Python)'}")
    print("pure-Python path: " + ", ".join(f"{v:,.0f}/s" for v in pure["rates"]) + " (CPU); cProfile of 50,000 "
          "requests, share of time: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))

    per_million = big["cpu"] * 1_000_000 / big["requests"]
    rows = [
        {"name": f"{big['requests']:,} simulated invocations, CPU time (per 1 M)", "figure": f"{per_million:.1f} s",
         "floor": f"{1_000_000 / floor_rate:.1f} s (plain heapq model)", "ratio": round(floor_rate / ours_rate, 2),
         "target": "≤ 10 s", "met": per_million <= 10.0},
        {"name": "simulated invocations per CPU second (median of rounds)", "figure": f"{ours_rate:,.0f}/s",
         "floor": f"{ref_rate:,.0f}/s (SimFaaS 0.2.2)", "ratio": round(ours_rate / ref_rate, 2) if ref else None,
         "target": "≥ 3× SimFaaS", "met": bool(ref) and ours_rate >= 3 * ref_rate},
        {"name": "cold-start probability / mean instances", "figure": f"{big['cold']:.5f} / {big['instances']:.3f}",
         "floor": f"{ref['cold']:.5f} / {ref['instances']:.3f} (SimFaaS, 1e5 s)" if ref else "—",
         "ratio": round(big["cold"] / ref["cold"], 2) if ref else None, "target": "—", "met": None},
    ]
    print()
    print("| what | figure | floor | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        met = "—" if row["met"] is None else ("yes" if row["met"] else "**no**")
        print(f"| {row['name']} | {row['figure']} | {row['floor']} | {row['ratio']} | {row['target']} | {met} |")
    context = [
        (f"wall time of the {big['requests']:,}-request run: {big['wall']:.1f} s "
         f"(load average {os.getloadavg()[0]:.1f}, nproc {os.cpu_count()})"),
        (f"the installed core and simulator are compiled with mypyc: {'yes' if is_compiled else 'NO'}; the pure-Python "
         f"path (same .py files, not compiled): {pure_rate:,.0f}/s = {pure_rate / ref_rate:.2f}× SimFaaS"),
        "time on the pure-Python path (cProfile tottime share): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()),
        f"plain heapq model: {floor_rate:,.0f}/s (MRU, fixed expiration, nothing recorded)",
    ]
    for line in context:
        print(f"- {line}")
    emit("bench_sim", " ".join(__doc__.split("\n\n")[:3]).replace("\n", " "), rows, context)


if __name__ == "__main__":
    main()
