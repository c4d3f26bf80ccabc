"""The simulator's behaviour: what the shared core decides, in virtual time, reproducibly."""

from __future__ import annotations

import statistics

import pandas as pd
import pytest

from lambdalab import load
from lambdalab.core.records import InvocationRecord, PhaseSpan
from lambdalab.errors import ConfigError
from lambdalab.load import Burst, ClosedLoop, Poisson, Replay, Sine
from lambdalab.load import Constant as Steady
from lambdalab.sim import PRICES, Constant, Exponential, LogNormal, Simulation


def _rows(result):
    inv = result.invocations
    return list(zip(inv["request_id"], inv["cold"], inv["status"], inv["environment_id"], strict=True))


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    def run(seed: int):
        return Simulation(
            Poisson(5, seed=7), service=LogNormal(0.3, 0.2), init=Exponential(0.4), keep_alive_s=2, seed=seed
        ).run(duration_s=200)

    first, again, other = run(1), run(1), run(2)
    assert first.summary == again.summary and _rows(first) == _rows(again)
    assert first.spans.equals(again.spans)
    assert first.summary != other.summary


def test_a_pattern_seeded_like_the_simulation_does_not_correlate_arrivals_with_service_times() -> None:
    result = Simulation(Poisson(1.0, seed=1), service=Exponential(1.0), keep_alive_s=600, seed=1).run(count=4000)
    inv = result.invocations.sort_values("submitted")
    gaps = inv["submitted"].diff().shift(-1).iloc[:-1]
    assert abs(gaps.corr(inv["duration_ms"].iloc[:-1])) < 0.05


def test_duration_bounds_arrivals_and_the_horizon() -> None:
    result = Simulation(Steady(2), service=Constant(0.1), seed=1).run(duration_s=50)
    assert result.summary.requests == 100 and result.summary.horizon_s == 50
    assert result.invocations["submitted"].max() == pytest.approx(49.5)


def test_count_bounds_arrivals_and_the_run_ends_when_the_last_request_has() -> None:
    result = Simulation(Steady(2), service=Constant(0.1), seed=1).run(count=10)
    assert result.summary.requests == result.summary.completed == 10
    assert result.summary.horizon_s == pytest.approx(4.5 + 0.1)


def test_a_finite_pattern_ends_the_run_with_its_last_request_even_a_throttled_one() -> None:
    result = Simulation([0.0, 0.5], service=Constant(1.0), concurrency=1, keep_alive_s=600, seed=1).run()
    assert result.summary.throttles == 1 and result.summary.horizon_s == pytest.approx(1.0)
    assert Simulation([], service=1.0, seed=1).run().summary.requests == 0


def test_an_endless_pattern_needs_a_duration_or_a_count() -> None:
    with pytest.raises(ConfigError, match="never ends"):
        Simulation(Poisson(1, seed=1), service=1.0).run()
    with pytest.raises(ConfigError, match="count"):
        Simulation([0.0], service=1.0).run(count=0)


def test_a_duck_typed_closed_loop_that_does_not_say_it_is_endless_is_refused_too() -> None:
    """The simulator runs any pattern with ``clients`` as a closed loop: without ``finite`` it is endless."""
    import types

    with pytest.raises(ConfigError, match="never ends by itself"):
        Simulation(types.SimpleNamespace(clients=1, think_s=0.1), service=0.1).run()


BAD_RUNS = [
    (ClosedLoop(2), None, None, "invalid run: ClosedLoop(clients=2, think_s=0.0) never ends by itself"),
    (Poisson(1, seed=1), 0, None, "invalid duration_s: 0; expected None or seconds > 0"),
    (Poisson(1, seed=1), float("inf"), None, "invalid duration_s: inf; expected None or seconds > 0"),
    (Poisson(1, seed=1), True, None, "invalid duration_s: True; expected None or seconds > 0"),
    (Poisson(1, seed=1), None, 0, "invalid count: 0; expected None or a whole number >= 1"),
    # wrong types get the same ConfigError from the compiled simulator (its signature takes any object)
    (Poisson(1, seed=1), None, 2.0, "invalid count: 2.0; expected None or a whole number >= 1"),
    (Poisson(1, seed=1), "5", None, "invalid duration_s: '5'; expected None or seconds > 0"),
]


@pytest.mark.parametrize(("pattern", "duration_s", "count", "message"), BAD_RUNS)
def test_a_run_is_checked_in_the_same_words_as_a_load_run(pattern, duration_s, count, message) -> None:
    with pytest.raises(ConfigError) as simulated:
        Simulation(pattern, service=1.0, seed=1).run(duration_s, count)
    with pytest.raises(ConfigError) as loaded:  # refused before the target is used
        load.run(object(), pattern, duration_s, count, progress=False)
    assert str(simulated.value) == str(loaded.value) and str(simulated.value).startswith(message)


