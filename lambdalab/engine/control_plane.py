"""The control plane: turns real I/O into core events and performs the core's effects.

Runs on the engine's loop thread only. It owns the functions' tables, the records and spans, the
environments (each with its sandbox, ``engine.sandbox``, its Runtime API socket, ``engine.http_server``,
its timers, its log stream and its private /tmp), and performs the effects on them; making, spawning and
removing environments is its ``Spawner``'s (``engine/spawner.py``), the asynchronous invocations' effects
(dispatch, retries, destinations) its ``AsyncEvents``' (``engine/async_events.py``). Every decision
(routing, limits, placement, state changes, retries, records, log lines) is the core's
(``core.scheduler``, ``core.async_queue``); this module only performs.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdalab import lineage, runtime_catalog, runtime_ids, tenancy
from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.async_queue import DeliverRecord, DispatchEvent, ScheduleRetry
from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverExtensionEvent,
    DeliverInvocation,
    DisarmDeadline,
    Effect,
    Freeze,
    Kill,
    LaunchExtensions,
    Log,
    Overrun,
    RecordSpan,
    RestoreRuntime,
    Retire,
    ScheduleWakeup,
    SignalRuntime,
    SpawnRuntime,
    StartRuntime,
    TakeSnapshot,
    Thaw,
)
from lambdalab.core.events import Event, Invocation, WakeupDue
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive, HybridHistogramKeepAlive, KeepAlivePolicy
from lambdalab.core.lifecycle import EnvironmentSpec, State
from lambdalab.core.limits import CAPACITY_REASON, THROTTLE_MESSAGE
from lambdalab.core.records import End, InitReport, InitStart, InvocationRecord, PhaseSpan, Start, throttled_record
from lambdalab.core.scheduler import LATEST, Alias, Scheduler, Throttled
from lambdalab.engine import runtimes
from lambdalab.engine.agent_plane import AgentPlane
from lambdalab.engine.async_events import AsyncEvents
from lambdalab.engine.environment import EngineEnvironment
from lambdalab.engine.extensions import extension_files
from lambdalab.engine.result import EngineResult
from lambdalab.engine.settings import LabSettings
from lambdalab.engine.snap_plane import SnapPlane
from lambdalab.engine.snapshot import Snapshots
from lambdalab.engine.spawner import Spawner
from lambdalab.engine.timers import Timers
from lambdalab.errors import (
    ConfigError,
    LabClosedError,
    RecursiveInvocationException,
    TooManyRequestsException,
    UnknownFunctionError,
)
from lambdalab.payload import request_too_large

__all__ = ["MAX_ASYNC_REQUEST_BYTES", "ControlPlane", "EngineResult", "LabSettings"]

_DRAIN_BEFORE = (End, InitReport, InitStart)
MANAGED_INSTANCES_INIT_TIMEOUT_S = 130.0  # a Managed Instances worker's init: max(130 s, the function's timeout)
# lambdalab's limit (docs/FIDELITY.md): its workers are separate runtimes, each would start its own extensions
MANAGED_INSTANCES_EXTENSIONS = (
    "invalid layers: lambdalab runs Lambda Managed Instances functions (max_concurrency_per_environment) without "
    "external extensions (/opt/extensions); drop the extension layer or max_concurrency_per_environment"
)
_log = logging.getLogger("lambdalab")
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024


def _uuid4() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` makes it, in a third of its time."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


class ControlPlane:
    """Everything that happens on the engine's loop."""

    def __init__(self, workdir: Path, settings: LabSettings, lab_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.settings = settings
        self.workdir = workdir
        self._offset = time.time() - self.loop.time()
        self._ids = IdFactory(os.urandom(16).hex())
        self.scheduler = Scheduler(settings.limits, self._ids.next_environment_id)
        self.async_events = AsyncEvents(
            self.loop,
            self._offset,
            retry_delay_scale=settings.retry_delay_scale,
            destination_bound=min(10_000, settings.max_records),
            arn=self.arn,
            now=self.now,
            perform=self.perform,
            start_invoke=self.start_invoke,
            scheduler=self.scheduler,
        )
        self.queue = self.async_events.queue
        self.destinations = self.async_events.destinations  # function -> its on-success / on-failure records
        self.configs: dict[str, FunctionConfig] = {}  # function -> $LATEST config
        self.code: dict[tuple[str, str], tuple[FunctionConfig, Path]] = {}  # (function, code hash)
        # (function, published version) -> its settings and code as published: a later $LATEST change with the same
        # code must not reach them (Lambda's versions are immutable)
        self.versions: dict[tuple[str, str], tuple[FunctionConfig, Path]] = {}
        self.paths: dict[tuple[str, str], runtimes.RuntimePaths] = {}  # what that code imports besides itself
        self.environments: dict[str, EngineEnvironment] = {}
        self.records: collections.deque[InvocationRecord] = collections.deque(maxlen=settings.max_records)
        self.spans: collections.deque[PhaseSpan] = collections.deque(maxlen=3 * settings.max_records)
        self._waiters: dict[str, asyncio.Future[EngineResult]] = {}
        self._log_starts: dict[str, int] = {}
        self._arns: dict[tuple[str, str | None], str] = {}
        # recursive loops stopped (lineage.py): one row each, newest last; the (function, source) pairs logged once
        self.recursion_notices: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._noticed: set[tuple[str, str]] = set()
        self.lineages = lineage.Lineages()  # each invocation's place in its chain: every function's count on the path
        self.agents = AgentPlane(self.loop, self.now, self.dispatch, self.environments)  # extensions, telemetry
        self.spawner = Spawner(
            self.loop,
            settings,
            workdir,
            lab_id,
            now=self.now,
            dispatch=self.dispatch,
            code=self.code,
            versions=self.versions,
            paths=self.paths,
            registry=self.scheduler.registry,
            environments=self.environments,
            agents=self.agents,
        )
        self.snap = SnapPlane(
            self.loop,
            self.now,
            self.dispatch,
            self.environments,
            Snapshots(
                workdir=workdir,
                limits=self.spawner.limits,
                reaper=self.spawner.reaper,
                hide=str(self.spawner.environments_dir),
            ),
        )
        self.spawner.snap = self.snap
        self.spawner.hooks = dataclasses.replace(self.spawner.hooks, rebind=self._rebind)
        # the shared resources, as the facade and the read-only views know them
        self.limits, self.fd_budget, self.reaper = self.spawner.limits, self.spawner.fd_budget, self.spawner.reaper
        self.marker, self.spares, self.hooks = self.spawner.marker, self.spawner.spares, self.spawner.hooks
        self.closed = False
        self.timers = Timers(
            self.loop,
            self._offset,
            self.environments,
            init_timeout_s=settings.init_timeout_s,
            dispatch=self.dispatch,
            wake=self._wake,
            debugging=lambda: self.spawner.debugging,
            closed=lambda: self.closed,
        )
        self._perform_table: dict[type[Effect], Callable[[Any], None]] = {
            SpawnRuntime: self.spawner.spawn,
            DeliverInvocation: self._deliver,
            Freeze: self._freeze,
            Thaw: self._thaw,
            ArmDeadline: self.timers.arm,
            DisarmDeadline: self.timers.disarm,
            Kill: self._kill,
            RecordSpan: self._record_span,
            Log: self._log,
            Retire: self.spawner.retire,
            ScheduleWakeup: self.timers.schedule_wakeup,
            ScheduleRetry: self.async_events.schedule_retry,
            DispatchEvent: self.async_events.dispatch_event,
            DeliverRecord: self.async_events.deliver_record,
            LaunchExtensions: self.spawner.launch_extensions,
            StartRuntime: self.agents.start_runtime,
            DeliverExtensionEvent: self.agents.deliver_event,
            SignalRuntime: self._signal_runtime,
            TakeSnapshot: self.snap.take_snapshot,
            RestoreRuntime: self._restore,
            Overrun: _overrun,
        }

    def now(self) -> float:
        """The engine clock: epoch seconds that never go backwards."""
        return self.loop.time() + self._offset

    # -- functions ------------------------------------------------------------------------------
    def deploy(
        self, config: FunctionConfig, code_dir: Path, code_sha: str, paths: runtimes.RuntimePaths | None = None
    ) -> None:
        """Register a function, or replace its code/config: old environments retire."""
        self._check_open()
        try:
            self.scheduler.check_reservation(config.name, config.reserved_concurrency)
        except ValueError as exc:
            raise ConfigError(f"invalid reserved_concurrency: {exc}") from None
        known = paths if paths is not None else self.paths.get((config.name, code_sha))
        if config.max_concurrency_per_environment is not None and extension_files(known):
            raise ConfigError(MANAGED_INSTANCES_EXTENSIONS)
        self.code[(config.name, code_sha)] = (config, code_dir)
        if paths is not None:
            self.paths[(config.name, code_sha)] = paths
        self.configs[config.name] = config
        self.async_events.add_function(config.name)
        now = self.now()
        self.perform(self.scheduler.deploy(self._spec(config, LATEST, code_sha), self._keep_alive(config), now))
        self.scheduler.reserve(config.name, config.reserved_concurrency)
        self.perform(self.scheduler.provision(config.name, LATEST, config.provisioned_concurrency, now))

    def _spec(self, config: FunctionConfig, version: str, code_sha: str) -> EnvironmentSpec:
        # Lambda's identifier where the short name does not say the version (INIT_START names it)
        runtime = (
            config.runtime
            if runtime_ids.language(config.runtime) == "python"
            else runtime_catalog.resolve(config.runtime).identifier
        )
        return EnvironmentSpec(
            config.name,
            version,
            runtime,
            config.memory_mb,
            config.timeout_s,
            config.freeze and config.debug is False,  # a stopped debugpy could not answer an attach (engine/debug.py)
            self._init_timeout_s(config),
            code=code_sha,
            extensions=len(extension_files(self.paths.get((config.name, code_sha)))),
            per_environment=config.max_concurrency_per_environment or 0,  # Managed Instances: workers per environment
            max_environments=config.max_environments,
            min_environments=config.prestarted_environments,  # Managed Instances: started now, kept (core/groups.py)
            tenancy=config.tenancy is not None,  # tenant isolation: environments are never shared across tenants
        )

    def _init_timeout_s(self, config: FunctionConfig) -> float:
        """The init phase's limit: the Lab's (Lambda's 10 s); a Managed Instances worker's is the larger of 130 s and
        the function's timeout (AWS docs, "Understanding the Lambda Managed Instances execution environment")."""
        if config.max_concurrency_per_environment is None:
            return self.settings.init_timeout_s
        return max(self.settings.init_timeout_s, MANAGED_INSTANCES_INIT_TIMEOUT_S, config.timeout_s)

    def _keep_alive(self, config: FunctionConfig) -> KeepAlivePolicy:
        seconds = self.settings.keep_alive_s if config.keep_alive_s is None else config.keep_alive_s
        if self.settings.keep_alive_policy == "hybrid":
            return HybridHistogramKeepAlive(fallback_s=seconds)
        return FixedKeepAlive(seconds)

    def publish(self, name: str) -> str:
        """Publish $LATEST as a version; a SnapStart function's version takes its snapshot now (``snapshot_state``)."""
        self.function(name)
        config = self.configs[name]
        sha = self.scheduler.pool(name, LATEST).spec.code
        version = self.scheduler.publish(name, lambda v: self._spec(config, v, sha), self._keep_alive(config))
        self.versions[(name, version)] = (config, self.code[(name, sha)][1])
        if config.snap_start and self.snap.snapshots.available():
            self.perform(self.scheduler.pool(name, version).take_snapshot(self.now()))
        self.perform(self.scheduler.prestart(name, version, self.now()))  # Managed Instances: its environments
        return version

    def version_code(self, spec: EnvironmentSpec) -> tuple[FunctionConfig, Path]:
        """What an environment of ``spec`` runs: a published version's settings and code as published, else
        those of the last deploy of that code ($LATEST's)."""
        return self.versions.get((spec.function, spec.version)) or self.code[(spec.function, spec.code)]

    def create_alias(self, name: str, alias: str, version: str, weights: dict[str, float] | None) -> None:
        self.function(name)
        try:
            self.scheduler.create_alias(name, Alias(alias, version, dict(weights or {})))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"invalid alias {alias!r}: {exc}") from None

    def provision(self, name: str, count: int, qualifier: str | None = None) -> None:
        version = self.resolve(name, qualifier)
        self.perform(self.scheduler.provision(name, version, count, self.now()))

    def kill(self, name: str, idle_only: bool = False) -> None:
        self.function(name)
        self.perform(self.scheduler.shutdown(self.now(), name, idle_only=idle_only))

    def function(self, name: str) -> FunctionConfig:
        try:
            return self.configs[name]
        except KeyError:
            raise UnknownFunctionError(f"Function not found: {self.arn(name)}") from None

    def arn(self, name: str, qualifier: str | None = None) -> str:
        arn = self._arns.get((name, qualifier))
        if arn is None:
            base = f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{name}"
            arn = f"{base}:{qualifier}" if qualifier else base
            if len(self._arns) < 10_000:  # names come from callers: the cache stays bounded
                self._arns[(name, qualifier)] = arn
        return arn

    def resolve(self, name: str, qualifier: str | None) -> str:
        self.function(name)
        try:
            return self.scheduler.resolve(name, qualifier, random.random())
        except KeyError:
            raise UnknownFunctionError(f"Function not found: {self.arn(name, qualifier)}") from None

    # -- invoking -------------------------------------------------------------------------------
    def start_invoke(
        self,
        name: str,
        payload: bytes,
        options: dict[str, str] | None = None,
        qualifier: str | None = None,
        request_id: str | None = None,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
        source: str = "invoke",
    ) -> asyncio.Future[EngineResult]:
        """Submit one synchronous invocation; the future resolves with its one outcome.

        ``tenant_id`` is the invoke's tenant (tenant isolation: ``lambdalab/tenancy.py``); ``trace_header`` the
        X-Ray trace header its caller sent (a handler's SDK call, an SQS message's ``AWSTraceHeader``), whose
        ``Lineage`` this invocation continues (``lambdalab/lineage.py``); ``source`` names the caller in a recursion
        notice. Raises ``TooManyRequestsException`` (recorded as a throttle) when a limit says no,
        ``InvalidParameterValueException`` for a tenant id the function refuses, ``RecursiveInvocationException``
        for the function's 17th invocation in one chain (recorded as a notice, ``recursion_notices``).
        """
        self._check_open()
        version = self.resolve(name, qualifier)
        if len(payload) > api.MAX_REQUEST_BYTES:
            raise request_too_large(api.MAX_REQUEST_BYTES)
        config = self.configs[name]
        if tenant_id is not None or config.tenancy is not None:
            tenancy.check_invoke(config.tenancy, tenant_id)
        if tenant_id is not None:  # the Runtime API's Lambda-Runtime-Aws-Tenant-Id (engine/runtimes.py)
            options = {**options, "tenant_id": tenant_id} if options else {"tenant_id": tenant_id}
        request_id = request_id or _uuid4()
        now = self.now()
        # counted per function (lineage.py); a new chain's header is the Runtime API's own (engine/runtimes.py)
        if trace_header is not None or not self.lineages.begin(name, request_id):
            step = self.lineages.step(trace_header, name, request_id, now)
            if lineage.stopped(step.hop, config.recursion):
                action = "on_failure" if source == "event" else "RecursiveInvocationException"
                self.note_recursion(name, qualifier, request_id, step.hop, source, action)
                raise RecursiveInvocationException(lineage.RECURSIVE_MESSAGE)
            self.lineages.keep(step)
            options = {**options, "trace_id": step.trace} if options else {"trace_id": step.trace}
        invocation = Invocation(request_id, now, payload, self.arn(name, qualifier), options, tenant_id)
        self.scheduler.spawn_slots = self.fd_budget.free()
        effects, throttled = self.scheduler.submit(name, version, invocation, now)
        if throttled is not None:
            self.perform(effects)  # Managed Instances: a new environment may start in the background
            if throttled.reason == CAPACITY_REASON:
                self.fd_budget.warn_full()
            self._record_throttle(invocation, throttled, now)
            raise TooManyRequestsException(THROTTLE_MESSAGE, throttled.reason)
        future: asyncio.Future[EngineResult] = self.loop.create_future()
        self._waiters[request_id] = future
        self.perform(effects)
        return future

    async def invoke(
        self, name: str, payload: bytes, options: dict[str, str] | None = None, qualifier: str | None = None
    ) -> EngineResult:
        return await self.start_invoke(name, payload, options, qualifier)

    def enqueue(
        self,
        name: str,
        payload: bytes,
        qualifier: str | None = None,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Accept an asynchronous (``Event``) invocation: queued at once, run and retried by the queue. A tenant id
        the function refuses is refused here (before the 202); a recursive loop is stopped when the event runs (it
        goes to the on-failure destination)."""
        self._check_open()
        self.resolve(name, qualifier)
        if len(payload) > MAX_ASYNC_REQUEST_BYTES:
            raise request_too_large(MAX_ASYNC_REQUEST_BYTES)
        config = self.configs[name]
        if tenant_id is not None or config.tenancy is not None:
            tenancy.check_invoke(config.tenancy, tenant_id)
        return self.async_events.accept(
            config, name, qualifier, payload, tenant_id=tenant_id, trace_header=trace_header
        )

    def note_recursion(
        self, name: str, qualifier: str | None, request_id: str, hop: int, source: str, action: str
    ) -> None:
        """Record (and log once per chain) that a recursive loop was stopped: Lambda's notice, here a row of
        ``recursion_notices`` and a ``lambdalab`` log warning. ``action``: what became of the request
        (``RecursiveInvocationException``, ``on_failure``, ``dead_letter``, ``dropped``)."""
        notice = {
            "time": self.now(),
            "function": name,
            "qualifier": qualifier,
            "request_id": request_id,
            "hop": hop,
            "source": source,
            "action": action,
        }
        self.recursion_notices.append(notice)
        if (name, source) not in self._noticed:
            self._noticed.add((name, source))
            _log.warning(
                "lambdalab: recursive loop detection stopped %s: its invocation %d in one request chain (Lambda stops "
                "past %d), "
                "from %s; %s. Set recursion='Allow' if the loop is intended.",
                name,
                hop,
                lineage.MAX_HOPS,
                source,
                action,
            )

    def _record_throttle(self, invocation: Invocation, throttled: Throttled, at: float) -> None:
        config = self.configs[throttled.function]
        record = throttled_record(
            request_id=invocation.request_id,
            function=throttled.function,
            version=throttled.version,
            memory_size_mb=config.memory_mb,
            reason=throttled.reason,
            at=at,
            submitted=invocation.submitted,
        )
        record.tenant_id = invocation.tenant_id  # a tenant's throttle is that tenant's row
        self.records.append(record)

    # -- events from the world ------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        """A fact from the world (a process, a timer, a Runtime API call) to the core; its answer performed."""
        self.perform(self.scheduler.handle(event))

    def perform(self, effects: list[Effect]) -> None:
        """Perform effects in order; callers are answered last, once the batch has settled."""
        table = self._perform_table
        answers = []
        for effect in effects:
            if type(effect) is CompleteInvocation:
                answers.append(effect)
            else:
                table[type(effect)](effect)
        for effect in answers:
            self._complete(effect)

    # -- effects --------------------------------------------------------------------------------
    def _deliver(self, effect: DeliverInvocation) -> None:
        environment = self.environments[effect.environment_id]
        invocation = effect.invocation
        connection, environment.parked = environment.parked, None
        if environment.extensions is not None:  # telemetry's runtimeDone is timed from here
            self.agents.invoke_started(environment)
        if connection is not None:  # else the runtime vanished; its exit event fails the invocation
            connection.send_invocation(runtimes.next_headers(invocation, effect.deadline_at), invocation.payload)

    def _freeze(self, effect: Freeze) -> None:
        self.environments[effect.environment_id].freeze()

    def _thaw(self, effect: Thaw) -> None:
        self.environments[effect.environment_id].thaw()

    def _kill(self, effect: Kill) -> None:
        self.spawner.kill(self.environments[effect.environment_id], effect.incarnation)

    def _restore(self, effect: RestoreRuntime) -> None:
        environment = self.environments.get(effect.environment_id) or self.spawner.new_environment(
            effect.environment_id
        )
        self.snap.restore(effect, environment, self.spawner.on_exit)

    def _rebind(self, environment: EngineEnvironment, client: tuple[Any, ...], server: tuple[Any, ...]) -> Any:
        """A connection to a SnapStart template's listener: the restored environment's endpoint, if it is one's."""
        if not self.snap.restored:
            return None
        return self.snap.endpoint_for(environment, client, server)

    def snapshot_state(self, name: str, version: str) -> str:
        """A SnapStart version's snapshot: ``none``, ``taking``, ``ready`` or ``failed``."""
        return self.scheduler.pool(name, version).snapshot

    def _signal_runtime(self, effect: SignalRuntime) -> None:
        self.agents.signal_runtime(effect, self._loop_time)

    def _loop_time(self, at: float) -> float:
        return at - self._offset

    def _complete(self, effect: CompleteInvocation) -> None:
        record = effect.record
        self.records.append(record)
        environment = self.environments[effect.environment_id]
        start = self._log_starts.pop(record.request_id, environment.stream.end)
        future = self._waiters.pop(record.request_id, None)
        if future is not None and not future.done():
            body = effect.body if isinstance(effect.body, bytes) else b""
            future.set_result(
                EngineResult(record, body, effect.is_error, environment.stream, start, environment.stream.end)
            )

    def _record_span(self, effect: RecordSpan) -> None:
        self.spans.append(effect.span)

    def _log(self, effect: Log) -> None:
        environment = self.environments.get(effect.environment_id) or self.spawner.new_environment(
            effect.environment_id
        )
        entry = effect.entry
        if type(entry) in _DRAIN_BEFORE:  # what the runtime wrote so far belongs before this line
            environment.drain_output()
        self.agents.log(environment, entry)
        index = environment.stream.add(entry)
        if isinstance(entry, Start):
            self._log_starts[entry.request_id] = index

    def _wake(self, key: str) -> None:
        """A pool's keep-alive wake-up is due (``Timers``)."""
        self.perform(self.scheduler.handle(WakeupDue(key, 0, self.now())))

    def telemetry(self) -> list[tuple[float, str, Any, str, str, str]]:
        """Every Telemetry API record (time, type, record, environment id, function, version), oldest first."""
        return self.agents.table(list(self.environments.values()))

    # -- closing --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise LabClosedError("this Lab is closed; create a new one")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Shut every environment down; every waiting invocation gets its one outcome."""
        if self.closed:
            return
        self.perform(self.scheduler.shutdown(self.now()))
        self.closed = True
        self.spares.close()
        self.snap.close()
        self.spawner.debugger.close_all()
        self.timers.close()
        self.async_events.close()
        deadline = self.loop.time() + timeout_s
        # a draining environment (extensions registered) keeps its SHUTDOWN grace, up to its own deadline (2 s)
        while (
            any(e.sandboxes or _draining(e) for e in self.environments.values()) or self.spares.alive
        ) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for environment in self.environments.values():
            environment.close_all()
        for request_id, future in list(self._waiters.items()):
            if not future.done():
                future.set_exception(LabClosedError(f"the Lab closed before {request_id} ended"))
        self._waiters.clear()
        self.limits.remove_lab()
        self.spawner.executor.shutdown(wait=False)
        await asyncio.sleep(0)


def _overrun(effect: Overrun) -> None:
    """``Overrun``: a Managed Instances worker's request timed out and failed; its code runs on. Nothing to do: no
    signal, and the Runtime API takes its late answer (dropped by the core) and its next ``/next``."""


def _draining(environment: EngineEnvironment) -> bool:
    """Its runtime got SIGTERM and its extensions SHUTDOWN: it ends when they exit or at its deadline."""
    core = environment.pool.environments.get(environment.id)
    return core is not None and core.state is State.DRAINING
