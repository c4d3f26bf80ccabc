"""SnapStart in a load summary: restores counted, Billed Restore Duration in GB-s, restore charges in the cost."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lambdalab.core.outcomes import SNAPSTART_RESTORE_PER_GB
from lambdalab.load.report import PRICES, summarize


def _rows(restored: list[bool]) -> pd.DataFrame:
    n = len(restored)
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "throttled": [False] * n,
            "cold": restored,
            "latency_ms": [10.0] * n,
            "environment_id": [f"e{i}" for i in range(n)],
            "memory_size_mb": [2048] * n,
            "billed_duration_ms": [100] * n,
            "status": ["success"] * n,
            "error_type": [None] * n,
            "restore_duration_ms": [3.2 if r else None for r in restored],
            "billed_restore_duration_ms": [50 if r else 0 for r in restored],
        }
    )


def test_restores_are_billed_as_lambda_bills_snapstart() -> None:
    summary = summarize(_rows([True, True, False, False]), 1.0)
    assert summary.restores == 2
    assert summary.gb_s == pytest.approx(4 * 2 * 0.1 + 2 * 2 * 0.05)  # duration + Billed Restore Duration
    assert summary.snapstart_cost_usd == pytest.approx(2 * 2 * SNAPSTART_RESTORE_PER_GB)
    assert summary.cost_usd == pytest.approx(
        summary.gb_s * PRICES["x86_64"]["gb_s"] + summary.request_cost_usd + summary.snapstart_cost_usd
    )
    assert "SnapStart restores $" in str(summary)
    assert summary.as_dict()["restores"] == 2
    assert summary.to_frame().set_index("metric").loc["snapstart_cost_usd", "value"] > 0


def test_without_restores_the_summary_is_as_before() -> None:
    summary = summarize(_rows([True, False]).assign(restore_duration_ms=math.nan), 1.0)
    assert summary.restores == 0 and summary.snapstart_cost_usd == 0.0
    assert "restores" not in summary.as_dict() and "SnapStart" not in str(summary)
    assert summary.cost_usd == pytest.approx(summary.duration_cost_usd + summary.request_cost_usd)
    no_column = summarize(_rows([True]).drop(columns=["restore_duration_ms", "billed_restore_duration_ms"]), 1.0)
    assert no_column.restores == 0
