"""What an invocation gives back: ``InvocationResult`` (sync), ``AsyncInvocation`` (Event), and
the read-only views ``EnvironmentInfo`` and ``Destinations``.

Results are plain values: decoding the payload happens here, on the caller's thread, never on the
engine's loop. ``log`` is rendered from the environment's log stream only when read.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from lambdalab.core.records import InvocationRecord, format_report
from lambdalab.engine.control_plane import EngineResult
from lambdalab.errors import FunctionError

if TYPE_CHECKING:
    from lambdalab.api import Lab


@dataclasses.dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, with what the REPORT line says about it."""

    payload: Any
    error: dict[str, Any] | None
    raw: bytes
    record: InvocationRecord
    _stream: Any = dataclasses.field(repr=False)
    _log_span: tuple[int, int] = dataclasses.field(repr=False)

    request_id = property(lambda self: self.record.request_id)
    environment_id = property(lambda self: self.record.environment_id)
    cold = property(lambda self: self.record.cold)
    duration_ms = property(lambda self: self.record.duration_ms)
    billed_duration_ms = property(lambda self: self.record.billed_duration_ms)
    init_duration_ms = property(lambda self: self.record.init_duration_ms)
    max_memory_used_mb = property(lambda self: self.record.max_memory_used_mb)
    memory_size_mb = property(lambda self: self.record.memory_size_mb)
    version = property(lambda self: self.record.version)
    status = property(lambda self: self.record.status.value)

    @property
    def function_error(self) -> str | None:
        """``"Unhandled"`` when the invocation ended in error (``X-Amz-Function-Error``)."""
        return "Unhandled" if self.error is not None else None

    @property
    def log(self) -> str:
        """This invocation's log, START to REPORT, as Lambda writes it."""
        return self._stream.text(*self._log_span)

    @property
    def report(self) -> str:
        return format_report(self.record)

    def raise_for_error(self) -> InvocationResult:
        """Raise ``FunctionError`` if the invocation ended in error; return self otherwise."""
        if self.error is not None:
            raise FunctionError(str(self.error.get("errorType", "Unknown")), str(self.error.get("errorMessage", "")),
                                self.error.get("stackTrace"))
        return self

    def __repr__(self) -> str:
        kind = "cold" if self.cold else "warm"
        what = f"error={self.error.get('errorType')!r}" if self.error else f"payload={self.payload!r:.60}"
        return (f"<InvocationResult {kind} {what} duration={self.duration_ms:.2f}ms "
                f"environment={self.environment_id[:8]}>")

    @classmethod
    def _from_engine(cls, result: EngineResult) -> InvocationResult:
        body = result.body
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body
        error = payload if result.is_error and isinstance(payload, dict) else None
        if result.is_error and error is None:
            error = {"errorType": result.record.error_type or "Runtime.Unknown", "errorMessage": str(payload)}
        return cls(payload, error, body, result.record, result.stream, (result.log_start, result.log_end))


@dataclasses.dataclass(frozen=True)
class EnvironmentInfo:
    """One live environment of a function, as ``Function.environments()`` lists it."""

    environment_id: str
    version: str
    state: str
    frozen: bool
    provisioned: bool
    invocations: int


@dataclasses.dataclass(frozen=True)
class AsyncInvocation:
    """The answer to an ``Event`` invocation: accepted (202) and queued; the outcome goes to a destination."""

    request_id: str
    status_code: int = 202


class Destinations:
    """A function's asynchronous destinations: lists of Lambda-shaped records, oldest first."""

    def __init__(self, lab: Lab, name: str) -> None:
        self._lab, self._name = lab, name

    @property
    def on_success(self) -> list[dict[str, Any]]:
        return list(self._lab._plane.destinations.get(self._name, {}).get("on_success", []))

    @property
    def on_failure(self) -> list[dict[str, Any]]:
        return list(self._lab._plane.destinations.get(self._name, {}).get("on_failure", []))

    def __repr__(self) -> str:
        return f"<Destinations {self._name}: {len(self.on_success)} on_success, {len(self.on_failure)} on_failure>"
