"""Calibration: latency models from a real run's invocations table, local or on AWS Lambda.

Reads the columns ``cold``, ``duration_ms``, ``init_duration_ms``, ``status`` (and, when present,
``memory_size_mb``, ``max_memory_used_mb``, ``function``) and turns them into ``Simulation``
settings: warm successful durations → ``service``; the cold ones' init durations → ``init``; their
init + duration → ``cold_service`` (the duration alone where the init ran inside the invoke after a reset,
``init_suppressed``). Only successful invocations are used: an error or a timeout says little about how long
the handler takes.

The table may come from this machine (``lambdalab.Lab().invocations()``) or from AWS Lambda
(``lambdalab.aws.Lab().invocations()``): the same columns, where a remote row may lack what only the logs
say (``environment_id`` is ``""`` for a row whose log stream was not read) and a warm row's
``init_duration_ms`` is None or NaN. A cell that is missing or not a number is skipped, never read as zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.sim.latency import Empirical

REQUIRED = ("cold", "duration_ms", "init_duration_ms", "status")


class Steady:
    """``rate_per_s`` requests a second, evenly spaced, the first at 0: ``lambdalab.load.Constant(rate)``'s arrivals.

    The simulator may not import ``lambdalab.load``; this is the pattern ``Simulation.calibrate`` uses when it is
    given none (1 request a second).

    >>> list(Steady(4).offsets(1.0))
    [0.0, 0.25, 0.5, 0.75]
    """

    finite = False  # endless: a run needs duration_s or count

    def __init__(self, rate_per_s: float = 1.0) -> None:
        rate = float(rate_per_s)
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(f"invalid rate: {rate_per_s!r}; it must be a finite number > 0")
        self.rate_per_s = rate

    def __repr__(self) -> str:
        return f"Steady({self.rate_per_s:g}/s)"

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        rate, k = self.rate_per_s, 0
        while duration_s is None or k / rate < duration_s:
            yield k / rate
            k += 1

    def expected_count(self, duration_s: float) -> float:
        return math.ceil(duration_s * self.rate_per_s)


def records_of(source: Any) -> Any:
    """An invocations table: ``source`` itself, or ``source.invocations()`` for a Lab or a Function (either target)."""
    if hasattr(source, "columns"):
        return source
    invocations = getattr(source, "invocations", None)
    if callable(invocations):
        return invocations()
    raise ConfigError(
        f"invalid records: {type(source).__name__}; expected an invocations DataFrame (lab.invocations()) or a Lab"
    )


def from_records(df: Any) -> dict[str, Any]:
    """``Simulation`` keyword arguments calibrated from an invocations DataFrame."""
    missing = [c for c in REQUIRED if c not in getattr(df, "columns", ())]
    if missing:
        raise ConfigError(f"invalid records: missing column(s) {', '.join(missing)}; expected lab.invocations()")
    ok = df[(df["status"] == "success") & df["duration_ms"].map(_finite)]
    if ok.empty:
        raise ConfigError("invalid records: no successful invocation to learn durations from")
    is_cold = ok["cold"].map(_true)
    cold, warm = ok[is_cold], ok[~is_cold]
    settings: dict[str, Any] = {}
    # an init run inside the invoke after a reset (init_suppressed) is already part of its Duration
    folded = cold["init_suppressed"].map(_true).tolist() if "init_suppressed" in cold.columns else [False] * len(cold)
    pairs = [
        (float(i), float(d) if inside else float(i) + float(d))
        for i, d, inside in zip(cold["init_duration_ms"], cold["duration_ms"], folded, strict=True)
        if _finite(i)
    ]
    if pairs:
        settings["init"] = Empirical(i / 1000.0 for i, _ in pairs)
        settings["cold_service"] = Empirical(whole / 1000.0 for _, whole in pairs)
    service_rows = warm if not warm.empty else cold
    settings["service"] = Empirical(float(v) / 1000.0 for v in service_rows["duration_ms"].tolist())
    memory = _finite_values(df, "memory_size_mb")
    if memory:
        settings["memory_mb"] = int(memory[0])
    peak = _finite_values(ok, "max_memory_used_mb")
    if peak:
        settings["max_memory_used_mb"] = int(max(peak))
    if "function" in df.columns and not df.empty:
        name = df["function"].iloc[0]
        if isinstance(name, str) and name:
            settings["function"] = name
    return settings


def _finite_values(df: Any, column: str) -> list[float]:
    if column not in df.columns:
        return []
    return [float(v) for v in df[column].tolist() if _finite(v)]


def _true(value: Any) -> bool:
    """True, 1 or numpy's True; None, NaN and False are not."""
    return value is True or (_finite(value) and bool(value))


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
