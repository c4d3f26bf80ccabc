"""The engine's side of one execution environment.

``EngineEnvironment`` holds what the core does not: the sandboxes (one per incarnation), the
listening socket of each incarnation (served by ``engine/runtime_endpoint.py``'s ``RuntimeEndpoint``),
the parked ``GET /next`` connection, the deadline timer, the log stream and the private /tmp. Both reach
the control plane only through ``PlaneHooks``: the few callables and values they need of it, and nothing
else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.config import FunctionConfig
from lambdalab.core.events import (
    Event,
)
from lambdalab.core.lifecycle import State
from lambdalab.core.logstream import LogStream
from lambdalab.core.pool import Pool
from lambdalab.engine import debug, http_server
from lambdalab.engine.runtime_endpoint import RuntimeEndpoint
from lambdalab.engine.sandbox import Sandbox

if TYPE_CHECKING:
    from lambdalab.core.records import InitStart, RestoreStart
    from lambdalab.engine.extensions import Extensions
    from lambdalab.engine.runtimes import ContainerCredentials
    from lambdalab.engine.spare import Spare
    from lambdalab.engine.telemetry import Telemetry


@dataclasses.dataclass(frozen=True, slots=True)
class PlaneHooks:
    """What an environment and its Runtime API endpoints need of the control plane: one bundle per Lab."""

    now: Callable[[], float]  # the engine clock (epoch seconds, never backwards)
    dispatch: Callable[[Event], None]  # hand an event to the core and perform what it answers
    on_exit: Callable[[EngineEnvironment, int, int], None]  # a process ended: environment, incarnation, code
    members: Callable[[list[Path]], Iterable[int]]  # the processes in an environment's cgroups
    shared: tuple[str, ...]  # folders every runtime may read (task roots, layers, the cache)
    hide: str  # the environments' folder, of which each runtime sees only its own
    # an Extensions API or Telemetry API call (engine/extensions.py, engine/telemetry.py): the control plane's
    agent: Callable[[EngineEnvironment, int, http_server.Connection, bytes, str, dict[bytes, str], bytes], None] = (
        lambda environment, incarnation, connection, method, url, headers, body: connection.send(
            404, http_server.NOT_FOUND
        )
    )
    # a connection to a SnapStart template's listener from a restored runtime: that environment's endpoint
    rebind: Callable[[EngineEnvironment, tuple[Any, ...], tuple[Any, ...]], Any] = lambda environment, client, server: (
        None
    )
    # the runtime asked for more, before the extensions are ready (telemetry's runtimeDone)
    runtime_next: Callable[[EngineEnvironment, State], None] = lambda environment, state: None
    account_id: str = "123456789012"


class EngineEnvironment:
    """Processes, sockets, timer, logs and /tmp of one environment."""

    def __init__(
        self,
        environment_id: str,
        pool: Pool,
        config: FunctionConfig,
        code_dir: Path,
        stream: LogStream,
        tmp: Path,
        hooks: PlaneHooks,
    ) -> None:
        self.id = environment_id
        self.group = environment_id  # the user-visible environment: a Managed Instances worker's group (groups.py)
        self.pool = pool
        self.config = config
        self.code_dir = code_dir
        self.stream = stream
        self.tmp = tmp
        self.hooks = hooks
        self.created_at = hooks.now()  # the engine clock when it was made (its age, in Function.environments)
        self.cgroups: list[Path] = []
        self.spare: Spare | None = None  # a spare's launcher, until the first incarnation runs in it
        self.oom_kills = 0
        self.sandboxes: dict[int, Sandbox] = {}
        self.servers: dict[int, tuple[socket.socket, asyncio.Task[asyncio.Server]]] = {}
        self.parked: http_server.Connection | None = None
        self.restore_parked: http_server.Connection | None = None  # a SnapStart template's GET /restore/next
        self.container_credentials: ContainerCredentials | None = None  # SnapStart: GET /2021-04-23/credentials
        self.after_restore: list[Callable[[], None]] = []  # what waits for a restore's /tmp and groups
        # the deadline timer: it may fire before ``deadline_at`` (the loop time of the armed deadline, None
        # when disarmed), and then re-arms itself; so arming a later deadline allocates no timer
        self.deadline: asyncio.TimerHandle | None = None
        self.deadline_at: float | None = None
        self.deadline_incarnation = 0
        self.limits_ready: dict[int, asyncio.Future[None]] = {}  # per incarnation: placed under its limits
        self.slots: set[int] = set()  # incarnations holding a slot of the descriptor budget (engine.fd_budget)
        self.retired = False
        # debug mode (engine/debug.py): its public debug port's listener (None: not debugged), and the deadline
        # a client was attached at (it fires once the client has gone, a whole timeout later)
        self.debugger: debug.Listener | None = None
        self.debug_held: float | None = None
        self._current: Sandbox | None = None
        # extensions and telemetry (engine/extensions.py, engine/telemetry.py): None for most functions
        self.address = "127.0.0.1"  # what sandbox.localdomain means inside it (its /etc/hosts, runtimes/launch.c)
        self.extensions: Extensions | None = None
        self.telemetry: Telemetry | None = None
        self.init_start: InitStart | None = None  # its INIT_START entry (a subscriber's platform.initStart)
        self.restore_start: RestoreStart | None = None  # its last RESTORE_START entry (platform.restoreStart)
        self.invoke_at = 0.0  # when the current invoke was delivered, and what its runtime answered
        self.response_at = 0.0
        self.response_bytes = 0
        self.response_status = "success"
        self.runtime_done_at = 0.0
        self.output_tap: Callable[[bytes], None] | None = None  # function log lines to telemetry

    @property
    def account_id(self) -> str:
        return self.hooks.account_id

    def output_writer(self, tap: Callable[[bytes], None] | None = None) -> Callable[[bytes], None]:
        """Where a process's output goes: the log stream, and ``tap`` (telemetry) too when given."""
        write = self.stream.write
        if tap is None:
            return write

        def both(data: bytes) -> None:
            write(data)
            tap(data)

        return both

    # -- processes ------------------------------------------------------------------------------
    def open_server(self, incarnation: int) -> int:
        """A Runtime API socket for this incarnation's processes only (``RuntimeEndpoint``); its port."""
        sock = http_server.listen()
        task = asyncio.get_running_loop().create_task(http_server.serve(sock, RuntimeEndpoint(self, incarnation)))
        self.servers[incarnation] = (sock, task)
        return int(sock.getsockname()[1])

    def close_server(self, incarnation: int) -> None:
        entry = self.servers.pop(incarnation, None)
        if entry is None:
            return
        sock, task = entry

        def _close(done: asyncio.Task[asyncio.Server]) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().close()
            with contextlib.suppress(OSError):
                sock.close()

        if task.done():
            _close(task)
        else:
            task.add_done_callback(_close)
        if self.parked is not None and self.parked_incarnation == incarnation:
            self.parked.close()
            self.parked = None

    def spawn(
        self,
        argv: Sequence[str],
        cwd: Path,
        env_vars: Mapping[str, str],
        incarnation: int,
        mounts: tuple[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Sandbox:
        hooks = self.hooks
        sandbox = Sandbox(
            argv,
            cwd=cwd,
            env_vars=env_vars,
            on_output=self.output_writer(self.output_tap),
            on_exit=lambda code: hooks.on_exit(self, incarnation, code),
            mounts=mounts,
            cgroups=self.cgroups,
            shared=hooks.shared,
            hide=hooks.hide,
            pass_fds=pass_fds,
        )
        self.sandboxes[incarnation] = sandbox
        self._current = sandbox
        return sandbox

    def adopt_restored(self, sandbox: Sandbox, incarnation: int) -> None:
        """A runtime restored from a SnapStart snapshot (``engine/snap_plane.py``) is this incarnation's; what
        waited for its /tmp and groups (its extensions' launch) goes on."""
        self.sandboxes[incarnation] = sandbox
        self._current = sandbox
        waiting, self.after_restore = self.after_restore, []
        for callback in waiting:
            callback()

    def adopt(
        self,
        sandbox: Sandbox,
        argv: Sequence[str],
        env_vars: Mapping[str, str],
        incarnation: int,
        opt: str,
        marker: str,
    ) -> Sandbox:
        """A spare's waiting launcher (``engine/spare.py``) becomes this incarnation's runtime."""
        on_exit = self.hooks.on_exit
        sandbox.start(
            argv,
            cwd=self.code_dir,
            env_vars=env_vars,
            opt=opt,
            on_output=self.output_writer(self.output_tap),
            on_exit=lambda code: on_exit(self, incarnation, code),
            marker=marker,
        )
        self.sandboxes[incarnation] = sandbox
        self._current = sandbox
        return sandbox

    def freeze(self) -> None:
        if self._current is not None:
            self._current.freeze()
        if self.extensions is not None:
            self.extensions.freeze()
            if self.telemetry is not None:
                self.telemetry.freeze()

    def thaw(self) -> None:
        if self._current is not None:
            self._current.thaw()
        if self.extensions is not None:
            self.extensions.thaw()
            if self.telemetry is not None:
                self.telemetry.thaw()

    def kill(self, incarnation: int) -> None:
        self.limits_ready.pop(incarnation, None)
        sandbox = self.sandboxes.get(incarnation)
        if sandbox is not None:
            sandbox.kill()
        extensions = self.extensions
        if extensions is not None and extensions.incarnation == incarnation:
            extensions.kill()
            if self.telemetry is not None:
                self.telemetry.close()
        self.close_server(incarnation)

    def cancel_deadline(self) -> None:
        self.deadline_at = None
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def max_memory_mb(self, incarnation: int) -> int:
        sandbox = self.sandboxes.get(incarnation)
        return sandbox.max_memory_mb() if sandbox is not None else 0

    def drain_output(self) -> None:
        if self._current is not None and self._current.returncode is None:
            self._current.drain()

    def close_all(self) -> None:
        self.cancel_deadline()
        for incarnation in list(self.servers):
            self.close_server(incarnation)
        for sandbox in self.sandboxes.values():
            sandbox.kill()
        if self.extensions is not None:
            self.extensions.kill()
        if self.telemetry is not None:
            self.telemetry.close()

    parked_incarnation = 0
