"""Dependency-build cache hits and the merge of a function's layers into /opt.

Figure 1: median of ``build_dependencies(["alpha==1.0", ...])`` when the same requirements were
already built for this interpreter (a cache hit: no pip run), 300 calls after one real build with
pip against local wheels (``--no-index --find-links``, no network). Floor: what any content-addressed
cache must do for a hit, measured in the same run: the sha256 of the requirements text plus an
``os.stat`` of the cached folder's marker (median of 3,000). Ratio = figure / floor.

Figure 2: median time to merge 5 layers of ``--files`` files each (some paths shared, so later
layers replace earlier files) into a fresh ``/opt`` view with ``packages.opt.merge`` (7 runs).
Floor: ``os.mkdir`` of the same folders plus ``os.link`` of the same number of files, in the same
run (the system calls any hard-link merge needs). Context: ``shutil.copytree`` of the 5 layers
(copying instead of linking) and a view reused from the store's cache.

    python benchmarks/bench_deps.py [--files 2000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, leftover_children, median, ms, us  # noqa: E402

from lambdalab.packages.deps import MARKER, build_dependencies  # noqa: E402
from lambdalab.packages.layers import LayerStore  # noqa: E402
from lambdalab.packages.opt import merge  # noqa: E402

REQUIREMENTS = ["alpha==1.0", "beta>=1", "gamma"]
HIT_TARGET_S = 0.050  # the "no pip run": a hit must not cost anything like a process start


def make_wheel(where: Path, name: str, modules: int) -> None:
    """A pure-Python wheel with ``modules`` small modules (pip needs METADATA, WHEEL and RECORD)."""
    dist = f"{name}-1.0.dist-info"
    files = {f"{name}/__init__.py": "", **{f"{name}/m{i}.py": f"X = {i}\n" * 20 for i in range(modules)},
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t)}" for p, t in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(where / f"{name}-1.0-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def cache_hits(work: Path, n: int) -> tuple[float, list[float], list[float], int]:
    """(first build seconds, hit times, floor times, size of the built folder)."""
    wheels = work / "wheels"
    wheels.mkdir()
    for name in ("alpha", "beta", "gamma"):
        make_wheel(wheels, name, 200)
    args = ["--no-index", "--find-links", str(wheels)]
    first = build_dependencies(REQUIREMENTS, cache_dir=work / "cache", pip_args=args)
    assert not first.cache_hit
    hits = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        build = build_dependencies(REQUIREMENTS, cache_dir=work / "cache", pip_args=args)
        hits.append(clock() - t0)
        assert build.cache_hit
    text = "\n".join(REQUIREMENTS).encode()
    marker = first.path / MARKER
    floor = []
    for _ in range(n * 10):
        t0 = clock()
        hashlib.sha256(text).hexdigest()
        os.stat(marker)
        floor.append(clock() - t0)
    return first.seconds, hits, floor, first.size_bytes


def make_layers(work: Path, files: int) -> list[Path]:
    folders = []
    for i in range(5):
        root = work / f"layer{i}"
        for j in range(files):
            shared = j < files // 10  # the first tenth of the paths is in every layer: later layers win
            rel = f"python/common/m{j}.py" if shared else f"python/pkg{i}/sub{j % 20}/m{j}.py"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"LAYER = {i}\n" * 10)
        folders.append(root)
    return folders


def link_floor(sources: list[Path], dest: Path) -> float:
    """mkdir of every folder and os.link of every file of the layers, flattened into one tree."""
    pairs, dirs = [], set()
    for i, root in enumerate(sources):
        for dirpath, _dirnames, filenames in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            dirs.add(os.path.join(f"{i}", rel))
            pairs.extend((os.path.join(dirpath, f), os.path.join(f"{i}", rel, f)) for f in filenames)
    ordered = sorted(dirs, key=len)
    t0 = time.perf_counter()
    os.mkdir(dest)
    for d in ordered:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    for src, rel in pairs:
        os.link(src, os.path.join(dest, rel))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--hits", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lambdalab-bench-deps-") as tmp:
        work = Path(tmp)
        first_s, hits, hit_floor, size = cache_hits(work, args.hits)
        folders = make_layers(work, args.files)
        store = LayerStore(work / "store")
        layers = [store.publish(f"layer{i}", folder) for i, folder in enumerate(folders)]
        merges, floors, copies = [], [], []
        for run in range(7):
            t0 = time.perf_counter()
            view = merge(layers, work / f"opt{run}")
            merges.append(time.perf_counter() - t0)
            floors.append(link_floor([layer.content for layer in layers], work / f"floor{run}"))
            t0 = time.perf_counter()
            for i, layer in enumerate(layers):
                shutil.copytree(layer.content, work / f"copy{run}" / str(i))
            copies.append(time.perf_counter() - t0)
        store.view(layers)
        t0 = time.perf_counter()
        store.view(layers)
        reused = time.perf_counter() - t0
    leftover = leftover_children()

    hit, floor = median(hits), median(hit_floor)
    total_files = 5 * args.files
    merged, link = median(merges), median(floors)
    print(f"dependency build: first build (pip, 3 local wheels, {size / 1e6:.1f} MB) {ms(first_s)}; "
          f"cache hit median {us(hit)} (n={len(hits)}, target ≤ {HIT_TARGET_S * 1e3:.0f} ms)")
    print(f"floor, sha256 of the requirements + os.stat of the cached marker: median {us(floor)}; "
          f"ratio {hit / floor:.1f}")
    print(f"merge of 5 layers × {args.files} files ({view.files} in the view): median {ms(merged)}; "
          f"floor mkdir + os.link of {total_files} files: {ms(link)}; ratio {merged / link:.1f}")
    print(f"context: copytree of the 5 layers {ms(median(copies))}; a view reused from the store's cache {us(reused)}")
    rows = [
        {"name": "dependency build, cache hit (median)", "figure": us(hit), "floor": us(floor),
         "ratio": f"{hit / floor:.1f}", "target": f"≤ {HIT_TARGET_S * 1e3:.0f} ms", "met": hit <= HIT_TARGET_S},
        {"name": f"merge 5 layers × {args.files} files into /opt (median)", "figure": ms(merged), "floor": ms(link),
         "ratio": f"{merged / link:.1f}", "target": None, "met": None},
    ]
    context = [f"first build with pip (3 local wheels, {size / 1e6:.1f} MB): {ms(first_s)}",
               f"copying the same 5 layers with shutil.copytree: {ms(median(copies))}",
               f"a merged view reused from LayerStore.view's cache: {us(reused)}"]
    emit("bench_deps", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
