"""The runtime launcher (``lambdalab/runtimes/launch.c``): built once per machine, then used for every spawn.

Starting a runtime with a ``preexec_fn`` (the namespace, the parent-death signal) makes Python fork
the whole owner process, 3-4 ms for a Jupyter kernel, on the engine's loop; moving the runtime into
its cgroups afterwards stalls its first threads while the kernel migrates it, and leaves whatever it
allocated before the move uncharged. The launcher does all of it between its own exec and the
runtime's, so the owner spawns with vfork and the runtime is born inside its limits.

``path()`` builds it with the machine's C compiler into lambdalab's cache (``lambdalab/cache.py``)
``launch/<sha256 of the source>/launch``, atomically, and answers None where
there is no compiler or the build fails: the engine then keeps the ``preexec_fn`` path
(``engine/mounts.py``, ``sandbox.GUARD``). ``LAMBDALAB_LAUNCHER=0`` turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lambdalab.cache import cache_root

SOURCE = Path(__file__).resolve().parent.parent / "runtimes" / "launch.c"


@functools.cache
def path() -> str | None:
    """The built launcher, or None where it cannot be built here (or ``LAMBDALAB_LAUNCHER=0``)."""
    if os.environ.get("LAMBDALAB_LAUNCHER", "1") == "0":
        return None
    try:
        source = SOURCE.read_bytes()
    except OSError:
        return None
    target = cache_root() / "launch" / hashlib.sha256(source).hexdigest()[:16] / "launch"
    if target.is_file() and os.access(target, os.X_OK):
        return str(target)
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=target.parent, prefix=".launch-")
        os.close(fd)
        done = subprocess.run(
            [compiler, "-O2", "-o", staging, str(SOURCE)], capture_output=True, timeout=60, check=False
        )
        if done.returncode != 0:
            os.unlink(staging)
            return None
        os.chmod(staging, 0o755)
        os.replace(staging, target)  # atomic: a concurrent build by another process wins or loses whole
    except (OSError, subprocess.SubprocessError):
        return None
    return str(target)


def argv(
    program: list[str],
    *,
    pdeathsig: int,
    parent: int,
    tmp: str | None,
    opt: str | None,
    cgroup_procs: list[str],
    read_only: Sequence[str] = (),
    hide: str | None = None,
) -> list[str]:
    """The launcher's command line for ``program`` (``path()`` must not be None).

    ``read_only``: folders every environment shares (task roots, layers, caches), bound read-only in the
    namespace; ``hide``: the Lab's folder of environments, of which the runtime sees only its own.
    """
    launcher = path()
    assert launcher is not None
    shared = ":".join(read_only) if read_only else "-"
    if ":" in "".join(read_only):
        raise ValueError(f"a read-only folder has ':' in its name: {read_only}")
    return [
        launcher,
        str(pdeathsig),
        str(parent),
        tmp or "-",
        opt or "-",
        shared,
        hide or "-",
        *cgroup_procs,
        "--",
        *program,
    ]
