"""One Lab's durable execution service: the checkpoint store, the replay scheduler and the durable APIs' answers.

The checkpoint processing, the store and the scheduling of replays are the local runner's
(``aws-durable-execution-sdk-python-testing``: ``Executor``, ``CheckpointProcessor``, ``InMemoryExecutionStore``,
``Scheduler``), used as a library: it is AWS's own model of the service's side of the protocol (operation types and
actions, checkpoint tokens, pagination, step retries, waits, callbacks and their timeouts), kept in step with the
SDK, and its seams fit lambdalab's: an ``Invoker`` (here every replay is a Lab invocation, ``invoker.py``) and a
``Clock`` (``Lab(time_scale=...)``, ``clock.py``). What lambdalab adds: starting executions from ``Function.invoke``
and the endpoint's Invoke (with the invoke's tenant and trace header, carried into every replay), waiting for their
outcome as a synchronous invoke does, Lambda's execution ARNs (``executions.py``), the replay log (``replays.py``)
and the tables.

Threads: the runner's scheduler has its own loop thread and invokes on its own pool; blocking calls from the Lab's
loop (the endpoint's durable APIs, the endpoint's Invoke) go through ``on_pool`` (a small pool of this service's).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import logging
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.checkpoint.processor import CheckpointProcessor
from aws_durable_execution_sdk_python_testing.executor import Executor
from aws_durable_execution_sdk_python_testing.model import GetDurableExecutionResponse, StartDurableExecutionInput
from aws_durable_execution_sdk_python_testing.scheduler import Scheduler
from aws_durable_execution_sdk_python_testing.worker.registry import ExecutionRegistry

from lambdalab import tenancy
from lambdalab.downstream import variable_name
from lambdalab.durable.chained import LabChildDispatcher
from lambdalab.durable.clock import ScaledClock
from lambdalab.durable.executions import (
    DurableEngineResult,
    DurableInvocationResult,
    Started,
    WatchedStore,
    error_body,
    execution_arn,
)
from lambdalab.durable.invoker import LabInvoker
from lambdalab.durable.replays import Replay, ReplayLog
from lambdalab.errors import (
    ConfigError,
    FunctionError,
    InvokeError,
    LabClosedError,
    RecursiveInvocationException,
    UnknownFunctionError,
)
from lambdalab.results import EngineResult, InvocationResult

if TYPE_CHECKING:
    import pandas as pd
    from aws_durable_execution_sdk_python_testing.execution import Execution

    from lambdalab.api import Lab

T = TypeVar("T")
# the runner reports what it does (a replay that failed, an execution that timed out) through logging: lambdalab's
# tables and records say it, so nothing is printed unless the caller configures these loggers
logging.getLogger("aws_durable_execution_sdk_python_testing").addHandler(logging.NullHandler())
SYNC_LIMIT_S = 900.0  # a synchronous invoke of a durable function waits at most 15 minutes (real time here)
SLACK_S = 30.0
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}\Z")  # DurableExecutionName


class DurableExecutionAlreadyStartedException(InvokeError, ConfigError):
    """An execution name already taken by an execution of the function with another payload (409)."""

    code = "DurableExecutionAlreadyStartedException"
    status = 409


class DurableService:
    """The durable side of one Lab; made by ``service_for(lab)``, closed with the Lab (``Lab.attach``)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.clock = ScaledClock(lab.time_scale)
        self.store = WatchedStore(self._execution_arn)
        self.scheduler = Scheduler()
        self.registry = ExecutionRegistry(self.store, self.scheduler)
        processor = CheckpointProcessor(self.store, self.scheduler, clock=self.clock)
        self.replays = ReplayLog()
        self.invoker = LabInvoker(self._run_replay, self._operations, self.replays, self.clock.now, self._give_up)
        self.executor = Executor(
            store=self.store,
            scheduler=self.scheduler,
            invoker=self.invoker,
            checkpoint_processor=processor,
            invocation_timeout_seconds=int(SYNC_LIMIT_S + 2 * SLACK_S),  # a hang guard: the Lab times replays out
            registry=self.registry,
            clock=self.clock,
            child_dispatcher=LabChildDispatcher(lab, self._run_replay),
            region=lab.settings.region,
        )
        # a failed replay (an error, a timeout, a crash) is invoked again after the runner's back-off: on our clock
        self.executor.RETRY_BACKOFF_SECONDS = round(Executor.RETRY_BACKOFF_SECONDS / self.clock.scale)
        processor.add_execution_observer(self.executor)
        processor.set_chained_invoke_preflight(self.executor.preflight_chained_invoke)
        self.scheduler.start()  # type: ignore[no-untyped-call]
        self._pool = concurrent.futures.ThreadPoolExecutor(16, thread_name_prefix="lambdalab-durable")
        self._lock = threading.Lock()
        self._started: dict[str, Started] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._timers: dict[str, threading.Timer] = {}
        self.closed = False

    def close(self) -> None:
        """Stop scheduling replays (one in flight ends with the Lab); never raises."""
        if self.closed:
            return
        self.closed = True
        self.store.release()
        for timer in list(self._timers.values()):
            timer.cancel()
        for stop in (self.executor.shutdown, self.registry.shutdown, self.scheduler.stop):
            try:
                stop()
            except Exception:  # noqa: BLE001, S110 - closing must not raise
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- starting and waiting ------------------------------------------------------------------------
    def start(
        self,
        function: str,
        payload: bytes,
        qualifier: str | None = None,
        name: str | None = None,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Start an execution of durable ``function`` with ``payload`` (JSON bytes); its ARN. The same ``name`` again
        (``DurableExecutionName``) with the same payload joins the execution that has it (the start is idempotent, as
        Lambda's); with another payload it is ``DurableExecutionAlreadyStartedException`` (409).

        The execution runs the version ``qualifier`` names now (an alias is resolved once: every replay runs that
        version). ``tenant_id`` is checked as any invoke's (``InvalidParameterValueException``) and, with
        ``trace_header`` (the caller's X-Ray header), carried by every replay: each is one hop past the caller, so
        recursive loop detection refuses the first replay of a loop's execution, which then fails at once with
        ``RecursiveInvocationException`` (``outcome`` raises it)."""
        config = self.lab.function(function).config
        if not config.durable:
            raise ConfigError(f"{function} is not a durable function (create it with durable=True)")
        if name is not None and not (isinstance(name, str) and _NAME.match(name)):
            raise ConfigError(f"invalid DurableExecutionName: {name!r}; expected 1 to 64 letters, digits, '-' or '_'")
        if tenant_id is not None or config.tenancy is not None:
            tenancy.check_invoke(config.tenancy, tenant_id)
        version = self.lab.resolve(function, qualifier)
        name = name or str(uuid.uuid4())
        invocation_id = str(uuid.uuid4())
        with self._lock:
            existing = self._names.get((function, name))
            if existing is not None:
                if self._started[existing].payload != payload:
                    raise DurableExecutionAlreadyStartedException(
                        f"Execution {name} of {function} was already started with another payload: {existing}"
                    )
                return existing
            started = StartDurableExecutionInput(
                account_id=self.lab.settings.account_id,
                function_name=function,
                function_qualifier=version,
                execution_name=name,
                execution_timeout_seconds=config.durable_execution_timeout_s,
                execution_retention_period_days=config.durable_retention_days,
                invocation_id=invocation_id,
                tenant_id=tenant_id,
                input=payload.decode() if payload else None,
            )
            arn = self.executor.start_execution(started).execution_arn
            assert arn is not None
            self._names[(function, name)] = arn
            self._started[arn] = Started(arn, function, version, name, time.time(), payload, tenant_id, trace_header)
        if self.clock.scale != 1:  # the runner's own execution timer runs in real time: ours in virtual time
            self._arm_timeout(arn, config.durable_execution_timeout_s)
        return arn

    def _execution_arn(self, execution: Execution) -> str:
        """The Lambda ARN of an execution the runner has just made (``WatchedStore``)."""
        start = execution.start_input
        version = start.function_qualifier or "$LATEST"
        if version != "$LATEST" and not version.isdigit():  # a chained invoke's alias: the version it runs
            try:
                version = self.lab.resolve(start.function_name, version)
            except Exception:  # noqa: BLE001 - an unknown target fails in the runner, in its words
                version = "$LATEST"
        return execution_arn(
            self.lab.arn(start.function_name, version), start.execution_name, execution.durable_execution_arn
        )

    def _arm_timeout(self, arn: str, timeout_s: int) -> None:
        def fire() -> None:
            self._timers.pop(arn, None)
            if not self.closed and self.executor.get_execution(arn).is_complete is False:
                error = ErrorObject.from_message(f"Execution timed out after {timeout_s} seconds.")
                self.executor.on_timed_out(arn, error)

        timer = threading.Timer(self.clock.real_seconds(timeout_s), fire)
        timer.daemon = True
        self._timers[arn] = timer
        timer.start()

    def outcome(self, arn: str, timeout_s: float = SYNC_LIMIT_S) -> DurableEngineResult:
        """Wait for execution ``arn`` to end (at most ``timeout_s`` real seconds) and answer as a synchronous invoke
        does: the workflow's result as the payload, or its error as a function error; the record is the last
        replay's. ``TimeoutError`` if it has not ended by then."""
        if not self.store.ended(arn).wait(timeout_s):
            raise TimeoutError(f"the durable execution {arn} did not end within {timeout_s:g} s (it goes on running)")
        if self.closed and not self.executor.get_execution(arn).is_complete:
            raise LabClosedError(f"the Lab closed before the durable execution {arn} ended")
        details = self.executor.get_execution_details(arn)
        last = self.invoker.last_result(arn)
        if last is None:  # no replay ran: refused as an invoke (a recursive loop), or never answered
            error = error_body(details)
            if error["errorType"] == RecursiveInvocationException.code:
                raise RecursiveInvocationException(error["errorMessage"])
            raise FunctionError(error["errorType"], error["errorMessage"])
        if details.status == "SUCCEEDED":
            body, is_error = (details.result or "null").encode(), False
        else:
            body, is_error = json.dumps(error_body(details)).encode(), True
        fields = {field.name: getattr(last, field.name) for field in dataclasses.fields(EngineResult)}
        return DurableEngineResult(**{**fields, "body": body, "is_error": is_error}, durable_execution_arn=arn)

    def submit(
        self,
        function: str,
        payload: bytes,
        qualifier: str | None = None,
        name: str | None = None,
        tenant_id: str | None = None,
    ) -> concurrent.futures.Future[InvocationResult]:
        """Start an execution (see ``start``) and return a future of its synchronous answer (``outcome``): a
        ``DurableInvocationResult``, whose ``durable_execution_arn`` names the execution."""
        arn = self.start(function, payload, qualifier, name, tenant_id=tenant_id)

        def answer() -> InvocationResult:
            result = InvocationResult.from_engine(self.outcome(arn))
            fields = {field.name: getattr(result, field.name) for field in dataclasses.fields(InvocationResult)}
            return DurableInvocationResult(**fields, durable_execution_arn=arn)

        return self._pool.submit(answer)

    def start_invoke(
        self,
        function: str,
        payload: bytes,
        qualifier: str | None = None,
        name: str | None = None,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
    ) -> asyncio.Future[EngineResult]:
        """On the Lab's loop (the endpoint's Invoke): start an execution, the loop's future of its answer (a
        ``DurableEngineResult``, carrying the execution's ARN)."""
        arn = self.start(function, payload, qualifier, name, tenant_id=tenant_id, trace_header=trace_header)
        return asyncio.get_running_loop().run_in_executor(self._pool, self.outcome, arn)

    async def on_pool(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on this service's threads (the runner's calls block briefly on an execution's lane)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: call(*args))

    # -- replays through the Lab ---------------------------------------------------------------------
    def _run_replay(
        self, function: str, qualifier: str | None, payload: bytes, arn: str | None = None, tenant_id: str | None = None
    ) -> EngineResult:
        """One replay of execution ``arn`` as a Lab invocation, from the runner's threads (also a chained invoke of a
        plain function, ``arn`` None): with the execution's tenant and its caller's trace header."""
        lab = self.lab
        config = lab.function(function).config
        limit = config.timeout_s + lab.settings.init_timeout_s + SLACK_S
        trace = self._trace_of(arn) if arn is not None else None

        async def invoke() -> EngineResult:
            return await lab.start_invoke(
                function, payload, qualifier=qualifier, tenant_id=tenant_id, trace_header=trace, durable_replay=True
            )

        return lab.run_on_loop(invoke(), timeout=limit)

    def _trace_of(self, arn: str) -> str | None:
        """The trace header execution ``arn``'s replays carry: its caller's, or (a chained invoke's child) its
        parent execution's."""
        with self._lock:
            started = self._started.get(arn)
        if started is not None:
            return started.trace_header
        try:
            parent = self.store.load(arn).parent_execution_arn
        except Exception:  # noqa: BLE001 - not in the store: no trace
            return None
        return self._trace_of(parent) if parent and parent != arn else None

    def _give_up(self, arn: str) -> None:
        """Make the runner fail execution ``arn`` with the error of the replay it is being told of, not invoke it
        again (the runner retries a failed invocation a few times: a refusal to invoke would be refused again)."""
        execution = self.store.load(arn)
        execution.consecutive_failed_invocation_attempts = max(
            execution.consecutive_failed_invocation_attempts, self.executor.MAX_CONSECUTIVE_FAILED_ATTEMPTS - 1
        )

    def _operations(self, arn: str) -> list[Any]:
        return list(self.store.load(arn).operations)

    # -- reading -------------------------------------------------------------------------------------
    def started(self) -> list[Started]:
        """Every execution in the store, oldest first: those started here and the children of chained invokes."""
        with self._lock:
            mine = dict(self._started)
        runs = []
        for execution in self.store.list_all():
            arn, start = execution.durable_execution_arn, execution.start_input
            run = mine.get(arn) or Started(
                arn, start.function_name, start.function_qualifier, start.execution_name, 0.0, b""
            )
            runs.append(run)
        return runs

    def find(self, function: str | None, execution: str | None) -> str:
        """The ARN of ``execution`` (an ARN or an execution name) of ``function``; None: its latest execution."""
        runs = [s for s in self.started() if function is None or s.function == function]
        if execution is None:
            if not runs:
                raise UnknownFunctionError(f"{function} has no durable executions")
            return runs[-1].arn
        for run in runs:
            if execution in (run.arn, run.name):
                return run.arn
        raise UnknownFunctionError(f"Durable execution not found: {execution}")

    def details(self, arn: str) -> GetDurableExecutionResponse:
        return self.executor.get_execution_details(arn)

    def replays_of(self, arn: str) -> list[Replay]:
        return self.replays.of(arn)

    # -- the function's side, the tables -------------------------------------------------------------
    def function_endpoint(
        self, given: str | Mapping[str, str] | None, env_vars: Mapping[str, str]
    ) -> tuple[str | dict[str, str], dict[str, str]]:
        """Where a durable function's SDK sends CheckpointDurableExecution and GetDurableExecutionState: this Lab's
        endpoint (started on loopback if none runs), as ``aws_endpoint_url``'s ``lambda`` service (so its variable is
        ``AWS_ENDPOINT_URL_LAMBDA`` and the environment gets lambdalab's fake credentials when no role's are given).
        ``given`` (the function's or the Lab's ``aws_endpoint_url``) keeps its other services; one that names
        ``lambda`` itself is kept as given; a single URL for every service stays, with the Lambda variable beside it."""
        try:
            url = self.lab.serve()
        except ConfigError as exc:
            raise ConfigError(
                f"a durable function needs this Lab's endpoint on loopback for its SDK's calls: {exc}"
            ) from None
        env = dict(env_vars)
        if given is None:
            return {"lambda": url}, env
        if isinstance(given, str):
            env.setdefault(variable_name("lambda"), url)
            return given, env
        endpoints = dict(given)
        if not any(variable_name(service) == variable_name("lambda") for service in endpoints):
            endpoints["lambda"] = url
        return endpoints, env

    def executions_table(self) -> pd.DataFrame:
        from lambdalab.durable import tables

        return tables.executions(self)

    def history_table(self, function: str, execution: str | None) -> pd.DataFrame:
        from lambdalab.durable import tables

        return tables.history(self, self.find(function, execution))


_services: weakref.WeakKeyDictionary[Lab, DurableService] = weakref.WeakKeyDictionary()
_services_lock = threading.Lock()


def service_for(lab: Lab) -> DurableService:
    """``lab``'s durable service, made (and attached to the Lab, so it closes with it) on first use."""
    with _services_lock:
        service = _services.get(lab)
        if service is None or service.closed:
            lab.check_open()
            service = _services[lab] = DurableService(lab)
            lab.attach(service)
        return service
