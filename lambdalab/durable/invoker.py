"""How the durable service invokes a function: every replay is one ordinary lambdalab invocation.

``LabInvoker`` is the local runner's ``Invoker`` (``aws_durable_execution_sdk_python_testing.invoker``) for a Lab:
the runner's executor decides when an execution runs again (after a wait, a step's retry delay, a callback), builds
the ``DurableExecutionInvocationInput`` (the checkpoint token and the log's first page) and hands it here; this sends
it to the function through ``Lab.start_invoke(..., durable_replay=True)`` on the Lab's loop, so the replay is placed,
cold or warm, billed and recorded like any invoke, and reads back the ``DurableExecutionInvocationOutput``. A replay
that fails as an invocation (an unhandled error, a timeout, a crash) is raised as the runner expects, which then
invokes again after its back-off, as Lambda retries a failed invocation of a durable execution.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_durable_execution_sdk_python.exceptions import DurableOperationError
from aws_durable_execution_sdk_python.execution import DurableExecutionInvocationInput, InitialExecutionState
from aws_durable_execution_sdk_python_testing.checkpoint.processor import DEFAULT_MAX_INVOCATION_PAGE_BYTES
from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException
from aws_durable_execution_sdk_python_testing.execution import OperationPaginatorState
from aws_durable_execution_sdk_python_testing.invoker import InvokeResponse

from lambdalab.durable.replays import ReplayLog
from lambdalab.errors import RecursiveInvocationException, UnknownFunctionError

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python_testing.execution import Execution

    from lambdalab.results import EngineResult

# (function name, qualifier, payload, execution ARN, tenant id) -> the engine's answer; raises what
# Lab.start_invoke raises
RunReplay = Callable[[str, str | None, bytes, str, str | None], "EngineResult"]
# the execution's operations now (the service's store)
Operations = Callable[[str], list[Any]]
Now = Callable[[], datetime.datetime]  # the durable clock


class LabInvoker:
    """The runner's ``Invoker``: replays as Lab invocations, each one written to the ``ReplayLog``."""

    def __init__(
        self, run: RunReplay, operations: Operations, replays: ReplayLog, now: Now, give_up: Callable[[str], None]
    ) -> None:
        self._run, self._operations, self.replays, self._now = run, operations, replays, now
        self._give_up = give_up  # the execution fails with this replay's error: no retry (a recursive loop)
        self._lock = threading.Lock()
        self._last: dict[str, EngineResult] = {}

    def last_result(self, execution_arn: str) -> EngineResult | None:
        """The engine's answer to the execution's latest replay (None before the first one ends)."""
        with self._lock:
            return self._last.get(execution_arn)

    # -- the runner's Invoker protocol --------------------------------------------------------------
    def create_invocation_input(self, execution: Execution) -> DurableExecutionInvocationInput:
        paginator = OperationPaginatorState.pin(execution)
        page, next_marker = paginator.page(None, DEFAULT_MAX_INVOCATION_PAGE_BYTES)
        self.replays.starting(execution.durable_execution_arn, execution.operations)
        return DurableExecutionInvocationInput(
            durable_execution_arn=execution.durable_execution_arn,
            checkpoint_token=execution.get_new_checkpoint_token(),
            initial_execution_state=InitialExecutionState(operations=page, next_marker=next_marker or ""),
            updated_operation_ids=list(execution.updated_operation_ids),
        )

    def invoke(
        self,
        function_name: str,
        input: DurableExecutionInvocationInput,  # noqa: A002 - the protocol's name
        endpoint_url: str | None = None,
        tenant_id: str | None = None,
        account_id: str | None = None,
        region_name: str | None = None,
    ) -> InvokeResponse:
        name, _, qualifier = function_name.partition(":")
        arn = input.durable_execution_arn
        payload = json.dumps(input.to_json_dict()).encode()
        sent = self._now()
        try:
            result = self._run(name, qualifier or None, payload, arn, tenant_id)
        except UnknownFunctionError as exc:
            raise ResourceNotFoundException(str(exc)) from None
        except RecursiveInvocationException as exc:  # a loop: every replay would be refused as this one
            self._give_up(arn)
            raise failed(exc.code, str(exc)) from None
        except Exception as exc:  # throttled, too large, the Lab closing: the runner retries after its back-off
            raise failed(getattr(exc, "code", None) or type(exc).__name__, str(exc)) from None
        with self._lock:
            self._last[arn] = result
        outcome = _outcome(result)
        self.replays.finished(arn, result.record, outcome, self._operations(arn), (sent, self._now()))
        if result.is_error:  # the runner invokes again after its back-off; the last one's error fails the execution
            raise function_error(result)
        return InvokeResponse.from_payload(result.body, result.record.request_id)

    def update_endpoint(self, endpoint_url: str, region_name: str) -> None:
        """Nothing to update: replays go through the Lab, not an endpoint."""

    def inherit_endpoint(self, child_execution_arn: str, parent_execution_arn: str) -> None:
        """Nothing to inherit (see ``update_endpoint``)."""


def _outcome(result: EngineResult) -> str:
    if result.is_error:
        return f"error: {result.record.error_type or 'Unhandled'}"
    try:
        status = json.loads(result.body).get("Status")
    except (ValueError, AttributeError):
        status = None
    return status if isinstance(status, str) else "invalid output"


class InvocationFailed(DurableOperationError):
    """A replay that failed as an invocation, raised to the runner with the function's own error.

    The runner records an invocation's exception as the execution's error (``ErrorObject.from_exception``: the
    exception's class path as ``ErrorType``, its message, data and stack trace) and fails the execution with the
    last one once its retries are spent. ``failed`` gives each Lambda error type (``Runtime.ImportModuleError``,
    ``Sandbox.Timedout``, ``ValueError``, ``TooManyRequestsException``...) a subclass whose class path is that type,
    so the execution fails with the function's own error, as Lambda reports it, not with the runner's exception."""


_FAILURES: dict[str, type[InvocationFailed]] = {}
_MAX_FAILURE_TYPES = 256  # error types come from functions: the cache stays bounded
_ERROR_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def failed(error_type: str, message: str, stack_trace: list[str] | None = None) -> InvocationFailed:
    """The exception whose ``ErrorObject`` is ``error_type`` / ``message`` (see ``InvocationFailed``)."""
    if not _ERROR_TYPE.match(error_type) or len(error_type) > 128:
        error_type = "Unhandled"
    cls = _FAILURES.get(error_type)
    if cls is None:
        module, _, name = error_type.rpartition(".")
        cls = type(name, (InvocationFailed,), {"__module__": module or "builtins", "__qualname__": name})
        if len(_FAILURES) < _MAX_FAILURE_TYPES:
            _FAILURES[error_type] = cls
    return cls(message, error_type=error_type, stack_trace=stack_trace)


def function_error(result: EngineResult) -> InvocationFailed:
    """A failed invocation's error (its payload's ``errorType``, ``errorMessage``, ``stackTrace``) as ``failed``."""
    try:
        body: Any = json.loads(result.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    error_type = str(body.get("errorType") or result.record.error_type or "Unhandled")
    message = str(body.get("errorMessage") or result.body[:500].decode(errors="replace"))
    trace = body.get("stackTrace")
    return failed(error_type, message, [str(line) for line in trace] if isinstance(trace, list) else None)
