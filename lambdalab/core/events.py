"""Inputs to the core: facts that already happened, named in the past tense.

Each event names the environment it concerns, the incarnation (which process of that
environment) it comes from, and ``at``, the driver's clock in seconds. The pool drops events from
an incarnation that is no longer current, so a killed process can never touch its successor.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lambdalab.core._value import Value


class Invocation(Value):
    """One request to run. ``payload`` is opaque to the core (bytes in the engine)."""

    request_id: str
    submitted: float
    payload: Any
    invoked_arn: str
    options: Any
    __slots__ = ("request_id", "submitted", "payload", "invoked_arn", "options")
    _fields: ClassVar[tuple[str, ...]] = ("request_id", "submitted", "payload", "invoked_arn", "options")

    def __init__(self, request_id: str, submitted: float, payload: Any = None, invoked_arn: str = "",
                 options: Any = None) -> None:
        self.request_id = request_id
        self.submitted = submitted
        self.payload = payload
        self.invoked_arn = invoked_arn
        self.options = options


class Event(Value):
    environment_id: str
    incarnation: int
    at: float
    __slots__ = ("environment_id", "incarnation", "at")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")

    def __init__(self, environment_id: str, incarnation: int, at: float) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at


class ProcessStarted(Event):
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")


class NextRequested(Event):
    """The runtime called ``GET /next``: init is done, or the previous invoke is."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")


class ResponsePosted(Event):
    request_id: str
    body: Any
    max_memory_mb: int
    __slots__ = ("request_id", "body", "max_memory_mb")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "request_id", "body", "max_memory_mb")

    def __init__(self, environment_id: str, incarnation: int, at: float, request_id: str, body: Any, max_memory_mb:
                 int) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.request_id = request_id
        self.body = body
        self.max_memory_mb = max_memory_mb


class ErrorPosted(Event):
    request_id: str
    body: Any
    error_type: str
    max_memory_mb: int
    __slots__ = ("request_id", "body", "error_type", "max_memory_mb")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "request_id", "body", "error_type", "max_memory_mb")

    def __init__(self, environment_id: str, incarnation: int, at: float, request_id: str, body: Any, error_type:
                 str, max_memory_mb: int) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.request_id = request_id
        self.body = body
        self.error_type = error_type
        self.max_memory_mb = max_memory_mb


class InitErrorPosted(Event):
    body: Any
    error_type: str
    __slots__ = ("body", "error_type")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "body", "error_type")

    def __init__(self, environment_id: str, incarnation: int, at: float, body: Any, error_type: str) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.body = body
        self.error_type = error_type


class DeadlineExceeded(Event):
    """The armed deadline passed (init limit or function timeout)."""

    max_memory_mb: int
    __slots__ = ("max_memory_mb",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "max_memory_mb")

    def __init__(self, environment_id: str, incarnation: int, at: float, max_memory_mb: int = 0) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.max_memory_mb = max_memory_mb


class ProcessExited(Event):
    returncode: int
    out_of_memory: bool
    max_memory_mb: int
    __slots__ = ("returncode", "out_of_memory", "max_memory_mb")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "returncode", "out_of_memory", "max_memory_mb")

    def __init__(self, environment_id: str, incarnation: int, at: float, returncode: int, out_of_memory: bool = False,
                 max_memory_mb: int = 0) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.returncode = returncode
        self.out_of_memory = out_of_memory
        self.max_memory_mb = max_memory_mb


class ShutdownRequested(Event):
    """Retire this environment (idle expiry, new code, Lab closing)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")


class StartRequested(Event):
    """Start (or restart after a reset) the environment's runtime process."""

    phase: str
    __slots__ = ("phase",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "phase")

    def __init__(self, environment_id: str, incarnation: int, at: float, phase: str = "init") -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.phase = phase


class InvocationAssigned(Event):
    invocation: Invocation
    __slots__ = ("invocation",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at", "invocation")

    def __init__(self, environment_id: str, incarnation: int, at: float, invocation: Invocation) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at
        self.invocation = invocation


class WakeupDue(Event):
    """A ``ScheduleWakeup`` came due; ``environment_id`` holds its key, ``incarnation`` is unused."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")
