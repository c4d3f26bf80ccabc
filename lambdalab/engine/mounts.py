"""``/tmp`` and ``/opt`` as real paths: a private mount namespace per runtime process, where allowed.

On Lambda every environment has its own ``/tmp`` and sees its layers at ``/opt``; code that writes
the literal path ``/tmp/x`` or reads ``/opt/python`` depends on it (the SeBS benchmarks track cold
starts through ``/tmp/cold_run``). Where the machine allows a private mount namespace (as root; with
unprivileged user namespaces: not done yet), the runtime process starts in a namespace of its
own in which the environment's private folder is bind-mounted on ``/tmp`` and its merged layers on
``/opt``; the mounts are invisible to the rest of the machine and vanish with the process (the
folders themselves persist across the environment's incarnations, as ``/tmp`` does on Lambda, and
are removed when it retires). Elsewhere the documented fallback holds: ``TMPDIR`` points at the
private folder and layers are reached through the import path (``Lab.isolation`` says which).

The namespace is made between fork and exec (``preexec_fn``, which also sets the parent-death
signal), with the C library's ``unshare``, ``mount`` and ``prctl`` loaded once in the owner, so the
child runs no import. Around it, on the machine's side (``used()`` only):

* the Lab's work dir lives outside ``/tmp`` (``work_base``), or the task roots, dependencies and
  runtime directory would vanish under the environment's ``/tmp``;
* each environment's folder is a tmpfs of ``ephemeral_storage_mb`` (``mount_tmpfs``), mounted once
  when the environment is made, so it outlives the incarnations as ``/tmp`` does on Lambda;
* the work dir is a shared mount (``share``) and the namespaces are its slaves: when an environment
  retires, its tmpfs is detached here (``reaper.remove_tree``) and so from every runtime's namespace.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import subprocess
import sys
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE, MS_RDONLY, MS_REMOUNT = 0x1000, 0x4000, 0x40000, 0x1, 0x20
MS_NOSUID, MS_NODEV, MS_SLAVE, MS_SHARED = 0x2, 0x4, 0x80000, 0x100000
PR_SET_PDEATHSIG, MNT_DETACH = 1, 2

NAMESPACE = "namespace"  # private /tmp and /opt through a mount namespace
FALLBACK = "tmpdir"  # TMPDIR and the import path only


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _enter(
    libc: ctypes.CDLL,
    tmp: bytes,
    opt: bytes | None,
    pdeathsig: int = 0,
    shared: tuple[bytes, ...] = (),
    hide: bytes | None = None,
) -> None:
    """In the child, before exec: a private mount namespace with /tmp (and /opt) bound to our folders.

    The namespace's mounts are the machine's made *slaves*: nothing mounted here is seen outside,
    and an unmount outside (an environment's ``/tmp`` tmpfs, when it retires) reaches in, so no
    runtime keeps another environment's storage alive. ``pdeathsig`` (a signal number) is set first:
    the child dies with the thread that forked it, as ``setpriv --pdeathsig`` does. ``shared`` folders are
    bound read-only and ``hide`` is covered but for the environment's own folder, as the launcher does
    (``runtimes/launch.c``, which this is the fallback of).
    """
    if pdeathsig and libc.prctl(PR_SET_PDEATHSIG, pdeathsig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rslave /")
    if opt is not None:  # before /tmp: both folders usually live under the machine's /tmp
        if libc.mount(opt, b"/opt", None, MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --bind /opt")
        libc.mount(b"none", b"/opt", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)  # /opt is read-only on Lambda
    own = os.open(os.path.dirname(tmp), os.O_PATH | os.O_DIRECTORY) if hide is not None else -1
    if libc.mount(tmp, b"/tmp", None, MS_BIND, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --bind /tmp")
    for folder in shared:
        if libc.mount(folder, folder, None, MS_BIND | MS_REC, None) != 0:
            if ctypes.get_errno() == errno.ENOENT:
                continue
            raise OSError(ctypes.get_errno(), "mount --rbind (read-only)")
        if libc.mount(b"none", folder, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None) != 0:
            raise OSError(ctypes.get_errno(), "remount read-only")
    if hide is not None:
        if libc.mount(b"lambdalab-hidden", hide, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755") != 0:
            raise OSError(ctypes.get_errno(), "cover")
        inside = os.path.join(hide, os.path.basename(os.path.dirname(tmp)))
        os.mkdir(inside, 0o700)
        if libc.mount(f"/proc/self/fd/{own}".encode(), inside, None, MS_BIND | MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), "bind the environment's folder")
        os.close(own)
        if libc.mount(b"none", hide, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None) != 0:
            raise OSError(ctypes.get_errno(), "cover read-only")


def preexec(
    tmp: str, opt: str | None, pdeathsig: int = 0, shared: tuple[str, ...] = (), hide: str | None = None
) -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the child its private /tmp (and /opt); None where that cannot be done."""
    libc = _libc()
    if libc is None or not used():
        return None
    tmp_b, opt_b = os.fsencode(tmp), (os.fsencode(opt) if opt is not None else None)
    shared_b = tuple(os.fsencode(f) for f in shared)
    hide_b = os.fsencode(hide) if hide is not None else None
    return lambda: _enter(libc, tmp_b, opt_b, pdeathsig, shared_b, hide_b)


# -- the host side: a shared work dir, a size-limited /tmp per environment, unmounting -------------
def share(path: str | os.PathLike[str]) -> bool:
    """Make ``path`` a shared mount (a bind onto itself), so unmounts under it reach runtimes' namespaces.

    Only where namespaces are used; undone by ``unmount_under`` (``reaper.remove_tree``).
    """
    libc = _libc()
    if libc is None or not used():
        return False
    p = os.fsencode(path)
    if libc.mount(p, p, None, MS_BIND, None) != 0:
        return False
    if libc.mount(b"none", p, None, MS_SHARED, None) != 0:
        libc.umount2(p, MNT_DETACH)
        return False
    return True


def mount_tmpfs(path: str | os.PathLike[str], size_mb: int) -> bool:
    """A tmpfs of ``size_mb`` on ``path`` (an environment's /tmp: writing past it gives ENOSPC); False if refused."""
    libc = _libc()
    if libc is None or not used():
        return False
    options = f"size={int(size_mb)}m,mode=0700".encode()
    return bool(libc.mount(b"lambdalab-tmp", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV, options) == 0)


_PROBE = "import os, sys\nopen('/tmp/.lambdalab-probe', 'w').close()\nsys.exit(0 if os.path.isdir('/opt') else 3)"


@functools.cache
def available() -> bool:
    """Whether this machine lets lambdalab give a process a private mount namespace (tried once)."""
    libc = _libc()
    if libc is None or not sys.platform.startswith("linux") or not os.path.isdir("/opt"):
        return False
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lambdalab-mounts-") as probe:
        tmp_b = os.fsencode(probe)
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _PROBE],
                preexec_fn=lambda: _enter(libc, tmp_b, None),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0 and os.path.exists(os.path.join(probe, ".lambdalab-probe"))


