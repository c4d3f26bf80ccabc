"""The Runtime API as one runtime process (one incarnation of an ``EngineEnvironment``) sees it.

``RuntimeEndpoint`` validates each Runtime API call against the core's state *before* it becomes an event (a
rejected call gets a 4xx and never reaches the state machine); which call is legal in which state is the core's
table's answer (``core.lifecycle.allows``). It checks that a connection comes from the incarnation's own
processes (``on_connect``), parks ``GET /next``, and hands Extensions/Telemetry API calls to the control plane
(``PlaneHooks.agent``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
from lambdalab.core.outcomes import RESPONSE_TOO_LARGE, ErrorType
from lambdalab.engine import http_server, peer
from lambdalab.engine.limits import descendants

if TYPE_CHECKING:
    from lambdalab.engine.environment import EngineEnvironment


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
