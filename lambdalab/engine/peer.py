"""Which process is on the other end of a loopback TCP connection (Linux ``/proc``).

The Runtime API address is a plain ``host:port``, so any local process could connect to an
environment's port. The control plane accepts a connection only from a process of that
environment: it finds the client socket's inode in the kernel's socket tables and looks for it
among the open files of the environment's processes. Runs once per connection (runtimes keep
theirs open).

The inode comes from the kernel's socket diagnostics (``NETLINK_SOCK_DIAG``): an exact lookup of
the connection's four-tuple, about 15 µs. Reading ``/proc/net/tcp`` instead walks the whole
established-connections hash table (milliseconds on a large machine), so it is only the fallback
where netlink is unavailable.

Both families count: a client may reach an IPv4 listener from an IPv6 socket through a mapped
address (``::ffff:127.0.0.1``); its end of the connection is then listed in ``/proc/net/tcp6``,
not ``/proc/net/tcp``. An IPv6 listener (``::1``) would list IPv6 clients there too. Where the
tables cannot tell (no ``/proc``, an orphaned socket), ``owned_by`` answers ``None``; callers
must treat that as a refusal.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
from collections.abc import Iterable

_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_MAPPED = b"\0" * 10 + b"\xff\xff"  # ::ffff:a.b.c.d, an IPv4 address seen from an IPv6 socket


_STEP = -1 if sys.byteorder == "little" else 1


def _hex4(packed: bytes) -> str:
    """An IPv4 address as ``/proc/net/tcp`` prints it: one 32-bit word in host byte order."""
    return packed[::_STEP].hex().upper()


def _hex6(packed: bytes) -> str:
    """An IPv6 address as ``/proc/net/tcp6`` prints it: four 32-bit words, each in host byte order."""
    return "".join(packed[i : i + 4][::_STEP].hex().upper() for i in range(0, 16, 4))


def _forms(address: tuple) -> tuple[str | None, str]:  # type: ignore[type-arg]
    """``(tcp form or None, tcp6 form)`` of one socket address (``host, port[, flow, scope]``)."""
    v6, suffix = _packed(address[0]), f":{int(address[1]):04X}"
    v4 = v6[12:] if v6[:12] == _MAPPED else None
    return (_hex4(v4) + suffix if v4 is not None else None), _hex6(v6) + suffix


_SOCK_DIAG_BY_FAMILY = 20
_NETLINK_SOCK_DIAG = 4
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
_TCP_LISTEN = 10


def _diag_inode(client: tuple, server: tuple) -> int | None:  # type: ignore[type-arg]
    """The client end's inode by an exact ``inet_diag`` lookup; None if not found; OSError if unavailable.

    An IPv6 socket connected to a mapped IPv4 address is found by the IPv4 lookup (the kernel keeps
    one table of established TCP connections, keyed by the IPv4 four-tuple for both families).
    """
    src, dst = _packed(client[0]), _packed(server[0])
    if src[:12] == _MAPPED and dst[:12] == _MAPPED:
        family, src, dst = socket.AF_INET, src[12:] + bytes(12), dst[12:] + bytes(12)
    else:
        family = socket.AF_INET6
    sport, dport = int(client[1]), int(server[1])
    request = (
        struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF)
        + struct.pack(">HH", sport, dport)
        + src
        + dst
        + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    )
    message = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, 1, 1, 0) + request  # NLM_F_REQUEST
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.send(message)
        answer = diag.recv(4096)
    if len(answer) < 20:
        raise OSError(errno.EPROTO, "short sock_diag answer")
    if struct.unpack_from("=H", answer, 4)[0] == _NLMSG_ERROR:
        code = -struct.unpack_from("=i", answer, 16)[0]
        if code == errno.ENOENT:
            return None
        raise OSError(code, os.strerror(code))
    # inet_diag_msg: family, state, timer, retrans, id (sport, dport, src, dst, if, cookie), expires,
    # rqueue, wqueue, uid, inode
    if len(answer) < 16 + 4 + 48 + 20:
        raise OSError(errno.EPROTO, "short sock_diag answer")
    state = answer[17]
    found_sport, found_dport = struct.unpack_from(">HH", answer, 20)
    inode = struct.unpack_from("=I", answer, 16 + 4 + 48 + 16)[0]
    if state == _TCP_LISTEN or (found_sport, found_dport) != (sport, dport):
        return None  # the lookup fell back to a listener: not this connection
    return inode or None  # 0: an orphan (no process holds it)


def _packed(host: str) -> bytes:
    """A host as 16 bytes of IPv6 (IPv4 as ``::ffff:a.b.c.d``)."""
    host = host.split("%", 1)[0]
    try:
        return _MAPPED + socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return socket.inet_pton(socket.AF_INET6, host)


def _proc_inode(client: tuple, server: tuple) -> int | None:  # type: ignore[type-arg]
    """The same from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (slow: the kernel walks its whole table)."""
    try:
        client_forms, server_forms = _forms(client), _forms(server)
    except (OSError, ValueError, IndexError, TypeError, AttributeError):
        return None
    for table, local, remote in zip(_TABLES, client_forms, server_forms, strict=True):
        if local is None or remote is None:
            continue
        needle = f" {local} {remote} "
        try:
            with open(table) as f:  # line by line: the kernel formats the table as it is read, so stop early
                for line in f:
                    at = line.find(needle)
                    if at >= 0:
                        # "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode"
                        fields = line[at:].split()
                        try:
                            return int(fields[8]) or None  # 0: an orphan (no process holds it)
                        except (IndexError, ValueError):
                            return None
        except OSError:
            continue
    return None


def _socket_inode(client: tuple, server: tuple) -> int | None:  # type: ignore[type-arg]
    """The inode of the client's end of the connection ``client`` -> ``server``; None if not found."""
    try:
        return _diag_inode(client, server)
    except (ValueError, IndexError, TypeError, AttributeError):
        return None  # not an address
    except OSError:
        return _proc_inode(client, server)


def owned_by(client: tuple, server: tuple, pids: Iterable[int]) -> bool | None:  # type: ignore[type-arg]
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
