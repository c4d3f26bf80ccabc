"""Extensions and telemetry for the control plane: what it does with them, on the engine's loop.

``AgentPlane`` joins ``engine/extensions.py`` (the Extensions API and the extension processes) and
``engine/telemetry.py`` (subscriptions and deliveries) to the environments: it launches a function's external
extensions before its runtime (``launch``, called by the spawner), routes every Extensions/Telemetry/Logs API
call (``on_agent``), emits the Telemetry API's records in Lambda's order (``platform.initStart`` →
``platform.extension`` → ``platform.telemetrySubscription`` → ``platform.initRuntimeDone`` →
``platform.initReport`` → ``platform.start`` → ``platform.runtimeDone`` → ``platform.report``, with the
``function`` and ``extension`` log lines; a SnapStart restore's ``platform.restoreStart`` →
``platform.restoreRuntimeDone`` → ``platform.restoreReport`` in place of the init's three), turns what
extensions do into the core's events (``ExtensionsLaunched``, ``ExtensionRegistered``, ``ExtensionsRegistered``,
``ExtensionNextRequested``, ``ExtensionErrorPosted``, ``ExtensionExited``) and performs the core's effects for
them (``StartRuntime``, ``DeliverExtensionEvent``, ``SignalRuntime``): every rule (when init ends, when an
environment may freeze, the graceful shutdown's order and deadlines) is the core's. It keeps the Lab's table of
every telemetry record (``rows``, ``lab.telemetry()``). Functions without extensions pay one ``is None`` test per
phase; their platform records are derived from their log streams when the table is read.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdalab.core.effects import DeliverExtensionEvent, SignalRuntime, StartRuntime
from lambdalab.core.events import (
    Event,
    ExtensionErrorPosted,
    ExtensionExited,
    ExtensionNextRequested,
    ExtensionRegistered,
    ExtensionsLaunched,
    ExtensionsRegistered,
    Invocation,
)
from lambdalab.core.lifecycle import State, allows
from lambdalab.core.records import (
    InitReport,
    InitStart,
    LogEntry,
    RestoreReport,
    RestoreStart,
)
from lambdalab.engine import http_server, mounts
from lambdalab.engine.environment import EngineEnvironment
from lambdalab.engine.extensions import PREFIX, Agent, Extensions, error_body
from lambdalab.engine.jsonlogs import JsonLogs
from lambdalab.engine.platform_records import KINDS, builder, entry_record, restore_done, runtime_done, stream_rows
from lambdalab.engine.telemetry import LOGS_PATH, TELEMETRY_PATH, Telemetry

MAX_ROWS = 100_000


class AgentPlane:
    """One Lab's extensions and telemetry."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        now: Callable[[], float],
        dispatch: Callable[[Event], None],
        environments: dict[str, EngineEnvironment],
    ) -> None:
        self.loop = loop
        self.now = now
        self.dispatch = dispatch
        # (time, type, record, environment id, function, version): every record, for lab.telemetry()
        self.rows: collections.deque[tuple[float, str, Any, str, str, str]] = collections.deque(maxlen=MAX_ROWS)
        self.environments: set[str] = set()  # the ones whose records are live here (the rest: from their streams)
        self.environments_by_id = environments  # the control plane's table
        self._starts: dict[str, tuple[int, Callable[[], bool]]] = {}  # environment -> its runtime's start
        self._restoring: dict[str, int] = {}  # environment -> the restored incarnation whose restoreReport is due

    # -- starting -------------------------------------------------------------------------------
    def _setup(self, environment: EngineEnvironment, incarnation: int) -> Extensions:
        """The incarnation's registry and telemetry (made at its launch, or at an internal extension's register)."""
        extensions = environment.extensions
        if extensions is not None and extensions.incarnation == incarnation:
            return extensions
        telemetry = environment.telemetry
        if telemetry is not None:
            telemetry.close()
        spec = environment.pool.spec
        key = (environment.id, spec.function, spec.version)
        rows = self.rows

        def sink(at: float, kind: str, record: Any) -> None:
            rows.append((at, kind, record, *key))

        telemetry = Telemetry(environment.address, sink, self.now)
        environment.telemetry = telemetry
        self.environments.add(environment.id)
        extensions = Extensions(environment, incarnation, self)
        environment.extensions = extensions
        environment.output_tap = self._tap(telemetry, "function")
        core = environment.pool.environments.get(environment.id)
        restoring = core is not None and core.state is State.RESTORING
        entry: LogEntry | None = environment.restore_start if restoring else environment.init_start
        if entry is not None:
            self._platform(environment, entry)
        return extensions

    def launch(
        self,
        environment: EngineEnvironment,
        incarnation: int,
        files: list[Path],
        env_vars: dict[str, str],
        *,
        opt: str,
        marker: str,
        reaper: Any,
        start_runtime: Callable[[], bool],
    ) -> None:
        """``LaunchExtensions``: start the external extensions; the runtime at ``StartRuntime`` (``start_runtime``)."""
        extensions = self._setup(environment, incarnation)
        telemetry = environment.telemetry
        assert telemetry is not None
        self._starts[environment.id] = (incarnation, start_runtime)
        writer = environment.output_writer(self._tap(telemetry, "extension"))
        failed = extensions.launch(
            files, env_vars, namespaced=mounts.used(), opt=opt, marker=marker, reaper=reaper, on_output=writer
        )
        self.loop.call_soon(self._launched, environment, incarnation, len(files), failed)

    def _launched(self, environment: EngineEnvironment, incarnation: int, count: int, failed: str | None) -> None:
        self._send(environment, incarnation, ExtensionsLaunched(environment.id, incarnation, self.now(), count))
        if failed is not None:  # none runs: the init fails with RAPID's type (Extension.LaunchError)
            exited = ExtensionExited(environment.id, incarnation, self.now(), "", 127, failed)
            self._send(environment, incarnation, exited)

    def start_runtime(self, effect: StartRuntime) -> None:
        """``StartRuntime``: every external extension registered; the runtime starts."""
        pending = self._starts.pop(effect.environment_id, None)
        if pending is not None and pending[0] == effect.incarnation:
            pending[1]()

    def _send(self, environment: EngineEnvironment, incarnation: int, event: Event) -> bool:
        """``event`` to the core if it is about the current incarnation and legal in its state (else dropped)."""
        core = environment.pool.environments.get(environment.id)
        if core is None or core.incarnation != incarnation or not allows(core.state, type(event)):
            return False
        self.dispatch(event)
        return True

    # -- what the extensions report (engine/extensions.py's Reporter) ---------------------------
    def registered(self, extensions: Extensions, agent: Agent) -> None:
        environment, incarnation = extensions.environment, extensions.incarnation
        if environment.telemetry is not None:
            record = {"name": agent.name, "state": "Ready", "events": sorted(agent.events)}
            environment.telemetry.emit(self.now(), "platform.extension", record)
        event = ExtensionRegistered(
            environment.id,
            incarnation,
            self.now(),
            agent.identifier,
            agent.name,
            tuple(sorted(agent.events)),
            not agent.external,
        )
        self._send(environment, incarnation, event)
        if agent.external and extensions.all_registered:
            self._send(environment, incarnation, ExtensionsRegistered(environment.id, incarnation, self.now()))
            if environment.id in self._restoring:  # the restored runtime asked for next before they all registered
                self._restore_ready(environment)

    def parked(self, extensions: Extensions, agent: Agent) -> None:
        environment, incarnation = extensions.environment, extensions.incarnation
        event = ExtensionNextRequested(environment.id, incarnation, self.now(), agent.identifier)
        self._send(environment, incarnation, event)

    def error(self, extensions: Extensions, agent: Agent, error_type: str, kind: str) -> None:
        environment, incarnation = extensions.environment, extensions.incarnation
        event = ExtensionErrorPosted(environment.id, incarnation, self.now(), agent.identifier, error_type, kind)
        self._send(environment, incarnation, event)

    def exited(self, extensions: Extensions, agent: Agent, code: int) -> None:
        environment, incarnation = extensions.environment, extensions.incarnation
        event = ExtensionExited(environment.id, incarnation, self.now(), agent.identifier, code)
        self._send(environment, incarnation, event)

    # -- the core's effects -------------------------------------------------------------------------
    def deliver_event(self, effect: DeliverExtensionEvent) -> None:
        """``DeliverExtensionEvent``: INVOKE (as the invoke starts) or SHUTDOWN (once the runtime has gone)."""
        environment = self.environments_by_id.get(effect.environment_id)
        extensions = environment.extensions if environment is not None else None
        if environment is None or extensions is None:
            return
        deadline_ms = int(effect.deadline_at * 1000)
        invocation = effect.invocation
        if effect.event_type == "INVOKE" and invocation is not None:
            options = invocation.options if isinstance(invocation.options, dict) else {}
            trace = options.get("trace_id") or trace_header(invocation)
            extensions.invoke(invocation.request_id, deadline_ms, invocation.invoked_arn, trace)
        elif effect.event_type == "SHUTDOWN":
            extensions.kill_unsubscribed()
            reason = effect.shutdown_reason or "spindown"
            extensions.send("SHUTDOWN", {"eventType": "SHUTDOWN", "deadlineMs": deadline_ms, "shutdownReason": reason})

    def signal_runtime(self, effect: SignalRuntime, loop_time: Callable[[float], float]) -> None:
        """``SignalRuntime``: SIGTERM to the runtime's process group; SIGKILL at ``kill_at`` if it still runs.

        A graceful shutdown begins: what telemetry holds is sent now, before any extension gets SHUTDOWN."""
        environment = self.environments_by_id.get(effect.environment_id)
        if environment is None:
            return
        if environment.telemetry is not None:
            environment.telemetry.flush()
        extensions = environment.extensions
        if extensions is not None:
            extensions.shutting_down = True
        sandbox = environment.sandboxes.get(effect.incarnation)
        if sandbox is None or sandbox.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(sandbox.pid, getattr(signal, effect.signal))
        if effect.kill_at:
            self.loop.call_at(loop_time(effect.kill_at), _kill_if_running, sandbox)

    def _tap(self, telemetry: Telemetry, kind: str) -> Callable[[bytes], None]:
        pending = bytearray()

        def tap(data: bytes) -> None:
            pending.extend(data)
            *lines, rest = pending.split(b"\n")
            pending[:] = rest
            at = self.now()
            for line in lines:
                telemetry.emit(at, kind, line.decode("utf-8", "replace"))

        return tap

    # -- the APIs -------------------------------------------------------------------------------
    def on_agent(
        self,
        environment: EngineEnvironment,
        incarnation: int,
        connection: http_server.Connection,
        method: bytes,
        url: str,
        headers: dict[bytes, str],
        body: bytes,
    ) -> None:
        core = environment.pool.environments.get(environment.id)
        if not url or core is None or core.incarnation != incarnation:
            connection.send(403, b'{"errorType":"Extension.InvalidExtensionState","errorMessage":"environment gone"}')
            return
        extensions = environment.extensions
        if extensions is None or extensions.incarnation != incarnation:
            if not (url.startswith(PREFIX) and core.state in (State.STARTING, State.INITIALIZING)):
                connection.send(
                    403, error_body("Extension.RegistrationClosed", "Extension registration closed already")
                )
                return
            extensions = self._setup(environment, incarnation)
        if url in (TELEMETRY_PATH, LOGS_PATH):
            if method != b"PUT":
                connection.send(405, http_server.NOT_FOUND)
                return
            agent = extensions.by_id.get(headers.get(b"lambda-extension-identifier", ""))
            if agent is None:
                message = b'{"errorType":"Extension.UnknownExtensionIdentifier","errorMessage":"Unknown extension"}'
                connection.send(403, message)
                return
            telemetry = environment.telemetry
            assert telemetry is not None
            connection.send(*telemetry.subscribe(agent.name, body, logs_api=url == LOGS_PATH))
            return
        extensions.handle(connection, method, url, headers, body)

    def runtime_next(self, environment: EngineEnvironment, state: State) -> None:
        """The runtime asked for more: registration closes; ``initRuntimeDone`` or ``runtimeDone``."""
        extensions, telemetry = environment.extensions, environment.telemetry
        if extensions is None or telemetry is None:
            return
        now = self.now()
        if state is State.RESTORING:
            telemetry.emit(now, "platform.restoreRuntimeDone", {"status": "success"})
            self._restoring[environment.id] = extensions.incarnation
            self._restore_ready(environment)
            return
        if state is State.INITIALIZING:
            extensions.registration_open = False
            telemetry.emit(
                now,
                "platform.initRuntimeDone",
                {"initializationType": self._init_type(environment), "phase": "init", "status": "success"},
            )
            extensions.when_ready(lambda: self._init_ready(environment))
            return
        if state is State.FINISHING:
            environment.runtime_done_at = now
            args = (
                environment.pool.environments[environment.id].last_request,
                environment.response_status,
                environment.invoke_at,
                environment.response_at or now,
                now,
                environment.response_bytes,
            )
            if telemetry.listening:
                telemetry.emit(now, "platform.runtimeDone", runtime_done(*args))
            else:  # built when the table is read: nobody listens
                telemetry.defer(now, "platform.runtimeDone", functools.partial(runtime_done, *args))

    def _init_ready(self, environment: EngineEnvironment) -> None:
        """Init is over (the runtime and every extension wait on next): ``platform.initReport``; subscriptions close."""
        telemetry, entry = environment.telemetry, environment.init_start
        if telemetry is None:
            return
        telemetry.init_done()
        now = self.now()
        started = entry.at if entry is not None else now
        record = {
            "initializationType": self._init_type(environment),
            "phase": "init",
            "status": "success",
            "metrics": {"durationMs": round((now - started) * 1000.0, 3)},
        }
        telemetry.emit(now, "platform.initReport", record)

    def _restore_ready(self, environment: EngineEnvironment) -> None:
        """The restored runtime asked for next: ``platform.restoreReport`` once every extension (launched afresh)
        registered and waits on next, when the core's Restore Duration ends too; subscriptions close."""
        extensions = environment.extensions
        if extensions is None or self._restoring.get(environment.id) != extensions.incarnation:
            return
        if not extensions.all_registered:
            return  # ``registered`` calls again after the last external one
        if not extensions.ready():
            extensions.when_ready(lambda: self._restore_ready(environment))
            return
        del self._restoring[environment.id]
        extensions.registration_open = False
        telemetry, entry = environment.telemetry, environment.restore_start
        if telemetry is None:
            return
        telemetry.init_done()
        now = self.now()
        started = entry.at if entry is not None else now
        record = {"status": "success", "metrics": {"durationMs": round((now - started) * 1000.0, 3)}}
        telemetry.emit(now, "platform.restoreReport", record)

    @staticmethod
    def _init_type(environment: EngineEnvironment) -> str:
        render = environment.stream.render
        if isinstance(render, JsonLogs):
            return render.initialization_type
        core = environment.pool.environments.get(environment.id)  # gone: the environment has just ended
        return "on-demand" if core is None else core.init_type

    # -- phases ---------------------------------------------------------------------------------
    def invoke_started(self, environment: EngineEnvironment) -> None:
        """An invoke is delivered (its ``platform.runtimeDone`` is timed from here)."""
        environment.invoke_at = self.now()
        environment.response_at, environment.response_bytes, environment.response_status = 0.0, 0, "success"

    def log(self, environment: EngineEnvironment, entry: LogEntry) -> None:
        """A platform log entry: its telemetry record, where extensions or subscribers are."""
        if type(entry) is InitStart:
            environment.init_start = entry
        elif type(entry) is RestoreStart:  # before the restore's extensions launch: sent at their setup
            environment.restore_start = entry
            return
        if environment.telemetry is not None and environment.extensions is not None:
            self._platform(environment, entry)

    def _platform(self, environment: EngineEnvironment, entry: LogEntry) -> None:
        telemetry = environment.telemetry
        assert telemetry is not None
        if type(entry) is InitReport:
            if entry.status.value == "success":
                return  # sent at init's end (``_init_ready``), as Lambda always does
            done = {
                "initializationType": self._init_type(environment),
                "phase": entry.phase,
                "status": entry.status.value,
            }
            if entry.error_type:
                done["errorType"] = entry.error_type
            telemetry.emit(entry.at, "platform.initRuntimeDone", done)
        elif type(entry) is RestoreReport:  # a failed restore: the runtime never asked for next
            self._restoring.pop(environment.id, None)
            telemetry.emit(entry.at, "platform.restoreRuntimeDone", restore_done(entry))
        kind = KINDS.get(type(entry))
        if kind is None:
            return
        done_at, environment.runtime_done_at = environment.runtime_done_at, 0.0
        if telemetry.listening:
            telemetry.emit(entry.at, kind, entry_record(builder(environment), entry, done_at))
        else:  # built when the table is read: nobody listens
            telemetry.defer(entry.at, kind, functools.partial(entry_record, builder(environment), entry, done_at))

    # -- the table ------------------------------------------------------------------------------
    def table(self, environments: list[EngineEnvironment]) -> list[tuple[float, str, Any, str, str, str]]:
        """Every telemetry record, oldest first: live ones, and those of other environments from their streams."""
        rows = list(self.rows)
        read: set[int] = set()  # the workers of a Managed Instances environment share one stream: read once
        for environment in environments:
            if environment.id in self.environments or id(environment.stream) in read:
                continue
            read.add(id(environment.stream))
            rows += stream_rows(environment)
        rows = [(r[0], r[1], r[2]() if callable(r[2]) else r[2], *r[3:]) for r in rows]
        rows.sort(key=lambda row: row[0])
        return rows


def trace_header(invocation: Invocation) -> str:
    """The X-Ray trace header the runtime gets for ``invocation`` (as ``runtimes.next_headers`` derives it)."""
    rid = invocation.request_id.replace("-", "")
    return f"Root=1-{int(invocation.submitted):08x}-{rid[:24]};Parent={rid[-16:]};Sampled=0;Lineage=1:{rid[:8]}:0"


def _kill_if_running(sandbox: Any) -> None:
    if sandbox.returncode is None:
        sandbox.kill()
