"""The control plane: turns real I/O into core events and performs the core's effects.

Runs on the engine's loop thread only. It owns the functions, their pools (``core.pool``), and
for each environment its sandbox (``engine.sandbox``), its Runtime API socket
(``engine.http_server``), its deadline timer, its log stream and its private /tmp. Every
decision (placement, state changes, records, log lines) is the core's; this module only performs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.effects import (
    ArmDeadline, CompleteInvocation, DeliverInvocation, DisarmDeadline, Effect, Freeze, Kill, Log,
    RecordSpan, Retire, SpawnRuntime, Thaw,
)
from lambdalab.core.events import DeadlineExceeded, Event, Invocation, ProcessExited, ProcessStarted
from lambdalab.core.ids import IdFactory
from lambdalab.core.lifecycle import EnvironmentSpec, State
from lambdalab.core.logstream import LogStream
from lambdalab.core.pool import Pool, PoolStatistics
from lambdalab.core.records import End, InitReport, InitStart, InvocationRecord, PhaseSpan, Start, log_stream_name
from lambdalab.engine import runtimes
from lambdalab.engine.environment import EngineEnvironment, RuntimeEndpoint
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper
from lambdalab.errors import LabClosedError, RequestTooLargeException, UnknownFunctionError


_DRAIN_BEFORE = (End, InitReport, InitStart)


@dataclasses.dataclass(frozen=True)
class LabSettings:
    """Engine-wide settings (set on the ``Lab``)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    init_timeout_s: float = 10.0
    pass_env: tuple[str, ...] = ()
    use_cgroups: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class EngineResult:
    """What ``ControlPlane.invoke`` returns: the record, the raw answer and where its log is."""

    record: InvocationRecord
    body: bytes
    is_error: bool
    stream: LogStream
    log_start: int
    log_end: int


class FunctionState:
    """The engine's view of one function: its config, code and pools."""

    def __init__(self, config: FunctionConfig, code_dir: Path, code_sha: str, pool: Pool) -> None:
        self.config = config
        self.code_dir = code_dir
        self.code_sha = code_sha
        self.pool = pool
        self.pools: list[Pool] = [pool]  # retiring pools stay until their environments are gone


