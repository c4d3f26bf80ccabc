"""Outputs of the core: commands for the driver, named as imperatives.

The engine performs them with real processes, signals and sockets; the simulator by scheduling
their completion; tests by collecting them in a list.
"""

from __future__ import annotations

from lambdalab.core._value import value
from lambdalab.core.events import Invocation
from lambdalab.core.records import InvocationRecord, LogEntry, PhaseSpan


@value
class Effect:
    environment_id: str


@value
class SpawnRuntime(Effect):
    incarnation: int
    init_type: str
    phase: str


@value
class DeliverInvocation(Effect):
    """Answer the parked ``GET /next`` with this invocation."""

    invocation: Invocation
    deadline_at: float


@value
class Freeze(Effect):
    pass


@value
class Thaw(Effect):
    pass


@value
class ArmDeadline(Effect):
    """Send ``DeadlineExceeded`` for this incarnation at ``at`` unless disarmed first."""

    incarnation: int
    at: float


@value
class DisarmDeadline(Effect):
    pass


@value
class Kill(Effect):
    """End every process of this incarnation (SIGKILL, as Lambda does with no extensions)."""

    incarnation: int


@value
class CompleteInvocation(Effect):
    """The caller's answer: exactly one per accepted invocation."""

    invocation: Invocation
    record: InvocationRecord
    body: object
    is_error: bool


@value
class RecordSpan(Effect):
    span: PhaseSpan


@value
class Log(Effect):
    entry: LogEntry


@value
class Retire(Effect):
    """The environment is gone for good: release its resources (task dirs, /tmp, limits)."""


@value
class ScheduleWakeup(Effect):
    """Send ``WakeupDue`` with this key (``environment_id``) at ``at``; replaces any earlier one for the key."""

    at: float
