"""SnapStart restores and extensions in the simulator: the core's new phases, driven in virtual time."""

from __future__ import annotations

import pytest

from lambdalab.core.outcomes import SNAPSTART_CACHE_PER_GB_S, SNAPSTART_RESTORE_PER_GB
from lambdalab.errors import ConfigError
from lambdalab.sim import PRICES, Constant, Simulation

# three bursts 30 s apart with keep-alive 5 s: every burst starts cold
PATTERN = [burst * 30.0 + i * 0.01 for burst in range(3) for i in range(4)]


def run(**settings: object) -> Simulation:
    return Simulation(PATTERN, service=Constant(0.2), init=Constant(1.0), keep_alive_s=5, seed=1, **settings)


def test_snap_start_restores_instead_of_init_and_reports_restore_duration() -> None:
    cold = run().run()
    snap = run(snap_start=True, restore=Constant(0.05)).run()
    assert snap.summary.cold_starts == cold.summary.cold_starts == snap.summary.restores > 0
    assert cold.summary.restores == 0
    restored = snap.invocations[snap.invocations["restore_duration_ms"].notna()]
    assert len(restored) == snap.summary.restores
    assert restored["init_duration_ms"].isna().all()
    assert restored["restore_duration_ms"].to_list() == pytest.approx([50.0] * len(restored))
    assert (restored["billed_restore_duration_ms"] == 50).all()
    # the caller of a restored environment waits restore + service, not init + service
    assert snap.invocations["latency_ms"].max() == pytest.approx(250.0)
    assert cold.invocations["latency_ms"].max() == pytest.approx(1200.0)
    phases = set(snap.spans["phase"])
    assert "restore" in phases and "init" not in phases


def test_snap_start_costs_cache_and_restores_and_bills_restore_as_duration() -> None:
    snap = run(snap_start=True, restore=Constant(0.05)).run()
    costs = snap.summary.cost_breakdown_usd
    gb = 128 / 1024
    assert costs["snapstart_restore"] == pytest.approx(gb * snap.summary.restores * SNAPSTART_RESTORE_PER_GB)
    assert costs["snapstart_cache"] == pytest.approx(gb * snap.summary.horizon_s * SNAPSTART_CACHE_PER_GB_S)
    billed_ms = snap.invocations["billed_duration_ms"].sum() + snap.invocations["billed_restore_duration_ms"].sum()
    assert costs["on_demand_duration"] == pytest.approx(billed_ms / 1000 * gb * PRICES["gb_s"])
    assert "snapstart_cache" not in run().run().summary.cost_breakdown_usd


def test_extensions_add_their_init_to_init_and_their_post_runtime_time_to_duration() -> None:
    plain = run().run()
    ext = run(extensions=2, extension_init=Constant(0.1), extension_post=Constant(0.03)).run()
    inv = ext.invocations
    assert inv["extension_overhead_ms"].to_list() == pytest.approx([30.0] * len(inv))
    assert inv["duration_ms"].max() == pytest.approx(230.0)
    inits = inv["init_duration_ms"].dropna().to_list()
    assert len(inits) == ext.summary.cold_starts > 0
    assert inits == pytest.approx([1100.0] * len(inits))  # the extensions' init is part of Init
    assert (plain.invocations["extension_overhead_ms"] == 0.0).all()
    phases = set(ext.spans["phase"])
    assert {"extension_init", "post_runtime", "shutdown"} <= phases
    # keep-alive expiry shuts down gracefully: every environment ends, none is left behind
    assert ext.summary.environments_created == plain.summary.environments_created
    assert ext.summary.completed == len(PATTERN) and ext.summary.errors == 0


def test_an_extension_slower_than_the_timeout_times_the_invocation_out() -> None:
    result = Simulation(
        [0.0], service=Constant(0.2), init=0.0, extensions=1, extension_post=Constant(5.0), timeout_s=1.0, seed=1
    ).run()
    (row,) = result.invocations.itertuples()
    assert row.duration_ms == pytest.approx(1000.0) and row.reset


def test_snap_start_and_extensions_together() -> None:
    result = run(snap_start=True, restore=Constant(0.05), extensions=1, extension_post=Constant(0.01)).run()
    assert result.summary.restores == result.summary.cold_starts > 0
    overhead = result.invocations["extension_overhead_ms"].to_list()
    assert overhead == pytest.approx([10.0] * len(overhead))


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="extensions"):
        run(extensions=11)
    with pytest.raises(ConfigError, match="snap_start"):
        run(snap_start=True, provisioned=1)