def test_offsets_that_go_back_in_time_are_refused() -> None:
    with pytest.raises(ConfigError, match="before the previous"):
        Simulation([0.0, 2.0, 1.0], service=0.1).run()


def test_an_idle_environment_is_reused_until_its_keep_alive_ends() -> None:
    result = Simulation([0.0, 5.0, 20.0], service=Constant(1.0), init=Constant(0.5), keep_alive_s=10, seed=1).run()
    inv = result.invocations
    assert inv["cold"].tolist() == [True, False, True]
    assert inv["environment_id"].iloc[0] == inv["environment_id"].iloc[1] != inv["environment_id"].iloc[2]
    assert inv["init_duration_ms"].iloc[0] == pytest.approx(500.0)
    spans = result.spans
    first = spans[spans["environment_id"] == inv["environment_id"].iloc[0]]
    assert first["phase"].tolist() == ["init", "invoke", "frozen", "invoke", "frozen", "shutdown"]
    assert first["end"].iloc[4] == pytest.approx(6.0 + 10.0)


def test_provisioned_environments_take_the_first_requests_and_the_rest_spill_over_cold() -> None:
    result = Simulation([5.0, 5.0], service=Constant(2.0), init=Constant(1.0), provisioned=1, seed=1).run()
    inv = result.invocations
    assert inv["cold"].tolist() == [False, True]
    s = result.summary
    assert s.environments_created == 2 and s.cost_breakdown_usd["provisioned_allocated"] > 0
    assert s.cost_breakdown_usd["provisioned_duration"] > 0


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"concurrency": 1}, "ConcurrentInvocationLimitExceeded"),
        ({"reserved": 1}, "ReservedFunctionConcurrentInvocationLimitExceeded"),
    ],
)
def test_requests_over_a_concurrency_limit_are_throttled_with_lambdas_reason(settings, reason) -> None:
    result = Simulation([0.0, 0.1, 1.5], service=Constant(1.0), seed=1, **settings).run()
    inv = result.invocations
    assert inv["status"].tolist() == ["throttled", "success", "success"]  # rows in the order they ended
    assert inv.loc[inv["status"] == "throttled", "error_type"].tolist() == [reason]
    assert result.summary.throttle_probability == pytest.approx(1 / 3)


def test_a_timeout_resets_the_environment_and_its_next_invoke_re_inits_inside_the_invoke() -> None:
    result = Simulation([0.0, 10.0], service=Constant(2.0), init=Constant(0.2), timeout_s=1.0, seed=1).run()
    inv = result.invocations.sort_values("submitted")
    assert inv["status"].tolist() == ["timeout", "timeout"] and inv["reset"].all()
    assert inv["environment_id"].nunique() == 1
    assert inv["init_suppressed"].tolist() == [False, True]
    assert result.summary.timeouts == 2


def test_errors_are_drawn_with_the_given_probability() -> None:
    result = Simulation(Steady(10), service=Constant(0.01), error_probability=0.25, seed=4).run(count=4000)
    s = result.summary
    assert s.errors / s.completed == pytest.approx(0.25, abs=0.03)
    assert set(result.invocations["error_type"].dropna()) == {"Exception"}


def test_a_failing_async_event_runs_three_times_then_reaches_on_failure() -> None:
    result = Simulation([0.0], service=Constant(0.5), error_probability=1.0, invocation_type="Event", seed=1).run()
    s = result.summary
    assert s.requests == 1 and s.invoked == 3 and s.destinations == {"RetriesExhausted": 1}
    starts = result.invocations["start"].tolist()
    assert starts[1] - starts[0] == pytest.approx(60.5) and starts[2] - starts[1] == pytest.approx(120.5)
    assert result.destination_records[0]["requestContext"]["approximateInvokeCount"] == 3


def test_a_successful_async_event_reaches_on_success() -> None:
    result = Simulation([0.0, 1.0], service=Constant(0.5), invocation_type="Event", seed=1).run()
    assert result.summary.destinations == {"Success": 2}


def test_closed_loop_clients_each_send_their_next_request_after_the_previous_one() -> None:
    result = Simulation(ClosedLoop(2, think_s=0.5), service=Constant(1.0), seed=1).run(duration_s=30)
    s = result.summary
    assert s.requests == 40 and s.environments_created == 2
    assert s.mean_busy == pytest.approx(2 * 1.0 / 1.5, rel=0.02)


def test_throttled_closed_loop_clients_retry() -> None:
    result = Simulation(ClosedLoop(3), service=Constant(1.0), concurrency=2, seed=1).run(duration_s=10)
    assert result.summary.completed == 20 and result.summary.throttles > 0


