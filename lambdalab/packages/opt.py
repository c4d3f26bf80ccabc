"""The merged ``/opt`` of a function's layers: Lambda extracts them in order, so a later layer wins.

    view = merge(layers, into)      # reused when ``into`` already holds these layers
    view.python_paths               # (python/lib/pythonX.Y/site-packages, python): Lambda's order after the task root
    view.bin_dir, view.lib_dir      # for PATH and LD_LIBRARY_PATH; view.extensions_dir for extensions

A later layer's file replaces an earlier one's at the same path, and a file replaces a folder (or
the reverse) whole. Files are hard links to the layers' unpacked content (a symlink across file
systems): one ``link`` per file, nothing copied. The view is built in a staging folder and renamed
into place, so a reader never sees half of it. It must stay read-only: writing to a file under it
writes into the layer store (on Lambda ``/opt`` is read-only).

Rules: reads the layers' ``content`` folders and writes only under ``into``'s parent.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab.packages._fs import read_json

if TYPE_CHECKING:
    from lambdalab.packages.layers import LayerVersion

_MARKER = ".lambdalab-opt.json"


@dataclass(frozen=True)
class OptView:
    """A merged ``/opt``: the folder, and the paths a runtime adds (Python's in Lambda's order)."""

    root: Path
    python_paths: tuple[Path, ...]
    bin_dir: Path
    lib_dir: Path
    extensions_dir: Path
    layers: tuple[str, ...]
    files: int


def merge(layers: Sequence[LayerVersion], into: Path, *, python_version: str | None = None) -> OptView:
    """Merge the layers' files into ``into`` in order (later wins), as Lambda fills ``/opt``; reused if done."""
    into = Path(into)
    wanted = {"layers": [layer.arn for layer in layers], "contents": [str(layer.content) for layer in layers]}
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    marker = read_json(into / _MARKER)
    if marker is None or {k: marker.get(k) for k in wanted} != wanted:
        plan = _plan(layers)
        marker = wanted | {"files": sum(1 for source in plan.values() if source is not None)}
        into.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{into.name}-", dir=into.parent))
        try:
            _materialise(plan, staging)
            (staging / _MARKER).write_text(json.dumps(marker))
            if into.exists():
                shutil.rmtree(into)
            staging.rename(into)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return OptView(
        into,
        (into / "python" / "lib" / f"python{python_version}" / "site-packages", into / "python"),
        into / "bin",
        into / "lib",
        into / "extensions",
        tuple(wanted["layers"]),
        int(marker["files"]),
    )


def _plan(layers: Sequence[LayerVersion]) -> dict[str, Path | None]:
    """Relative path → source file (``None`` for a folder), after every layer in order."""
    plan: dict[str, Path | None] = {}
    for layer in layers:
        for rel, source in _entries(layer.content):
            earlier = plan.get(rel, ...)
            if earlier is not ... and (earlier is None) != (source is None):  # a file over a folder, or back
                for other in [p for p in plan if p.startswith(rel + "/")]:
                    del plan[other]
            plan[rel] = source
    return plan


def _entries(root: Path) -> Iterator[tuple[str, Path | None]]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames):
            yield (name if rel_dir == "." else f"{rel_dir}/{name}"), None
        for name in filenames:
            yield (name if rel_dir == "." else f"{rel_dir}/{name}"), Path(dirpath, name)


def _materialise(plan: dict[str, Path | None], dest: Path) -> None:
    for rel, source in plan.items():  # insertion order: a folder always comes before what it holds
        target = os.path.join(dest, rel)
        if source is None:
            os.mkdir(target)
            continue
        try:
            os.link(source, target)
        except OSError:  # another file system
            os.symlink(source, target)
