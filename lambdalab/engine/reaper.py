"""The reaper: a tiny watchdog process that ends a Lab's environments when its owner dies.

What must not outlive the owner (the process holding the ``Lab``: a script, pytest, a Jupyter
kernel) is registered here: each runtime's process group *with a pidfd of its leader*, each
cgroup, the Lab's marker (the ``LAMBDALAB_MARKER`` value prefix every runtime and its children
carry in their environment) and each directory. Several independent paths end them:

* **The reaper process** (this file run as a script, stdlib only, ``-I -S``: ~10 ms to start) gets
  the registrations over a ``SOCK_SEQPACKET`` unix socket, pidfds attached (``SCM_RIGHTS``). It
  sweeps when the socket reaches EOF, when it reads ``q`` (``Lab.close()``), or when the owner's
  pidfd (opened at start, checked against ``getppid()``) says the owner exited - so a child the
  owner forked, which inherits the socket, does not keep environments alive. It runs in its own
  session, so killing the owner's process group does not kill it.
* **The owner watches the reaper**: a pidfd on the Lab's loop; if the reaper dies the owner
  respawns it at once and registers everything still live again. ``close()`` never raises: if the
  reaper is gone it sweeps in-process with the same functions.
* **The kernel**: runtimes start with ``PR_SET_PDEATHSIG=SIGKILL`` (``engine/sandbox.py``), so an
  owner killed while its reaper is also dead still takes its runtime processes with it.

Nothing is killed by a bare id that may have been reused. A process group is signalled only while
its leader's pidfd shows it alive (a live or unreaped leader pins the group id). Any other process
(a cgroup member, a marked process, an escaped descendant) is signalled through a pidfd opened
*first* and checked *after* (its cgroup, its marker, its parent): if the id was reused, the check
fails or the signal goes to the dead process the pidfd names. Sweeps stop every such process
(SIGSTOP, repeated until no new one appears, so nothing forks away) and only then SIGKILL them.
"""

from __future__ import annotations

import functools
import os
import select
import signal
import socket
import sys
import threading
import time

TYPE_CHECKING = False  # typing is not imported: the reaper process starts on the standard library's bare minimum
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    Finder = Callable[[], list[tuple[int, int]]]  # (pid, pidfd) of the processes to stop

MARKER_VAR = "LAMBDALAB_MARKER"


