"""The engine's side of one execution environment, and its Runtime API endpoint.

``EngineEnvironment`` holds what the core does not: the sandboxes (one per incarnation), the
listening socket of each incarnation, the parked ``GET /next`` connection, the deadline timer,
the log stream and the private /tmp. ``RuntimeEndpoint`` validates each Runtime API call against
the core's state *before* it becomes an event (a rejected call gets a 4xx and never reaches the
state machine); which call is legal in which state is the core's table's answer
(``core.lifecycle.allows``). Both reach the control plane only through ``PlaneHooks``: the few
callables and values they need of it, and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.events import (
    ErrorPosted,
    Event,
    InitErrorPosted,
    NextRequested,
    ResponsePosted,
    RestoreErrorPosted,
    RestoreNextRequested,
)
from lambdalab.core.lifecycle import Environment, State, allows
from lambdalab.core.logstream import LogStream
from lambdalab.core.outcomes import RESPONSE_TOO_LARGE, ErrorType
from lambdalab.core.pool import Pool
from lambdalab.engine import debug, http_server, peer
from lambdalab.engine.limits import descendants
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


class RuntimeEndpoint:
    """The Runtime API as one runtime process (one incarnation) sees it."""

    def __init__(self, environment: EngineEnvironment, incarnation: int) -> None:
        self._environment = environment
        self._incarnation = incarnation
        self._id = environment.id
        self._cores = environment.pool.environments  # the pool's table, by environment id
        self._now = environment.hooks.now
        self._dispatch = environment.hooks.dispatch

    def _core(self) -> Environment | None:
        """The core's environment while this endpoint's incarnation is its current one, else None."""
        core = self._cores.get(self._id)
        return core if core is not None and core.incarnation == self._incarnation else None

    def _state(self) -> State | None:
        core = self._core()
        return core.state if core is not None else None

    def _event_args(self) -> tuple[str, int, float]:
        return self._id, self._incarnation, self._now()

    def on_next(self, connection: http_server.Connection) -> None:
        state = self._state()
        environment = self._environment
        if state is None or not allows(state, NextRequested) or environment.parked is not None:
            connection.send(403, api.invalid_state_body(state.value if state else "gone", "next", "not allowed"))
            return
        environment.parked = connection
        environment.parked_incarnation = self._incarnation
        extensions = environment.extensions
        if extensions is not None and extensions.incarnation == self._incarnation:
            # registration closes; telemetry's runtimeDone (whether the phase ends now is the core's to say)
            environment.hooks.runtime_next(environment, state)
        self._ready(state)

    def _ready(self, state: State) -> None:
        environment = self._environment
        if self._state() is not state or environment.parked is None:
            return  # the runtime or the phase went meanwhile
        if state is State.INITIALIZING:
            environment.max_memory_mb(self._incarnation)  # the peak so far, in case the process dies later
            ready = environment.limits_ready.pop(self._incarnation, None)
            if ready is not None and not ready.done():  # init ends once the limits are in place
                ready.add_done_callback(lambda _: self._init_done())
                return
        self._dispatch(NextRequested(self._id, self._incarnation, self._now()))

    def _init_done(self) -> None:
        if self._state() is State.INITIALIZING and self._environment.parked is not None:
            self._dispatch(NextRequested(*self._event_args()))

    def _check_request(self, request_id: str, action: str, event: type[Event]) -> tuple[int, bytes] | None:
        core = self._core()
        if core is None or not allows(core.state, event):
            state = core.state.value if core is not None else "gone"
            return 403, api.invalid_state_body(state, action, "no invocation in progress")
        if not core.accepts(request_id):
            return 400, api.INVALID_REQUEST_ID_BODY
        return None

    def on_response(self, request_id: str, body: bytes, too_large: bool) -> tuple[int, bytes]:
        rejected = self._check_request(request_id, "response", ResponsePosted)
        if rejected:
            return rejected
        memory = self._environment.max_memory_mb(self._incarnation)
        if too_large:
            self._dispatch(
                ErrorPosted(
                    *self._event_args(), request_id, RESPONSE_TOO_LARGE, ErrorType.RESPONSE_TOO_LARGE.value, memory
                )
            )
            return 413, api.PAYLOAD_TOO_LARGE_BODY
        environment = self._environment
        if environment.extensions is not None:
            environment.response_at, environment.response_bytes = self._now(), len(body)
            environment.response_status = "success"
        self._dispatch(ResponsePosted(self._id, self._incarnation, self._now(), request_id, body, memory))
        return 202, api.ACCEPTED_BODY

    def on_error(self, request_id: str, body: bytes, error_type: str | None) -> tuple[int, bytes]:
        rejected = self._check_request(request_id, "error", ErrorPosted)
        if rejected:
            return rejected
        memory = self._environment.max_memory_mb(self._incarnation)
        kind = _error_type(body, error_type)
        environment = self._environment
        if environment.extensions is not None:
            environment.response_at, environment.response_bytes = self._now(), len(body)
            environment.response_status = "error"
        self._dispatch(ErrorPosted(*self._event_args(), request_id, body, kind, memory))
        return 202, api.ACCEPTED_BODY

    def on_init_error(self, body: bytes, error_type: str | None) -> tuple[int, bytes]:
        state = self._state()
        if state is None or not allows(state, InitErrorPosted):
            return 403, api.invalid_state_body(state.value if state else "gone", "init error", "not initializing")
        self._environment.max_memory_mb(self._incarnation)  # measured while the process still lives
        self._dispatch(InitErrorPosted(*self._event_args(), body, _error_type(body, error_type)))
        return 202, api.ACCEPTED_BODY

    def on_restore_next(self, connection: http_server.Connection) -> None:
        """``GET /runtime/restore/next``: a SnapStart template's init is done; parked until the snapshot is taken."""
        core = self._core()
        state = core.state if core is not None else None
        environment = self._environment
        parked = environment.restore_parked is not None
        template = core is not None and core.template  # only a template is told snap-start
        if state is None or not template or not allows(state, RestoreNextRequested) or parked:
            connection.send(
                403, api.invalid_state_body(state.value if state else "gone", "restore next", "not allowed")
            )
            return
        environment.restore_parked = connection
        self._dispatch(RestoreNextRequested(*self._event_args()))

    def on_restore_error(self, body: bytes, error_type: str | None) -> tuple[int, bytes]:
        """``POST /runtime/restore/error``: an after-restore hook failed."""
        state = self._state()
        if state is None or not allows(state, RestoreErrorPosted):
            return 403, api.invalid_state_body(state.value if state else "gone", "restore error", "not restoring")
        self._dispatch(RestoreErrorPosted(*self._event_args(), _error_type(body, error_type), body))
        return 202, api.ACCEPTED_BODY

    def on_credentials(self, authorization: str | None) -> tuple[int, bytes]:
        """``GET /2021-04-23/credentials``: the role's credentials for a SnapStart version's token (else 404)."""
        held = self._environment.container_credentials
        if held is None:
            return 404, b"cannot get credentials for the provided token\n"
        return held.answer(authorization)

    def on_connect(self, client: tuple[str, int], server: tuple[str, int]) -> Any:
        """Accept only this incarnation's own processes (the runtime and its children), over either family.

        A connection whose owner cannot be established (``peer.owned_by`` answers None) is refused.
        """
        environment = self._environment
        restored = environment.hooks.rebind(environment, client, server)
        if restored is not None:  # a restored runtime on its template's listener: its own environment's endpoint
            return restored
        sandbox = environment.sandboxes.get(self._incarnation)
        extensions = environment.extensions
        if extensions is not None and extensions.incarnation == self._incarnation:  # its extensions' too
            pids = extensions.pids()
            if sandbox is not None:
                return peer.owned_by(client, server, itertools.chain(self._pids(sandbox.pid), pids)) is True
            return (
                peer.owned_by(client, server, itertools.chain(pids, environment.hooks.members(environment.cgroups)))
                is True
            )
        if sandbox is None:
            return False
        return peer.owned_by(client, server, self._pids(sandbox.pid)) is True

    def on_agent(
        self, connection: http_server.Connection, method: bytes, url: str, headers: dict[bytes, str], body: bytes
    ) -> None:
        """An Extensions, Telemetry or Logs API call: the control plane's (``engine/extensions.py``)."""
        state = self._state()
        self._environment.hooks.agent(
            self._environment, self._incarnation, connection, method, url if state is not None else "", headers, body
        )

    def _pids(self, runtime: int) -> Iterator[int]:
        """The runtime first: its group's members are read only if it does not hold the connection; then its
        descendants (a child forked before the runtime joined its groups, as a bash bootstrap's first curl, is
        in none of them)."""
        yield runtime
        yield from self._environment.hooks.members(self._environment.cgroups)
        yield from descendants(runtime)

    def on_disconnect(self, connection: http_server.Connection) -> None:
        if self._environment.parked is connection:
            self._environment.parked = None
        extensions = self._environment.extensions
        if extensions is not None:
            extensions.disconnected(connection)


def _error_type(body: bytes, header: str | None) -> str:
    """The REPORT's error type: the header, else the body's ``errorType`` (awslambdaric sends no header)."""
    if header:
        return api.normalise_error_type(header)
    try:
        value = json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) and value else "Runtime.Unknown"
