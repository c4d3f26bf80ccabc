"""Runtimes: cold start and warm invoke of the same tiny handler in every runtime installed here.

Figure: for each of python, python-ric, nodejs, nodejs-ric (where built), provided with AWS's bash
tutorial runtime, and provided with the compiled Go example (where Go is installed), one function
whose handler answers ``{"hello": event, "runtime": NAME}``. Cold start: median over 10 samples of
the wall time of ``fn.invoke({})`` after ``fn.kill()`` (a new environment each time), and of its
``init_duration_ms``; runtimes alternate within each round, 1 discarded warm-up round. Floors, spawned
to exit with ``subprocess.run`` in the same rounds, with a minimal environment (``PATH`` only) as runtimes
get theirs (an owner's ``NODE_EXTRA_CA_CERTS`` alone triples Node's start): ``python -I -c 'import json, socket'`` (python,
python-ric), ``node -e ''`` (nodejs, nodejs-ric), a Go binary linking the example's packages
(``net/http``, ``encoding/json``) whose ``main`` returns at once (Go), and ``bash -c 'curl --version'``
for the bash runtime (AWS's tutorial loop forks mktemp, curl, grep, tr and cut for every event: its
rows have no target). Warm: p50 of 300 ``fn.invoke({})`` per runtime (after 30 warm-ups), in blocks of 100 that
alternate between runtimes, against the python runtime's p50 in the same run. Max Memory Used of
the cold invokes is reported for context.

    python benchmarks/bench_runtimes.py [--n 10] [--warm 300]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import PY, emit, leftover_children, median, ms, pct, us  # noqa: E402
from lambdalab import custom_runtimes  # noqa: E402
from lambdalab import runtime_catalog  # noqa: E402
from lambdalab.engine.runtimes import NODE_BOOTSTRAP  # noqa: E402
from lambdalab.errors import ConfigError  # noqa: E402

PY_HANDLER = "def handler(event, context):\n    return {'hello': event, 'runtime': 'python'}\n"
JS_HANDLER = "exports.handler = async (event) => ({ hello: event, runtime: 'nodejs' });\n"
BASH_HANDLER = 'echo "{\\"hello\\": $1, \\"runtime\\": \\"bash\\"}"'
GO_FLOOR = 'package main\n\nimport (\n\t_ "encoding/json"\n\t_ "net/http"\n)\n\nfunc main() {}\n'
BLOCK = 100
CLEAN_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def spawn_exit_times(argv: list[str], n: int) -> list[float]:
    """Wall time of ``argv`` started to exit, with the minimal environment a runtime gets (not the owner's)."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, env=CLEAN_ENV, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
    return out


def go_floor_binary(folder: Path) -> Path:
    """A Go program linking what the example runtime links, exiting at once (built with the example's settings)."""
    (folder / "main.go").write_text(GO_FLOOR)
    (folder / "go.mod").write_text("module floor\n\ngo 1.19\n")
    binary = folder / "floor"
    subprocess.run([shutil.which("go") or "go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
                   cwd=folder, env=custom_runtimes.go_env(), check=True, capture_output=True, timeout=600)
    return binary


def runtimes(lab: lambdalab.Lab, work: Path) -> tuple[dict[str, lambdalab.Function], dict[str, list[str]],
                                                         list[str]]:
    """The functions to measure, each runtime's floor argv, and notes on what is skipped."""
    fns: dict[str, lambdalab.Function] = {}
    floors: dict[str, list[str]] = {}
    skipped: list[str] = []
    python_floor = [PY, "-I", "-c", "import json, socket"]
    for runtime in ("python", "python-ric"):
        fns[runtime] = lab.create_function(runtime.replace("-", "_"), PY_HANDLER.replace("'python'", repr(runtime)),
                                           runtime=runtime)
        floors[runtime] = python_floor
    node = runtime_catalog.node()
    for runtime in ("nodejs", "nodejs-ric"):
        try:
            runtime_catalog.resolve(runtime)
            if runtime == "nodejs" and not NODE_BOOTSTRAP.is_file():
                raise ConfigError(f"{NODE_BOOTSTRAP.name} is not there yet")
        except ConfigError as exc:
            skipped.append(f"{runtime}: {exc}")
            continue
        fns[runtime] = lab.create_function(runtime.replace("-", "_"), JS_HANDLER.replace("'nodejs'", repr(runtime)),
                                           runtime=runtime)
        assert node is not None
        floors[runtime] = [node[0], "-e", ""]
    folder = custom_runtimes.bash_function(BASH_HANDLER, work / "bash")
    fns["provided (bash)"] = lab.create_function("bash", path=folder, handler=custom_runtimes.BASH_HANDLER,
                                                 runtime="provided.al2023")
    floors["provided (bash)"] = ["bash", "-c", "curl --version >/dev/null"]
    if custom_runtimes.go_available():
        fns["provided (Go)"] = lab.create_function("go", path=custom_runtimes.go_bootstrap(),
                                                   runtime="provided.al2023")
        (work / "gofloor").mkdir()
        floors["provided (Go)"] = [str(go_floor_binary(work / "gofloor"))]
    else:
        skipped.append(f"provided (Go): {custom_runtimes.GO_INSTALL} is not installed")
    return fns, floors, skipped


def cold(fn: lambdalab.Function, failures: list[str]) -> tuple[float, float, int]:
    """One cold start: (wall s, Init Duration ms, Max Memory Used MB); a failed start is noted and retried."""
    for _ in range(3):
        fn.kill()
        t0 = time.perf_counter()
        result = fn.invoke({})
        wall = time.perf_counter() - t0
        if result.cold and result.error is None and result.payload["hello"] == {}:
            return wall, float(result.init_duration_ms), int(result.max_memory_used_mb)
        failures.append(f"{fn.name}: {result.error or result.payload!r:.120}")
    raise SystemExit(f"{fn.name}: three failed cold starts in a row: {failures[-3:]}")


def warm(fn: lambdalab.Function, n: int) -> list[float]:
    out = []
    invoke: Callable[..., object] = fn.invoke
    for _ in range(n):
        t0 = time.perf_counter()
        invoke({})
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--warm", type=int, default=300)
    args = parser.parse_args()

    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-runtimes-") as tmp, lambdalab.Lab() as lab:
        fns, floor_argv, skipped = runtimes(lab, Path(tmp))
        names = list(fns)
        walls: dict[str, list[float]] = {r: [] for r in names}
        inits: dict[str, list[float]] = {r: [] for r in names}
        memory: dict[str, list[int]] = {r: [] for r in names}
        floors: dict[str, list[float]] = {r: [] for r in names}
        for i in range(args.n + 1):
            for name in names:
                wall, init, mem = cold(fns[name], failures)
                floor = spawn_exit_times(floor_argv[name], 1)
                if i >= 1:
                    walls[name].append(wall)
                    inits[name].append(init)
                    memory[name].append(mem)
                    floors[name] += floor
        warms: dict[str, list[float]] = {r: [] for r in names}
        for name in names:
            warm(fns[name], 30)
        while len(warms[names[0]]) < args.warm:
            k = min(BLOCK, args.warm - len(warms[names[0]]))
            for name in names:
                warms[name] += warm(fns[name], k)
        warm_memory = {name: fns[name].invoke({}).max_memory_used_mb for name in names}
    leftover = leftover_children()

    py_warm = pct(warms["python"], 0.5)
    rows = []
    print(f"{'runtime':16s} {'cold wall':>10s} {'Init':>9s} {'floor':>9s} {'ratio':>6s} {'warm p50':>10s} "
          f"{'÷ python':>8s} {'memory':>7s}")
    for name in names:
        w, init, f = median(walls[name]), median(inits[name]), median(floors[name])
        p50 = pct(warms[name], 0.5)
        print(f"{name:16s} {ms(w):>10s} {init:7.1f} ms {ms(f):>9s} {w / f:6.2f} {us(p50):>10s} {p50 / py_warm:8.2f} "
              f"{median(memory[name]):4.0f} MB")
        has_target = name != "provided (bash)"
        rows.append({"name": f"cold start, {name}", "figure": ms(w), "floor": ms(f), "ratio": f"{w / f:.2f}",
                     "target": "≤ 1.5× floor" if has_target else "—", "met": (w <= 1.5 * f) if has_target else None})
        if name != "python":
            rows.append({"name": f"warm invoke p50, {name}", "figure": us(p50), "floor": f"{us(py_warm)} (python)",
                         "ratio": f"{p50 / py_warm:.2f}", "target": "≤ 1.2× python" if has_target else "—",
                         "met": (p50 <= 1.2 * py_warm) if has_target else None})
    floor_text = {name: shlex.join([Path(argv[0]).name, *argv[1:]]) for name, argv in floor_argv.items()}
    if "provided (Go)" in floor_text:
        floor_text["provided (Go)"] = "a Go binary linking net/http and encoding/json, main returning at once"
    print("floors: " + "; ".join(f"{name}: {floor_text[name]}" for name in names))
    for note in skipped:
        print(f"skipped {note}")
    if failures:
        print(f"failed cold starts (retried): {len(failures)}: " + "; ".join(failures))
    context = [
        "Init Duration median: " + ", ".join(f"{n} {median(inits[n]):.1f} ms" for n in names),
        "Max Memory Used median, cold / after the warm run: " + ", ".join(
            f"{n} {median(memory[n]):.0f}/{warm_memory[n]} MB" for n in names),
        f"python warm invoke p50 (the reference): {us(py_warm)}; p99 by runtime: " + ", ".join(
            f"{n} {us(pct(warms[n], 0.99))}" for n in names),
        "floors: " + "; ".join(f"{n}: `{floor_text[n]}`" for n in names),
        f"failed cold starts (retried): {len(failures)}" + (f" ({failures[0]})" if failures else ""),
        *([f"environment set-up, Go's cold start minus its floor (a runtime that starts in "
           f"{ms(median(floors['provided (Go)']))}): {ms(median(walls['provided (Go)']) - median(floors['provided (Go)']))}"]
          if "provided (Go)" in names else []),
        *[f"skipped {note}" for note in skipped],
    ]
    emit("bench_runtimes", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
