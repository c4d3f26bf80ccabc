"""Debug mode: a function's Python environments run debugpy on a loopback port, one port per environment.

``FunctionConfig.debug`` turns it on (``True``: a free port each; a port number ``N``: the first environment on
``N``, the next ones on the next free ports). The engine chooses each environment's port when its first
incarnation spawns (``Ports``), keeps it for the environment's later incarnations, and hands it to the runtime
in ``_LAMBDALAB_DEBUG`` (``variables``); ``runtimes/python_bootstrap.py`` loads debugpy from its own folder by
file location (nothing is added to the handler's ``sys.path``), runs pydevd's adapter inside the runtime
process (``in_process_debug_adapter``: no adapter process, so nothing leaves the environment's process group)
and writes ``lambdalab: debugger listening on 127.0.0.1:PORT (environment ID)`` in the environment's log.

While a client is attached (``attached``: an established TCP connection on the port, asked of the kernel's
socket diagnostics, no polling of the runtime), the control plane lets no deadline fire and keep-alive
reaping passes the environment by; debug environments are never frozen (a stopped debugpy could not answer
an attach). Only debug environments pay for any of it: a function without ``debug`` never reaches this module
on its invokes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab.engine import code
from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.engine.control_plane import ControlPlane

HOST = "127.0.0.1"  # loopback only: never another address
POLL_S = 0.25  # how often a held deadline or keep-alive looks again whether the client is still attached
VARIABLE = "_LAMBDALAB_DEBUG"  # read (and removed) by runtimes/python_bootstrap.py
FLAGS = ("-X", "frozen_modules=off")  # as debugpy asks: breakpoints in frozen standard modules are not missed


@functools.cache
def debugpy_folder() -> str:
    """debugpy's package folder, found without importing it here (``ConfigError`` when it is not installed)."""
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("debug mode needs debugpy: pip install 'debugpy>=1.8'")
    return str(list(spec.submodule_search_locations)[0])


def variables(port: int, environment_id: str, task_root: Path) -> dict[str, str]:
    """The runtime's ``_LAMBDALAB_DEBUG`` (JSON): where to listen, the environment, debugpy's folder, and the path
    mapping from the folder the code was deployed from to its task root, so a client's breakpoints in the user's
    own files match the files the runtime runs (a client's ``pathMappings`` replace it)."""
    source = code.origin(task_root)
    setting = {
        "address": f"{HOST}:{port}",
        "environment": environment_id,
        "debugpy": debugpy_folder(),
        "paths": [[source, str(task_root)]] if source is not None and source != str(task_root) else [],
    }
    return {VARIABLE: json.dumps(setting)}


def _bindable(port: int) -> bool:
    """Whether debugpy could listen on ``port`` now (it binds with SO_REUSEADDR, so a TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Ports:
    """The loopback ports of one Lab's debug environments: one per environment, kept across its incarnations."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}  # environment id -> port

    def take(self, environment_id: str, wanted: bool | int) -> int:
        """The environment's port: the one it has, else a free one (``True``) or the first free from ``wanted``."""
        port = self.held.get(environment_id)
        if port is not None:
            return port
        taken = set(self.held.values())
        if wanted is True:
            port = _free_port()
            while port in taken:  # the port of an environment between incarnations: not listening, still its
                port = _free_port()
        else:
            port = next((p for p in range(int(wanted), 65_536) if p not in taken and _bindable(p)), 0)
            if not port:
                raise OSError(f"no free loopback port from {wanted}")
        self.held[environment_id] = port
        return port

    def release(self, environment_id: str) -> None:
        self.held.pop(environment_id, None)


# -- is a client attached? -----------------------------------------------------------------------------
_SOCK_DIAG_BY_FAMILY = 20
_NETLINK_SOCK_DIAG = 4
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_ESTABLISHED = 1
_INET_DIAG_REQ_BYTECODE = 1
_BC_S_GE, _BC_S_LE = 2, 3


def _diag_attached(port: int) -> bool:
    """An established IPv4 TCP socket whose local port is ``port`` (the listener's accepted client), by a dump
    of the kernel's socket diagnostics filtered in the kernel (``ss state established '( sport = :PORT )'``)."""
    # bytecode: sport >= port, then sport <= port; a failed test jumps past the end (rejected)
    ops = struct.pack("=BBH", _BC_S_GE, 8, 20) + struct.pack("=BBH", 0, 0, port)
    ops += struct.pack("=BBH", _BC_S_LE, 8, 12) + struct.pack("=BBH", 0, 0, port)
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 1 << _ESTABLISHED) + bytes(48)
    request += struct.pack("=HH", 4 + len(ops), _INET_DIAG_REQ_BYTECODE) + ops
    message = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0) + request
    found = False
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(1.0)
        diag.send(message)
        while True:
            data = diag.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, offset + 16)[0]
                    raise OSError(code, os.strerror(code))
                if kind == _SOCK_DIAG_BY_FAMILY and length >= 16 + 24:
                    state = data[offset + 17]
                    (sport,) = struct.unpack_from(">H", data, offset + 20)
                    found = found or (state == _ESTABLISHED and sport == port)
                if length < 16:
                    return found
                offset += (length + 3) & ~3


def _proc_attached(port: int) -> bool:
    """The same from ``/proc/net/tcp`` (where netlink is unavailable): local port ``port``, state 01."""
    needle = f":{port:04X} "
    with contextlib.suppress(OSError), open("/proc/net/tcp") as table:
        for line in table:
            fields = line.split()
            if len(fields) > 3 and (fields[1] + " ").endswith(needle) and fields[3] == "01":
                return True
    return False


def attached(port: int) -> bool:
    """Whether a debugger client is connected to debug port ``port`` now (about 1 ms: the kernel walks its table)."""
    try:
        return _diag_attached(port)
    except OSError:
        return _proc_attached(port)


# -- read by the API (Function.debug_ports) -------------------------------------------------------------
def ports(plane: ControlPlane, function: str, attached_only: bool | None = None) -> dict[str, int]:
    """``{environment id: port}`` of ``function``'s debug environments whose runtime runs now; ``attached_only``
    True: only those with a client attached, False: only those waiting for one."""
    found = {}
    for environment in list(plane.environments.values()):
        port = environment.debug_port
        if port is None or environment.retired or not environment.sandboxes:
            continue
        if environment.pool.spec.function != function:
            continue
        if attached_only is None or attached(port) is attached_only:
            found[environment.id] = port
    return found
