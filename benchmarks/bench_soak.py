"""Soak: minutes of mixed load; the owner's memory stays flat and invocation overhead does not drift.

Mixed load: 8 client threads invoke, in a loop, a no-op function (half the calls), a 5 ms function,
a function that raises, and an async (Event) function whose events fail and are retried
(``retry_delay_scale=0.001``); every 20 s the owning process's RSS and the p50 latency of the no-op
calls in that window are sampled. The Lab keeps ``max_records=5_000`` invocations (and their
spans, and as many destination records) and each log stream its 2,000 latest entries, so memory
grows until those bounds fill (a minute or two here) and must then stay flat. Figures: RSS growth from the window at a quarter of
the run (the baseline, once the bounds are full) to the last window (target within 10%), and the
last window's p50 against the baseline's (drift; target ≤ 1.2×).

    python benchmarks/bench_soak.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psutil  # noqa: E402

import lambdalab  # noqa: E402
from _common import emit, leftover_children, pct  # noqa: E402

WINDOW_S = 20.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--write", action="store_true", help="put the figures in benchmarks/RESULTS.md (## Soak)")
    args = parser.parse_args()
    me = psutil.Process()
    windows: list[tuple[float, float, int]] = []  # (rss MiB, p50 s, calls)
    with lambdalab.Lab(retry_delay_scale=0.001, max_records=5_000, max_log_entries=2_000) as lab:
        noop = lab.create_function("noop", "def handler(e, c):\n    return 1\n")
        slow = lab.create_function("slow", "import time\ndef handler(e, c):\n    time.sleep(0.005)\n    return 2\n")
        boom = lab.create_function("boom", "def handler(e, c):\n    raise ValueError('soak')\n")
        later = lab.create_function("later", "def handler(e, c):\n    raise ValueError('retry me')\n")
        stop = time.monotonic() + args.minutes * 60
        lock = threading.Lock()
        latencies: list[float] = []

        def client(i: int) -> None:
            n = 0
            while time.monotonic() < stop:
                n += 1
                if n % 2:
                    t = time.perf_counter()
                    noop.invoke({})
                    with lock:
                        latencies.append(time.perf_counter() - t)
                elif n % 8 == 2:
                    slow.invoke({})
                elif n % 8 == 4:
                    boom.invoke({})
                elif n % 64 == 6:
                    later.invoke_async({"n": n})
                else:
                    slow.invoke({})

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        while time.monotonic() < stop:
            time.sleep(min(WINDOW_S, max(0.0, stop - time.monotonic())))
            with lock:
                window, latencies[:] = list(latencies), []
            rss = me.memory_info().rss / 2**20
            windows.append((rss, pct(window, 0.5), len(window)))
            print(f"window {len(windows)}: RSS {rss:.1f} MiB, no-op p50 {pct(window, 0.5)*1e6:.0f} µs, "
                  f"{len(window)} no-op calls, records {len(lab._plane.records)}", flush=True)
        for t in threads:
            t.join(30)
    first, last = windows[max(0, len(windows) // 4 - 1)], windows[-1]
    growth = (last[0] - first[0]) / first[0]
    drift = last[1] / first[1]
    rows = [
        {"name": f"soak {args.minutes:g} min: owner RSS growth", "figure": f"{first[0]:.0f} → {last[0]:.0f} MiB",
         "floor": f"{first[0]:.0f} MiB (baseline)", "ratio": round(1 + growth, 3), "target": "within 10%",
         "met": abs(growth) <= 0.10},
        {"name": f"soak {args.minutes:g} min: no-op p50 drift", "figure": f"{last[1]*1e6:.0f} µs",
         "floor": f"{first[1]*1e6:.0f} µs (baseline)", "ratio": round(drift, 2), "target": "≤ 1.2×",
         "met": drift <= 1.2},
    ]
    leftover = leftover_children()
    emit("bench_soak", " ".join(__doc__.split("\n\n")[1].split()), rows, leftover=leftover)
    if args.write:
        _write(rows, windows, args, leftover)


def _write(rows: list[dict], windows: list[tuple[float, float, int]], args: argparse.Namespace, leftover: int) -> None:
    """Replace the "## Soak" section of RESULTS.md, leaving the rest alone."""
    import datetime
    from pathlib import Path

    path = Path(__file__).resolve().parent / "RESULTS.md"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = ["## Soak", "", f"From `python benchmarks/bench_soak.py --minutes {args.minutes:g} --write` ({stamp}, "
               f"nproc={os.cpu_count()}). " + " ".join(__doc__.split("\n\n")[1].split()), "",
               "| figure | value | baseline | ratio | target | met? |", "|---|---|---|---|---|---|"]
    section += [f"| {r['name']} | {r['figure']} | {r['floor']} | {r['ratio']} | {r['target']} | "
                f"{'yes' if r['met'] else '**no**'} |" for r in rows]
    section += ["", "Windows (RSS MiB, no-op p50 µs, no-op calls): " + "; ".join(
        f"{rss:.0f}, {p50 * 1e6:.0f}, {n}" for rss, p50, n in windows) + f". Children left: {leftover}."]
    lines = path.read_text().splitlines() if path.exists() else ["# lambdalab benchmarks"]
    if "## Soak" in lines:
        begin = lines.index("## Soak")
        end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[begin:end] = section
    else:
        lines += [""] + section
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