# -- signalling without bare ids (shared by the reaper process, the sandbox and the limits) ------
def exited(pidfd: int) -> bool:
    """True once the process a pidfd names has exited (zombie or reaped).

    ``poll``, not ``select``: a Lab under load holds more than 1,024 descriptors, and ``select`` refuses a
    descriptor numbered above FD_SETSIZE (``ValueError``), which once stopped a timed-out environment's kill."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


# <linux/pidfd.h> (Linux 6.15+): _IOWR(0xFF, 11, struct pidfd_info), its first 64 bytes (PIDFD_INFO_SIZE_VER0)
_PIDFD_GET_INFO = (3 << 30) | (64 << 16) | (0xFF << 8) | 11
_PIDFD_INFO_EXIT = 1 << 3


def exit_status(pidfd: int) -> int | None:
    """The exit code of an ended process that is not our child (as ``Popen.returncode``: -N for a signal).

    Read with ``ioctl(PIDFD_GET_INFO)``, mask ``PIDFD_INFO_EXIT``: the kernel keeps it for a pidfd opened before
    the exit, whoever reaped the process. None while it runs, or where the kernel is older than 6.15.
    """
    import fcntl
    import struct

    info = bytearray(struct.pack("=Q", _PIDFD_INFO_EXIT) + bytes(56))
    try:
        fcntl.ioctl(pidfd, _PIDFD_GET_INFO, info)
    except OSError:
        return None
    if not struct.unpack_from("=Q", info, 0)[0] & _PIDFD_INFO_EXIT:
        return None
    return os.waitstatus_to_exitcode(struct.unpack_from("=i", info, 60)[0])


def send(pidfd: int, signum: int) -> bool:
    try:
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except OSError:
        return False


def killpg_if_alive(pgid: int, leader_pidfd: int, signum: int) -> None:
    """Signal a process group only while its leader (pinning the group id) has not exited."""
    if not exited(leader_pidfd):
        try:
            os.killpg(pgid, signum)
        except OSError:
            pass


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError:
        return b""
    finally:
        os.close(fd)


def cgroup_line(cgroup: str) -> bytes:
    """What ``/proc/<pid>/cgroup`` says for a member of ``cgroup`` (a v1 group directory)."""
    base, found, rel = cgroup.partition("/sys/fs/cgroup/")
    controller, _, rest = rel.partition("/")
    if base or not found or not controller or not rest:
        return b"\0"  # not a group directory: nothing is a member
    return f":{controller}:/{rest.rstrip('/')}\n".encode()


def cgroup_members(cgroup: str, skip: int = 0) -> list[tuple[int, int]]:
    """(pid, pidfd) of every process now in ``cgroup`` but ``skip``, each checked after its pidfd was opened."""
    line = b""
    found = []
    for word in _read(cgroup + "/cgroup.procs").split():
        pid = int(word)
        if pid == skip:
            continue
        line = line or cgroup_line(cgroup)  # made only when there is someone besides ``skip``
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        if line in _read(f"/proc/{pid}/cgroup"):
            found.append((pid, fd))
        else:
            os.close(fd)
    return found


def marked(prefix: bytes) -> list[tuple[int, int]]:
    """(pid, pidfd) of every process on the machine whose environment holds the marker ``prefix``."""
    needle = b"\0" + MARKER_VAR.encode() + b"=" + prefix
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            continue
        if needle in b"\0" + _read(f"/proc/{pid}/environ"):
            found.append((pid, fd))
        else:
            os.close(fd)
    return found


def stop_all(find: Finder, held: dict[int, int], rounds: int = 50) -> None:
    """SIGSTOP whatever ``find()`` returns until nothing new appears (a stopped process cannot fork).

    ``held`` (pid -> pidfd) keeps every process stopped, for the caller to continue or kill and close.
    """
    for _ in range(rounds):
        new = 0
        for pid, fd in find():
            old = held.get(pid)
            if old is not None and not exited(old):
                os.close(fd)
                continue
            if old is not None:
                os.close(old)
            held[pid] = fd
            new += send(fd, signal.SIGSTOP)
        if not new:
            return


def stop_then_kill(find: Finder, rounds: int = 50) -> int:
    """SIGSTOP whatever ``find()`` returns until nothing new appears, then SIGKILL it all."""
    held: dict[int, int] = {}
    try:
        stop_all(find, held, rounds)
        for fd in held.values():
            send(fd, signal.SIGKILL)
    finally:
        for fd in held.values():
            os.close(fd)
    return len(held)


def sweep(groups: dict[int, int], cgroups: list[str], markers: list[str], dirs: list[str]) -> None:
    """End everything registered: groups, cgroup members, marked processes; remove cgroups and dirs."""
    for pgid, fd in list(groups.items()):
        killpg_if_alive(pgid, fd, signal.SIGKILL)
        send(fd, signal.SIGKILL)
    for c in cgroups:
        stop_then_kill(functools.partial(cgroup_members, c))
    for m in markers:
        stop_then_kill(functools.partial(marked, m.encode()))
    for _ in range(100):  # killed members take a moment to leave their groups
        left = []
        for c in reversed(cgroups):
            try:
                os.rmdir(c)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(c)
        if not left:
            break
        time.sleep(0.01)
        for c in left:
            stop_then_kill(functools.partial(cgroup_members, c))
    for d in dirs:
        remove_tree(d)


def _mount_points_under(path: str) -> list[str]:
    """Mount points at or under ``path`` in this process's namespace, deepest first."""
    found = []
    prefix = path.rstrip("/") + "/"
    for line in _read("/proc/self/mountinfo").decode(errors="replace").splitlines():
        fields = line.split(" ")
        if len(fields) > 4:  # the mount point, with space, tab, newline and backslash escaped as octal
            point = fields[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            point = point.replace("\\134", "\\")
            if point == path or point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a folder of the Lab: first detach what is mounted in it (environments' tmpfs), then the files."""
    import shutil

    path = os.path.abspath(path)
    points = _mount_points_under(path)
    if points:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        for _ in range(4):  # stacked mounts (a tmpfs under a shared bind) show again once the top one goes
            for point in points:
                libc.umount2(os.fsencode(point), 2)  # MNT_DETACH: even if a process still has a file open there
            points = _mount_points_under(path)
            if not points:
                break
    shutil.rmtree(path, ignore_errors=True)


# -- the reaper process -------------------------------------------------------------------------
def _main(owner: int, fd: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one pidfd per live environment
    except (ImportError, OSError, ValueError):
        pass
    sock = socket.socket(fileno=fd)
    groups: dict[int, int] = {}
    cgroups: list[str] = []
    markers: list[str] = []
    dirs: list[str] = []
    try:
        owner_fd: int | None = os.pidfd_open(owner)
    except OSError:
        owner_fd = None
    owner_gone = owner_fd is None or os.getppid() != owner
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if owner_fd is not None:
        poller.register(owner_fd, select.POLLIN)
    while True:
        events = dict(poller.poll(0 if owner_gone else None))
        if owner_fd is not None and events.get(owner_fd):
            owner_gone = True
        if not events.get(sock.fileno()):
            if owner_gone:
                break
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 4096, 4)
        except OSError:
            break
        if not data:
            break
        kind, _, arg = data.decode().partition(" ")
        if kind == "g" and fds:
            old = groups.pop(int(arg), None)
            if old is not None:
                os.close(old)
            groups[int(arg)] = fds.pop()
        elif kind == "u":
            old = groups.pop(int(arg), None)
            if old is not None:
                os.close(old)
        elif kind == "c":
            cgroups.append(arg)
        elif kind == "m":
            markers.append(arg)
        elif kind == "d":
            dirs.append(arg)
        elif kind == "s":
            stop_then_kill(functools.partial(marked, arg.encode()))
        elif kind == "q":
            break
        for extra in fds:
            os.close(extra)
    sweep(groups, cgroups, markers, dirs)


# -- owner side ---------------------------------------------------------------------------------
class _Watcher:
    """One reaper process, as the owner sees it."""

    def __init__(self, reaper: Reaper) -> None:
        import subprocess

        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, str(os.getpid()), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        mine.settimeout(1.0)  # a stopped reaper must not hang the engine's loop for ever
        self.sock = mine
        self.pid = self.proc.pid
        self.pidfd = os.pidfd_open(self.pid)
        self._loop = reaper._loop
        if self._loop is not None:
            self._loop.add_reader(self.pidfd, reaper._on_reaper_exit, self)

    def say(self, data: bytes, fd: int | None) -> None:
        try:
            if fd is None:
                self.sock.send(data)
            else:
                socket.send_fds(self.sock, [data], [fd])
        except OSError:  # a dead reaper is respawned and told everything again
            pass

    def drop(self) -> None:
        """Close our ends (on the loop, if a loop watches the pidfd)."""
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            if self._loop is None or self._loop.is_closed():
                raise RuntimeError
            self._loop.call_soon_threadsafe(self._drop_pidfd)
        except RuntimeError:
            self._drop_pidfd()

    def _drop_pidfd(self) -> None:
        if self.pidfd < 0:
            return
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.remove_reader(self.pidfd)
            except (ValueError, OSError, RuntimeError):
                pass
        try:
            os.close(self.pidfd)
        except OSError:
            pass
        self.pidfd = -1


class Reaper:
    """Owner-side handle: registers what must not outlive the owner with two reaper processes.

    Two, each told everything: killing one (and then the owner, before it respawned the first)
    still leaves one to sweep. A dead one is respawned by the owner's loop and told again.
    """

    COPIES = 2

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._groups: dict[int, int] = {}  # pgid -> leader pidfd (owned by the sandbox)
        self._entries: list[tuple[str, str]] = []  # ("c" | "m" | "d", value), in order
        self._closing = False
        self.respawns = 0
        self._watchers = [_Watcher(self) for _ in range(self.COPIES)]

    @property
    def pid(self) -> int:
        return self._watchers[0].pid

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in self._watchers]

    def _on_reaper_exit(self, watcher: _Watcher) -> None:
        """A reaper died (killed from outside, or it finished after ``close``)."""
        try:
            if self._loop is not None:  # it is called only from the loop that watches the reaper
                self._loop.remove_reader(watcher.pidfd)
        except (ValueError, OSError):
            pass
        if self._closing or watcher not in self._watchers:
            return
        watcher.proc.poll()  # reap it
        watcher.drop()
        fresh = _Watcher(self)
        with self._lock:
            self._watchers[self._watchers.index(watcher)] = fresh
            self.respawns += 1
            for kind, value in list(self._entries):
                fresh.say(f"{kind} {value}".encode(), None)
            for pgid, fd in list(self._groups.items()):
                fresh.say(f"g {pgid}".encode(), fd)

    def _say(self, line: str, fd: int | None = None, everyone: bool = True) -> None:
        data = line.encode()
        with self._lock:
            for watcher in self._watchers if everyone else self._watchers[:1]:
                watcher.say(data, fd)

    def watch_group(self, pgid: int, leader_pidfd: int) -> None:
        self._groups[pgid] = leader_pidfd
        self._say(f"g {pgid}", leader_pidfd)

    def forget_group(self, pgid: int) -> None:
        if self._groups.pop(pgid, None) is not None:
            self._say(f"u {pgid}")

    def _add(self, kind: str, value: str) -> None:
        self._entries.append((kind, value))
        self._say(f"{kind} {value}")

    def watch_cgroup(self, path: str | os.PathLike[str]) -> None:
        self._add("c", str(path))

    def watch_marker(self, prefix: str) -> None:
        self._add("m", prefix)

    def watch_dir(self, path: str | os.PathLike[str]) -> None:
        self._add("d", str(path))

    def sweep_marked(self, prefix: str) -> None:
        """Ask a reaper to end, off the engine's loop, every process carrying ``prefix`` now."""
        self._say(f"s {prefix}", everyone=False)

    def close(self, timeout: float = 5.0) -> None:
        """Let the reapers sweep everything they were told about, and wait. Never raises."""
        self._closing = True
        clean = False
        try:
            self._say("q")
            deadline = time.monotonic() + timeout
            for watcher in self._watchers:
                try:
                    clean |= watcher.proc.wait(max(0.0, deadline - time.monotonic())) == 0
                except Exception:  # noqa: BLE001 - a hung reaper is killed; we sweep ourselves
                    watcher.proc.kill()
                    watcher.proc.wait()
        except Exception:  # noqa: BLE001
            pass
        try:
            if not clean:  # every reaper was killed: do their work here
                entries = self._entries
                sweep(
                    dict(self._groups),
                    [v for k, v in entries if k == "c"],
                    [v for k, v in entries if k == "m"],
                    [v for k, v in entries if k == "d"],
                )
        except Exception:  # noqa: BLE001 - closing must not raise
            pass
        for watcher in self._watchers:
            watcher.drop()


if __name__ == "__main__":
    _main(int(sys.argv[1]), int(sys.argv[2]))
