"""The simulator runs Lambda Managed Instances and tenant isolation on the shared core: the same traffic in both
modes, compared (environments, cold starts, the bill), reproducibly. Managed Instances' environments are ready
before the run (Lambda starts them at publish) and new ones start in the background: no request is cold."""

from __future__ import annotations

import pytest

from lambdalab.core.groups import MANAGED_INSTANCES_CAPACITY_REASON, MANAGED_INSTANCES_SCALING_REASON
from lambdalab.errors import ConfigError
from lambdalab.load import Poisson
from lambdalab.sim import Exponential, Simulation

BURST = [0.0] * 8 + [5.0] * 8


def test_eight_concurrent_at_four_per_environment_use_two_environments() -> None:
    classic = Simulation(BURST, service=0.5, init=0.3, memory_mb=2048, seed=1).run()
    managed = Simulation(BURST, service=0.5, init=0.3, memory_mb=2048, max_concurrency_per_environment=4, seed=1).run()
    assert classic.summary.environments_created == 8 and classic.summary.cold_starts == 8
    s = managed.summary
    # Lambda's three environments, ready before the run; the requests fill two of them; none is cold
    assert (s.environments_created, s.workers_created, s.cold_starts, s.throttles) == (3, 12, 0, 0)
    inv = managed.invocations
    assert inv["environment_id"].nunique() == 2 and sorted(set(inv["worker"])) == [0, 1, 2, 3]
    assert inv["init_duration_ms"].isna().all()
    # the second burst, five seconds on, is warm in the same two environments
    second = inv[inv["submitted"] >= 5.0]
    assert not second["cold"].any() and set(second["environment_id"]) <= set(inv["environment_id"])
    # inside one environment, invocations overlap in time
    for _, rows in inv[inv["submitted"] < 1.0].groupby("environment_id"):
        assert len(rows) == 4 and rows["start"].max() < rows["end"].min()
    assert set(managed.summary.cost_breakdown_usd) == {"requests", "instances", "management_fee"}
    assert "frozen" not in set(managed.spans["phase"])


def test_the_same_traffic_costs_and_starts_differently_in_each_mode() -> None:
    settings = dict(service=Exponential(0.2), init=0.5, memory_mb=2048, keep_alive_s=600, seed=3)
    pattern = Poisson(20, seed=5)
    classic = Simulation(pattern, **settings).run(duration_s=600)
    managed = Simulation(pattern, max_concurrency_per_environment=8, **settings).run(duration_s=600)
    assert managed.summary.environments_created < classic.summary.environments_created
    assert managed.summary.cold_starts == 0 < classic.summary.cold_starts
    assert managed.summary.throttles == 0 and managed.summary.completed > 11_000
    assert managed.summary.cost_usd > 0 and classic.summary.cost_usd > 0
    again = Simulation(pattern, max_concurrency_per_environment=8, **settings).run(duration_s=600)
    assert again.summary == managed.summary


def test_max_environments_throttles_what_no_worker_can_take() -> None:
    result = Simulation(
        [0.0] * 5, service=1.0, init=0.1, max_concurrency_per_environment=4, max_environments=1, seed=1
    ).run()
    s = result.summary
    assert (s.environments_created, s.completed, s.throttles) == (1, 4, 1)  # the minimum, capped by the maximum
    throttled = result.invocations[result.invocations["status"] == "throttled"]
    assert list(throttled["error_type"]) == [MANAGED_INSTANCES_CAPACITY_REASON]


def test_a_timeout_leaves_the_worker_running_until_its_code_ends() -> None:
    result = Simulation(
        [0.0, 0.0], service=5.0, init=0.1, timeout_s=1.0, max_concurrency_per_environment=2, seed=1
    ).run(duration_s=10.0)
    s = result.summary
    assert s.timeouts == 2 and s.workers_created == 6  # the three environments; no worker was killed and restarted
    spans = result.spans
    overrun = spans[spans["phase"] == "overrun"]
    assert len(overrun) == 2
    assert overrun["start"].round(3).tolist() == [1.0, 1.0] and overrun["end"].round(3).tolist() == [5.0, 5.0]


def test_tenants_never_share_an_environment() -> None:
    result = Simulation(Poisson(5, seed=2), service=0.2, init=0.3, tenants=3, seed=4).run(duration_s=120)
    inv = result.invocations
    assert inv["tenant_id"].nunique() == 3
    assert (inv.groupby("environment_id")["tenant_id"].nunique() == 1).all()
    managed = Simulation(
        Poisson(5, seed=2), service=0.2, init=0.3, tenants=3, max_concurrency_per_environment=4, seed=4
    ).run(duration_s=120)
    served = managed.invocations[managed.invocations["status"] != "throttled"]
    assert (served.groupby("environment_id")["tenant_id"].nunique() == 1).all()


@pytest.mark.parametrize(
    "settings",
    [
        {"max_concurrency_per_environment": 0},
        {"max_environments": 2},
        {"min_environments": 2},
        {"max_concurrency_per_environment": 2, "min_environments": 3, "max_environments": 2},
        {"max_concurrency_per_environment": 2, "provisioned": 1},
        {"tenants": -1},
    ],
)
def test_invalid_managed_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Simulation([0.0], service=0.1, **settings)  # type: ignore[arg-type]


def test_utilization_is_the_share_of_workers_busy() -> None:
    # four requests of 1 s on one environment of four workers for 2 s: half of the worker-time busy
    result = Simulation(
        [0.0] * 4, service=1.0, max_concurrency_per_environment=4, min_environments=1, max_environments=1, seed=1
    ).run(duration_s=2.0)
    assert result.summary.mean_environments == pytest.approx(1.0)
    assert result.summary.utilization == pytest.approx(0.5)


def test_a_burst_is_throttled_while_one_environment_starts_in_the_background() -> None:
    # three environments of two workers take six (the sixth, their last idle worker, starts a fourth: it is ready
    # 1 s later); the rest of the burst is throttled; at 2 s the fourth serves two, warm, and a fifth starts
    result = Simulation([0.0] * 10 + [2.0] * 8, service=5.0, init=1.0, max_concurrency_per_environment=2, seed=1).run()
    s = result.summary
    assert (s.cold_starts, s.environments_created, s.workers_created, s.completed) == (0, 5, 10, 8)
    inv = result.invocations
    assert (s.throttles, set(inv[inv["status"] == "throttled"]["error_type"])) == (
        4 + 6,
        {MANAGED_INSTANCES_SCALING_REASON},
    )
    late = inv[(inv["submitted"] == 2.0) & (inv["status"] != "throttled")]
    assert len(late) == 2 and late["environment_id"].nunique() == 1 and not late["cold"].any()
