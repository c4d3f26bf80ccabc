"""A runtime restored from a SnapStart snapshot (``engine/snapshot.py``): a ``Sandbox`` that is not our child.

The template forks it; it joins the environment's groups and becomes its own session there. Its exit is seen on
its pidfd and its status read with ``PIDFD_GET_INFO``, and every signal goes through pidfds (no zombie pins its
process group id). ``engine/sandbox.py`` has the rest of a runtime's life (freeze, thaw, kill, output, memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from lambdalab.engine import reaper as _reaper
from lambdalab.engine.sandbox import Sandbox
from lambdalab.errors import SandboxError


class RestoredSandbox(Sandbox):
    """A runtime restored from a SnapStart snapshot (``engine/snapshot.py``): the template's child, not ours.

    The process was forked by the template, has joined the environment's groups and become its own session;
    its output arrives on a pipe the engine made (``out_fd``, the read end). Nothing here relies on it being our
    child: its exit is seen on its pidfd and its status read with ``PIDFD_GET_INFO`` (``reaper.exit_status``; the
    template's kernel-side auto-reaping leaves no zombie), and since no zombie pins its process group id, every
    signal goes through pidfds: the runtime's own, and those of the environment's cgroup members.
    """

    def __init__(
        self,
        pid: int,
        pidfd: int,
        out_fd: int,
        *,
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
        cgroups: Sequence[Path],
        marker: str | None,
    ) -> None:
        self._on_output = on_output
        self._on_exit = on_exit
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None
        self.namespace = True
        self.joined = True  # born (forked) and joined inside its groups before it was restored
        self._out_fd = out_fd
        os.set_blocking(out_fd, False)
        self._status_fd: int | None = None
        with contextlib.suppress(OSError):
            self._status_fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        loop = asyncio.get_running_loop()
        self._loop = loop
        loop.add_reader(out_fd, self.drain)
        loop.add_reader(pidfd, self._reap)
        self.peak_memory_mb = 0
        self.cgroups = list(cgroups)
        self.marker = marker
        self._reaper = None
        self._stopped = {}

    def start(self, *args: object, **kwargs: object) -> None:
        raise SandboxError("a restored runtime is already running")

    def guard(self, reaper: _reaper.Reaper | None, cgroups: list[Path], marker: str | None) -> None:
        """Its groups and marker; the reaper watches no process group of it (the PDEATHSIG chain covers owner death:
        owner -> template -> restored runtime, and the reaper empties the groups)."""
        self.cgroups, self.marker, self._reaper = list(cgroups), marker, reaper

    def _outside(self) -> list[tuple[int, int]]:
        """Every other process in the environment's groups (its process group id is not pinned: no killpg)."""
        if not self.cgroups:
            return []
        return _reaper.cgroup_members(str(self.cgroups[0]), skip=self.pid)

    def _signal(self, signum: int) -> None:
        if self.returncode is None:
            _reaper.send(self.pidfd, signum)

    def freeze(self) -> None:
        if self.returncode is None:
            self._signal(signal.SIGSTOP)
            self._stop_outside()

    def _reap(self) -> None:
        if not _reaper.exited(self.pidfd):
            return
        self._loop.remove_reader(self.pidfd)
        status = _reaper.exit_status(self.pidfd)
        self.returncode = -signal.SIGKILL if status is None else status  # None: a kernel before 6.15
        # what it left in its groups ends with it
        self._stop_outside()
        self._release_outside(signal.SIGKILL)
        if self._reaper is not None:
            self._reaper.forget_group(self.pid)
        self._reaped(self.returncode)

    def _close_fds(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._out_fd)
        with contextlib.suppress(OSError):
            os.close(self._out_fd)
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
