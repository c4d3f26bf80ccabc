"""Which process is on the other end of a loopback TCP connection (Linux ``/proc``).

The Runtime API address is a plain ``host:port``, so any local process could connect to an
environment's port. The control plane accepts a connection only from a process of that
environment: it finds the client socket's inode in ``/proc/net/tcp`` and looks for it among the
open files of the environment's processes. Runs once per connection (runtimes keep theirs open).
Where ``/proc`` cannot tell (another OS), ``owned_by`` answers ``None`` and the caller decides.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def _hex_address(host: str, port: int) -> str:
    a, b, c, d = (int(x) for x in host.split("."))
    return f"{d:02X}{c:02X}{b:02X}{a:02X}:{port:04X}"


def _socket_inode(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    local, remote = _hex_address(*client), _hex_address(*server)
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[1] == local and fields[2] == remote:
                    return int(fields[9])
    except (OSError, StopIteration, ValueError):
        return None
    return None


def owned_by(client: tuple[str, int], server: tuple[str, int], pids: Iterable[int]) -> bool | None:
    """True if one of ``pids`` holds the client end of this connection; None if unknowable."""
    inode = _socket_inode(client, server)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for name in names:
            try:
                if os.readlink(f"{fd_dir}/{name}") == target:
                    return True
            except OSError:
                continue
    return False
