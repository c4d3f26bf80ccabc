"""A stream event source mapping's settings (Kinesis and DynamoDB Streams), checked as Lambda checks them.

The names are the keyword arguments of ``lab.kinesis_stream`` and ``lab.dynamodb_stream``; each maps to one
field of ``CreateEventSourceMapping``: ``batch_size`` (BatchSize, 1-10,000, default 100),
``batching_window_s`` (MaximumBatchingWindowInSeconds, 0-300), ``starting_position`` (TRIM_HORIZON, LATEST,
AT_TIMESTAMP for Kinesis) with ``starting_position_timestamp``, ``bisect_batch_on_function_error``,
``maximum_retry_attempts`` (-1 infinite, 0-10,000), ``maximum_record_age_s`` (-1 infinite, 60-604,800),
``report_batch_item_failures`` (FunctionResponseTypes), ``parallelization_factor`` (1-10; accepted and kept, but
one batch per shard is in flight whatever it says), ``qualifier``, ``enabled`` and ``on_failure``
(DestinationConfig.OnFailure.Destination: kept in the settings; ``failures()`` holds what would go there).

Rules: pure; every refusal is a ``ConfigError`` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lambdalab.errors import ConfigError

POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
# what update() may change: everything but where the mapping started reading
UPDATABLE = frozenset(
    {
        "batch_size",
        "batching_window_s",
        "bisect_batch_on_function_error",
        "maximum_retry_attempts",
        "maximum_record_age_s",
        "report_batch_item_failures",
        "parallelization_factor",
        "qualifier",
        "enabled",
        "on_failure",
    }
)


@dataclasses.dataclass(frozen=True)
class StreamSettings:
    """One stream mapping's settings; ``replace`` makes the updated ones (checked again)."""

    batch_size: int = 100
    batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    starting_position_timestamp: float | None = None
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    report_batch_item_failures: bool = False
    parallelization_factor: int = 1
    qualifier: str | None = None
    enabled: bool = True
    on_failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, options: dict[str, Any], kind: str) -> StreamSettings:
        unknown = sorted(set(options) - UPDATABLE)
        if unknown:
            raise ConfigError(f"invalid option: {unknown[0]!r} cannot be updated; expected one of {sorted(UPDATABLE)}")
        return check(dataclasses.replace(self, **options), kind)


def _require(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {field}: {value!r}; expected {allowed}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make(kind: str, options: dict[str, Any]) -> StreamSettings:
    """The settings from keyword ``options`` (``ConfigError`` for an unknown one or a bad value)."""
    known = {f.name for f in dataclasses.fields(StreamSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"invalid option: {unknown[0]!r}; expected one of {sorted(known)}")
    return check(StreamSettings(**options), kind)


def check(s: StreamSettings, kind: str) -> StreamSettings:
    """``s`` if every setting is one Lambda accepts for a ``kind`` ("kinesis" or "dynamodb") stream."""
    _require(_whole(s.batch_size) and 1 <= s.batch_size <= 10_000, "batch_size", s.batch_size, "1 to 10000")
    window = s.batching_window_s
    _require(
        isinstance(window, (int, float)) and not isinstance(window, bool) and 0 <= window <= 300,
        "batching_window_s",
        window,
        "0 to 300 seconds",
    )
    positions = POSITIONS if kind == "kinesis" else POSITIONS[:2]
    _require(s.starting_position in positions, "starting_position", s.starting_position, " or ".join(positions))
    stamp = s.starting_position_timestamp
    if s.starting_position == "AT_TIMESTAMP":
        _require(
            isinstance(stamp, (int, float)) and not isinstance(stamp, bool),
            "starting_position_timestamp",
            stamp,
            "epoch seconds with AT_TIMESTAMP",
        )
    else:
        _require(stamp is None, "starting_position_timestamp", stamp, "None unless starting_position is AT_TIMESTAMP")
    for flag in ("bisect_batch_on_function_error", "report_batch_item_failures", "enabled"):
        _require(isinstance(getattr(s, flag), bool), flag, getattr(s, flag), "True or False")
    retries = s.maximum_retry_attempts
    _require(_whole(retries) and -1 <= retries <= 10_000, "maximum_retry_attempts", retries, "-1 (infinite) to 10000")
    age = s.maximum_record_age_s
    _require(
        _whole(age) and (age == -1 or 60 <= age <= 604_800),
        "maximum_record_age_s",
        age,
        "-1 (infinite) or 60 to 604800 seconds",
    )
    factor = s.parallelization_factor
    _require(_whole(factor) and 1 <= factor <= 10, "parallelization_factor", factor, "1 to 10")
    for text in ("qualifier", "on_failure"):
        value = getattr(s, text)
        _require(value is None or (isinstance(value, str) and value != ""), text, value, "None or a non-empty string")
    return s
