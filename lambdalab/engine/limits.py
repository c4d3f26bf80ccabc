"""Resource limits for environments: a cgroup per environment where the machine allows it.

With a writable cgroup v1 memory hierarchy (``/sys/fs/cgroup/memory``), each environment gets a
``lambdalab-<lab>/<environment>`` group whose limit is ``memory_mb``: the kernel OOM-kills the
environment past it, as Lambda does. The runtime joins its groups itself, before its exec
(the launcher, ``engine/launcher.py``), so it is born inside them. Where the launcher could not be
built, moving a running process into a v1 group costs 5-20 ms in the kernel, so the control plane
does it on a worker thread while the runtime boots (``enter``), and holds the end of init until it
is done. A pids group (``pids.max`` = 1,024, Lambda's limit on processes and
threads) contains fork storms the same way.
Without one, the fallback is ``RLIMIT_DATA`` set on the runtime process (over-allocation then
raises ``MemoryError`` inside the handler instead of a kill), and no process limit; see
docs/FIDELITY.md. ``probe()`` decides once per Lab.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from pathlib import Path

from lambdalab.engine import reaper

CGROUP_ROOT = Path("/sys/fs/cgroup")
PIDS_MAX = 1024  # Lambda's limit on processes + threads (AWS docs, "Lambda quotas": processes and threads)


def descendants(pid: int) -> Iterator[int]:
    """``pid``'s children, their children... (``/proc/<pid>/task/*/children``)."""
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{parent}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                    for child in map(int, f.read().split()):
                        yield child
                        todo.append(child)


def _writable_v1(controller: str) -> Path | None:
    base = CGROUP_ROOT / controller
    probe = base / f"lambdalab-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    return base


class Limits:
    """Creates, fills, reads and removes the per-environment groups of one Lab."""

    def __init__(self, lab_id: str, enabled: bool = True, pids: bool = True) -> None:
        self.memory_base = _writable_v1("memory") if enabled else None
        self.pids_base = _writable_v1("pids") if enabled and pids else None
        self._lab = f"lambdalab-{lab_id}"
        self.kind = "cgroup-v1" if self.memory_base else "rlimit"

    def lab_dirs(self) -> list[Path]:
        """The Lab's parent groups (created with its first environment)."""
        return [base / self._lab for base in (self.memory_base, self.pids_base) if base is not None]

    def create(self, environment_id: str, memory_mb: int) -> list[Path]:
        """Make the environment's groups (idempotent); returns their directories."""
        dirs = []
        if self.memory_base is not None:
            d = self.memory_base / self._lab / environment_id
            d.mkdir(parents=True, exist_ok=True)
            limit = str(memory_mb * 1024 * 1024)
            (d / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(OSError):
                (d / "memory.memsw.limit_in_bytes").write_text(limit)
            dirs.append(d)
        if self.pids_base is not None:
            d = self.pids_base / self._lab / environment_id
            d.mkdir(parents=True, exist_ok=True)
            (d / "pids.max").write_text(str(PIDS_MAX))
            dirs.append(d)
        return dirs

    def enter(self, dirs: list[Path], pid: int, memory_mb: int) -> None:
        """Put a freshly started runtime process under the environment's limits.

        Its descendants too: a child it forked before it joined (a bash bootstrap's first ``curl``)
        would otherwise stay outside them; children forked after the move are born inside.
        """
        for d in dirs:
            for member in (pid, *descendants(pid)):
                with contextlib.suppress(ProcessLookupError, OSError):
                    (d / "cgroup.procs").write_text(str(member))
        if self.memory_base is None:
            # Fallback: the runtime's data segment, with room for the interpreter itself.
            limit = (memory_mb + 64) * 1024 * 1024
            with contextlib.suppress(OSError, ValueError):
                resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))

    def oom_kills(self, dirs: list[Path]) -> int:
        """How many times the kernel OOM-killed inside the environment's memory group."""
        for d in dirs:
            if d.parent.parent == self.memory_base:
                with contextlib.suppress(OSError):
                    for line in (d / "memory.oom_control").read_text().splitlines():
                        if line.startswith("oom_kill "):
                            return int(line.split()[1])
        return 0

    def members(self, dirs: list[Path]) -> list[int]:
        """Every process in the environment's groups."""
        pids: set[int] = set()
        for d in dirs:
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        return sorted(pids)

    def kill_all(self, dirs: list[Path]) -> None:
        """SIGKILL every process in the groups (catches children that left the process group).

        Members are stopped, then killed, each through a pidfd opened before checking it is still
        a member (``reaper.stop_then_kill``): a pid reused by another process is never signalled.
        """
        if dirs:  # every group of an environment holds the same processes
            reaper.stop_then_kill(lambda: reaper.cgroup_members(str(dirs[0])))

    def remove(self, dirs: list[Path]) -> None:
        for d in dirs:
            with contextlib.suppress(OSError):
                d.rmdir()

    def remove_lab(self) -> None:
        for base in (self.memory_base, self.pids_base):
            if base is not None:
                with contextlib.suppress(OSError):
                    (base / self._lab).rmdir()
