"""One runtime process: spawn, freeze, thaw, kill, reap, output, memory.

The process runs in its own session and process group, so signals reach the runtime and every
child it starts; its stdout and stderr share one pipe, read without blocking the loop. Exit is
watched through a pidfd (no helper threads). This module knows nothing of Lambda's rules: the
control plane tells it what to do.

Containment (nothing a handler starts outlives or outruns its environment):

* **Marker.** Every runtime gets ``LAMBDALAB_MARKER=<tag>/<lab id>/<environment id>`` in its
  environment (``marked_environment``); children inherit it, so a process that left the session
  and the process group is still found by a scan of ``/proc/*/environ`` (the reaper's, and the
  test suite's machine-wide leak check). ``<tag>`` is the owner's ``LAMBDALAB_TAG`` if set.
* **Owner death.** Runtimes are started through the launcher (``runtimes/launch.c``, built by
  ``engine/launcher.py``) with ``vfork``: it sets ``PR_SET_PDEATHSIG`` (SIGKILL), joins the
  environment's cgroups and its mount namespace, then execs the runtime. ``PR_SET_PDEATHSIG`` fires
  when the thread that forked exits: that is the Lab's loop thread, which lives as long as the Lab.
  Without a C compiler the fallback is ``setpriv --pdeathsig KILL`` (util-linux; one extra ``exec``),
  or, where the runtime gets a mount namespace, a ``preexec_fn`` (``engine/mounts.py``) that sets it
  itself; a ``preexec_fn`` forces ``fork`` instead of ``vfork`` (3-4 ms from a Jupyter kernel, 34 ms
  from a 1 GB owner). A spare (``engine/spare.py``) is a launcher that waits for its runtime's
  command on stdin (``waiting=True``, then ``start``).
* **Escaped descendants.** With cgroups, an environment's processes are its cgroup's members,
  whatever their session. Without cgroups they are the runtime's descendants (a ``setsid`` or
  ``setpgid`` child is still its child), found through ``/proc/<pid>/task/*/children``; a double
  fork re-parents the grandchild away, so after an incarnation ends the reaper also sweeps its
  marker off the loop. (Making the runtime its own ``PR_SET_CHILD_SUBREAPER`` would keep even
  those in the tree, but needs a line inside the runtime; a handler that clears its children's
  environment and double-forks without cgroups is a named limit, docs/RELIABILITY.md.)
* **Freeze** is SIGSTOP to the process group (tens of microseconds). Then the environment's other
  processes (cgroup members, or descendants, outside the group) are found and stopped one by one
  through pidfds until no new one appears; thaw continues exactly those. The common case (no
  escaped process) costs one read of ``cgroup.procs`` or of the runtime's ``children``.
* **No bare ids.** The group is signalled only while its leader is unreaped (which pins the group
  id): ``_reap`` sees the exit with ``waitid(WNOWAIT)``, kills the group's leftovers, and only then
  reaps. Every other process is signalled through a pidfd opened before checking it is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lambdalab.engine import launcher as _launcher
from lambdalab.engine import mounts as _mounts
from lambdalab.engine import reaper as _reaper
from lambdalab.errors import SandboxError

_READ_CHUNK = 65536
MARKER_VAR = _reaper.MARKER_VAR
_SETPRIV = shutil.which("setpriv")
GUARD: list[str] = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []


def lab_marker(lab_id: str) -> str:
    """The marker prefix of one Lab's runtimes: ``<tag>/<lab id>/``."""
    tag = os.environ.get("LAMBDALAB_TAG", "").replace("\0", "") or "lambdalab"
    return f"{tag}/{lab_id}/"


def _marker_of(pid: int) -> str | None:
    """The ``LAMBDALAB_MARKER`` a process started with, or None (none, or unreadable)."""
    needle = b"\0" + _reaper.MARKER_VAR.encode() + b"="
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            data = b"\0" + f.read()
    except OSError:
        return None
    start = data.find(needle)
    if start < 0:
        return None
    start += len(needle)
    end = data.find(b"\0", start)
    return data[start : end if end >= 0 else None].decode(errors="replace")


def _ppid_pgid(pid: int) -> tuple[int, int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        return int(fields[1]), int(fields[2])
    except (OSError, ValueError, IndexError):
        return -1, -1


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(w) for w in f.read().split())
    return found


