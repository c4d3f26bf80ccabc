"""Records of what happened (phase spans, invocation records, log entries) and Lambda's log lines.

Records are frozen data made by the lifecycle; formatting them into Lambda's platform lines is a
pure function here (LAMBDA-SPEC §4.2: TAB-separated fields, a trailing TAB on a successful REPORT).
Times are driver-clock seconds; milliseconds appear only in the formatted lines.
"""

from __future__ import annotations

import hashlib
import sys
from typing import ClassVar, Final

from lambdalab.core._value import Value
from lambdalab.core.outcomes import Status

_PY = f"{sys.version_info.major}.{sys.version_info.minor}"
RUNTIME_VERSIONS: Final = {
    "python": f"python:{_PY}.v1",
    "python-ric": f"python:{_PY}.v1",
    "provided": "provided:al2023.v1",
}


def runtime_version(runtime: str) -> str:
    """``INIT_START``'s ``Runtime Version`` for Lambda's identifier: ``python:3.11.v1``, ``nodejs:20.v1``, ``provided:al2023.v1``."""
    if runtime in RUNTIME_VERSIONS:
        return RUNTIME_VERSIONS[runtime]
    if runtime.startswith("python3."):
        return f"python:{runtime[6:]}.v1"
    if runtime.startswith("nodejs") and runtime.endswith(".x"):
        return f"nodejs:{runtime[6:-2]}.v1"
    if runtime.startswith("provided."):
        return f"provided:{runtime[9:]}.v1"
    return f"{runtime}.v1"


class PhaseSpan(Value):
    """One phase of one environment: ``init``, ``invoke``, ``frozen``, ``idle`` or ``shutdown``."""

    environment_id: str
    function: str
    version: str
    phase: str
    start: float
    end: float
    request_id: str | None
    __slots__ = ("environment_id", "function", "version", "phase", "start", "end", "request_id")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "function", "version", "phase", "start", "end", "request_id")

    def __init__(self, environment_id: str, function: str, version: str, phase: str, start: float, end: float,
                 request_id: str | None = None) -> None:
        self.environment_id = environment_id
        self.function = function
        self.version = version
        self.phase = phase
        self.start = start
        self.end = end
        self.request_id = request_id


class InvocationRecord(Value):
    """Everything the REPORT line and the invocations table say about one invocation."""

    request_id: str
    function: str
    version: str
    environment_id: str
    cold: bool
    init_duration_ms: float | None
    init_suppressed: bool
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    status: Status
    error_type: str | None
    start: float
    end: float
    submitted: float
    reset: bool  # the invocation ended its environment's process (timeout, crash, init error)
    __slots__ = ("request_id", "function", "version", "environment_id", "cold", "init_duration_ms", "init_suppressed", "duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb", "status", "error_type", "start", "end", "submitted", "reset")
    _fields: ClassVar[tuple[str, ...]] = ("request_id", "function", "version", "environment_id", "cold", "init_duration_ms", "init_suppressed", "duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb", "status", "error_type", "start", "end", "submitted", "reset")

    def __init__(self, request_id: str, function: str, version: str, environment_id: str, cold: bool,
                 init_duration_ms: float | None, init_suppressed: bool, duration_ms: float, billed_duration_ms: int,
                 memory_size_mb: int, max_memory_used_mb: int, status: Status, error_type: str | None, start: float,
                 end: float, submitted: float, reset: bool = False) -> None:
        self.request_id = request_id
        self.function = function
        self.version = version
        self.environment_id = environment_id
        self.cold = cold
        self.init_duration_ms = init_duration_ms
        self.init_suppressed = init_suppressed
        self.duration_ms = duration_ms
        self.billed_duration_ms = billed_duration_ms
        self.memory_size_mb = memory_size_mb
        self.max_memory_used_mb = max_memory_used_mb
        self.status = status
        self.error_type = error_type
        self.start = start
        self.end = end
        self.submitted = submitted
        self.reset = reset

    @property
    def latency_ms(self) -> float:
        """From submission to completion, as the caller waited for it."""
        return (self.end - self.submitted) * 1000.0