class ControlPlane:
    """Everything that happens on the engine's loop."""

    def __init__(self, workdir: Path, settings: LabSettings, lab_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.settings = settings
        self.workdir = workdir
        self._offset = time.time() - self.loop.time()
        self._ids = IdFactory(os.urandom(16).hex())
        self.functions: dict[str, FunctionState] = {}
        self.environments: dict[str, EngineEnvironment] = {}
        self.records: list[InvocationRecord] = []
        self.spans: list[PhaseSpan] = []
        self._waiters: dict[str, asyncio.Future[EngineResult]] = {}
        self._log_starts: dict[str, int] = {}
        self.limits = Limits(lab_id, enabled=settings.use_cgroups)
        self._executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="lambdalab-limits")
        self.reaper = Reaper()
        self.reaper.watch_dir(workdir)
        for path in self.limits.lab_dirs():  # listed first, so removed last
            self.reaper.watch_cgroup(path)
        self.closed = False
        self._perform_table: dict[type[Effect], Callable[[Effect], None]] = {
            SpawnRuntime: self._spawn, DeliverInvocation: self._deliver, Freeze: self._freeze,
            Thaw: self._thaw, ArmDeadline: self._arm, DisarmDeadline: self._disarm, Kill: self._kill,
            CompleteInvocation: self._complete, RecordSpan: self._record_span, Log: self._log,
            Retire: self._retire,
        }

    def now(self) -> float:
        """The engine clock: epoch seconds that never go backwards."""
        return self.loop.time() + self._offset

    # -- functions ------------------------------------------------------------------------------
    def deploy(self, config: FunctionConfig, code_dir: Path, code_sha: str) -> FunctionState:
        """Register a function, or replace its code/config: old environments retire."""
        self._check_open()
        spec = EnvironmentSpec(config.name, "$LATEST", config.runtime, config.memory_mb, config.timeout_s,
                               config.freeze, self.settings.init_timeout_s)
        pool = Pool(spec, self._ids.next_environment_id)
        old = self.functions.get(config.name)
        state = FunctionState(config, code_dir, code_sha, pool)
        if old is not None:
            state.pools = [p for p in old.pools if p.environments] + [pool]
            self.perform(old.pool.retire(self.now()))
        self.functions[config.name] = state
        return state

    def function(self, name: str) -> FunctionState:
        try:
            return self.functions[name]
        except KeyError:
            raise UnknownFunctionError(f"Function not found: {self.arn(name)}") from None

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.settings.region}:{self.settings.account_id}:function:{name}"

    def statistics(self, name: str) -> PoolStatistics:
        stats = [p.statistics() for p in self.function(name).pools]
        return PoolStatistics(*(sum(getattr(s, f.name) for s in stats) for f in dataclasses.fields(PoolStatistics)))

    # -- invoking -------------------------------------------------------------------------------
    def start_invoke(self, name: str, payload: bytes, options: dict[str, str] | None = None
                     ) -> asyncio.Future[EngineResult]:
        """Submit one invocation; the future resolves with its one outcome."""
        self._check_open()
        fn = self.function(name)
        if len(payload) > api.MAX_REQUEST_BYTES:
            raise RequestTooLargeException(
                f"Request must be smaller than {api.MAX_REQUEST_BYTES} bytes for the InvokeFunction operation")
        request_id = str(uuid.uuid4())
        future: asyncio.Future[EngineResult] = self.loop.create_future()
        self._waiters[request_id] = future
        now = self.now()
        invocation = Invocation(request_id, now, payload, self.arn(name), options)
        self.perform(fn.pool.submit(invocation, now))
        return future

    async def invoke(self, name: str, payload: bytes, options: dict[str, str] | None = None) -> EngineResult:
        return await self.start_invoke(name, payload, options)

    # -- events from the world ------------------------------------------------------------------
    def dispatch(self, environment: EngineEnvironment, event: Event) -> None:
        self.perform(environment.pool.handle(event))

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
        if sandbox is not None:
            self.reaper.forget_group(sandbox.pid)
            memory = sandbox.peak_memory_mb
        else:
            memory = 0
        environment.close_server(incarnation)
        environment.limits_ready.pop(incarnation, None)
        oom = self.limits.oom_kills(environment.cgroups) > environment.oom_kills
        environment.oom_kills = self.limits.oom_kills(environment.cgroups)
        self.dispatch(environment, ProcessExited(environment.id, incarnation, self.now(), returncode, oom, memory))

    # -- effects --------------------------------------------------------------------------------
    def _spawn(self, effect: SpawnRuntime) -> None:  # type: ignore[override]
        environment = self.environments.get(effect.environment_id) or self._new_environment(effect.environment_id)
        incarnation = effect.incarnation
        endpoint = RuntimeEndpoint(self, environment, incarnation)
        port = environment.open_server(incarnation, endpoint)
        fn = self.functions[environment.pool.spec.function]
        env_vars = runtimes.environment_variables(
            fn.config, environment=environment, port=port, init_type=effect.init_type,
            region=self.settings.region, pass_env=self.settings.pass_env,
            log_group=f"/aws/lambda/{fn.config.name}")
        try:
            sandbox = environment.spawn(runtimes.command(fn.config), environment.code_dir, env_vars, incarnation)
        except Exception:  # the process never ran: the core sees it exit at once
            self.loop.call_soon(self.on_exit, environment, incarnation, 127)
            return
        self.reaper.watch_group(sandbox.pid)
        environment.limits_ready[incarnation] = self.loop.run_in_executor(
            self._executor, self.limits.enter, environment.cgroups, sandbox.pid, environment.pool.spec.memory_mb)
        self.loop.call_soon(self.dispatch, environment,
                            ProcessStarted(environment.id, incarnation, self.now()))

    def _new_environment(self, environment_id: str) -> EngineEnvironment:
        pool = self._pool_of(environment_id)
        fn = self.functions[pool.spec.function]
        date = time.strftime("%Y/%m/%d", time.gmtime())
        stream = LogStream(log_stream_name(date, pool.spec.version, environment_id))
        tmp = self.workdir / "environments" / environment_id / "tmp"
        tmp.mkdir(parents=True, mode=0o700)
        environment = EngineEnvironment(environment_id, pool, fn.code_dir, stream, tmp, self)
        environment.cgroups = self.limits.create(environment_id, pool.spec.memory_mb)
        for path in environment.cgroups:
            self.reaper.watch_cgroup(path)
        self.environments[environment_id] = environment
        return environment

    def _pool_of(self, environment_id: str) -> Pool:
        for fn in self.functions.values():
            for pool in fn.pools:
                if environment_id in pool.environments:
                    return pool
        raise KeyError(environment_id)

    def _deliver(self, effect: DeliverInvocation) -> None:  # type: ignore[override]
        environment = self.environments[effect.environment_id]
        invocation = effect.invocation
        headers = runtimes.next_headers(invocation, effect.deadline_at)
        connection = environment.parked
        environment.parked = None
        if connection is None or not connection.send_invocation(headers, invocation.payload):  # type: ignore[arg-type]
            # the runtime vanished between /next and now; its exit event will fail the invocation
            pass

    def _freeze(self, effect: Freeze) -> None:  # type: ignore[override]
        self.environments[effect.environment_id].freeze()

    def _thaw(self, effect: Thaw) -> None:  # type: ignore[override]
        self.environments[effect.environment_id].thaw()

    def _arm(self, effect: ArmDeadline) -> None:  # type: ignore[override]
        environment = self.environments[effect.environment_id]
        environment.cancel_deadline()
        environment.deadline = self.loop.call_at(effect.at - self._offset, self._on_deadline,
                                                 environment, effect.incarnation)

    def _on_deadline(self, environment: EngineEnvironment, incarnation: int) -> None:
        environment.deadline = None
        memory = environment.max_memory_mb(incarnation)
        self.dispatch(environment, DeadlineExceeded(environment.id, incarnation, self.now(), memory))

    def _disarm(self, effect: DisarmDeadline) -> None:  # type: ignore[override]
        self.environments[effect.environment_id].cancel_deadline()

    def _kill(self, effect: Kill) -> None:  # type: ignore[override]
        environment = self.environments[effect.environment_id]
        environment.kill(effect.incarnation)
        self.limits.kill_all(environment.cgroups)

    def _complete(self, effect: CompleteInvocation) -> None:  # type: ignore[override]
        record = effect.record
        self.records.append(record)
        environment = self.environments[effect.environment_id]
        start = self._log_starts.pop(record.request_id, len(environment.stream.entries))
        future = self._waiters.pop(record.request_id, None)
        if future is not None and not future.done():
            body = effect.body if isinstance(effect.body, bytes) else b""
            future.set_result(EngineResult(record, body, effect.is_error, environment.stream, start,
                                           len(environment.stream.entries)))

    def _record_span(self, effect: RecordSpan) -> None:  # type: ignore[override]
        self.spans.append(effect.span)

    def _log(self, effect: Log) -> None:  # type: ignore[override]
        environment = self.environments.get(effect.environment_id) or self._new_environment(effect.environment_id)
        entry = effect.entry
        if type(entry) in _DRAIN_BEFORE:  # what the runtime wrote so far belongs before this line
            environment.drain_output()
        index = environment.stream.add(entry)
        if isinstance(effect.entry, Start):
            self._log_starts[effect.entry.request_id] = index

    def _retire(self, effect: Retire) -> None:  # type: ignore[override]
        environment = self.environments.get(effect.environment_id)
        if environment is None:
            return
        environment.retired = True
        self.limits.remove(environment.cgroups)
        shutil.rmtree(environment.tmp.parent, ignore_errors=True)
        for fn in self.functions.values():
            fn.pools = [p for p in fn.pools if p is fn.pool or p.environments]

    # -- queries --------------------------------------------------------------------------------
    def open_spans(self) -> list[PhaseSpan]:
        now = self.now()
        spans = []
        for environment in self.environments.values():
            core = environment.pool.environments.get(environment.id)
            span = core.open_span(now) if core is not None else None
            if span is not None:
                spans.append(span)
        return spans

    def live_environments(self, name: str) -> list[tuple[str, str, bool, int]]:
        out = []
        for pool in self.function(name).pools:
            for core in pool.environments.values():
                if core.state is not State.TERMINATED:
                    out.append((core.id, core.state.value, core.is_frozen, core.invocations))
        return out

    # -- closing --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise LabClosedError("this Lab is closed; create a new one")

    async def close(self, timeout_s: float = 5.0) -> None:
        """Shut every environment down; every waiting invocation gets its one outcome."""
        if self.closed:
            return
        self.closed = True
        now = self.now()
        for fn in self.functions.values():
            for pool in fn.pools:
                self.perform(pool.shutdown(now))
        deadline = self.loop.time() + timeout_s
        while any(e.sandboxes for e in self.environments.values()) and self.loop.time() < deadline:
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

