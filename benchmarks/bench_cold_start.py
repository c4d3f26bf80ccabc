"""Cold start: create a function (a new name each time, empty handler) -> first result.

Figure: median over 20 samples per runtime ("python", "python-ric") of the wall time of
``lab.create_function(new_name, empty handler)`` + ``fn.invoke({})`` from the main thread, in one
Lab; samples of the two runtimes alternate; 2 discarded warm-up samples each. Also the median
``init_duration_ms`` of those first invokes. Floor: ``python -I -c 'import json, socket'``
spawned to exit with ``subprocess.run`` and the same interpreter, median of 20, interleaved.

    python benchmarks/bench_cold_start.py [--n 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import PY, emit, leftover_children, median, ms, spawn_exit_times  # noqa: E402

EMPTY = "def handler(event, context):\n    pass\n"
RUNTIMES = ("python", "python-ric")
FLOOR_ARGV = [PY, "-I", "-c", "import json, socket"]
BARE_ARGV = [PY, "-I", "-S", "-c", "pass"]  # context: the interpreter without site (no .pth files)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()

    walls: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    inits: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    floor: list[float] = []
    bare: list[float] = []
    counter = 0
    with lambdalab.Lab() as lab:
        for i in range(args.n + 2):
            for runtime in RUNTIMES:
                counter += 1
                t0 = time.perf_counter()
                fn = lab.create_function(f"cold{counter}", EMPTY, runtime=runtime)
                result = fn.invoke({})
                wall = time.perf_counter() - t0
                if not result.cold or result.error:
                    raise SystemExit(f"unexpected first result for {runtime}: {result!r}")
                if i >= 2:
                    walls[runtime].append(wall)
                    inits[runtime].append(result.init_duration_ms)
            times = spawn_exit_times(FLOOR_ARGV, 1)
            bare_times = spawn_exit_times(BARE_ARGV, 1)
            if i >= 2:
                floor += times
                bare += bare_times
    leftover = leftover_children()

    f = median(floor)
    print(f"floor, {' '.join(['python'] + FLOOR_ARGV[1:])!r} spawn to exit: median {ms(f)} (n={len(floor)})")
    rows = []
    for runtime in RUNTIMES:
        w, init = median(walls[runtime]), median(inits[runtime])
        print(f"{runtime:11s}: create_function + first invoke median {ms(w)} (min {ms(min(walls[runtime]))}, "
              f"max {ms(max(walls[runtime]))}), init_duration_ms median {init:.1f}  ratio {w / f:.2f}")
        target = "≤ 1.5× floor" if runtime == "python" else "—"
        rows.append({"name": f"cold start, runtime={runtime}", "figure": ms(w), "floor": ms(f),
                     "ratio": f"{w / f:.2f}", "target": target, "met": (w <= 1.5 * f) if runtime == "python" else None})
    print(f"context, 'python -I -S -c pass' spawn to exit: median {ms(median(bare))}")
    context = ["init_duration_ms median: " + ", ".join(f"{r} {median(inits[r]):.1f} ms" for r in RUNTIMES),
               f"'python -I -S -c pass' (no site, so no .pth files): median {ms(median(bare))}"]
    emit("bench_cold_start", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
