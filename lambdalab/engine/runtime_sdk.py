"""The runtime's own directory: what a managed Python runtime ships besides the standard library.

On Lambda a handler sees its package (``/var/task``), its layers (``/opt``), the runtime directory
(``/var/runtime``: the runtime client and the AWS SDK for Python) and the standard library, nothing
else. lambdalab gives each Lab one such directory: a folder of symbolic links to the top-level
modules of a fixed set of installed distributions (boto3 and its dependencies, the runtime hooks'
``snapshot-restore-py``, and for the ``python-ric`` runtime awslambdaric and its own), so a handler can
``import boto3`` with no package while every other package of the user's environment stays out of
reach. Links cost nothing to make (about twenty) and the versions are the installed ones, reported by ``versions()``.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
from collections.abc import Iterable
from pathlib import Path

SDK = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")
RUNTIME_CLIENT = ("awslambdaric", "simplejson", "snapshot-restore-py")
# the runtime hooks every managed Python runtime bundles (``snapshot_restore_py``: SnapStart's before-snapshot and
# after-restore hooks, one Apache-2.0 file from PyPI), in both runtimes' directories: handlers import it unchanged
HOOKS = ("snapshot-restore-py",)


def _top_level(dist: metadata.Distribution) -> list[Path]:
    """The installed top-level modules and packages of a distribution, as absolute paths."""
    names: set[str] = set()
    for file in dist.files or ():
        parts = Path(str(file)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".data", ".egg-info")):
            continue
        if len(parts) == 1 and not parts[0].endswith((".py", ".so", ".pyd")):
            continue
        names.add(parts[0])
    root = Path(str(dist.locate_file("")))
    return sorted(root / name for name in names if (root / name).exists())


def versions(names: Iterable[str] = SDK + RUNTIME_CLIENT) -> dict[str, str]:
    """The versions of the runtime directory's distributions that are installed here."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def build(target: Path, *, runtime_client: bool = False) -> Path:
    """Make ``target`` the runtime directory (idempotent); returns it."""
    if target.is_dir():
        return target
    staging = target.with_name(target.name + f".staging-{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    for name in SDK + HOOKS + (RUNTIME_CLIENT if runtime_client else ()):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for path in _top_level(dist):
            link = staging / path.name
            if not link.exists():
                link.symlink_to(path)
    try:
        staging.rename(target)
    except OSError:  # made meanwhile by another thread: keep theirs
        for link in staging.iterdir():
            link.unlink()
        staging.rmdir()
    return target