# Log entries kept in an environment's log stream; formatted only when read.
class InitStart(Value):
    runtime: str
    at: float
    __slots__ = ("runtime", "at")
    _fields: ClassVar[tuple[str, ...]] = ("runtime", "at")

    def __init__(self, runtime: str, at: float) -> None:
        self.runtime = runtime
        self.at = at


class InitReport(Value):
    duration_ms: float
    phase: str
    status: Status
    error_type: str | None
    at: float
    __slots__ = ("duration_ms", "phase", "status", "error_type", "at")
    _fields: ClassVar[tuple[str, ...]] = ("duration_ms", "phase", "status", "error_type", "at")

    def __init__(self, duration_ms: float, phase: str, status: Status, error_type: str | None, at: float) -> None:
        self.duration_ms = duration_ms
        self.phase = phase
        self.status = status
        self.error_type = error_type
        self.at = at


class Start(Value):
    request_id: str
    version: str
    at: float
    __slots__ = ("request_id", "version", "at")
    _fields: ClassVar[tuple[str, ...]] = ("request_id", "version", "at")

    def __init__(self, request_id: str, version: str, at: float) -> None:
        self.request_id = request_id
        self.version = version
        self.at = at


class End(Value):
    request_id: str
    at: float
    __slots__ = ("request_id", "at")
    _fields: ClassVar[tuple[str, ...]] = ("request_id", "at")

    def __init__(self, request_id: str, at: float) -> None:
        self.request_id = request_id
        self.at = at


class Report(Value):
    record: InvocationRecord
    at: float
    __slots__ = ("record", "at")
    _fields: ClassVar[tuple[str, ...]] = ("record", "at")

    def __init__(self, record: InvocationRecord, at: float) -> None:
        self.record = record
        self.at = at


LogEntry = InitStart | InitReport | Start | End | Report


def format_init_start(entry: InitStart) -> str:
    version = runtime_version(entry.runtime)
    digest = hashlib.sha256(f"lambdalab:{version}:{entry.runtime}".encode()).hexdigest()
    return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:{digest}"


def format_init_report(entry: InitReport) -> str:
    line = f"INIT_REPORT Init Duration: {entry.duration_ms:.2f} ms\tPhase: {entry.phase}\tStatus: {entry.status.value}"
    return line + (f"\tError Type: {entry.error_type}" if entry.error_type else "")


def format_start(entry: Start) -> str:
    return f"START RequestId: {entry.request_id} Version: {entry.version}"


def format_end(entry: End) -> str:
    return f"END RequestId: {entry.request_id}"


def format_report(record: InvocationRecord) -> str:
    """The REPORT line, byte for byte as Lambda prints it (LAMBDA-SPEC §4.2)."""
    parts = [
        f"REPORT RequestId: {record.request_id}",
        f"Duration: {record.duration_ms:.2f} ms",
        f"Billed Duration: {record.billed_duration_ms} ms",
        f"Memory Size: {record.memory_size_mb} MB",
        f"Max Memory Used: {record.max_memory_used_mb} MB",
    ]
    if record.init_duration_ms is not None and not record.init_suppressed:
        parts.append(f"Init Duration: {record.init_duration_ms:.2f} ms")
    if record.status is Status.SUCCESS or not record.reset:  # a handler's own error is no platform failure
        return "\t".join(parts) + "\t"
    parts.append(f"Status: {record.status.value}")
    if record.error_type and record.status is Status.ERROR:
        parts.append(f"Error Type: {record.error_type}")
    return "\t".join(parts)


_FORMATTERS: Final = {
    InitStart: format_init_start,
    InitReport: format_init_report,
    Start: format_start,
    End: format_end,
    Report: lambda entry: format_report(entry.record),
}


def format_entry(entry: LogEntry) -> str:
    """One platform line for a log entry."""
    return _FORMATTERS[type(entry)](entry)  # type: ignore[no-any-return,operator]


def log_stream_name(date: str, version: str, environment_id: str) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>`` (LAMBDA-SPEC §4.1); the driver supplies the date."""
    return f"{date}/[{version}]{environment_id}"
