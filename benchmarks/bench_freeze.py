"""Freeze + thaw cost added to a warm invoke.

Figure: p50 of warm ``fn.invoke({})`` (no-op handler, runtime "python", one environment each)
with ``freeze=True`` minus p50 with ``freeze=False``; both functions live in one Lab and are
invoked in alternating blocks of 100 (2,500 timed invokes each, after 200 warm-up invokes each)
so that drift cancels. Floor: the raw cost of ``os.killpg(pgid, SIGSTOP)`` followed by
``os.killpg(pgid, SIGCONT)`` on a sleeping child in its own session (median of 2,000 pairs, not
waiting for the state change, as the engine does). Ratio = added cost / floor.

    python benchmarks/bench_freeze.py [--n 2500]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import PY, emit, leftover_children, median, pct, us  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
BLOCK = 100
TARGET_S = 100e-6


def signal_floor(n: int) -> tuple[list[float], list[float]]:
    """(SIGSTOP+SIGCONT pair costs, SIGSTOP-until-seen-stopped costs) on a sleeping child."""
    proc = subprocess.Popen([PY, "-I", "-S", "-c", "import time; time.sleep(60)"], start_new_session=True)
    time.sleep(0.2)
    pairs, stop_seen = [], []
    clock = time.perf_counter
    try:
        for _ in range(n):
            t0 = clock()
            os.killpg(proc.pid, signal.SIGSTOP)
            os.killpg(proc.pid, signal.SIGCONT)
            pairs.append(clock() - t0)
        for _ in range(200):  # context: SIGSTOP until /proc says stopped (what waiting would cost)
            t0 = clock()
            os.killpg(proc.pid, signal.SIGSTOP)
            with open(f"/proc/{proc.pid}/stat", "rb") as f:
                while f.read().split(b") ", 1)[1][:1] != b"T":
                    f.seek(0)
            stop_seen.append(clock() - t0)
            os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    return pairs, stop_seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2500)
    args = parser.parse_args()

    times: dict[bool, list[float]] = {True: [], False: []}
    pair_diffs: list[float] = []  # per block pair: p50(freeze=True block) - p50(freeze=False block)
    with lambdalab.Lab() as lab:
        fns = {flag: lab.create_function(f"noop_freeze_{flag}", NOOP, freeze=flag) for flag in (True, False)}
        for _ in range(200):
            for fn in fns.values():
                fn.invoke({})
        clock = time.perf_counter
        while len(times[True]) < args.n:
            for flag in (True, False) if len(times[True]) % (2 * BLOCK) == 0 else (False, True):
                fn = fns[flag]
                out = times[flag]
                for _ in range(BLOCK):
                    t0 = clock()
                    fn.invoke({})
                    out.append(clock() - t0)
            pair_diffs.append(pct(times[True][-BLOCK:], 0.5) - pct(times[False][-BLOCK:], 0.5))
        frozen_states = {flag: [e.frozen for e in fns[flag].environments()] for flag in fns}
    pairs, stop_seen = signal_floor(2000)
    leftover = leftover_children()

    on, off = pct(times[True], 0.5), pct(times[False], 0.5)
    added = on - off
    floor = median(pairs)
    print(f"warm invoke p50: freeze=True {us(on)}, freeze=False {us(off)} (n={len(times[True])} each; "
          f"environments frozen after the run: {frozen_states})")
    print(f"added by freeze+thaw: {added * 1e6:,.0f} µs (target ≤ {TARGET_S * 1e6:.0f} µs)")
    print(f"floor, killpg SIGSTOP+SIGCONT on a sleeping child: median {floor * 1e6:.1f} µs; "
          f"SIGSTOP until seen stopped: median {median(stop_seen) * 1e6:.1f} µs")
    spread = f"{pct(pair_diffs, .25) * 1e6:,.0f} … {pct(pair_diffs, .75) * 1e6:,.0f} µs"
    print(f"per block pair p50 difference, interquartile range over {len(pair_diffs)} pairs: {spread}")
    print(f"ratio added/floor {added / floor:.1f}")
    rows = [{"name": "freeze+thaw added to a warm invoke (p50 diff)", "figure": f"{added * 1e6:,.0f} µs",
             "floor": f"{floor * 1e6:.1f} µs", "ratio": f"{added / floor:.1f}", "target": "≤ 100 µs",
             "met": added <= TARGET_S}]
    context = [f"noise: the per-block-pair p50 difference has interquartile range {spread}",
               f"warm invoke p50 freeze=True {us(on)}, freeze=False {us(off)}",
               f"SIGSTOP until /proc shows the child stopped: median {median(stop_seen) * 1e6:.1f} µs"]
    emit("bench_freeze", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
