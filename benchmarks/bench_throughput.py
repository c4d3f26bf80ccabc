"""Warm throughput with 8 environments, driven from inside the control plane.

Figure: one driver coroutine on the Lab's loop (``asyncio.run_coroutine_threadsafe``) keeps 8
``lab._plane.start_invoke(name, b"{}")`` in flight (closed loop: each completion submits the
next) for 5 s, after 8 concurrent invokes warmed 8 environments; no-op handler, runtime
"python", default ``freeze=True``. Reports invokes/s and the distinct environments used.
Floor: the same closed loop of 8 on ``LeanHttpPlatform`` (lean asyncio HTTP server in this
process + 8 raw-socket runtime processes; PERF-FLOORS row "HTTP, lean asyncio server +
raw-socket client", 8 envs), 5 s. Ratio = figure / floor rate (higher is better). Also the same lean
platform with the engine's freeze (SIGSTOP/SIGCONT of each runtime around its invokes, ``freeze=True``),
the floor of any platform of this design, for context. Target: 9,000/s (issue 21).

    python benchmarks/bench_throughput.py [--seconds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import LeanHttpPlatform, closed_loop, emit, leftover_children, us  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
IN_FLIGHT = 8
TARGET = 9000.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the Lab's loop thread during the run")
    args = parser.parse_args()

    with lambdalab.Lab() as lab:
        plane = lab._plane
        fn = lab.create_function("noop", NOOP)

        async def warm() -> set[str]:
            results = await asyncio.gather(*(plane.start_invoke("noop", b"{}") for _ in range(IN_FLIGHT)))
            return {r.record.environment_id for r in results}

        warmed = asyncio.run_coroutine_threadsafe(warm(), lab._thread.loop).result(60)
        # a short warm run so every environment has served a few warm invokes
        asyncio.run_coroutine_threadsafe(closed_loop(lambda: plane.start_invoke("noop", b"{}"), IN_FLIGHT, 0.5),
                                         lab._thread.loop).result(60)
        profiler = None
        if args.profile:
            import cProfile
            profiler = cProfile.Profile()
        cpu0 = time.process_time()

        async def drive() -> tuple[float, int, list]:
            if profiler is not None:
                profiler.enable()
            try:
                return await closed_loop(lambda: plane.start_invoke("noop", b"{}"), IN_FLIGHT, args.seconds)
            finally:
                if profiler is not None:
                    profiler.disable()

        rate, completed, results = asyncio.run_coroutine_threadsafe(drive(), lab._thread.loop).result(
            args.seconds + 60)
        cpu_lab = time.process_time() - cpu0
        used = {r.record.environment_id for r in results}
        errors = sum(1 for r in results if r.is_error)
        cold = sum(1 for r in results if r.record.cold)
        live = len(fn.environments())
        if profiler is not None:
            import pstats
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    floor = LeanHttpPlatform(IN_FLIGHT)
    try:
        floor.closed_loop_rate(IN_FLIGHT, 0.5)
        cpu0 = time.process_time()
        floor_rate, floor_completed = floor.closed_loop_rate(IN_FLIGHT, args.seconds)
        cpu_floor = time.process_time() - cpu0
    finally:
        floor.close()
    frozen_floor = LeanHttpPlatform(IN_FLIGHT, freeze=True)
    try:
        frozen_floor.closed_loop_rate(IN_FLIGHT, 0.5)
        frozen_rate, _ = frozen_floor.closed_loop_rate(IN_FLIGHT, args.seconds)
    finally:
        frozen_floor.close()
    leftover = leftover_children()

    print(f"lambdalab, {IN_FLIGHT} in flight for {args.seconds:.1f} s: {rate:,.0f} invokes/s ({completed} invokes, "
          f"{len(used)} distinct environments used, {len(warmed)} warmed, {live} live, {cold} cold, {errors} errors)"
          f"  CPU/invoke in this process {us(cpu_lab / completed)}")
    print(f"floor, lean asyncio HTTP + {IN_FLIGHT} raw-socket runtimes: {floor_rate:,.0f} invokes/s "
          f"({floor_completed} invokes)  CPU/invoke {us(cpu_floor / floor_completed)}")
    print(f"ratio figure/floor {rate / floor_rate:.2f}; target ≥ {TARGET:,.0f}/s: {'met' if rate >= TARGET else 'MISSED'}")
    rows = [{"name": f"warm throughput, {IN_FLIGHT} envs (invokes/s)", "figure": f"{rate:,.0f}/s",
             "floor": f"{floor_rate:,.0f}/s", "ratio": f"{rate / floor_rate:.2f}", "target": f"≥ {TARGET:,.0f}/s",
             "met": rate >= TARGET}]
    print(f"the same lean platform with the engine's freeze: {frozen_rate:,.0f} invokes/s "
          f"(lambdalab / that = {rate / frozen_rate:.2f})")
    context = [f"{len(used)} distinct environments served the timed run ({errors} errors, {cold} cold)",
               f"the lean floor with the engine's freeze (SIGSTOP/SIGCONT around each invoke): {frozen_rate:,.0f}/s "
               f"(lambdalab / that = {rate / frozen_rate:.2f})",
               f"benchmark-process CPU per invoke: lambdalab {us(cpu_lab / completed)}, "
               f"floor {us(cpu_floor / floor_completed)}"]
    emit("bench_throughput", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
