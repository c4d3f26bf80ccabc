"""Package cold start: a function shipping a 30 MB dependency tree (boto3, botocore and what they
import, and pygments, shipped but not imported, as dependency trees carry such packages).

Figure: median over 10 samples per way of the wall time of a cold ``fn.invoke({})`` (after
``fn.kill()``) of a handler doing ``import boto3`` at module level, and the median
``init_duration_ms``; the ways alternate in one run, 1 discarded warm-up each. Isolated: the tree
(boto3, botocore, certifi, dateutil, jmespath, s3transfer, six, urllib3, pygments copied from this venv, offline) ships in the
task root (``path=`` a folder; lambdalab drops ``__pycache__``, so the modules compile at every cold
start, as a package shipped without bytecode does on Lambda). ``inherit_packages=True``: the same
import from the venv (with its bytecode). Floors: ``python -I -S -B -c`` importing the same package
from the same folder (the deployed task root; the venv), spawned to exit, interleaved.

    python benchmarks/bench_package_cold_start.py [--n 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lambdalab  # noqa: E402
from _common import PY, emit, leftover_children, median, ms, spawn_exit_times  # noqa: E402

TREE = ("boto3", "botocore", "certifi", "dateutil", "jmespath", "s3transfer", "six.py", "urllib3", "pygments")
IMPORT = "import boto3"
HANDLER = (f"{IMPORT}\n\ndef handler(event, context):\n"
           "    return [boto3.__file__, boto3.session.botocore.__file__]\n")
WAYS = ("isolated", "inherit_packages")


def venv_site() -> Path:
    for folder in site.getsitepackages():
        if (Path(folder) / "botocore").is_dir():
            return Path(folder)
    raise SystemExit("botocore is not installed in this interpreter's site-packages")


def make_tree(target: Path, source: Path) -> int:
    """Copy the packages (without bytecode) and the handler into ``target``; returns the tree's bytes."""
    for name in TREE:
        if name.endswith(".py"):
            shutil.copy2(source / name, target / name)
        else:
            shutil.copytree(source / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    (target / "lambda_function.py").write_text(HANDLER)
    return size


def floor_argv(folder: Path) -> list[str]:
    return [PY, "-I", "-S", "-B", "-c", f"import sys; sys.path.insert(0, {str(folder)!r}); {IMPORT}"]


def cold(fn: lambdalab.Function, expect_under: Path) -> tuple[float, float]:
    fn.kill()
    t0 = time.perf_counter()
    result = fn.invoke({})
    wall = time.perf_counter() - t0
    if not result.cold or result.error or not all(str(f).startswith(str(expect_under)) for f in result.payload):
        raise SystemExit(f"unexpected result for {fn.name}: {result!r} (boto3 expected under {expect_under})")
    return wall, float(result.init_duration_ms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    venv = venv_site()
    walls: dict[str, list[float]] = {w: [] for w in WAYS}
    inits: dict[str, list[float]] = {w: [] for w in WAYS}
    floors: dict[str, list[float]] = {w: [] for w in WAYS}
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp, lambdalab.Lab() as lab:
        size = make_tree(Path(tmp), venv)
        isolated = lab.create_function("isolated", path=tmp, timeout_s=30)
        inherited = lab.create_function("inherits", HANDLER, inherit_packages=True, timeout_s=30)
        root = Path(isolated.invoke({}).payload[0]).parent.parent  # the deployed task root holding boto3
        fns = {"isolated": (isolated, root), "inherit_packages": (inherited, venv)}
        for i in range(args.n + 1):
            for way in WAYS:
                fn, folder = fns[way]
                wall, init = cold(fn, folder)
                floor = spawn_exit_times(floor_argv(folder), 1)[0]
                if i >= 1:
                    walls[way].append(wall)
                    inits[way].append(init)
                    floors[way].append(floor)
        bytecode = any(root.rglob("__pycache__"))
    leftover = leftover_children()

    print(f"tree: {', '.join(TREE)}: {size / 1e6:.1f} MB unzipped; bytecode in the deployed task root: {bytecode}")
    rows = []
    for way in WAYS:
        w, init, f = median(walls[way]), median(inits[way]), median(floors[way])
        where = "the deployed task root" if way == "isolated" else "the venv"
        print(f"{way:16s}: cold invoke median {ms(w)} (min {ms(min(walls[way]))}, max {ms(max(walls[way]))}), "
              f"init_duration_ms median {init:.1f}; floor ({IMPORT!r} from {where}, python -I -S -B) "
              f"median {ms(f)}  ratio {w / f:.2f}")
        rows.append({"name": f"package cold start, {way}", "figure": ms(w), "floor": ms(f), "ratio": f"{w / f:.2f}",
                     "target": "—", "met": None})
    iso, inh = median(walls["isolated"]), median(walls["inherit_packages"])
    print(f"isolated / inherit_packages: {iso / inh:.2f}")
    context = [f"tree {size / 1e6:.1f} MB ({', '.join(TREE)}), copied offline from the venv; "
               f"bytecode shipped: {bytecode}",
               "init_duration_ms median: " + ", ".join(f"{w} {median(inits[w]):.1f} ms" for w in WAYS),
               f"isolated / inherit_packages wall: {iso / inh:.2f}"]
    emit("bench_package_cold_start", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
