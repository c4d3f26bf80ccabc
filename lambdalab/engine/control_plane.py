"""The control plane: turns real I/O into core events and performs the core's effects.

Runs on the engine's loop thread only. It owns, for each environment, its sandbox
(``engine.sandbox``), its Runtime API socket (``engine.http_server``), its timers, its log stream
and its private /tmp; the records; and the destinations of asynchronous events. Every decision
(routing, limits, placement, state changes, retries, records, log lines) is the core's
(``core.scheduler``, ``core.async_queue``); this module only performs.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import os
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdalab import runtime_ids
from lambdalab.cache import cache_root
from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.async_queue import DeliverRecord, DispatchEvent, EventQueue, QueuedEvent, ScheduleRetry
from lambdalab.core.effects import (
    ArmDeadline,
    CompleteInvocation,
    DeliverInvocation,
    DisarmDeadline,
    Effect,
    Freeze,
    Kill,
    Log,
    RecordSpan,
    Retire,
    ScheduleWakeup,
    SpawnRuntime,
    Thaw,
)
from lambdalab.core.events import DeadlineExceeded, Event, Invocation, ProcessExited, ProcessStarted, WakeupDue
from lambdalab.core.ids import IdFactory
from lambdalab.core.keepalive import FixedKeepAlive, HybridHistogramKeepAlive, KeepAlivePolicy
from lambdalab.core.lifecycle import EnvironmentSpec
from lambdalab.core.limits import CAPACITY_REASON, THROTTLE_MESSAGE, AccountLimits
from lambdalab.core.logstream import LogStream
from lambdalab.core.outcomes import Status
from lambdalab.core.records import End, InitReport, InitStart, InvocationRecord, PhaseSpan, Start, log_stream_name
from lambdalab.core.scheduler import LATEST, Alias, Scheduler, Throttled
from lambdalab.engine import fd_budget, mounts, runtime_catalog, runtimes
from lambdalab.engine.environment import EngineEnvironment, PlaneHooks
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper, remove_tree
from lambdalab.engine.sandbox import Sandbox, lab_marker, marked_environment
from lambdalab.engine.spare import ENVIRONMENTS, Spares
from lambdalab.errors import (
    ConfigError,
    LabClosedError,
    RequestTooLargeException,
    TooManyRequestsException,
    UnknownFunctionError,
)

_DRAIN_BEFORE = (End, InitReport, InitStart)
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
MAX_RETIRED_ENVIRONMENTS = 1000  # gone environments whose log streams stay readable


@dataclasses.dataclass(frozen=True)
class LabSettings:
    """Engine-wide settings (set on the ``Lab``)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    init_timeout_s: float = 10.0
    pass_env: tuple[str, ...] = ()
    use_cgroups: bool = True
    limits: AccountLimits = AccountLimits()
    keep_alive_s: float = 600.0
    keep_alive_policy: str = "fixed"
    retry_delay_scale: float = 1.0
    max_records: int = 100_000
    max_log_entries: int = 10_000
    role_credentials: tuple[tuple[str, str], ...] = ()  # the execution role's, given on purpose


