"""SnapStart's snapshot for lambdalab's Python runtimes: a fork server entered where the runtime waits on restore.

A SnapStart template runs its init (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), its before-snapshot hooks and
``GET /runtime/restore/next``; once the platform answers, the initialised process *is* the snapshot. It calls
``serve(fd)`` with ``LAMBDALAB_SNAPSHOT_FD``, a ``SOCK_SEQPACKET`` socket to the engine (``engine/snapshot.py``):

* the template never returns from ``serve``: it ``gc.freeze()``s its heap (so no child's collector touches every
  object: copy-on-write stays cheap), auto-reaps its children (``SIGCHLD`` ignored) and waits for commands;
* ``{"op": "spare", ...}`` with one end of a new socketpair (and, where the environment gets its own ``/tmp``, its
  folder and the environments' folder to cover): the template takes ``random``'s state and forks a *spare*. The
  spare joins the environment's cgroups (the slow part, an RCU grace period, done ahead of need), becomes its own
  session, dies with the template (``PR_SET_PDEATHSIG``), puts back the template's ``random`` state (``os.fork``
  reseeds it: on Lambda every restored environment shares the snapshot's generator), makes its own mount namespace
  with its own ``/tmp``, says ``{"pid": ...}`` on its socket and waits;
* ``{"op": "restore", "env": {...}}`` on the spare's socket, with the environment's log pipe: the spare puts the
  pipe on stdout and stderr, applies the variables (``None`` removes one) and returns from ``serve``: the
  runtime's ``restore_next`` returns, its after-restore hooks run, and it asks for ``/next`` as a new environment.

An end of file on either socket (the engine gone, a spare not wanted) ends the process quietly. Standard library
only; never imports ``lambdalab``; the bootstraps load it by file location, so no module of the task root replaces
it, and it stays out of ``sys.modules``.
"""

import gc
import json
import os
import signal
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MAX_MESSAGE = 65536
_MAX_FDS = 4
# <sched.h>, <sys/mount.h>, <sys/prctl.h>
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_SLAVE = 1, 2, 4, 32, 4096, 16384, 1 << 19
PR_SET_PDEATHSIG = 1
MNT_DETACH = 2
THREADS_WARNING = (
    "lambdalab: %d thread(s) started during init are not in restored environments (fork keeps only the calling "
    "thread; on Lambda they are part of the snapshot)\n"
)


class _Libc:
    """The few C calls Python 3.11 lacks (``unshare``, ``mount``, ``prctl``), through ctypes, loaded once."""

    _lib = None

    @classmethod
    def call(cls, name: str, *args: object) -> None:
        if cls._lib is None:
            import ctypes

            cls._lib = ctypes.CDLL(None, use_errno=True)
        if getattr(cls._lib, name)(*args) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")


def _fs(path: "str | None") -> "bytes | None":
    return None if path is None else os.fsencode(path)


def _mount(source: "str | None", target: str, kind: "str | None", flags: int, data: "str | None" = None) -> None:
    _Libc.call("mount", _fs(source), _fs(target), _fs(kind), flags, _fs(data))


def _own_namespace(folder: str, hide: "str | None") -> None:
    """A mount namespace of the spare's own: ``folder``'s ``tmp`` on /tmp, its ``hosts`` (if written) on
    /etc/hosts, and under ``hide`` only ``folder``.

    The template's namespace already has the read-only binds and ``/opt`` (the same for every environment of the
    snapshot). Its cover of ``hide`` (the environments' folder) shows the template's folder only: it goes, the
    spare's folder is held, its ``tmp`` bound on /tmp (writable whatever the binds above it say), and a new cover
    shows the spare's folder only, as ``runtimes/launch.c`` does for a runtime it starts.
    """
    _Libc.call("unshare", CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_SLAVE)
    if hide:
        _Libc.call("umount2", _fs(hide), MNT_DETACH)
    own = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _mount(folder + "/tmp", "/tmp", None, MS_BIND)
        _mount(None, "/tmp", None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)
        hosts = folder + "/hosts"
        if os.access(hosts, os.R_OK):  # its own /etc/hosts (sandbox.localdomain on its own loopback address)
            _mount(hosts, "/etc/hosts", None, MS_BIND)
            _mount(None, "/etc/hosts", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        if hide:
            name = folder.rstrip("/").rpartition("/")[2]
            _mount("lambdalab-hidden", hide, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            os.mkdir(f"{hide}/{name}", 0o700)
            _mount(f"/proc/self/fd/{own}", f"{hide}/{name}", None, MS_BIND | MS_REC)
            _mount(None, hide, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        os.close(own)


def _recv(sock: socket.socket) -> "tuple[dict[str, Any], list[int]]":
    """One command and its descriptors; the process ends quietly on an end of file (the engine is gone)."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, _MAX_FDS)
    except OSError:
        data, fds = b"", []
    if not data:
        os._exit(0)
    return json.loads(data), fds


def _warn_threads() -> None:
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.stdout.write(THREADS_WARNING % (threading.active_count() - 1))
        sys.stdout.flush()


def serve(fd: int) -> "dict[str, Any]":
    """Run the fork server on the control socket ``fd``; returns only in a restored environment (its command)."""
    control = socket.socket(fileno=fd)
    _warn_threads()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # user code may have closed or replaced the stream
            pass
    gc.collect()
    gc.freeze()  # the heap as it is now stays out of every child's collections: copy-on-write stays cheap
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; the engine reads pidfds
    template = os.getpid()
    while True:
        command, fds = _recv(control)
        if command.get("op") != "spare" or not fds:
            for extra in fds:
                os.close(extra)
            continue
        rng = sys.modules.get("random")
        state = rng.getstate() if rng is not None else None
        pid = os.fork()
        if pid == 0:
            control.close()
            return _spare(template, command, fds, rng, state)
        for extra in fds:
            os.close(extra)


def _spare(template: int, command: "dict[str, Any]", fds: "list[int]", rng: object, state: object) -> "dict[str, Any]":
    """In the forked child: get ready as the command says, wait for the restore, return it."""
    channel = socket.socket(fileno=fds[0])
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the runtime's own children are its to wait for
        _Libc.call("prctl", PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != template:
            os._exit(0)
        pid = str(os.getpid()).encode()
        for procs in command.get("cgroup_procs") or ():
            with open(procs, "wb", buffering=0) as f:  # fails closed: never a runtime outside its limits
                f.write(pid)
        os.setsid()
        if rng is not None:
            rng.setstate(state)  # type: ignore[attr-defined]
        if command.get("folder"):
            _own_namespace(command["folder"], command.get("hide"))
        channel.sendall(json.dumps({"pid": os.getpid()}).encode())
    except Exception as exc:  # noqa: BLE001 - tell the engine, then go: it sees the exit
        try:
            channel.sendall(json.dumps({"pid": os.getpid(), "error": f"{type(exc).__name__}: {exc}"}).encode())
        finally:
            os._exit(127)
    restore, log_fds = _recv(channel)
    channel.close()
    if log_fds:
        os.dup2(log_fds[0], 1)
        os.dup2(log_fds[0], 2)
        for extra in log_fds:
            os.close(extra)
    for name, value in (restore.get("env") or {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return restore
