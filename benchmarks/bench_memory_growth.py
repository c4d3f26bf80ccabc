"""Memory growth of one execution environment over many warm invokes.

Figure: one function (runtime "python", default ``freeze=True``, handler returns ``os.getpid()``)
invoked sequentially from the main thread with ``fn.invoke({})`` (one environment: every invoke
must land in the same one), 1,000 warm-up invokes, then ``--invokes`` (100,000) more; the USS
(``psutil memory_full_info().uss``) of the runtime process is read after the warm-up (start) and
after the last invoke (end), plus ten samples in between for the trend. The runtime's pid comes
from the handler itself (its return value, through the public API; checked to be a child of this
process). Target: end - start < 1 MiB. The same for runtime "nodejs" when Node.js is installed
(handler returns ``process.pid``; ``--node-warmup`` 10,000 invokes, as V8 grows its heap to its
working size over the first few thousand, then ``--node-invokes`` 15,000). Also "troughs": the
lowest of the last four samples minus the lowest of the first four, which is what the target
applies to for "nodejs" (V8's heap saws up and down by several MiB between collections, so two
single samples mostly measure where in that cycle they fell). Floor: the runtime process of
``LeanHttpPlatform(1)`` (benchmarks/_common.py: raw-socket ``/next`` -> ``/response`` loop, no
handler, no bookkeeping) over 100,000 invokes, same sampling.

    python benchmarks/bench_memory_growth.py [--invokes 100000] [--node-warmup 10000] [--node-invokes 15000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psutil  # noqa: E402

import lambdalab  # noqa: E402
from _common import LeanHttpPlatform, emit, leftover_children  # noqa: E402
from lambdalab import runtime_catalog  # noqa: E402
from lambdalab.errors import ConfigError  # noqa: E402

PY_HANDLER = "import os\n\ndef handler(event, context):\n    return os.getpid()\n"
NODE_HANDLER = "exports.handler = async () => process.pid;\n"
WARMUP = 1_000
SAMPLES = 10
MiB = 1024 * 1024


def uss(pid: int) -> int:
    return psutil.Process(pid).memory_full_info().uss


def runtime_pid(pid: int) -> int:
    """``pid`` as the handler reported it, checked to be a live descendant of this process."""
    ours = {p.pid for p in psutil.Process().children(recursive=True)}
    if pid not in ours:
        raise SystemExit(f"pid {pid} from the handler is not a child of this process (a pid namespace?)")
    return pid


def grow(invoke: object, pid: int, n: int) -> tuple[int, int, list[int], float]:
    """(start USS, end USS, samples, seconds) over ``n`` calls of ``invoke()`` after the warm-up."""
    step = max(1, n // SAMPLES)
    start = uss(pid)
    samples = [start]
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(step, n - done)
        invoke(k)  # type: ignore[operator]
        done += k
        samples.append(uss(pid))
    return start, samples[-1], samples, time.perf_counter() - t0


def lab_run(lab: lambdalab.Lab, name: str, runtime: str, source: str, n: int, warmup: int) -> dict:
    fn = lab.create_function(name, source, runtime=runtime)
    first = fn.invoke({})
    first.raise_for_error()
    envs = {first.environment_id}
    for _ in range(warmup):
        envs.add(fn.invoke({}).environment_id)
    pid = runtime_pid(int(first.payload))
    errors: list[str] = []

    def invoke(k: int) -> None:
        for _ in range(k):
            r = fn.invoke({})
            if r.error is not None:
                errors.append(r.request_id)
            envs.add(r.environment_id)

    start, end, samples, seconds = grow(invoke, pid, n)
    return {"start": start, "end": end, "samples": samples, "seconds": seconds, "n": n,
            "environments": len(envs), "errors": len(errors), "pid": pid}


def floor_run(n: int) -> dict:
    platform = LeanHttpPlatform(1)
    try:
        platform.latencies_in_loop(WARMUP)
        pid = platform.procs[0].pid

        def invoke(k: int) -> None:
            platform.latencies_in_loop(k)

        start, end, samples, seconds = grow(invoke, pid, n)
        return {"start": start, "end": end, "samples": samples, "seconds": seconds, "n": n}
    finally:
        platform.close()


def mib(b: float) -> str:
    return f"{b / MiB:.2f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invokes", type=int, default=100_000)
    parser.add_argument("--node-invokes", type=int, default=15_000)
    parser.add_argument("--node-warmup", type=int, default=10_000,
                        help="V8 grows its heap over the first few thousand invokes; start measuring after that")
    args = parser.parse_args()

    runs: list[tuple[str, dict]] = []
    node_note = ""
    with lambdalab.Lab() as lab:
        runs.append(("python", lab_run(lab, "grow_py", "python", PY_HANDLER, args.invokes, WARMUP)))
        if args.node_invokes > 0:
            try:
                runtime_catalog.resolve("nodejs")
            except ConfigError as exc:
                node_note = f"nodejs skipped: {exc}"
            else:
                runs.append(("nodejs", lab_run(lab, "grow_node", "nodejs", NODE_HANDLER, args.node_invokes,
                                                   args.node_warmup)))
    leftover = leftover_children()
    floor = floor_run(args.invokes)

    rows, context = [], []
    floor_growth = floor["end"] - floor["start"]
    print(f"floor (LeanHttpPlatform runtime, {floor['n']:,} invokes in {floor['seconds']:.1f} s): "
          f"{mib(floor['start'])} -> {mib(floor['end'])} (growth {floor_growth / 1024:+,.0f} KiB)")
    for runtime, run in runs:
        growth = run["end"] - run["start"]
        trough = min(run["samples"][-4:]) - min(run["samples"][:4])
        per = growth / run["n"]
        print(f"{runtime}: {run['n']:,} invokes in {run['seconds']:.1f} s ({run['n'] / run['seconds']:,.0f}/s), "
              f"{run['environments']} environment(s), {run['errors']} errors; USS {mib(run['start'])} -> "
              f"{mib(run['end'])}: growth {growth / 1024:+,.0f} KiB ({per:+.1f} bytes/invoke); "
              f"troughs {trough / 1024:+,.0f} KiB")
        trend = ", ".join(f"{s / MiB:.2f}" for s in run["samples"])
        print(f"  USS samples (MiB, every {run['n'] // SAMPLES:,} invokes): {trend}")
        rows.append({"name": f"USS growth of one environment over {run['n']:,} warm invokes, runtime={runtime}",
                     "figure": f"{growth / 1024:+,.0f} KiB ({mib(run['start'])} → {mib(run['end'])}); "
                               f"troughs {trough / 1024:+,.0f} KiB",
                     "floor": f"{floor_growth / 1024:+,.0f} KiB (lean runtime, {floor['n']:,} invokes)",
                     "ratio": "—", "target": "< 1 MiB",
                     "met": (trough if runtime == "nodejs" else growth) < MiB and run["environments"] == 1
                     and run["errors"] == 0})
        context.append(f"runtime={runtime}: {run['n']:,} invokes in {run['seconds']:.1f} s "
                       f"({run['n'] / run['seconds']:,.0f}/s, sequential fn.invoke), {run['environments']} "
                       f"environment(s), {run['errors']} errors, {per:+.1f} bytes/invoke; USS samples (MiB): {trend}")
    if node_note:
        print(node_note)
        context.append(node_note)
    context.append(f"floor: LeanHttpPlatform runtime USS {mib(floor['start'])} → {mib(floor['end'])} over "
                   f"{floor['n']:,} invokes ({floor['seconds']:.1f} s)")
    emit("bench_memory_growth", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