def _too_large(limit: int) -> RequestTooLargeException:
    """Lambda's answer to an Invoke request over ``limit`` bytes (6 MB synchronous, 1 MB ``Event``)."""
    return RequestTooLargeException(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


def _new_destinations(bound: int) -> dict[str, collections.deque[dict[str, Any]]]:
    return {"on_success": collections.deque(maxlen=bound), "on_failure": collections.deque(maxlen=bound)}


@dataclasses.dataclass(frozen=True, slots=True)
class EngineResult:
    """What ``ControlPlane.invoke`` returns: the record, the raw answer and where its log is."""

    record: InvocationRecord
    body: bytes
    is_error: bool
    stream: LogStream | None
    log_start: int
    log_end: int


class ControlPlane:
    """Everything that happens on the engine's loop."""

    def __init__(self, workdir: Path, settings: LabSettings, lab_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.settings = settings
        self.workdir = workdir
        self._offset = time.time() - self.loop.time()
        self._ids = IdFactory(os.urandom(16).hex())
        self.scheduler = Scheduler(settings.limits, self._ids.next_environment_id)
        self.queue = EventQueue(settings.retry_delay_scale, lambda fn, q: self.arn(fn))
        self.configs: dict[str, FunctionConfig] = {}  # function -> $LATEST config
        self.code: dict[tuple[str, str], tuple[FunctionConfig, Path]] = {}  # (function, code hash)
        self.paths: dict[tuple[str, str], runtimes.RuntimePaths] = {}  # what that code imports besides itself
        self.destinations: dict[str, dict[str, collections.deque[dict[str, Any]]]] = {}
        self.environments: dict[str, EngineEnvironment] = {}
        self.records: collections.deque[InvocationRecord] = collections.deque(maxlen=settings.max_records)
        self.spans: collections.deque[PhaseSpan] = collections.deque(maxlen=3 * settings.max_records)
        self._waiters: dict[str, asyncio.Future[EngineResult]] = {}
        self._log_starts: dict[str, int] = {}
        self._wakeups: dict[str, asyncio.TimerHandle] = {}  # a pool's wake-up key -> its timer
        self._retries: dict[str, asyncio.TimerHandle] = {}  # an async event's request id -> its retry's timer
        self._retired: collections.deque[str] = collections.deque()
        self.limits = Limits(lab_id, enabled=settings.use_cgroups)
        self.fd_budget = fd_budget.process_budget()
        self._executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="lambdalab-limits")
        self.reaper = Reaper(self.loop)  # respawned by the loop if it dies
        self.marker = lab_marker(lab_id)
        self.reaper.watch_marker(self.marker)
        self.reaper.watch_dir(workdir)
        self.empty_opt = workdir / "opt"  # /opt of a function without layers, where runtimes get a namespace
        self.empty_opt.mkdir(mode=0o755, exist_ok=True)
        for path in self.limits.lab_dirs():  # listed first, so removed last
            self.reaper.watch_cgroup(path)
        # what every environment uses (task roots, layers, runtime folders, the cache): read-only for runtimes
        self.shared_folders = (str(workdir), str(cache_root()))
        self.environments_dir = workdir / ENVIRONMENTS  # of which each runtime sees only its own folder
        self.spares = Spares(
            workdir=workdir,
            limits=self.limits,
            reaper=self.reaper,
            budget=self.fd_budget,
            marker=self.marker,
            shared=self.shared_folders,
        )
        # all an environment and its Runtime API endpoints may use of this plane
        self.hooks = PlaneHooks(
            now=self.now,
            dispatch=self.dispatch,
            on_exit=self.on_exit,
            members=self.limits.members,
            shared=self.shared_folders,
            hide=str(self.environments_dir),
        )
        self.closed = False
        self._perform_table: dict[type[Effect], Callable[[Any], None]] = {
            SpawnRuntime: self._spawn,
            DeliverInvocation: self._deliver,
            Freeze: self._freeze,
            Thaw: self._thaw,
            ArmDeadline: self._arm,
            DisarmDeadline: self._disarm,
            Kill: self._kill,
            RecordSpan: self._record_span,
            Log: self._log,
            Retire: self._retire,
            ScheduleWakeup: self._schedule_wakeup,
            ScheduleRetry: self._schedule_retry,
            DispatchEvent: self._dispatch_event,
            DeliverRecord: self._deliver_record,
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
        self.code[(config.name, code_sha)] = (config, code_dir)
        if paths is not None:
            self.paths[(config.name, code_sha)] = paths
        self.configs[config.name] = config
        self.destinations.setdefault(config.name, _new_destinations(min(10_000, self.settings.max_records)))
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
            config.freeze,
            self.settings.init_timeout_s,
            code=code_sha,
        )

    def _keep_alive(self, config: FunctionConfig) -> KeepAlivePolicy:
        seconds = self.settings.keep_alive_s if config.keep_alive_s is None else config.keep_alive_s
        if self.settings.keep_alive_policy == "hybrid":
            return HybridHistogramKeepAlive(fallback_s=seconds)
        return FixedKeepAlive(seconds)

    def publish(self, name: str) -> str:
        self.function(name)
        config = self.configs[name]
        sha = self.scheduler.pool(name, LATEST).spec.code
        return self.scheduler.publish(name, lambda v: self._spec(config, v, sha), self._keep_alive(config))

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
        base = f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{name}"
        return f"{base}:{qualifier}" if qualifier else base

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
    ) -> asyncio.Future[EngineResult]:
        """Submit one synchronous invocation; the future resolves with its one outcome.

        Raises ``TooManyRequestsException`` (recorded as a throttle) when a limit says no.
        """
        self._check_open()
        version = self.resolve(name, qualifier)
        if len(payload) > api.MAX_REQUEST_BYTES:
            raise _too_large(api.MAX_REQUEST_BYTES)
        request_id = request_id or str(uuid.uuid4())
        now = self.now()
        invocation = Invocation(request_id, now, payload, self.arn(name, qualifier), options)
        self.scheduler.spawn_slots = self.fd_budget.free()
        effects, throttled = self.scheduler.submit(name, version, invocation, now)
        if throttled is not None:
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

    def enqueue(self, name: str, payload: bytes, qualifier: str | None = None) -> str:
        """Accept an asynchronous (``Event``) invocation: queued at once, run and retried by the queue."""
        self._check_open()
        self.resolve(name, qualifier)
        if len(payload) > MAX_ASYNC_REQUEST_BYTES:
            raise _too_large(MAX_ASYNC_REQUEST_BYTES)
        config = self.configs[name]
        event = QueuedEvent(
            str(uuid.uuid4()), name, qualifier, payload, self.now(), config.max_event_age_s, config.max_retry_attempts
        )
        self.perform(self.queue.accept(event, self.now()))
        return event.request_id

    def _record_throttle(self, invocation: Invocation, throttled: Throttled, at: float) -> None:
        config = self.configs[throttled.function]
        self.records.append(
            InvocationRecord(
                request_id=invocation.request_id,
                function=throttled.function,
                version=throttled.version,
                environment_id="",
                cold=False,
                init_duration_ms=None,
                init_suppressed=False,
                duration_ms=0.0,
                billed_duration_ms=0,
                memory_size_mb=config.memory_mb,
                max_memory_used_mb=0,
                status=Status.THROTTLED,
                error_type=throttled.reason,
                start=at,
                end=at,
                submitted=invocation.submitted,
            )
        )

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

    def on_exit(self, environment: EngineEnvironment, incarnation: int, returncode: int) -> None:
        sandbox = environment.sandboxes.pop(incarnation, None)
        memory = sandbox.peak_memory_mb if sandbox is not None else 0  # its group is forgotten (Sandbox._reap)
        if incarnation in environment.slots:
            environment.slots.discard(incarnation)
            self.fd_budget.release()
        environment.close_server(incarnation)
        environment.limits_ready.pop(incarnation, None)
        kills = self.limits.oom_kills(environment.cgroups)
        oom, environment.oom_kills = kills > environment.oom_kills, kills
        self.dispatch(ProcessExited(environment.id, incarnation, self.now(), returncode, oom, memory))

    # -- effects --------------------------------------------------------------------------------
    def _spawn(self, effect: SpawnRuntime) -> None:
        environment = self.environments.get(effect.environment_id) or self._new_environment(effect.environment_id)
        spare, environment.spare = environment.spare, None  # its first incarnation runs in the spare's launcher
        incarnation = effect.incarnation
        if spare is None and not self.fd_budget.acquire():  # another Lab took the last slot: it exits at once
            self.fd_budget.warn_full()
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return
        environment.slots.add(incarnation)  # a spare's slot passes to the environment
        config = environment.config
        marker = f"{self.marker}{environment.id}/{incarnation}/"
        try:
            port = environment.open_server(incarnation)
            env_vars = runtimes.environment_variables(
                config,
                environment=environment,
                port=port,
                init_type=effect.init_type,
                region=self.settings.region,
                pass_env=self.settings.pass_env,
                log_group=f"/aws/lambda/{config.name}",
                credentials=dict(self.settings.role_credentials) or None,
                paths=self.paths.get((environment.pool.spec.function, environment.pool.spec.code)),
            )
            env_vars = marked_environment(env_vars, marker)
            paths = self.paths.get((environment.pool.spec.function, environment.pool.spec.code))
            opt = (paths.opt if paths is not None else None) or str(self.empty_opt)
            argv = runtimes.command(config, environment.code_dir, opt)
            if spare is not None and Sandbox.command_fits(argv, env_vars):
                sandbox = environment.adopt(spare.sandbox, argv, env_vars, incarnation, opt, marker)
            else:
                if spare is not None:
                    spare.sandbox.kill()  # its groups are the environment's now; it ends there
                sandbox = environment.spawn(
                    argv, environment.code_dir, env_vars, incarnation, mounts=(str(environment.tmp), opt)
                )
        except Exception as exc:  # noqa: BLE001 - the process never ran: the core sees it exit at once
            if isinstance(exc, OSError):
                self.fd_budget.warn_full()
            environment.close_server(incarnation)
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return
        sandbox.guard(self.reaper, environment.cgroups, marker)
        if not sandbox.joined or self.limits.memory_base is None:  # else it was born inside its groups
            environment.limits_ready[incarnation] = self.loop.run_in_executor(
                self._executor, self.limits.enter, environment.cgroups, sandbox.pid, environment.pool.spec.memory_mb
            )
        self.loop.call_soon(self.dispatch, ProcessStarted(environment.id, incarnation, self.now()))

    def _new_environment(self, environment_id: str) -> EngineEnvironment:
        """An environment's folder, /tmp and groups: the spare's where one serves (``engine/spare.py``), else made now.

        A spare for the next new environment is made right after, while this one boots.
        """
        pool = self.scheduler.registry[environment_id]
        config, code_dir = self.code[(pool.spec.function, pool.spec.code)]
        spare = (
            None
            if isinstance(config, runtimes.ProfiledConfig)
            else self.spares.take(pool.spec.memory_mb, config.ephemeral_storage_mb)
        )
        self.spares.refill()
        date = time.strftime("%Y/%m/%d", time.gmtime())
        stream = LogStream(
            log_stream_name(date, pool.spec.version, environment_id), max_entries=self.settings.max_log_entries
        )
        if spare is not None:
            tmp = spare.tmp
        else:
            tmp = self.environments_dir / environment_id / "tmp"
            tmp.mkdir(parents=True, mode=0o700)
            mounts.mount_tmpfs(tmp, config.ephemeral_storage_mb)  # where allowed: its size is ephemeral_storage_mb
        environment = EngineEnvironment(environment_id, pool, config, code_dir, stream, tmp, self.hooks)
        if spare is not None:
            environment.cgroups = spare.cgroups  # already watched by the reaper
            environment.spare = spare
        else:
            environment.cgroups = self.limits.create(environment_id, pool.spec.memory_mb)
            for path in environment.cgroups:
                self.reaper.watch_cgroup(path)
        self.environments[environment_id] = environment
        return environment

    def _deliver(self, effect: DeliverInvocation) -> None:
        environment = self.environments[effect.environment_id]
        invocation = effect.invocation
        connection, environment.parked = environment.parked, None
        if connection is not None:  # else the runtime vanished; its exit event fails the invocation
            connection.send_invocation(runtimes.next_headers(invocation, effect.deadline_at), invocation.payload)

    def _freeze(self, effect: Freeze) -> None:
        self.environments[effect.environment_id].freeze()

    def _thaw(self, effect: Thaw) -> None:
        self.environments[effect.environment_id].thaw()

    def _arm(self, effect: ArmDeadline) -> None:
        environment = self.environments[effect.environment_id]
        environment.cancel_deadline()
        environment.deadline = self.loop.call_at(
            effect.at - self._offset, self._on_deadline, environment, effect.incarnation
        )

    def _on_deadline(self, environment: EngineEnvironment, incarnation: int) -> None:
        environment.deadline = None
        memory = environment.max_memory_mb(incarnation)
        self.dispatch(DeadlineExceeded(environment.id, incarnation, self.now(), memory))

    def _disarm(self, effect: DisarmDeadline) -> None:
        self.environments[effect.environment_id].cancel_deadline()

    def _kill(self, effect: Kill) -> None:
        environment = self.environments[effect.environment_id]
        environment.kill(effect.incarnation)
        self.limits.kill_all(environment.cgroups)

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
        environment = self.environments.get(effect.environment_id) or self._new_environment(effect.environment_id)
        entry = effect.entry
        if type(entry) in _DRAIN_BEFORE:  # what the runtime wrote so far belongs before this line
            environment.drain_output()
        index = environment.stream.add(entry)
        if isinstance(entry, Start):
            self._log_starts[entry.request_id] = index

    def _retire(self, effect: Retire) -> None:
        environment = self.environments.get(effect.environment_id)
        if environment is None:
            return
        environment.retired = True
        self.limits.remove(environment.cgroups)
        remove_tree(environment.tmp.parent)  # its /tmp's tmpfs unmounted first
        self._retired.append(environment.id)  # its log stream stays readable, up to a bound
        if len(self._retired) > MAX_RETIRED_ENVIRONMENTS:
            self.environments.pop(self._retired.popleft(), None)

    def _schedule_wakeup(self, effect: ScheduleWakeup) -> None:
        key = effect.environment_id
        old = self._wakeups.pop(key, None)
        if old is not None:
            old.cancel()
        self._wakeups[key] = self.loop.call_at(effect.at - self._offset, self._on_wakeup, key)

    def _on_wakeup(self, key: str) -> None:
        self._wakeups.pop(key, None)
        if not self.closed:
            self.perform(self.scheduler.handle(WakeupDue(key, 0, self.now())))

    def _schedule_retry(self, effect: ScheduleRetry) -> None:
        request_id = effect.request_id
        old = self._retries.pop(request_id, None)
        if old is not None:
            old.cancel()
        self._retries[request_id] = self.loop.call_at(effect.at - self._offset, self._on_retry, request_id)

    def _on_retry(self, request_id: str) -> None:
        self._retries.pop(request_id, None)
        if not self.closed:
            self.perform(self.queue.wake(request_id, self.now()))

    def _dispatch_event(self, effect: DispatchEvent) -> None:
        event = effect.event
        try:
            future = self.start_invoke(event.function, event.payload, None, event.qualifier, event.request_id)
        except TooManyRequestsException:
            zero = self.scheduler.entry(event.function).reserved == 0
            self.perform(self.queue.throttled(event.request_id, self.now(), zero))
            return
        except (UnknownFunctionError, LabClosedError):
            return

        def finished(done: asyncio.Future[EngineResult]) -> None:
            if done.cancelled() or done.exception() is not None or self.closed:
                return
            result = done.result()
            self.perform(
                self.queue.finished(event.request_id, self.now(), result.record.version, result.body, result.is_error)
            )

        future.add_done_callback(finished)

    def _deliver_record(self, effect: DeliverRecord) -> None:
        self.destinations.setdefault(effect.function, _new_destinations(min(10_000, self.settings.max_records)))[
            effect.destination
        ].append(effect.record)

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
        for timers in (self._wakeups, self._retries):
            for handle in timers.values():
                handle.cancel()
            timers.clear()
        deadline = self.loop.time() + timeout_s
        while (
            any(e.sandboxes for e in self.environments.values()) or self.spares.alive
        ) and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for environment in self.environments.values():
            environment.close_all()
        for request_id, future in list(self._waiters.items()):
            if not future.done():
                future.set_exception(LabClosedError(f"the Lab closed before {request_id} ended"))
        self._waiters.clear()
        self.limits.remove_lab()
        self._executor.shutdown(wait=False)
        await asyncio.sleep(0)
