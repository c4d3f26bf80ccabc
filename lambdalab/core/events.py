"""Inputs to the core: facts that already happened, named in the past tense.

Each event names the environment it concerns, the incarnation (which process of that
environment) it comes from, and ``at``, the driver's clock in seconds. The pool drops events from
an incarnation that is no longer current, so a killed process can never touch its successor.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """One request to run. ``payload`` is opaque to the core (bytes in the engine)."""

    request_id: str
    submitted: float
    payload: object = None
    invoked_arn: str = ""
    options: object = None


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    environment_id: str
    incarnation: int
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessStarted(Event):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class NextRequested(Event):
    """The runtime called ``GET /next``: init is done, or the previous invoke is."""


@dataclasses.dataclass(frozen=True, slots=True)
class ResponsePosted(Event):
    request_id: str
    body: object
    max_memory_mb: int


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorPosted(Event):
    request_id: str
    body: object
    error_type: str
    max_memory_mb: int


@dataclasses.dataclass(frozen=True, slots=True)
class InitErrorPosted(Event):
    body: object
    error_type: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeadlineExceeded(Event):
    """The armed deadline passed (init limit or function timeout)."""

    max_memory_mb: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessExited(Event):
    returncode: int
    out_of_memory: bool = False
    max_memory_mb: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class ShutdownRequested(Event):
    """Retire this environment (idle expiry, new code, Lab closing)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StartRequested(Event):
    """Start (or restart after a reset) the environment's runtime process."""

    phase: str = "init"


@dataclasses.dataclass(frozen=True, slots=True)
class InvocationAssigned(Event):
    invocation: Invocation


@dataclasses.dataclass(frozen=True, slots=True)
class WakeupDue(Event):
    """A ``ScheduleWakeup`` came due; ``environment_id`` holds its key, ``incarnation`` is unused."""
