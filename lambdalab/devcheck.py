"""Say so when a compiled module is older than its source, so an edit to the ``.py`` is not silently ignored.

The shared core (``lambdalab/core``) and the simulator's hot modules are compiled with mypyc when lambdalab is
installed (setup.py). A compiled module is a ``.so`` beside its ``.py`` and Python imports the ``.so`` first; in an
editable install, editing the ``.py`` then changes nothing until the next build. ``warn_if_stale()`` compares the
two files' modification times (two directory scans and a stat per file) and warns once per process, naming the
files and the cure: ``make dev`` (editable, pure Python: every edit takes effect) or a reinstall.

Standard library only: setup.py loads this file by path to learn which modules it compiles.
"""

from __future__ import annotations

import os
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

__all__ = ["COMPILED_SIM", "StaleBuildWarning", "compiled_sources", "stale_builds", "warn_if_stale"]

PACKAGE = Path(__file__).resolve().parent
# the simulator's compiled modules; every module of lambdalab/core but its __init__ is compiled too
COMPILED_SIM = ("kernel", "latency", "tally", "driver", "simulation")
SLACK_S = 1.0
SHOWN = 3  # stale files named in the warning; the rest are counted

_warned = False


class StaleBuildWarning(UserWarning):
    """A compiled module is older than its source: Python imports the compiled one, without the edits."""


def compiled_sources(package: Path = PACKAGE) -> list[Path]:
    """The ``.py`` files the build compiles, under the package folder ``package``."""
    core = sorted(p for p in (package / "core").glob("*.py") if p.name != "__init__.py")
    return core + [package / "sim" / f"{name}.py" for name in COMPILED_SIM]


def _names(folder: Path) -> set[str]:
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries}
    except OSError:
        return set()


def stale_builds(package: Path = PACKAGE) -> list[tuple[Path, Path]]:
    """(source, compiled module) pairs under ``package`` where the compiled module is older than its source.

    An installed copy (under site-packages) is not checked: nobody edits it, and installing a wheel writes its
    files in any order. A source must be newer by more than ``SLACK_S`` (one build writes both within it).
    Cost: one scan of each of the two folders, and two stats per compiled module found."""
    if {"site-packages", "dist-packages"} & set(package.parts):
        return []
    stale = []
    for folder, only in ((package / "core", None), (package / "sim", COMPILED_SIM)):
        where = str(folder)
        for name in sorted(_names(folder)):
            stem, _, suffix = name.partition(".")
            if "." + suffix not in EXTENSION_SUFFIXES or (only is not None and stem not in only):
                continue
            try:
                built_s = os.stat(os.path.join(where, name)).st_mtime
                source_s = os.stat(os.path.join(where, stem + ".py")).st_mtime
            except OSError:  # a compiled module without its source: nothing to edit
                continue
            if built_s + SLACK_S < source_s:
                stale.append((folder / f"{stem}.py", folder / name))
    return stale


def _message(stale: list[tuple[Path, Path]], package: Path) -> str:
    def rel(path: Path) -> str:
        return str(path.relative_to(package.parent))

    named = ", ".join(f"{rel(source)} (compiled: {built.name})" for source, built in stale[:SHOWN])
    more = f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
    one = len(stale) == 1
    return (
        f"lambdalab: {named}{more} changed after {'it was' if one else 'they were'} compiled; Python imports the "
        f"older compiled module{'' if one else 's'}, so the edits do not take effect. Run `make dev` (an editable, "
        "pure-Python install in which every edit takes effect) or reinstall (`make setup`, or `pip install -e .`) "
        f"to compile {'it' if one else 'them'} again."
    )


def warn_if_stale() -> None:
    """Warn (once per process) when a compiled module of lambdalab is older than its ``.py``."""
    global _warned
    if _warned:
        return
    stale = stale_builds(PACKAGE)
    if stale:
        _warned = True
        warnings.warn(_message(stale, PACKAGE), StaleBuildWarning, stacklevel=2)
