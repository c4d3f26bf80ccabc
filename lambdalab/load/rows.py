"""A load run's table: each finished request's outcome made one row, the rows made a DataFrame (``COLUMNS``).

A row is the request's place in the run (``seq``, ``client``, when it was due and sent, as epoch seconds), every
field of its ``InvocationRecord`` (``None`` where the request got no record: a throttle or another Invoke API
error, whose class name is the ``error_type``), and its latencies. ``load/report.py`` summarises the frame.
Plain values in, a frame out: no clock, no threads; pandas is imported inside ``frame``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lambdalab.core.records import InvocationRecord
from lambdalab.errors import TooManyRequestsException

if TYPE_CHECKING:
    import pandas as pd

RECORD_FIELDS = InvocationRecord._fields
COLUMNS = (
    "seq",
    "client",
    "scheduled_at",
    "sent_at",
    *RECORD_FIELDS,
    "latency_ms",
    "client_latency_ms",
    "lag_ms",
    "throttled",
)
_BOOL_COLUMNS = ("cold", "init_suppressed", "reset")
_INT_COLUMNS = ("billed_duration_ms", "memory_size_mb", "max_memory_used_mb")
_FLOAT_COLUMNS = (
    "scheduled_at",
    "sent_at",
    "init_duration_ms",
    "duration_ms",
    "start",
    "end",
    "submitted",
    "latency_ms",
    "client_latency_ms",
    "lag_ms",
)
_STATUS, _FUNCTION, _ERROR_TYPE = (RECORD_FIELDS.index(name) for name in ("status", "function", "error_type"))


@dataclasses.dataclass
class Outcome:
    """How one request ended: its sequence number, the target's answer or the error, when (monotonic)."""

    seq: int
    result: Any  # the InvocationResult (or whatever the target answered), or None
    error: BaseException | None
    done: float  # monotonic


def row(
    outcome: Outcome,
    scheduled: list[float],
    sent: list[float],
    clients: list[int],
    *,
    function_name: str | None,
    wall0: float,
    t0: float,
) -> tuple[Any, ...]:
    """``outcome``'s row; ``scheduled``/``sent`` (monotonic) and ``clients`` are by seq; ``wall0`` is
    the epoch time of the monotonic ``t0``."""
    record = getattr(outcome.result, "record", None) if outcome.error is None else None
    client_ms = (outcome.done - sent[outcome.seq]) * 1000.0
    if isinstance(record, InvocationRecord):
        fields = [getattr(record, name) for name in RECORD_FIELDS]
        fields[_STATUS] = record.status.value
        latency = (record.end - record.submitted) * 1000.0
        throttled = False
    else:
        fields = [None] * len(RECORD_FIELDS)
        fields[_FUNCTION] = function_name
        if outcome.error is not None:
            fields[_ERROR_TYPE] = type(outcome.error).__name__
        latency = client_ms
        throttled = isinstance(outcome.error, TooManyRequestsException)
    return (
        outcome.seq,
        clients[outcome.seq],
        wall0 + (scheduled[outcome.seq] - t0),
        wall0 + (sent[outcome.seq] - t0),
        *fields,
        latency,
        client_ms,
        (sent[outcome.seq] - scheduled[outcome.seq]) * 1000.0,
        throttled,
    )


def frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The rows as a DataFrame with ``COLUMNS`` and their dtypes (nullable booleans and integers)."""
    import pandas as pd

    table = (
        pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        if rows
        else pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
    )
    for name in _BOOL_COLUMNS:
        table[name] = table[name].astype("boolean")
    for name in _INT_COLUMNS:
        table[name] = table[name].astype("Int64")
    for name in ("seq", "client"):
        table[name] = table[name].astype("int64")
    for name in _FLOAT_COLUMNS:
        table[name] = table[name].astype("float64")
    table["throttled"] = table["throttled"].astype(bool)
    return table
