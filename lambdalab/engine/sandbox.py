"""One runtime process: spawn, freeze (SIGSTOP), thaw (SIGCONT), kill, reap, output, memory.

The process runs in its own session and process group, so signals reach the runtime and every
child it starts; its stdout and stderr share one pipe, read without blocking the loop. Exit is
watched through a pidfd (no helper threads). This module knows nothing of Lambda's rules: the
control plane tells it what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lambdalab.errors import SandboxError

_READ_CHUNK = 65536


class Sandbox:
    """Handle on one runtime process (one incarnation of an environment)."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env_vars: Mapping[str, str],
                 on_output: Callable[[bytes], None], on_exit: Callable[[int], None]) -> None:
        self._on_output = on_output
        self._on_exit = on_exit
        try:
            self._proc = subprocess.Popen(
                list(argv), cwd=cwd, env=dict(env_vars), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            raise SandboxError(f"could not start runtime {argv[0]!r}: {exc}") from exc
        self.pid = self._proc.pid
        self.returncode: int | None = None
        assert self._proc.stdout is not None
        self._out_fd = self._proc.stdout.fileno()
        os.set_blocking(self._out_fd, False)
        self._status_fd: int | None = None
        with contextlib.suppress(OSError):
            self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
        loop = asyncio.get_running_loop()
        self._loop = loop
        loop.add_reader(self._out_fd, self.drain)
        self._pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self._pidfd, self._reap)
        self.peak_memory_mb = 0

    # -- signals --------------------------------------------------------------------------------
    def _signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    # -- observation ----------------------------------------------------------------------------
    def max_memory_mb(self) -> int:
        """Peak resident memory of the runtime process so far (VmHWM), in MB."""
        fd = self._status_fd
        if fd is not None:
            try:
                data = os.pread(fd, 4096, 0)
            except OSError:
                data = b""
            start = data.find(b"VmHWM:")
            if start >= 0:
                kb = int(data[start + 6:data.index(b"kB", start)])
                self.peak_memory_mb = max(self.peak_memory_mb, -(-kb // 1024))
        return self.peak_memory_mb

    def drain(self) -> None:
        """Read whatever the process has written so far (called by the loop and before logging)."""
        chunks = []
        while True:
            try:
                data = os.read(self._out_fd, _READ_CHUNK)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._loop.remove_reader(self._out_fd)
                break
            chunks.append(data)
            if len(data) < _READ_CHUNK:
                break
        if chunks:
            self._on_output(b"".join(chunks))

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid == 0:
            return
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self.returncode = os.waitstatus_to_exitcode(status) if status else 0
        self._signal_group_leftovers()
        self.drain()
        self._close_fds()
        self._on_exit(self.returncode)

    def _signal_group_leftovers(self) -> None:
        # children left in the group (a handler's subprocess) end with their runtime
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def _close_fds(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._out_fd)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self._proc.returncode = self.returncode  # so Popen.__del__ does not warn
