"""The Extensions API (``/2020-01-01/extension/*``) of one environment incarnation, and its extension processes.

As Lambda's RAPID does it: every executable in the function's merged ``/opt/extensions`` (its layers') is an
*external* extension, started as its own process before the runtime (inside the environment's cgroups and
mount namespace, through the launcher, with the function's variables, ``AWS_LAMBDA_RUNTIME_API`` and a
``PATH`` on the base interpreter's folder, never the owner's venv), named by its file name. The runtime
starts once every external one has registered; one that exits first, posts ``init/error`` or cannot start
fails the init (``Extension.Crash``, ``Extension.InitError``, ``Extension.LaunchError``). Any other name that
registers while registration is open is an *internal* extension (a thread of the runtime, or one started by
``AWS_LAMBDA_EXEC_WRAPPER``), which may not take ``SHUTDOWN``. At most ten extensions. Registration closes at
the runtime's first ``/next``; init ends, and later every invoke ends, only when the runtime *and* every
registered extension wait on ``event/next``: until then the environment is neither frozen nor done, and its
time is billed. Those rules, and the graceful shutdown (SIGTERM to the runtime, 300 ms or 500 ms, ``SHUTDOWN``
with ``deadlineMs`` and ``shutdownReason`` to the subscribed external extensions, SIGKILL at 2,000 ms), are the
core's (``core/lifecycle.py``): this module serves the routes, runs the processes and reports what they do
(``Reporter``); ``engine/agent_plane.py`` turns the reports into the core's events and performs its effects.

Routes, status codes, headers and 403 bodies are RAPID's (``rapi/handler/agent*.go``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from lambdalab.engine import http_server
from lambdalab.engine.limits import descendants
from lambdalab.engine.runtimes import entrypoint_problem
from lambdalab.engine.sandbox import Sandbox, marked_environment

if TYPE_CHECKING:
    from lambdalab.engine.environment import EngineEnvironment

PREFIX: Final = "/2020-01-01/extension"
REGISTER_PATH: Final = PREFIX + "/register"
NEXT_PATH: Final = PREFIX + "/event/next"
INIT_ERROR_PATH: Final = PREFIX + "/init/error"
EXIT_ERROR_PATH: Final = PREFIX + "/exit/error"
H_NAME: Final = b"lambda-extension-name"
H_IDENTIFIER: Final = b"lambda-extension-identifier"
H_ACCEPT_FEATURE: Final = b"lambda-extension-accept-feature"
H_ERROR_TYPE: Final = b"lambda-extension-function-error-type"
MAX_EXTENSIONS: Final = 10  # RAPID's core.MaxAgentsAllowed
EVENTS: Final = ("INVOKE", "SHUTDOWN")
ACCEPTED: Final = b'{"status":"OK"}'


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def extension_files(paths: Any) -> list[Path]:
    """The external extensions of a merged ``/opt`` (a folder, or ``RuntimePaths`` with one): its ``extensions/``
    files, by name (RAPID's order)."""
    opt = getattr(paths, "opt", paths)
    if not opt:
        return []
    folder = Path(opt) / "extensions"
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [folder / n for n in names if (folder / n).is_file()]


def base_bin() -> str:
    """The base interpreter's folder (``python3`` for ``#!/usr/bin/env python3``), never a venv's: an extension
    sees the packages it brings, not the owner's."""
    return str(Path(sys.base_prefix) / "bin")


def variables(runtime_vars: Mapping[str, str], layer_bin: tuple[str, ...]) -> dict[str, str]:
    """An extension's environment: the runtime's (Lambda's and the function's variables) without what only the
    runtime reads, ``PATH`` on the layers' ``bin``, the base interpreter's folder and the system's."""
    out = {k: v for k, v in runtime_vars.items() if k != "_HANDLER" and not k.startswith("_LAMBDALAB")}
    out.pop("PYTHONPATH", None)
    out.pop("NODE_PATH", None)
    out["PATH"] = os.pathsep.join([*layer_bin, base_bin(), "/usr/local/bin", "/usr/bin", "/bin"])
    return out


@dataclass
class Agent:
    """One extension: launched (external) and/or registered."""

    name: str
    external: bool
    identifier: str = ""
    events: frozenset[str] = frozenset()
    registered: bool = False
    sandbox: Sandbox | None = None
    parked: http_server.Connection | None = None
    pending: list[bytes] = field(default_factory=list)
    busy: bool = False  # took an event and has not asked for the next yet
    error_type: str | None = None  # posted through init/error or exit/error
    error_kind: str = ""  # "init" | "exit"
    exited: int | None = None


class Extensions:
    """The extensions of one incarnation: processes, registry, events, readiness, graceful shutdown."""

    def __init__(self, environment: EngineEnvironment, incarnation: int, report: Reporter) -> None:
        """``report``: where the facts go (the control plane turns them into the core's events)."""
        self.environment = environment
        self.incarnation = incarnation
        self.agents: dict[str, Agent] = {}  # by name
        self.by_id: dict[str, Agent] = {}
        self.registration_open = True
        self._report = report
        self._waiters: list[Callable[[], None]] = []
        self.shutting_down = False
        self.cgroups: list[Path] = []  # the extensions' child groups of the environment's (``_subgroups``)

    # -- external extensions ------------------------------------------------------------------
    def launch(
        self,
        files: list[Path],
        env_vars: Mapping[str, str],
        *,
        namespaced: bool,
        opt: str,
        marker: str,
        reaper: Any,
        on_output: Callable[[bytes], None],
    ) -> str | None:
        """Start every file as an external extension; the error type if that failed (then none runs)."""
        environment = self.environment
        # RAPID (rapid/handlers.go doInitExtensions): an 11th external extension and one the kernel will not exec
        # (not executable, no interpreter) both fail the init with Extension.LaunchError; Extension.TooManyExtensions
        # is only the register route's 403 (an internal one past the limit)
        if len(files) > MAX_EXTENSIONS or any(entrypoint_problem(path) is not None for path in files):
            return "Extension.LaunchError"
        for k, path in enumerate(files):
            agent = Agent(path.name, external=True)
            self.agents[agent.name] = agent
            program = f"/opt/extensions/{path.name}" if namespaced else str(path)
            own_marker = f"{marker}ext/{path.name}/"
            try:
                # its own child groups of the environment's: charged to and limited by them (hierarchical), but
                # not a member the runtime's freeze scans, and frozen by one read of its own members
                groups = self._subgroups(f"ext-{self.incarnation}-{k}", reaper)
                agent.sandbox = Sandbox(
                    [program],
                    cwd=environment.code_dir,
                    env_vars=marked_environment(env_vars, own_marker),
                    on_output=on_output,
                    on_exit=self._exit_of(agent),
                    mounts=(str(environment.tmp), opt),
                    cgroups=groups,
                    shared=environment.hooks.shared,
                    hide=environment.hooks.hide,
                )
            except Exception:  # noqa: BLE001 - it never ran: Lambda's launch error
                self.kill()
                return "Extension.LaunchError"
            agent.sandbox.guard(reaper, groups, own_marker)
        return None

    def _subgroups(self, name: str, reaper: Any) -> list[Path]:
        made = []
        for parent in self.environment.cgroups:
            path = parent / name
            path.mkdir(exist_ok=True)
            made.append(path)
            self.cgroups.append(path)
            if reaper is not None:
                reaper.watch_cgroup(path)  # removed before its parent if the owner dies
        return made

    def remove_groups(self) -> None:
        """Remove the extensions' child groups (after their processes are gone): before the environment's own."""
        kept = []
        for path in self.cgroups:
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                kept.append(path)
        self.cgroups = kept

    def pids(self) -> Iterator[int]:
        """The extensions' processes: each launched one, then its groups' members, then its descendants (a
        connection is accepted from any of them: ``RuntimeEndpoint.on_connect``)."""
        roots = [a.sandbox.pid for a in self.agents.values() if a.sandbox is not None and a.exited is None]
        yield from roots
        for path in self.cgroups[:: max(1, len(self.environment.cgroups))]:  # one controller's groups suffice
            with contextlib.suppress(OSError, ValueError):
                yield from (int(p) for p in (path / "cgroup.procs").read_text().split())
        for root in roots:
            yield from descendants(root)

    @property
    def external(self) -> list[Agent]:
        return [a for a in self.agents.values() if a.external]

    @property
    def has_internal(self) -> bool:
        return any(not a.external and a.registered for a in self.agents.values())

    def _exit_of(self, agent: Agent) -> Callable[[int], None]:
        return lambda code: self._exited(agent, code)

    def _exited(self, agent: Agent, code: int) -> None:
        agent.exited = code
        if agent.parked is not None:
            agent.parked = None
        if all(a.exited is not None for a in self.agents.values() if a.sandbox is not None):
            self.remove_groups()
        self._report.exited(self, agent, code)
        self._notify()

    @property
    def all_registered(self) -> bool:
        return all(a.registered for a in self.external)

    # -- the routes -----------------------------------------------------------------------------
    def handle(
        self, connection: http_server.Connection, method: bytes, url: str, headers: dict[bytes, str], body: bytes
    ) -> None:
        """One Extensions API request: answered now, or (``event/next``) parked."""
        if url == NEXT_PATH and method == b"GET":
            self._next(connection, headers)
            return
        if method != b"POST":
            connection.send(405 if url.startswith(PREFIX) else 404, http_server.NOT_FOUND)
            return
        if url == REGISTER_PATH:
            status, answer, extra = self._register(headers, body)
            connection.send(status, answer, extra)
            return
        if url in (INIT_ERROR_PATH, EXIT_ERROR_PATH):
            status, answer = self._error(headers, "init" if url == INIT_ERROR_PATH else "exit")
            connection.send(status, answer)
            return
        connection.send(404, http_server.NOT_FOUND)

    def _register(self, headers: dict[bytes, str], body: bytes) -> tuple[int, bytes, bytes]:
        name = headers.get(H_NAME, "")
        if not name:
            return 403, error_body("Extension.InvalidExtensionName", "Empty extension name"), b""
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            return 403, error_body("InvalidRequestFormat", "Invalid request body"), b""
        if "configurationKeys" in request:
            message = "configurationKeys are deprecated; use environment variables instead"
            return 403, error_body("InvalidRequestFormat", message), b""
        events = request.get("events") or []
        if not isinstance(events, list) or any(e not in EVENTS for e in events):
            return 403, error_body("Extension.InvalidEventType", f"Invalid event types: {events}"), b""
        if not self.registration_open:
            return 403, error_body("Extension.RegistrationClosed", "Extension registration closed already"), b""
        agent = self.agents.get(name)
        if agent is not None and agent.registered:
            return (
                403,
                error_body("Extension.InvalidExtensionState", "Extension with this name already registered"),
                b"",
            )
        if agent is None:
            if len(self.agents) >= MAX_EXTENSIONS:
                return (
                    403,
                    error_body("Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached"),
                    b"",
                )
            if "SHUTDOWN" in events:  # RAPID's errEventNotSupportedForInternalAgent
                message = f"SHUTDOWN event is not supported for internal extension {name}"
                return 403, error_body("Extension.InvalidEventType", message), b""
            agent = Agent(name, external=False)
            self.agents[name] = agent
        agent.identifier = str(uuid.uuid4())
        agent.events = frozenset(events)
        agent.registered = True
        agent.busy = True  # until its first event/next
        self.by_id[agent.identifier] = agent
        self._report.registered(self, agent)
        environment = self.environment
        spec = environment.pool.spec
        answer: dict[str, str] = {
            "functionName": environment.config.name,
            "functionVersion": spec.version,
            "handler": environment.config.full_handler,
        }
        if headers.get(H_ACCEPT_FEATURE, "") == "accountId":
            answer["accountId"] = environment.account_id
        return 200, json.dumps(answer).encode(), b"Lambda-Extension-Identifier: %s\r\n" % agent.identifier.encode()

    def _agent(self, headers: dict[bytes, str]) -> tuple[Agent | None, tuple[int, bytes] | None]:
        identifier = headers.get(H_IDENTIFIER, "")
        if not identifier:
            return None, (
                403,
                error_body("Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"),
            )
        try:
            uuid.UUID(identifier)
        except ValueError:
            return None, (
                403,
                error_body("Extension.InvalidExtensionIdentifier", f"Invalid extension identifier {identifier}"),
            )
        agent = self.by_id.get(identifier)
        if agent is None:
            return None, (403, error_body("Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}"))
        return agent, None

    def _next(self, connection: http_server.Connection, headers: dict[bytes, str]) -> None:
        agent, rejected = self._agent(headers)
        if agent is None:
            assert rejected is not None
            connection.send(*rejected)
            return
        if agent.pending:
            self._answer(agent, connection, agent.pending.pop(0))
            return
        agent.parked = connection
        agent.busy = False
        self._notify()  # the phase's telemetry report (initReport, restoreReport) before the core moves on
        self._report.parked(self, agent)

    def _answer(self, agent: Agent, connection: http_server.Connection, event: bytes) -> None:
        agent.busy = True
        head = b"Lambda-Extension-Event-Identifier: %s\r\n" % str(uuid.uuid4()).encode()
        connection.send(200, event, head)

    def _error(self, headers: dict[bytes, str], kind: str) -> tuple[int, bytes]:
        agent, rejected = self._agent(headers)
        if agent is None:
            assert rejected is not None
            return rejected
        error_type = headers.get(H_ERROR_TYPE, "")
        if not error_type:
            return 403, error_body("Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found")
        agent.error_type, agent.error_kind = error_type, kind
        self._report.error(self, agent, error_type, kind)
        return 202, ACCEPTED

    def disconnected(self, connection: http_server.Connection) -> None:
        for agent in self.agents.values():
            if agent.parked is connection:
                agent.parked = None

    # -- events and readiness -------------------------------------------------------------------
    def ready(self) -> bool:
        """Every registered extension waits on ``event/next`` (a crashed one never will)."""
        for agent in self.agents.values():
            if agent.registered and (agent.busy or agent.parked is None or agent.pending) and agent.exited is None:
                return False
        return True

    def when_ready(self, callback: Callable[[], None]) -> None:
        """``callback()`` once every registered extension waits on next: now, or when the last one asks."""
        if self.ready():
            callback()
        else:
            self._waiters.append(callback)

    def _notify(self) -> None:
        if self._waiters and self.ready():
            waiters, self._waiters = self._waiters, []
            for callback in waiters:
                callback()

    def send(self, event_type: str, event: dict[str, Any]) -> None:
        """An event to every registered extension subscribed to it (parked now, or at its next ``next``)."""
        data = json.dumps(event).encode()
        for agent in self.agents.values():
            if event_type not in agent.events or agent.exited is not None:
                continue
            connection, agent.parked = agent.parked, None
            if connection is not None:
                self._answer(agent, connection, data)
            else:
                agent.pending.append(data)

    def invoke(self, request_id: str, deadline_ms: int, arn: str, trace: str) -> None:
        self.send(
            "INVOKE",
            {
                "eventType": "INVOKE",
                "deadlineMs": deadline_ms,
                "requestId": request_id,
                "invokedFunctionArn": arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": trace},
            },
        )

    # -- the processes -------------------------------------------------------------------------
    def kill_unsubscribed(self) -> None:
        """The runtime is gone in a graceful shutdown: extensions that did not ask for SHUTDOWN end now (RAPID)."""
        for agent in self.agents.values():
            if agent.sandbox is not None and agent.exited is None and "SHUTDOWN" not in agent.events:
                agent.sandbox.kill()

    def freeze(self) -> None:
        for agent in self.agents.values():
            if agent.sandbox is not None and agent.exited is None:
                agent.sandbox.freeze()

    def thaw(self) -> None:
        for agent in self.agents.values():
            if agent.sandbox is not None and agent.exited is None:
                agent.sandbox.thaw()

    def kill(self) -> None:
        self.shutting_down = True
        for agent in self.agents.values():
            if agent.sandbox is not None and agent.exited is None:
                agent.sandbox.kill()
            if agent.parked is not None:
                agent.parked.close()
                agent.parked = None


class Reporter(Protocol):
    """What an ``Extensions`` tells of its extensions (``engine/agent_plane.py`` makes core events of it)."""

    def registered(self, extensions: Extensions, agent: Agent) -> None: ...
    def parked(self, extensions: Extensions, agent: Agent) -> None: ...
    def error(self, extensions: Extensions, agent: Agent, error_type: str, kind: str) -> None: ...
    def exited(self, extensions: Extensions, agent: Agent, code: int) -> None: ...
