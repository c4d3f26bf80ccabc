"""Inputs to the core: facts that already happened, named in the past tense.

Each event names the environment it concerns, the incarnation (which process of that
environment) it comes from, and ``at``, the driver's clock in seconds. The pool drops events from
an incarnation that is no longer current, so a killed process can never touch its successor.
"""

from __future__ import annotations

from lambdalab.core._value import value


@value
class Invocation:
    """One request to run. ``payload`` is opaque to the core (bytes in the engine)."""

    request_id: str
    submitted: float
    payload: object = None
    invoked_arn: str = ""
    options: object = None


@value
class Event:
    environment_id: str
    incarnation: int
    at: float


@value
class ProcessStarted(Event):
    pass


@value
class NextRequested(Event):
    """The runtime called ``GET /next``: init is done, or the previous invoke is."""


@value
class ResponsePosted(Event):
    request_id: str
    body: object
    max_memory_mb: int


@value
class ErrorPosted(Event):
    request_id: str
    body: object
    error_type: str
    max_memory_mb: int


@value
class InitErrorPosted(Event):
    body: object
    error_type: str


@value
class DeadlineExceeded(Event):
    """The armed deadline passed (init limit or function timeout)."""

    max_memory_mb: int = 0


@value
class ProcessExited(Event):
    returncode: int
    out_of_memory: bool = False
    max_memory_mb: int = 0


@value
class ShutdownRequested(Event):
    """Retire this environment (idle expiry, new code, Lab closing)."""


@value
class StartRequested(Event):
    """Start (or restart after a reset) the environment's runtime process."""

    phase: str = "init"


@value
class InvocationAssigned(Event):
    invocation: Invocation


@value
class WakeupDue(Event):
    """A ``ScheduleWakeup`` came due; ``environment_id`` holds its key, ``incarnation`` is unused."""
