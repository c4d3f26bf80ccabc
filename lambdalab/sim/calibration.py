"""Calibration: latency models from a real run's invocations table (``lab.invocations()``).

Reads the columns ``cold``, ``duration_ms``, ``init_duration_ms``, ``status`` (and, when present,
``memory_size_mb``, ``max_memory_used_mb``, ``function``) and turns them into ``Simulation``
settings: warm successful durations → ``service``; the cold ones' init durations → ``init``; their
init + duration → ``cold_service``. Only successful invocations are used: an error or a timeout
says little about how long the handler takes.
"""

from __future__ import annotations

import math
from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.sim.latency import Empirical

REQUIRED = ("cold", "duration_ms", "init_duration_ms", "status")


def from_records(df: Any) -> dict[str, Any]:
    """``Simulation`` keyword arguments calibrated from an invocations DataFrame."""
    missing = [c for c in REQUIRED if c not in getattr(df, "columns", ())]
    if missing:
        raise ConfigError(f"invalid records: missing column(s) {', '.join(missing)}; expected lab.invocations()")
    ok = df[df["status"] == "success"]
    cold = ok[ok["cold"].astype(bool)]
    warm = ok[~ok["cold"].astype(bool)]
    if ok.empty:
        raise ConfigError("invalid records: no successful invocation to learn durations from")
    settings: dict[str, Any] = {}
    init_ms = [v for v in cold["init_duration_ms"].tolist() if _finite(v)]
    if init_ms:
        settings["init"] = Empirical(v / 1000.0 for v in init_ms)
        whole = [
            (i + d) / 1000.0 for i, d in zip(cold["init_duration_ms"], cold["duration_ms"], strict=True) if _finite(i)
        ]
        settings["cold_service"] = Empirical(whole)
    service_rows = warm if not warm.empty else cold
    settings["service"] = Empirical(v / 1000.0 for v in service_rows["duration_ms"].tolist())
    if "memory_size_mb" in df.columns and not df.empty:
        settings["memory_mb"] = int(df["memory_size_mb"].iloc[0])
    if "max_memory_used_mb" in ok.columns:
        settings["max_memory_used_mb"] = int(ok["max_memory_used_mb"].max())
    if "function" in df.columns and not df.empty and str(df["function"].iloc[0]):
        settings["function"] = str(df["function"].iloc[0])
    return settings


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
