"""Outputs of the core: commands for the driver, named as imperatives.

The engine performs them with real processes, signals and sockets; the simulator by scheduling
their completion; tests by collecting them in a list.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lambdalab.core._value import Value
from lambdalab.core.events import Invocation
from lambdalab.core.records import InvocationRecord, LogEntry, PhaseSpan


class Effect(Value):
    environment_id: str
    __slots__ = ("environment_id",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id",)

    def __init__(self, environment_id: str) -> None:
        self.environment_id = environment_id


class SpawnRuntime(Effect):
    incarnation: int
    init_type: str
    phase: str
    __slots__ = ("incarnation", "init_type", "phase")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "init_type", "phase")

    def __init__(self, environment_id: str, incarnation: int, init_type: str, phase: str) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.init_type = init_type
        self.phase = phase


class DeliverInvocation(Effect):
    """Answer the parked ``GET /next`` with this invocation."""

    invocation: Invocation
    deadline_at: float
    __slots__ = ("invocation", "deadline_at")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "invocation", "deadline_at")

    def __init__(self, environment_id: str, invocation: Invocation, deadline_at: float) -> None:
        self.environment_id = environment_id
        self.invocation = invocation
        self.deadline_at = deadline_at


class Freeze(Effect):
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id",)


class Thaw(Effect):
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id",)


class ArmDeadline(Effect):
    """Send ``DeadlineExceeded`` for this incarnation at ``at`` unless disarmed first."""

    incarnation: int
    at: float
    __slots__ = ("incarnation", "at")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation", "at")

    def __init__(self, environment_id: str, incarnation: int, at: float) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation
        self.at = at


class DisarmDeadline(Effect):
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id",)


class Kill(Effect):
    """End every process of this incarnation (SIGKILL, as Lambda does with no extensions)."""

    incarnation: int
    __slots__ = ("incarnation",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "incarnation")

    def __init__(self, environment_id: str, incarnation: int) -> None:
        self.environment_id = environment_id
        self.incarnation = incarnation


class CompleteInvocation(Effect):
    """The caller's answer: exactly one per accepted invocation."""

    invocation: Invocation
    record: InvocationRecord
    body: Any
    is_error: bool
    __slots__ = ("invocation", "record", "body", "is_error")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "invocation", "record", "body", "is_error")

    def __init__(self, environment_id: str, invocation: Invocation, record: InvocationRecord, body: Any, is_error:
                 bool) -> None:
        self.environment_id = environment_id
        self.invocation = invocation
        self.record = record
        self.body = body
        self.is_error = is_error


class RecordSpan(Effect):
    span: PhaseSpan
    __slots__ = ("span",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "span")

    def __init__(self, environment_id: str, span: PhaseSpan) -> None:
        self.environment_id = environment_id
        self.span = span


class Log(Effect):
    entry: LogEntry
    __slots__ = ("entry",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "entry")

    def __init__(self, environment_id: str, entry: LogEntry) -> None:
        self.environment_id = environment_id
        self.entry = entry


class Retire(Effect):
    """The environment is gone for good: release its resources (task dirs, /tmp, limits)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ("environment_id",)


class ScheduleWakeup(Effect):
    """Send ``WakeupDue`` with this key (``environment_id``) at ``at``; replaces any earlier one for the key."""

    at: float
    __slots__ = ("at",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "at")

    def __init__(self, environment_id: str, at: float) -> None:
        self.environment_id = environment_id
        self.at = at
