"""What each replay of a durable execution did: one lambdalab invocation, the operations it skipped, the ones it ran.

Lambda invokes a durable function again from the top after every wait, retry and callback; the SDK replays the
checkpoint log and skips the operations that already completed. ``Replay`` keeps, for one such invocation, its
record's numbers and the operations it found completed when it started (``skipped``) and the ones it started or
finished itself (``ran``), compared by the durable service's store before and after it (``ReplayLog``). Pure data:
no Lab, no SDK.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Iterable, Mapping
from typing import Any

# an operation as the log shows it: (operation id, name, type, sub type, status, parent id)
OpView = tuple[str, str | None, str, str | None, str, str | None]
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"})


@dataclasses.dataclass(frozen=True)
class Replay:
    """One invocation of a durable execution (the first one is a replay of an empty log)."""

    execution_arn: str
    replay: int  # 1, 2, ... in the order Lambda invoked them
    request_id: str
    environment_id: str
    cold: bool
    start: float  # epoch seconds, real time
    end: float
    duration_ms: float
    billed_duration_ms: int
    clock_start: datetime.datetime  # the durable clock's time (virtual under Lab(time_scale=...)) when it was sent
    clock_end: datetime.datetime  # ... and when its answer came back
    outcome: str  # the invocation's Status (PENDING, SUCCEEDED, FAILED) or "error: <type>" when the invoke failed
    skipped: tuple[OpView, ...]  # completed before it started: the SDK returned their checkpointed results
    ran: tuple[OpView, ...]  # started, retried or finished by this invocation


def op_view(operation: Any) -> OpView:
    """An SDK ``Operation`` as plain values."""
    return (
        operation.operation_id,
        operation.name,
        operation.operation_type.value,
        operation.sub_type,
        operation.status.value,
        operation.parent_id,
    )


def snapshot(operations: Iterable[Any]) -> dict[str, OpView]:
    """Operations by id, the EXECUTION operation left out (it is the execution itself)."""
    return {view[0]: view for view in map(op_view, operations) if view[2] != "EXECUTION"}


def changed(before: Mapping[str, OpView], after: Mapping[str, OpView]) -> tuple[OpView, ...]:
    """Operations new in ``after`` or with another status there: what one invocation did."""
    return tuple(view for op_id, view in after.items() if before.get(op_id) != view)


class ReplayLog:
    """Replays by execution, in order; thread-safe (the service's invocation threads write, anyone reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_execution: dict[str, list[Replay]] = {}
        self._before: dict[str, dict[str, OpView]] = {}

    def starting(self, execution_arn: str, operations: Iterable[Any]) -> None:
        """The log as an invocation of ``execution_arn`` is about to see it."""
        with self._lock:
            self._before[execution_arn] = snapshot(operations)

    def finished(
        self,
        execution_arn: str,
        record: Any,
        outcome: str,
        operations: Iterable[Any],
        clock: tuple[datetime.datetime, datetime.datetime],
    ) -> Replay:
        """Record the invocation that just ended (``record``: its ``InvocationRecord``; ``clock``: when it was sent and
        answered, on the durable clock) against the log now."""
        after = snapshot(operations)
        with self._lock:
            before = self._before.pop(execution_arn, {})
            replays = self._by_execution.setdefault(execution_arn, [])
            replay = Replay(
                execution_arn=execution_arn,
                replay=len(replays) + 1,
                request_id=record.request_id,
                environment_id=record.environment_id,
                cold=record.cold,
                start=record.start,
                end=record.end,
                duration_ms=record.duration_ms,
                billed_duration_ms=record.billed_duration_ms,
                clock_start=clock[0],
                clock_end=clock[1],
                outcome=outcome,
                skipped=tuple(view for view in before.values() if view[4] in TERMINAL),
                ran=changed(before, after),
            )
            replays.append(replay)
            return replay

    def of(self, execution_arn: str) -> list[Replay]:
        with self._lock:
            return list(self._by_execution.get(execution_arn, ()))

    def count(self, execution_arn: str) -> int:
        with self._lock:
            return len(self._by_execution.get(execution_arn, ()))
