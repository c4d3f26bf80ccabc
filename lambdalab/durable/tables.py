"""The durable tables: ``lab.durable_executions()`` and ``fn.durable_history(execution)`` (pandas, imported here only).

The history is the service's event log as ``GetDurableExecutionHistory`` answers it (one row per event:
``ExecutionStarted``, ``StepStarted``, ``StepSucceeded``, ``WaitStarted``, ``CallbackStarted``,
``InvocationCompleted``...), each row marked with the replay (invocation) it happened in, or none when the service
itself wrote it between replays (a wait or a callback completing). Its ``attrs`` carry the replays (one row per
invocation: what it skipped, what it ran), the execution and the clock's caption, which ``lambdalab.viz.durable``
draws.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lambdalab.durable.clock import caption
from lambdalab.durable.replays import OpView, Replay

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.durable.service import DurableService

EXECUTION_COLUMNS = [
    "execution_arn", "name", "function", "qualifier", "status", "start", "end", "duration_s",
    "replays", "cold_starts", "billed_ms", "result", "error_type",
]  # fmt: skip
HISTORY_COLUMNS = [
    "event_id",
    "time",
    "event_type",
    "name",
    "operation_id",
    "sub_type",
    "parent_id",
    "replay",
    "details",
]
REPLAY_COLUMNS = [
    "replay", "request_id", "environment_id", "cold", "start", "end", "duration_ms", "billed_ms", "outcome",
    "skipped", "ran", "ran_status",
]  # fmt: skip


def _epoch(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def executions(service: DurableService) -> pd.DataFrame:
    """One row per execution this Lab started, oldest first; times are the durable clock's (epoch seconds)."""
    import pandas as pd

    rows = []
    for run in service.started():
        details = service.details(run.arn)
        replays = service.replays_of(run.arn)
        start, end = _epoch(details.start_timestamp), _epoch(details.end_timestamp)
        rows.append(
            {
                "execution_arn": run.arn,
                "name": run.name,
                "function": run.function,
                "qualifier": run.qualifier,
                "status": details.status,
                "start": start,
                "end": end,
                "duration_s": None if start is None or end is None else end - start,
                "replays": len(replays),
                "cold_starts": sum(r.cold for r in replays),
                "billed_ms": sum(r.billed_duration_ms for r in replays),
                "result": details.result,
                "error_type": details.error.type if details.error is not None else None,
            }
        )
    frame = pd.DataFrame(rows, columns=EXECUTION_COLUMNS)
    frame.attrs["caption"] = caption(service.clock.scale)
    return frame


def _names(views: tuple[OpView, ...]) -> list[str]:
    """Operations as the chart labels them: their name, or their kind and the start of their id (unnamed branches)."""
    return [view[1] or f"{view[3] or view[2].lower()} {view[0][:6]}" for view in views]


# an operation event's type -> the status it gave the operation (StepFailed -> FAILED, WaitStarted -> STARTED, ...)
_EVENT_STATUS = (("Succeeded", "SUCCEEDED"), ("Failed", "FAILED"), ("TimedOut", "TIMED_OUT"), ("Started", "STARTED"))


def _status_of(event_type: str | None, fallback: str) -> str:
    for suffix, status in _EVENT_STATUS:
        if event_type is not None and event_type.endswith(suffix):
            return status
    return fallback


def replay_rows(replays: list[Replay], last_events: Mapping[tuple[int, str], str] | None = None) -> pd.DataFrame:
    """One row per replay; ``ran_status`` is what each operation it ran ended as in it, read from its last event
    there (``last_events``: (replay, operation id) -> event type), else from the store after it."""
    import pandas as pd

    last = last_events or {}

    rows = [
        {
            "replay": r.replay,
            "request_id": r.request_id,
            "environment_id": r.environment_id,
            "cold": r.cold,
            "start": r.start,
            "end": r.end,
            "duration_ms": r.duration_ms,
            "billed_ms": r.billed_duration_ms,
            "outcome": r.outcome,
            "skipped": _names(r.skipped),
            "ran": _names(r.ran),
            "ran_status": [_status_of(last.get((r.replay, view[0])), view[4]) for view in r.ran],
        }
        for r in replays
    ]
    return pd.DataFrame(rows, columns=REPLAY_COLUMNS)


def _replay_of(event_type: str, when: datetime.datetime, replays: list[Replay]) -> int | None:
    """The replay an event happened in: inside its clock window; an ``InvocationCompleted`` (written as the answer is
    read) belongs to the last replay sent before it; None for what the service did between replays."""
    if event_type == "InvocationCompleted":
        return max((r.replay for r in replays if r.clock_start <= when), default=None)
    return next((r.replay for r in replays if r.clock_start <= when <= r.clock_end), None)


def history(service: DurableService, arn: str) -> pd.DataFrame:
    """The checkpoint log of execution ``arn`` (see the module), with ``attrs``: ``execution_arn``,
    ``execution_name``, ``function``, ``status``,
    ``replays`` (a frame, one row per invocation), ``caption`` (the clock, when virtual)."""
    import pandas as pd

    events = service.executor.get_execution_history(arn, include_execution_data=True).events
    replays = service.replays_of(arn)
    rows: list[dict[str, Any]] = []
    for event in events:
        data = event.to_dict()
        details = next((value for key, value in data.items() if key.endswith("Details")), None)
        when = event.event_timestamp
        rows.append(
            {
                "event_id": event.event_id,
                "time": _epoch(when),
                "event_type": event.event_type,
                "name": event.name,
                "operation_id": event.operation_id,
                "sub_type": event.sub_type,
                "parent_id": event.parent_id,
                "replay": _replay_of(event.event_type, when, replays),
                "details": details,
            }
        )
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    last_events = {
        (row["replay"], row["operation_id"]): row["event_type"]
        for row in rows
        if row["replay"] is not None and row["operation_id"] is not None
    }
    frame["replay"] = frame["replay"].astype("Int64")
    run = next(s for s in service.started() if s.arn == arn)
    frame.attrs.update(
        execution_arn=arn,
        execution_name=run.name,
        function=run.function,
        status=service.details(arn).status,
        replays=replay_rows(replays, last_events),
        caption=caption(service.clock.scale),
    )
    return frame
