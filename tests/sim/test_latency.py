"""Latency models: seeded, deterministic, validated."""

from __future__ import annotations

import random
import statistics

import pytest

from lambdalab.errors import ConfigError
from lambdalab.sim import Constant, Empirical, Exponential, LogNormal
from lambdalab.sim.latency import as_model


def _draws(model, n=20_000, seed=3):
    draw = model.sampler(random.Random(seed))
    return [draw() for _ in range(n)]


@pytest.mark.parametrize("model", [Constant(0.25), Exponential(2.0), LogNormal(0.5, 0.2), Empirical([0.1, 0.2, 0.9])])
def test_a_model_draws_the_same_values_from_the_same_seed_and_has_the_stated_mean(model) -> None:
    first, second = _draws(model), _draws(model)
    assert first == second
    assert statistics.fmean(first) == pytest.approx(model.mean_s, rel=0.05)
    assert min(first) >= 0


def test_lognormal_has_the_stated_spread() -> None:
    assert statistics.stdev(_draws(LogNormal(0.5, 0.2))) == pytest.approx(0.2, rel=0.1)


def test_empirical_draws_only_observed_values() -> None:
    assert set(_draws(Empirical([0.1, 0.2]), n=200)) == {0.1, 0.2}


def test_numbers_are_constant_models() -> None:
    assert as_model("init", 0.3) == Constant(0.3)


@pytest.mark.parametrize("make", [lambda: Constant(-1), lambda: Exponential(0), lambda: LogNormal(0, 1),
                                  lambda: Empirical([]), lambda: Constant(float("nan")), lambda: as_model("x", "s")])
def test_invalid_models_are_refused_with_a_config_error(make) -> None:
    with pytest.raises(ConfigError, match="invalid"):
        make()
