"""Chained invokes (``context.invoke("other-function", payload)``) against the Lab's own functions.

The runner's executor asks a ``ChildDispatcher`` what a chained invoke's target is. Here every function of the Lab
is a target: a durable one becomes a child durable execution (the executor starts it; its replays are Lab
invocations like any execution's, ``invoker.py``), any other one runs once as an ordinary synchronous invocation
through the Lab, its answer (or its function error) the operation's outcome. A name the Lab does not know fails in
the checkpoint response, as Lambda answers an unknown target.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.child_dispatcher import (
    ChainedInvokeRequest,
    ChildOutcome,
    DispatchResult,
    FunctionTarget,
    RunInvocation,
    StartChild,
    function_not_found,
    result_outcome,
)
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.results import EngineResult

# (function name, qualifier, payload) -> the engine's answer to one invocation through the Lab
RunOnLab = Callable[[str, str | None, bytes], "EngineResult"]


class LabChildDispatcher:
    """The runner's ``ChildDispatcher`` over a Lab's functions."""

    def __init__(self, lab: Lab, run: RunOnLab) -> None:
        self._lab, self._run = lab, run

    def preflight(self, target: FunctionTarget) -> ChildOutcome | None:
        if target.name not in self._lab.functions():
            return function_not_found(target.name).outcome
        return None

    def dispatch(self, request: ChainedInvokeRequest) -> DispatchResult:
        name = request.function_name
        if name not in self._lab.functions():
            return function_not_found(name)
        config = self._lab.function(name).config
        if config.durable:
            return StartChild(
                child_start=StartDurableExecutionInput(
                    account_id=request.account_id,
                    function_name=name,
                    function_qualifier=request.child_qualifier(),
                    execution_name=str(uuid.uuid4()),
                    execution_timeout_seconds=config.durable_execution_timeout_s,
                    execution_retention_period_days=config.durable_retention_days,
                    invocation_id=None,
                    trace_fields=request.trace_fields,
                    tenant_id=request.tenant_id,
                    input=request.payload,
                    lambda_endpoint=None,
                )
            )
        return RunInvocation(invocation=lambda: self._invoke(request))

    def _invoke(self, request: ChainedInvokeRequest) -> ChildOutcome:
        """One synchronous invocation of a plain target: its payload, or its function error, is the outcome."""
        payload = (request.payload if request.payload is not None else "{}").encode()
        try:
            result = self._run(request.function_name, request.qualifier, payload)
        except Exception as exc:  # noqa: BLE001 - an Invoke API error (throttled, too large...) fails the operation
            code = getattr(exc, "code", None)
            return ChildOutcome(error=ErrorObject(message=str(exc), type=code, data=None, stack_trace=None))
        body = result.body.decode(errors="replace")
        if not result.is_error:
            return result_outcome(body or None)
        return ChildOutcome(error=_function_error(body, result.record.error_type))


def _function_error(body: str, error_type: str | None) -> ErrorObject:
    """A function error's payload (``errorType``, ``errorMessage``, ``stackTrace``) as the operation's error."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return ErrorObject(message=body, type=error_type, data=None, stack_trace=None)
    trace = data.get("stackTrace")
    return ErrorObject(
        message=str(data.get("errorMessage", "")),
        type=str(data.get("errorType") or error_type or "Unhandled"),
        data=None,
        stack_trace=[str(line) for line in trace] if isinstance(trace, list) else None,
    )
