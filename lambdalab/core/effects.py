"""Outputs of the core: commands for the driver, named as imperatives.

The engine performs them with real processes, signals and sockets; the simulator by scheduling
their completion; tests by collecting them in a list.
"""

from __future__ import annotations

import dataclasses

from lambdalab.core.events import Invocation
from lambdalab.core.records import InvocationRecord, LogEntry, PhaseSpan


@dataclasses.dataclass(frozen=True, slots=True)
class Effect:
    environment_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class SpawnRuntime(Effect):
    incarnation: int
    init_type: str
    phase: str


@dataclasses.dataclass(frozen=True, slots=True)
class DeliverInvocation(Effect):
    """Answer the parked ``GET /next`` with this invocation."""

    invocation: Invocation
    deadline_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Freeze(Effect):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Thaw(Effect):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class ArmDeadline(Effect):
    """Send ``DeadlineExceeded`` for this incarnation at ``at`` unless disarmed first."""

    incarnation: int
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class DisarmDeadline(Effect):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Kill(Effect):
    """End every process of this incarnation (SIGKILL, as Lambda does with no extensions)."""

    incarnation: int


@dataclasses.dataclass(frozen=True, slots=True)
class CompleteInvocation(Effect):
    """The caller's answer: exactly one per accepted invocation."""

    invocation: Invocation
    record: InvocationRecord
    body: object
    is_error: bool


@dataclasses.dataclass(frozen=True, slots=True)
class RecordSpan(Effect):
    span: PhaseSpan


@dataclasses.dataclass(frozen=True, slots=True)
class Log(Effect):
    entry: LogEntry


@dataclasses.dataclass(frozen=True, slots=True)
class Retire(Effect):
    """The environment is gone for good: release its resources (task dirs, /tmp, limits)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleWakeup(Effect):
    """Send ``WakeupDue`` with this key (``environment_id``) at ``at``; replaces any earlier one for the key."""

    at: float
