"""What the durable service keeps and answers with: the store that names executions as Lambda does, an execution
as ``lab.durable_executions()`` lists it, and a synchronous invoke's answer carrying the execution's ARN.

``WatchedStore`` is the local runner's in-memory store with two additions: waiters learn when an execution ends, and
a new execution gets its Lambda ARN (``execution_arn``) the moment the runner first saves it, before anything reads
the runner's own id, so the runner, the function's SDK, the APIs and the tables all know it by that ARN.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_durable_execution_sdk_python_testing.stores.memory import InMemoryExecutionStore

from lambdalab.results import EngineResult, InvocationResult

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python_testing.execution import Execution
    from aws_durable_execution_sdk_python_testing.model import GetDurableExecutionResponse


class WatchedStore(InMemoryExecutionStore):
    """The runner's in-memory store, telling waiters when an execution it saves has ended (every end is saved).

    It also names executions as Lambda does: the runner makes a new execution with its own id (``<uuid>/<uuid>``)
    and saves it before anything reads that id; ``name`` gives it its Lambda ARN then (``execution_arn``), so the
    runner, the function's SDK (its ``DurableExecutionArn``), the APIs and the tables all know it by that ARN."""

    def __init__(self, name: Callable[[Execution], str] | None = None) -> None:
        super().__init__()
        self._name = name
        self._ends: dict[str, threading.Event] = {}
        self._ends_lock = threading.Lock()
        self._released = False

    def ended(self, arn: str) -> threading.Event:
        """Set once execution ``arn`` has ended (any number of waiters, at any time)."""
        with self._ends_lock:
            event = self._ends.setdefault(arn, threading.Event())
            if self._released:
                event.set()
        try:
            if self.load(arn).is_complete:
                event.set()
        except Exception:  # noqa: BLE001 - not saved yet: it has not ended
            pass
        return event

    def release(self) -> None:
        """Wake every waiter (the Lab is closing: what they wait for will not happen here)."""
        with self._ends_lock:
            self._released = True
            events = list(self._ends.values())
        for event in events:
            event.set()

    def save(self, execution: Execution) -> None:
        if self._name is not None and not execution.durable_execution_arn.startswith("arn:"):  # a new execution
            execution.durable_execution_arn = self._name(execution)
        super().save(execution)
        self._note(execution)

    def update(self, execution: Execution) -> None:
        super().update(execution)
        self._note(execution)

    def _note(self, execution: Execution) -> None:
        if execution.is_complete:
            with self._ends_lock:
                event = self._ends.setdefault(execution.durable_execution_arn, threading.Event())
            event.set()


@dataclasses.dataclass(frozen=True)
class Started:
    """An execution: what ``lab.durable_executions()`` lists, oldest first (``submitted`` and ``payload`` are known
    for those started through the Lab; a chained invoke's child has 0 and b"")."""

    arn: str
    function: str
    qualifier: str
    name: str
    submitted: float  # epoch seconds, real time
    payload: bytes
    tenant_id: str | None = None  # the invoke's tenant: every replay carries it (context.tenant_id)
    trace_header: str | None = None  # the caller's X-Ray trace header: every replay continues its Lineage


def execution_arn(function_arn: str, name: str, runner_id: str) -> str:
    """Lambda's ARN of an execution (botocore's ``DurableExecutionArn``): the qualified function's ARN (``$LATEST`` or
    a version), ``/durable-execution/``, the execution's name and its id. The id is the execution operation's id (the
    runner's id ends in it): the SDK inside the function finds that operation, and the input, by the ARN's last part."""
    return f"{function_arn}/durable-execution/{name}/{runner_id.rpartition('/')[2]}"


@dataclasses.dataclass(frozen=True, slots=True)
class DurableEngineResult(EngineResult):
    """A synchronous invoke's answer for a durable function: the workflow's outcome, and the execution's ARN (the
    Invoke API's ``X-Amz-Durable-Execution-Arn``)."""

    durable_execution_arn: str | None = None


@dataclasses.dataclass(frozen=True, repr=False)
class DurableInvocationResult(InvocationResult):
    """``fn.invoke``'s result for a durable function: an ``InvocationResult`` with the execution's ARN."""

    durable_execution_arn: str | None = None


def error_body(details: GetDurableExecutionResponse) -> dict[str, Any]:
    """A failed, timed-out or stopped execution's error as a synchronous invoke's function error payload."""
    error = details.error
    body: dict[str, Any] = {
        "errorType": (error.type if error and error.type else None) or f"DurableExecution.{details.status}",
        "errorMessage": (error.message if error and error.message else None) or f"The execution {details.status}",
    }
    if error is not None and error.data:
        body["errorData"] = error.data
    if error is not None and error.stack_trace:
        body["stackTrace"] = list(error.stack_trace)
    return body