class Sandbox:
    """Handle on one runtime process (one incarnation of an environment)."""

    _pids_fd: int | None = None  # the environment's ``pids.current``, read at every freeze (``guard``)

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env_vars: Mapping[str, str],
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
        mounts: tuple[str, str | None] | None = None,
        cgroups: Sequence[Path] = (),
        waiting: bool = False,
        shared: Sequence[str] = (),
        hide: str | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """``mounts`` is (tmp, opt): where namespaces are available the process sees them at /tmp and /opt.

        ``cgroups``: the environment's groups, which the runtime joins before its exec where the launcher
        (``engine/launcher.py``) is built (``joined`` says so); else the owner moves it afterwards.
        ``waiting``: a spare (``engine/spare.py``): the launcher joins its groups and namespace and waits
        for ``start`` to name the runtime (``argv`` is ignored; needs the launcher).
        ``shared`` (folders every environment uses: read-only for the runtime) and ``hide`` (the Lab's folder
        of environments: the runtime sees only its own) apply in the launcher's namespace.
        ``pass_fds``: descriptors the runtime inherits (a SnapStart template's control socket, ``engine/snapshot.py``).
        """
        self._on_output = on_output
        self._on_exit = on_exit
        launch = _launcher.path()
        enter = None
        if launch is not None:
            self.namespace = mounts is not None and _mounts.used()
            tmp, opt = mounts if mounts is not None and self.namespace else (None, None)
            self.joined = bool(cgroups)
            command = _launcher.argv(
                ["@stdin"] if waiting else list(argv),
                pdeathsig=signal.SIGKILL,
                parent=os.getpid(),
                tmp=tmp,
                opt=None if waiting else opt,
                cgroup_procs=[str(Path(d) / "cgroup.procs") for d in cgroups],
                read_only=list(shared) if tmp else [],
                hide=hide if tmp else None,
            )
        elif waiting:
            raise SandboxError("a spare environment needs the launcher (engine/launcher.py)")
        else:
            enter = (
                _mounts.preexec(mounts[0], mounts[1], pdeathsig=signal.SIGKILL, shared=tuple(shared), hide=hide)
                if mounts is not None
                else None
            )
            self.namespace = enter is not None
            self.joined = False
            command = list(argv) if enter is not None else [*GUARD, *argv]
        try:
            self._proc = subprocess.Popen(
                command,
                cwd=cwd,
                env=dict(env_vars),
                stdin=subprocess.PIPE if waiting else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(pass_fds),
                preexec_fn=enter,
            )
        except subprocess.SubprocessError as exc:  # the namespace could not be made (preexec_fn failed)
            raise SandboxError(f"could not start runtime {argv[0]!r}: {exc}") from exc
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
        self.pidfd = os.pidfd_open(self.pid)
        loop.add_reader(self.pidfd, self._reap)
        self.peak_memory_mb = 0
        self.cgroups: list[Path] = []  # the environment's groups (set by ``guard``)
        self.marker: str | None = None
        self._reaper: _reaper.Reaper | None = None
        self._stopped: dict[int, int] = {}  # pid -> pidfd of processes outside the group we stopped

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env_vars: Mapping[str, str],
        opt: str | None,
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
        marker: str | None,
    ) -> None:
        """A waiting sandbox (a spare) becomes this runtime: the launcher binds ``opt`` and execs ``argv``."""
        stdin = self._proc.stdin
        assert stdin is not None, "start() is for a waiting sandbox"
        self._on_output, self._on_exit, self.marker = on_output, on_exit, marker
        fields = [opt or "-", str(cwd), str(len(argv)), *argv, *(f"{k}={v}" for k, v in env_vars.items())]
        command = b"\0".join(os.fsencode(f) for f in fields) + b"\0"
        try:
            stdin.write(command)  # far below a pipe's buffer: Lambda's variables are at most 4 KB
            stdin.close()
        except OSError:  # the spare died meanwhile: its exit is reported as this runtime's
            with contextlib.suppress(OSError):
                stdin.close()

    @staticmethod
    def command_fits(argv: Sequence[str], env_vars: Mapping[str, str]) -> bool:
        """Whether ``start`` can hand this runtime over without blocking (a pipe holds 64 KB)."""
        size = sum(len(a) + 1 for a in argv) + sum(len(k) + len(v) + 2 for k, v in env_vars.items())
        return size < 48 * 1024

    def guard(self, reaper: _reaper.Reaper | None, cgroups: list[Path], marker: str | None) -> None:
        """Register with the reaper and say where the environment's other processes are found."""
        known = self._reaper is reaper  # a spare's launcher, registered when it was made
        self.cgroups, self.marker, self._reaper = list(cgroups), marker, reaper
        if reaper is not None and not known:
            reaper.watch_group(self.pid, self.pidfd)
        if self._pids_fd is not None:
            os.close(self._pids_fd)
            self._pids_fd = None
        for group in self.cgroups:  # the pids group counts every task in the environment: see _stop_outside
            with contextlib.suppress(OSError):
                self._pids_fd = os.open(group / "pids.current", os.O_RDONLY)
                break

    # -- finding the environment's processes outside its process group ---------------------------
    def _outside(self) -> list[tuple[int, int]]:
        """(pid, pidfd) of the environment's live processes outside the runtime's process group."""
        found = []
        if self.cgroups:
            for pid, fd in _reaper.cgroup_members(str(self.cgroups[0]), skip=self.pid):
                # the group is the environment's, shared by its incarnations: a process of the next
                # incarnation (another marker) is not this one's to stop or kill
                if _ppid_pgid(pid)[1] != self.pid and _marker_of(pid) in (None, self.marker):
                    found.append((pid, fd))
                else:
                    os.close(fd)
            return found
        todo = [self.pid]
        while todo:  # descendants: each checked to still be its parent's child after opening its pidfd
            parent = todo.pop()
            for pid in _children(parent):
                try:
                    fd = os.pidfd_open(pid)
                except OSError:
                    continue
                ppid, pgid = _ppid_pgid(pid)
                if ppid != parent:
                    os.close(fd)
                    continue
                todo.append(pid)
                if pgid != self.pid:
                    found.append((pid, fd))
                else:
                    os.close(fd)
        return found

    def _stop_outside(self) -> None:
        fd = self._pids_fd
        if fd is not None and not self._stopped:
            try:  # one task in the environment's groups is the runtime itself: nothing can be outside its group
                alone = int(os.pread(fd, 32, 0)) <= 1
            except (OSError, ValueError):
                alone = False
            if alone:
                return
        _reaper.stop_all(self._outside, self._stopped)

    def _release_outside(self, signum: int) -> None:
        stopped, self._stopped = self._stopped, {}
        for fd in stopped.values():
            _reaper.send(fd, signum)
            os.close(fd)

    # -- signals --------------------------------------------------------------------------------
    def _signal(self, signum: int) -> None:
        # the leader is unreaped while returncode is None, so its group id is still ours
        if self.returncode is None:
            try:  # not contextlib.suppress: this runs twice per warm invoke
                os.killpg(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def freeze(self) -> None:
        if self.returncode is None:
            self._signal(signal.SIGSTOP)
            # before the caller hears back, not after: a process that left the group (setsid) must not
            # run on once the invoke has returned frozen (10-17 us when there is none)
            self._stop_outside()

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)
        if self._stopped:
            self._release_outside(signal.SIGCONT)

    def kill(self) -> None:
        if self.returncode is None:
            self._signal(signal.SIGSTOP)  # nothing forks away while we look
            self._stop_outside()
            self._signal(signal.SIGKILL)
            self._release_outside(signal.SIGKILL)

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
                kb = int(data[start + 6 : data.index(b"kB", start)])
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
        try:  # see the exit without reaping: the zombie leader keeps the group id ours
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
            status: int | None = 0
        else:
            if info is None:
                return
            status = None
        self._loop.remove_reader(self.pidfd)
        if info is not None:  # children left in the group or the environment end with their runtime
            self.kill()  # returncode is still None: the unreaped leader keeps the group id ours
            with contextlib.suppress(ChildProcessError):
                _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status) if status else 0
        if self._reaper is not None:
            self._reaper.forget_group(self.pid)
            if not self.cgroups and self.marker:  # double-forked escapees, found off the loop
                self._reaper.sweep_marked(self.marker)
        self._reaped(self.returncode)

    def _reaped(self, returncode: int) -> None:
        """The end of a reap (``returncode`` set, the groups dealt with): the pidfd closed, the output drained, the
        pipes closed, then ``on_exit``."""
        os.close(self.pidfd)
        self.drain()
        self._close_fds()
        self._on_exit(returncode)

    def _close_fds(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._out_fd)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._proc.stdin is not None and not self._proc.stdin.closed:  # a spare that never started
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        if self._pids_fd is not None:
            os.close(self._pids_fd)
            self._pids_fd = None
        self._proc.returncode = self.returncode  # so Popen.__del__ does not warn


def marked_environment(env_vars: Mapping[str, str], marker: str) -> dict[str, str]:
    """The runtime's environment with its marker (which the function's own variables cannot replace)."""
    return {**env_vars, MARKER_VAR: marker}