def test_a_cold_service_model_is_the_whole_cold_request_and_init_takes_its_share() -> None:
    result = Simulation(
        [0.0, 1.0, 100.0],
        service=Constant(0.1),
        cold_service=Constant(0.8),
        init=Constant(0.3),
        keep_alive_s=10,
        seed=1,
    ).run()
    inv = result.invocations
    assert inv["latency_ms"].round(6).tolist() == [800.0, 100.0, 800.0]
    assert inv["init_duration_ms"].iloc[0] == pytest.approx(300.0)


@pytest.mark.parametrize("pattern", [Replay([0, 0.5, 3]), Burst(5, at_s=1.0), Sine(3, 2, 20), [0.0, 0.0, 1.0]])
def test_load_patterns_and_plain_offsets_drive_the_simulation(pattern) -> None:
    result = Simulation(pattern, service=Constant(0.2), seed=1).run(duration_s=30)
    assert result.summary.requests > 0 and result.summary.completed == result.summary.requests


def test_summary_time_averages_follow_littles_law_and_add_up() -> None:
    s = (
        Simulation(Poisson(4, seed=2), service=Exponential(0.5), keep_alive_s=5, memory_mb=512, seed=3)
        .run(duration_s=5000)
        .summary
    )
    assert s.mean_busy == pytest.approx(4 * 0.5, rel=0.05)
    assert s.utilization == pytest.approx(s.mean_busy / s.mean_environments)
    assert s.mean_busy + s.mean_idle <= s.mean_environments + 1e-9
    assert s.idle_gb_s == pytest.approx(s.mean_idle * s.horizon_s * 0.5)
    billed = s.cost_breakdown_usd["on_demand_duration"] / PRICES["gb_s"] / 0.5
    assert billed == pytest.approx(s.invoked * 0.5, rel=0.05)
    assert s.cost_usd == pytest.approx(sum(s.cost_breakdown_usd.values()))


def test_a_hybrid_keep_alive_policy_prewarms_periodic_traffic() -> None:
    periodic = [600.0 * k for k in range(60)]
    fixed = Simulation(periodic, service=0.1, init=0.5, keep_alive_s=60, seed=1).run().summary
    hybrid = (
        Simulation(periodic, service=0.1, init=0.5, keep_alive_s=60, keep_alive_policy="hybrid", seed=1).run().summary
    )
    assert fixed.cold_starts == 60
    assert hybrid.cold_starts < 30


def test_dataframes_have_the_engines_columns_and_are_capped() -> None:
    result = Simulation(Steady(5), service=Constant(0.1), max_records=50, seed=1).run(duration_s=100)
    assert list(result.invocations.columns) == list(InvocationRecord._fields) + ["latency_ms"]
    assert list(result.spans.columns) == list(PhaseSpan._fields) + ["duration_ms"]
    assert len(result.invocations) == 50 and result.truncated and result.summary.completed == 500


def test_from_records_calibrates_service_init_and_cold_durations() -> None:
    df = pd.DataFrame(
        {
            "cold": [True, False, False, False, False],
            "duration_ms": [120.0, 10.0, 12.0, 11.0, 500.0],
            "init_duration_ms": [300.0, None, None, None, None],
            "status": ["success", "success", "success", "success", "timeout"],
            "memory_size_mb": [256] * 5,
            "max_memory_used_mb": [40, 41, 42, 41, 44],
            "function": ["hello"] * 5,
        }
    )
    sim = Simulation.from_records(df, Steady(2), keep_alive_s=1, seed=1)
    s = sim.scenario
    assert s.memory_mb == 256 and s.max_memory_used_mb == 42 and s.function == "hello"
    assert s.service.mean_s == pytest.approx(0.011) and s.init.mean_s == pytest.approx(0.3)
    assert s.cold_service.mean_s == pytest.approx(0.42)
    result = sim.run(count=5)
    assert result.invocations["latency_ms"].round(6).iloc[0] == 420.0
    assert set(result.invocations["duration_ms"].round(6).iloc[1:]) <= {10.0, 12.0, 11.0}


def test_from_records_needs_the_invocations_columns() -> None:
    with pytest.raises(ConfigError, match="missing column"):
        Simulation.from_records(pd.DataFrame({"cold": []}), Steady(1))


@pytest.mark.parametrize(
    "settings",
    [
        {"keep_alive_s": -1},
        {"concurrency": 0},
        {"provisioned": 5, "reserved": 2},
        {"invocation_type": "DryRun"},
        {"error_probability": 2},
        {"memory_mb": 64},
    ],
)
def test_invalid_settings_are_refused_with_a_config_error(settings) -> None:
    with pytest.raises(ConfigError, match="invalid"):
        Simulation([0.0], service=1.0, **settings)


def test_the_mean_of_many_invocations_matches_the_service_model() -> None:
    result = Simulation(Steady(1), service=Exponential(0.2), seed=9).run(count=5000)
    assert statistics.fmean(result.invocations["duration_ms"]) == pytest.approx(200, rel=0.05)
