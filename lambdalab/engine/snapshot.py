"""SnapStart snapshots: a template process per published version, and restore spares forked from it.

A SnapStart version's snapshot is its *template*: an environment whose runtime ran init with
``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` and its before-snapshot hooks, called ``GET /runtime/restore/next``
and, once answered, serves forks (``runtimes/snapshot_server.py``) on a ``SOCK_SEQPACKET`` control socket it was
started with (``template_channel``). A restore is not a fork on demand: the slow parts of a new process here (a
first move into a v1 cgroup waits for an RCU grace period, about 8 ms; ``setsid`` and a mount namespace, about
1 ms) are done ahead of need by a *restore spare*: a child of the template that has joined its own groups, made
its own mount namespace and ``/tmp`` (a copy of the template's: Lambda snapshots the disk too), put back the
template's ``random`` state, and waits on its own socket. ``restore`` hands it the environment's log pipe and
variables: it returns from ``restore_next``, runs the after-restore hooks and asks for ``/next``: well under a
millisecond from command to request (the issue's benchmark: ``benchmarks/bench_snapstart.py``).

Spares are named ``snap-<n>`` (their folder under the environments' folder, their groups), like
``engine/spare.py``'s, and become the restored environment's when taken (``take_spare``: the function's memory limit
is set then). Up to ``LAMBDALAB_SNAPSHOT_SPARES`` (default 1) wait per version; a restore that finds none waits for
the next (``wait_spare``, about 30 ms here). Between spares the template is stopped (SIGSTOP: nothing of the
snapshot runs on, its children are still reaped by the kernel). Restored runtimes are the template's children:
``RestoredSandbox`` watches and signals them through pidfds only. Owner death: the template dies with the
owner (the launcher's ``PR_SET_PDEATHSIG``), spares and restored runtimes with the template (their own). SnapStart
needs the launcher, cgroups and pidfd exit status (Linux 6.15+): ``available()``; elsewhere a version's environments
cold start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lambdalab.engine import launcher, mounts
from lambdalab.engine import reaper as _reaper
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper, remove_tree
from lambdalab.engine.restored_sandbox import RestoredSandbox
from lambdalab.engine.sandbox import Sandbox
from lambdalab.engine.spare import write_hosts
from lambdalab.errors import SandboxError

FD_VARIABLE = "LAMBDALAB_SNAPSHOT_FD"  # the template's control socket, read (and removed) by the bootstraps
PLACEHOLDER_MB = 10_240  # a spare's memory limit until it is taken
REFILL_DELAY_S = 0.02  # after a restore took a spare, the next is made this much later (as engine/spare.py's)
Key = tuple[str, str]  # (function, version)


def spares_per_version() -> int:
    try:
        return max(0, int(os.environ.get("LAMBDALAB_SNAPSHOT_SPARES", "1")))
    except ValueError:
        return 1


@dataclass
class PreparedSpare:
    """A child of a template, inside its own groups and namespace, waiting for ``restore``."""

    key: Key
    name: str
    tmp: Path
    cgroups: list[Path]
    pid: int
    pidfd: int
    channel: socket.socket
    marker: str | None
    made_at: float  # perf_counter when asked for, and when it said it was ready
    ready_at: float = 0.0
    address: str = "127.0.0.1"  # what sandbox.localdomain means inside it (its folder's ``hosts``)


@dataclass
class Snapshot:
    """One version's template and its spares."""

    key: Key
    control: socket.socket  # ours
    theirs: socket.socket | None  # the template's end, until it started
    template: Sandbox | None = None
    tmp: Path | None = None  # the template's /tmp, copied into each spare's
    marker: str | None = None
    taken: bool = False
    ready: collections.deque[PreparedSpare] = field(default_factory=collections.deque)
    pending: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    restored: int = 0
    making: dict[int, tuple[socket.socket, list[Path], Path]] = field(default_factory=dict)  # by channel fd


