"""Lambda Managed Instances in a load summary: no duration charge; the instances, the 15 % fee and the requests."""

from __future__ import annotations

import pandas as pd
import pytest

import lambdalab
from lambdalab.load import Constant, run
from lambdalab.load.report import MANAGED_INSTANCES_LABEL, PRICES, summarize
from lambdalab.sim.result import MANAGED_INSTANCES_PRICES


def _rows(n: int, memory_mb: int = 4096) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "throttled": [False] * n,
            "cold": [False] * n,
            "latency_ms": [10.0] * n,
            "environment_id": ["e0"] * n,
            "memory_size_mb": [memory_mb] * n,
            "billed_duration_ms": [100] * n,
            "status": ["success"] * n,
            "error_type": [None] * n,
        }
    )


def test_managed_instances_bill_instances_not_durations() -> None:
    summary = summarize(_rows(10), 3600.0, managed_environments=3)
    lmi = MANAGED_INSTANCES_PRICES
    instances = 3 * 2 * lmi["vcpu_hour"]  # three environments of 4 GiB (two vCPUs) for an hour
    assert summary.duration_cost_usd == 0.0
    assert summary.instance_cost_usd == pytest.approx(instances * 1.15)
    assert summary.cost_usd == pytest.approx(instances * 1.15 + 10 * PRICES["x86_64"]["per_request"])
    assert summary.price_label == MANAGED_INSTANCES_LABEL
    assert "no duration charge: instances + 15 % fee + requests" in str(summary)
    assert summary.as_dict()["instance_cost_usd"] > 0
    classic = summarize(_rows(10), 3600.0)
    assert "instance_cost_usd" not in classic.as_dict() and classic.duration_cost_usd > 0


@pytest.mark.timeout(60)
def test_a_load_run_of_a_managed_instances_function_is_priced_by_its_environments() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function(
            "managed", "def handler(event, context):\n    return 1\n", max_concurrency_per_environment=2
        )
        report = run(fn, Constant(20), duration_s=1.0)
        summary = report.summary
        assert summary.cold_starts == 0 and summary.duration_cost_usd == 0.0
        assert summary.instance_cost_usd > 0 and summary.price_label == MANAGED_INSTANCES_LABEL
