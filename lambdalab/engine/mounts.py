"""``/tmp`` and ``/opt`` as real paths: a private mount namespace per runtime process, where allowed.

On Lambda every environment has its own ``/tmp`` and sees its layers at ``/opt``; code that writes
the literal path ``/tmp/x`` or reads ``/opt/python`` depends on it (the SeBS benchmarks track cold
starts through ``/tmp/cold_run``). Where the machine allows a private mount namespace (as root, or
with unprivileged user namespaces: not done yet), the runtime process starts in a namespace of its
own in which the environment's private folder is bind-mounted on ``/tmp`` and its merged layers on
``/opt``; the mounts are invisible to the rest of the machine and vanish with the process (the
folders themselves persist across the environment's incarnations, as ``/tmp`` does on Lambda, and
are removed when it retires). Elsewhere the documented fallback holds: ``TMPDIR`` points at the
private folder and layers are reached through the import path (``Lab.isolation`` says which).

The namespace is made between fork and exec (``preexec_fn``), with the C library's ``unshare`` and
``mount`` loaded once in the owner, so the child runs no import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import subprocess
import sys
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE, MS_RDONLY, MS_REMOUNT = 0x1000, 0x4000, 0x40000, 0x1, 0x20

NAMESPACE = "namespace"    # private /tmp and /opt through a mount namespace
FALLBACK = "tmpdir"        # TMPDIR and the import path only


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _enter(libc: ctypes.CDLL, tmp: bytes, opt: bytes | None) -> None:
    """In the child, before exec: a private mount namespace with /tmp (and /opt) bound to our folders."""
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    if opt is not None:  # before /tmp: both folders usually live under the machine's /tmp
        if libc.mount(opt, b"/opt", None, MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), "mount --bind /opt")
        libc.mount(b"none", b"/opt", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)  # /opt is read-only on Lambda
    if libc.mount(tmp, b"/tmp", None, MS_BIND, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --bind /tmp")


def preexec(tmp: str, opt: str | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the child its private /tmp (and /opt); None where that cannot be done."""
    libc = _libc()
    if libc is None or not available():
        return None
    tmp_b, opt_b = os.fsencode(tmp), (os.fsencode(opt) if opt is not None else None)
    return lambda: _enter(libc, tmp_b, opt_b)


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
            done = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], preexec_fn=lambda: _enter(libc, tmp_b, None),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0 and os.path.exists(os.path.join(probe, ".lambdalab-probe"))


def isolation() -> str:
    """``"namespace"`` where environments get private /tmp and /opt, else ``"tmpdir"``."""
    return NAMESPACE if available() else FALLBACK