class Snapshots:
    """One Lab's SnapStart snapshots, by (function, version)."""

    def __init__(
        self,
        *,
        workdir: Path,
        limits: Limits,
        reaper: Reaper,
        hide: str | None,
        count: int | None = None,
    ) -> None:
        self._environments = workdir / "environments"
        self._limits = limits
        self._reaper = reaper
        self._hide = hide
        self._count = spares_per_version() if count is None else count
        self._made = 0
        self._snapshots: dict[Key, Snapshot] = {}
        self._closed = False
        self.last_error: str | None = None  # why the last spare could not be made (tests, diagnostics)
        self._owners: dict[int, tuple[str, int]] = {}  # restored runtime pid -> (environment id, incarnation)
        self._gone: dict[int, list[Path]] = {}  # discarded spares' pidfds -> their groups, until they are empty

    def available(self) -> bool:
        """Whether restores can be made here: the launcher, v1 memory cgroups, pidfd exit status, and private mount
        namespaces (a restored runtime's own /tmp and /etc/hosts; without them it would see the machine's)."""
        return (
            launcher.path() is not None
            and self._limits.memory_base is not None
            and mounts.used()
            and _exit_status_works()
        )

    # -- the template ---------------------------------------------------------------------------
    def template_channel(self, key: Key) -> tuple[int, dict[str, str]]:
        """The descriptor a version's template inherits (``Sandbox(pass_fds=...)``) and the variable naming it."""
        self.drop(key)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        self._snapshots[key] = Snapshot(key, ours, theirs)
        return theirs.fileno(), {FD_VARIABLE: str(theirs.fileno())}

    def template_started(self, key: Key, sandbox: Sandbox, tmp: Path, marker: str | None) -> None:
        """The template runs (its end of the control socket is its own now); ``tmp`` is its /tmp folder."""
        snap = self._snapshots[key]
        if snap.theirs is not None:
            snap.theirs.close()
            snap.theirs = None
        snap.template, snap.tmp, snap.marker = sandbox, tmp, marker

    def taken(self, key: Key) -> None:
        """The template's ``/restore/next`` was answered: it is the snapshot. Spares are made from now on."""
        snap = self._snapshots[key]
        snap.taken = True
        self._refill(snap)

    def is_ready(self, key: Key) -> bool:
        snap = self._snapshots.get(key)
        return snap is not None and snap.taken and snap.template is not None and snap.template.returncode is None

    # -- spares ---------------------------------------------------------------------------------
    def _refill(self, snap: Snapshot) -> None:
        if self._closed or self._snapshots.get(snap.key) is not snap or not snap.taken:
            return
        for _ in range(max(1, self._count) - len(snap.ready) - snap.pending):
            self._make(snap)  # one that fails is not retried until the next restore

    def _make(self, snap: Snapshot) -> None:
        template = snap.template
        if template is None or template.returncode is not None:
            return
        self._made += 1
        name = f"snap-{self._made}"
        folder = self._environments / name
        tmp = folder / "tmp"
        cgroups: list[Path] = []
        ours = theirs = None
        address = "127.0.0.1"
        try:
            tmp.mkdir(parents=True, mode=0o700)
            if template.namespace:  # its /etc/hosts (sandbox.localdomain on its own address), as a fresh one's
                address = write_hosts(folder)
            mounts.mount_tmpfs(tmp, 512)
            if snap.tmp is not None and snap.tmp.is_dir():  # the snapshot's /tmp as it was
                shutil.copytree(snap.tmp, tmp, symlinks=True, dirs_exist_ok=True)
            cgroups = self._limits.create(name, PLACEHOLDER_MB)
            for path in cgroups:
                self._reaper.watch_cgroup(path)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            command = {
                "op": "spare",
                "cgroup_procs": [str(p / "cgroup.procs") for p in cgroups],
                "folder": str(folder) if template.namespace else None,
                "hide": self._hide if template.namespace else None,
            }
            template.thaw()  # stopped between spares (below): the fork server must run to fork
            socket.send_fds(snap.control, [json.dumps(command).encode()], [theirs.fileno()])
        except Exception as exc:  # noqa: BLE001 - no spare this time: a restore waits for the next or cold starts
            self.last_error = f"{type(exc).__name__}: {exc}"
            if ours is not None:
                ours.close()
            self._limits.remove(cgroups)
            remove_tree(folder)
            return
        finally:
            if theirs is not None:
                theirs.close()
        snap.pending += 1
        spare_channel = ours
        made_at = time.perf_counter()
        loop = asyncio.get_running_loop()
        spare_channel.setblocking(False)
        snap.making[spare_channel.fileno()] = (spare_channel, cgroups, folder)

        def joined() -> None:
            loop.remove_reader(spare_channel.fileno())
            snap.making.pop(spare_channel.fileno(), None)
            snap.pending -= 1
            if snap.pending == 0 and template.returncode is None:
                # nothing of the snapshot runs on between spares (threads started at init would), as on Lambda
                template.freeze()
            try:
                said = json.loads(spare_channel.recv(65536) or b"{}")
                pid = int(said["pid"])
                pidfd = os.pidfd_open(pid)
            except (OSError, ValueError, KeyError, TypeError):
                said, pidfd = {"error": "no answer"}, -1
            if "error" in said or not self._member(pid, cgroups):
                self.last_error = str(said.get("error", f"spare {said.get('pid')} is not alone in its group"))
                if pidfd >= 0:
                    _reaper.send(pidfd, 9)
                    os.close(pidfd)
                spare_channel.close()
                self._limits.remove(cgroups)
                remove_tree(folder)
                self._wake(snap)  # a restore waiting for it looks again (its template may be gone)
                return
            spare = PreparedSpare(
                snap.key, name, tmp, cgroups, pid, pidfd, spare_channel, snap.marker, made_at, address=address
            )
            spare.ready_at = time.perf_counter()
            snap.ready.append(spare)
            self._wake(snap)

        loop.add_reader(spare_channel.fileno(), joined)

    @staticmethod
    def _wake(snap: Snapshot) -> None:
        """Restores waiting for a spare look again: they take one, wait on, or fail at once without a snapshot."""
        waiters, snap.waiters = snap.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @staticmethod
    def _member(pid: int, cgroups: list[Path]) -> bool:
        """The spare is the one process of its first group (checked after its pidfd was opened)."""
        if not cgroups:
            return True
        try:
            return (cgroups[0] / "cgroup.procs").read_text().split() == [str(pid)]
        except OSError:
            return False

    def take_spare(self, key: Key, memory_mb: int) -> PreparedSpare | None:
        """A ready spare of ``key`` for a new environment of ``memory_mb`` (its limit set now), or None."""
        snap = self._snapshots.get(key)
        if snap is None:
            return None
        while snap.ready:
            spare = snap.ready.popleft()
            if _reaper.exited(spare.pidfd):  # died waiting (its template went)
                self.discard(spare)
                continue
            self._limits.create(spare.name, memory_mb)  # the groups exist: this sets the function's limit
            # the next one a little later: the restore it serves comes first, on the loop and the CPU
            asyncio.get_running_loop().call_later(REFILL_DELAY_S, self._refill, snap)
            return spare
        self._refill(snap)
        return None

    async def wait_spare(self, key: Key, memory_mb: int, timeout: float = 10.0) -> PreparedSpare:
        """A spare of ``key``, waiting for one to be made if none is ready (``SandboxError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            spare = self.take_spare(key, memory_mb)
            if spare is not None:
                return spare
            snap = self._snapshots.get(key)
            if snap is None or not self.is_ready(key) or time.monotonic() > deadline:
                why = f" ({self.last_error})" if self.last_error else ""
                raise SandboxError(f"no snapshot of {key[0]}:{key[1]} to restore from{why}")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            snap.waiters.append(waiter)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waiter, max(0.0, deadline - time.monotonic()))

    # -- restore --------------------------------------------------------------------------------
    def restore(
        self,
        spare: PreparedSpare,
        *,
        env: Mapping[str, str | None],
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
        owner: tuple[str, int] | None = None,
    ) -> RestoredSandbox:
        """The spare becomes a restored runtime: its log pipe and variables (``None`` removes one) are sent, it
        returns from ``restore_next`` and goes on (after-restore hooks, then ``GET /next``).

        ``owner`` (environment id, incarnation) is what ``owner_of`` answers for its pid while it runs: a runtime
        that keeps the template's Runtime API address (awslambdaric's native client fixes it at import) connects
        to the template's listener, which finds the connection's environment by its peer's pid.
        """
        read, write = os.pipe2(os.O_CLOEXEC)
        try:
            message = json.dumps({"op": "restore", "env": dict(env)}).encode()
            spare.channel.setblocking(True)
            socket.send_fds(spare.channel, [message], [write])
        except OSError:  # it died meanwhile: its exit is seen on the pidfd, its pipe reads an end of file
            pass
        finally:
            os.close(write)
            spare.channel.close()
        snap = self._snapshots.get(spare.key)
        if snap is not None:
            snap.restored += 1
        if owner is not None:
            self._owners[spare.pid] = owner
        owners, pid = self._owners, spare.pid

        def exited(code: int) -> None:
            owners.pop(pid, None)
            on_exit(code)

        return RestoredSandbox(
            spare.pid,
            spare.pidfd,
            read,
            on_output=on_output,
            on_exit=exited,
            cgroups=spare.cgroups,
            marker=spare.marker,
        )

    def owner_of(self, pid: int) -> tuple[str, int] | None:
        """The (environment id, incarnation) a running restored runtime was restored as, or None."""
        return self._owners.get(pid)

    # -- ending ---------------------------------------------------------------------------------
    def discard(self, spare: PreparedSpare) -> None:
        """A spare that is not restored after all (taken for an environment that went meanwhile): it ends, its
        groups and folder go. Never runs anything of the function (no after-restore hook, no ``/next``)."""
        with contextlib.suppress(OSError):
            spare.channel.close()  # an end of file: the spare exits by itself
        _reaper.send(spare.pidfd, 9)
        remove_tree(spare.tmp.parent)
        self._remove_when_gone(spare.pidfd, spare.cgroups)

    def _remove_when_gone(self, pidfd: int, cgroups: list[Path], tries: int = 100) -> None:
        """Remove a killed spare's groups once it has left them (tried now, then every 10-20 ms, ``tries`` times);
        closes ``pidfd``. At the Lab's close (or off the loop) the reaper's sweep removes what is left."""
        self._limits.remove(cgroups)
        loop = _running_loop()
        if self._closed or loop is None or tries <= 0 or not any(c.exists() for c in cgroups):
            os.close(pidfd)
            return
        self._gone[pidfd] = cgroups

        def again() -> None:
            if self._gone.pop(pidfd, None) is not None:  # else closed meanwhile
                self._remove_when_gone(pidfd, cgroups, tries - 1)

        loop.call_later(0.01 if _reaper.exited(pidfd) else 0.02, again)

    def drop(self, key: Key) -> None:
        """The version's snapshot goes: its spares and template end (the template's environment is retired by the
        control plane as any other)."""
        snap = self._snapshots.pop(key, None)
        if snap is None:
            return
        while snap.ready:
            self.discard(snap.ready.popleft())
        loop = asyncio.get_running_loop()
        for fd, (channel, cgroups, folder) in snap.making.items():  # being made: an end of file ends them
            loop.remove_reader(fd)
            channel.close()
            self._limits.remove(cgroups)
            remove_tree(folder)
        snap.making.clear()
        snap.pending = 0
        snap.control.close()  # the template's fork server reads an end of file and exits
        if snap.theirs is not None:
            snap.theirs.close()
        if snap.template is not None:
            snap.template.kill()
        self._wake(snap)  # restores waiting for a spare find no snapshot and fail at once (not after 10 s)

    def close(self) -> None:
        self._closed = True
        for key in list(self._snapshots):
            self.drop(key)
        for pidfd in list(self._gone):  # killed spares still leaving their groups: the reaper's sweep ends them
            del self._gone[pidfd]
            os.close(pidfd)

    def stats(self, key: Key) -> dict[str, int]:
        snap = self._snapshots.get(key)
        if snap is None:
            return {"ready": 0, "pending": 0, "restored": 0}
        return {"ready": len(snap.ready), "pending": snap.pending, "restored": snap.restored}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _exit_status_works() -> bool:
    """Whether ``PIDFD_GET_INFO`` reports exits here (Linux 6.15+), tried once on a process of our own."""
    global _EXIT_STATUS
    if _EXIT_STATUS is None:
        import subprocess

        child = subprocess.Popen(["/bin/sh", "-c", "exit 7"], stdin=subprocess.DEVNULL)
        fd = os.pidfd_open(child.pid)
        try:
            child.wait(10)
            _EXIT_STATUS = _reaper.exit_status(fd) == 7
        finally:
            os.close(fd)
    return _EXIT_STATUS


_EXIT_STATUS: bool | None = None