# what a runtime process needs from the machine by path: the interpreter (as started) and lambdalab's runtimes
_RUNTIME_FILES = (sys.executable, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def hidden_by_tmp(path: str) -> bool:
    """Whether a runtime cannot see ``path``: it lies under the machine's /tmp and runtimes get their own."""
    return used() and _under_tmp(path)


def _under_tmp(path: str) -> bool:
    """Whether ``path``, as written or resolved, is under the machine's /tmp (exec uses it as written)."""
    return any(p == "/tmp" or p.startswith("/tmp/") for p in (os.path.abspath(path), os.path.realpath(path)))


@functools.cache
def _placement() -> tuple[bool, str | None]:
    """(namespaces used, the base folder of Lab work dirs or None for tempfile's default)."""
    import tempfile

    if not available() or any(_under_tmp(p) for p in _RUNTIME_FILES):
        return False, None  # the interpreter or lambdalab itself would vanish under a private /tmp
    if not _under_tmp(tempfile.gettempdir()):
        return True, None
    for base in (os.environ.get("LAMBDALAB_WORKDIR"), "/var/tmp", os.environ.get("XDG_RUNTIME_DIR")):
        if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK) and not _under_tmp(base):
            return True, base
    return False, None  # nowhere outside /tmp to keep the task roots: the fallback


def used() -> bool:
    """Whether runtimes get their own /tmp and /opt: namespaces are available and the Lab's files live outside /tmp."""
    return _placement()[0]


def work_base() -> str | None:
    """Where a Lab makes its work dir: tempfile's default (None) unless that is under the machine's /tmp
    and runtimes get a namespace, in which a private folder covers /tmp (the task roots would vanish
    there); then the first writable of ``$LAMBDALAB_WORKDIR``, ``/var/tmp``, ``$XDG_RUNTIME_DIR``.
    """
    return _placement()[1]


def isolation() -> str:
    """``"namespace"`` where environments get private /tmp and /opt, else ``"tmpdir"``."""
    return NAMESPACE if used() else FALLBACK
