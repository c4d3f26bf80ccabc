"""``RuntimeEndpoint`` alone: the core's table says which Runtime API call is legal, ``PlaneHooks`` is all it uses.

No control plane here: the endpoint gets a real core pool and environment, and a ``PlaneHooks`` whose
``dispatch`` hands events to that pool and writes them down. Nothing is spawned, so the one stand-in is
the HTTP connection a ``GET /next`` parks (it records what it is sent). The full path, with processes
and sockets, is tested in ``test_lifecycle_engine.py`` and ``test_errors_engine.py``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.effects import Effect
from lambdalab.core.events import (
    ErrorPosted,
    Event,
    InitErrorPosted,
    Invocation,
    NextRequested,
    ProcessStarted,
    ResponsePosted,
)
from lambdalab.core.lifecycle import TRANSITIONS, EnvironmentSpec, State, allows
from lambdalab.core.logstream import LogStream
from lambdalab.core.pool import Pool
from lambdalab.engine.environment import EngineEnvironment, PlaneHooks
from lambdalab.engine.runtime_endpoint import RuntimeEndpoint

T0 = 1_000.0


class Parked:
    """Stands in for ``http_server.Connection``: what the endpoint sends on a ``GET /next``."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes]] = []

    def send(self, status: int, body: bytes, headers: bytes = b"", *, close: bool = False) -> None:
        self.sent.append((status, body))


class World:
    """One core environment of a real pool, and the endpoint of its first process."""

    def __init__(self, tmp: Path) -> None:
        spec = EnvironmentSpec("fn", "$LATEST", "python3.12", 128, 3.0, freeze=False)
        ids = itertools.count(1)
        self.pool = Pool(spec, lambda: f"env-{next(ids)}")
        self.events: list[Event] = []
        self.effects: list[Effect] = []
        self.clock = T0
        hooks = PlaneHooks(
            now=lambda: self.clock,
            dispatch=self.dispatch,
            on_exit=lambda environment, incarnation, code: None,
            members=lambda cgroups: [],
            shared=(),
            hide=str(tmp / "environments"),
        )
        self.effects += self.pool.submit(Invocation("req-1", T0, b"{}"), T0)  # a cold start: STARTING
        (self.core,) = self.pool.environments.values()
        self.environment = EngineEnvironment(
            self.core.id, self.pool, FunctionConfig(name="fn"), tmp, LogStream("stream"), tmp / "tmp", hooks
        )
        self.endpoint = RuntimeEndpoint(self.environment, self.core.incarnation)

    def dispatch(self, event: Event) -> None:
        self.events.append(event)
        self.effects += self.pool.handle(event)

    def started(self) -> None:
        self.dispatch(ProcessStarted(self.core.id, self.core.incarnation, self.clock))

    def next(self) -> Parked:
        parked = Parked()
        self.endpoint.on_next(parked)  # type: ignore[arg-type]
        return parked


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def forbidden(body: bytes, state: str, action: str) -> bool:
    message: str = json.loads(body)["errorMessage"]
    return message.startswith(f"State transition from {state} to {action} failed for runtime.")


def test_the_endpoint_asks_the_core_table() -> None:
    """The calls the endpoint turns into events are legal exactly where ``TRANSITIONS`` has a row."""
    for event in (NextRequested, ResponsePosted, ErrorPosted, InitErrorPosted):
        legal = {state for (state, kind) in TRANSITIONS if kind is event}
        assert legal == {state for state in State if allows(state, event)}
        assert legal  # every Runtime API call is legal somewhere


def test_a_whole_invocation_goes_through_the_hooks(world: World) -> None:
    world.started()
    assert world.core.state is State.INITIALIZING
    first = world.next()  # init done: the reserved invocation is delivered on this connection
    assert first.sent == []
    assert world.core.state is State.INVOKING
    world.clock += 0.25
    assert world.endpoint.on_response("req-1", b'{"ok": true}', too_large=False) == (202, api.ACCEPTED_BODY)
    assert world.core.state is State.FINISHING
    world.environment.parked = None  # the runtime's next GET /next, on a fresh connection
    world.next()
    assert world.core.state is State.IDLE
    kinds = [type(event) for event in world.events]
    assert kinds == [ProcessStarted, NextRequested, ResponsePosted, NextRequested]
    assert [event.at for event in world.events[2:]] == [T0 + 0.25, T0 + 0.25]  # the hooks' clock
    assert all(event.environment_id == world.core.id for event in world.events)


def test_a_response_before_the_invocation_is_forbidden_and_reaches_no_one(world: World) -> None:
    world.started()
    status, body = world.endpoint.on_response("req-1", b"{}", too_large=False)
    assert status == 403 and forbidden(body, "initializing", "response")
    status, body = world.endpoint.on_error("req-1", b"{}", "Function.Oops")
    assert status == 403 and forbidden(body, "initializing", "error")
    assert [type(event) for event in world.events] == [ProcessStarted]


def test_next_while_invoking_and_an_init_error_after_init_are_forbidden(world: World) -> None:
    world.started()
    world.next()
    assert world.core.state is State.INVOKING
    world.environment.parked = None  # a second connection asking again while the first invocation runs
    again = world.next()
    assert len(again.sent) == 1 and again.sent[0][0] == 403 and forbidden(again.sent[0][1], "invoking", "next")
    status, body = world.endpoint.on_init_error(b'{"errorType": "Oops"}', None)
    assert status == 403 and forbidden(body, "invoking", "init error")
    assert [type(event) for event in world.events] == [ProcessStarted, NextRequested]


def test_an_unknown_request_id_is_a_400(world: World) -> None:
    world.started()
    world.next()
    assert world.endpoint.on_response("someone-else", b"{}", too_large=False) == (400, api.INVALID_REQUEST_ID_BODY)
    assert world.core.state is State.INVOKING


def test_an_endpoint_of_a_replaced_process_answers_gone(world: World) -> None:
    world.started()
    stale = RuntimeEndpoint(world.environment, world.core.incarnation + 1)  # not the current incarnation
    parked = Parked()
    stale.on_next(parked)  # type: ignore[arg-type]
    assert parked.sent[0][0] == 403 and forbidden(parked.sent[0][1], "gone", "next")
    status, body = stale.on_init_error(b"{}", "Runtime.Oops")
    assert status == 403 and forbidden(body, "gone", "init error")
    assert [type(event) for event in world.events] == [ProcessStarted]


def test_an_init_error_is_dispatched_with_its_type(world: World) -> None:
    world.started()
    status, _ = world.endpoint.on_init_error(b'{"errorType": "ImportError"}', None)
    assert status == 202
    event: Any = world.events[-1]
    assert type(event) is InitErrorPosted and event.error_type == "ImportError"
