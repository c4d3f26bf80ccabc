"""Arrival patterns are pure: deterministic offsets, within the duration, at the rate asked for."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

import lambdalab
from lambdalab.load import (
    Burst,
    ClosedLoop,
    Constant,
    Poisson,
    Ramp,
    Replay,
    Sine,
    Step,
    parse_pattern,
)

DURATION = 10.0

PATTERNS = [
    Constant(20),
    Constant(20, poisson=True, seed=3),
    Poisson(20, seed=1),
    Poisson(20),  # seed drawn once at construction
    Ramp(1, 40),
    Ramp(40, 0, poisson=True, seed=5),
    Ramp(0, 30, over_s=5),
    Step([5, 30, 5]),
    Step([10, 0, 20], step_s=2, poisson=True, seed=9),
    Sine(20, 15, period_s=4),
    Sine(20, 20, period_s=3, phase=math.pi, poisson=True, seed=2),
    Burst(8, every_s=3),
    Burst(5, at_s=2, spread_s=0.5, base_rate=3),
    Replay([100.0, 100.2, 100.2, 105.0, 130.0]),
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=repr)
def test_offsets_are_deterministic_sorted_and_within_the_duration(pattern):
    first = list(pattern.offsets(DURATION))
    assert first == list(pattern.offsets(DURATION))
    assert first, "every pattern here sends something in 10 s"
    assert all(0.0 <= t < DURATION for t in first)
    assert first == sorted(first)


@pytest.mark.parametrize("pattern", [p for p in PATTERNS if not isinstance(p, Replay)], ids=repr)
def test_counts_match_the_expected_count(pattern):
    n = len(list(pattern.offsets(DURATION)))
    expected = pattern.expected_count(DURATION)
    if getattr(pattern, "poisson", False):
        assert abs(n - expected) <= 4 * math.sqrt(expected) + 1
    else:
        assert abs(n - expected) <= 1


def test_poisson_matches_its_rate():
    rate, duration = 50.0, 400.0
    offsets = list(Poisson(rate, seed=1234).offsets(duration))
    expected = rate * duration
    assert abs(len(offsets) - expected) <= 3 * math.sqrt(expected)  # 3 sigma: ±1.5 %
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    mean = statistics.fmean(gaps)
    assert mean == pytest.approx(1 / rate, rel=0.03)
    assert statistics.stdev(gaps) / mean == pytest.approx(1.0, abs=0.05)  # exponential: CV = 1


def test_same_seed_same_arrivals_other_seed_others():
    assert list(Poisson(10, seed=7).offsets(5)) == list(Poisson(10, seed=7).offsets(5))
    assert list(Poisson(10, seed=7).offsets(5)) != list(Poisson(10, seed=8).offsets(5))
    drawn = Poisson(10)
    assert list(Poisson(10, seed=drawn.seed).offsets(5)) == list(drawn.offsets(5))


def test_constant_is_evenly_spaced_from_zero():
    assert list(Constant(4).offsets(1.0)) == [0.0, 0.25, 0.5, 0.75]
    assert len(list(Constant(500).offsets(2.0))) == 1000


def test_ramp_rate_grows_over_the_duration():
    offsets = list(Ramp(2, 20).offsets(10))
    first_half = sum(1 for t in offsets if t < 5)
    assert first_half < len(offsets) - first_half
    assert len(offsets) == pytest.approx((2 + 20) / 2 * 10, abs=1)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert gaps == sorted(gaps, reverse=True)


def test_step_and_sine_follow_their_rate():
    offsets = list(Step([5, 30, 5]).offsets(9))
    assert [sum(1 for t in offsets if lo <= t < lo + 3) for lo in (0, 3, 6)] == [15, 90, 15]
    sine = list(Sine(20, 20, period_s=4).offsets(4))  # peak in the first half, trough at 3 s
    assert sum(1 for t in sine if t < 2) > 3 * sum(1 for t in sine if t >= 2)


def test_burst_sends_its_size_at_once():
    offsets = list(Burst(6, every_s=2).offsets(5))
    assert offsets == [0.0] * 6 + [2.0] * 6 + [4.0] * 6
    assert Burst(6).finite and list(Burst(6, at_s=1.5).offsets()) == [1.5] * 6


def test_replay_is_relative_to_the_first_timestamp_and_speeds_up():
    import datetime

    stamps = [datetime.datetime(2026, 1, 1, 0, 0, s, tzinfo=datetime.UTC) for s in (3, 1, 2)]
    assert list(Replay(stamps).offsets()) == [0.0, 1.0, 2.0]
    assert list(Replay([10, 12, 14], speed=2).offsets()) == [0.0, 1.0, 2.0]
    assert list(Replay([10, 12, 14]).offsets(3.0)) == [0.0, 2.0]
    assert len(Replay([1, 2, 3])) == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda: Constant(0),
        lambda: Constant(-1),
        lambda: Poisson(float("inf")),
        lambda: Ramp(0, 0),
        lambda: Sine(5, 6, 10),
        lambda: Burst(0),
        lambda: Burst(3, every_s=1, spread_s=2),
        lambda: Step([]),
        lambda: ClosedLoop(0),
        lambda: ClosedLoop(2, think_s=-1),
        lambda: Replay(["x"]),
    ],
)
def test_invalid_patterns_raise_config_error(make):
    with pytest.raises(lambdalab.ConfigError):
        make()


def test_a_ramp_needs_a_length():
    with pytest.raises(lambdalab.ConfigError, match="duration_s"):
        list(Ramp(1, 10).offsets())
    assert next(Ramp(1, 10, over_s=5).offsets()) == 0.0


def test_parse_pattern():
    assert parse_pattern("poisson:50,seed=1") == Poisson(50, seed=1)
    assert parse_pattern("constant:10") == Constant(10)
    assert parse_pattern("ramp:1,20,over_s=30") == Ramp(1, 20, over_s=30)
    assert parse_pattern("step:5/20/5,step_s=10") == Step([5, 20, 5], step_s=10)
    assert parse_pattern("burst:20,every_s=5") == Burst(20, every_s=5)
    assert parse_pattern("sine:10,5,60") == Sine(10, 5, 60)
    assert parse_pattern("closed:4,think_s=0.1") == ClosedLoop(4, think_s=0.1)
    assert parse_pattern("replay:0/1.5/2") == Replay([0, 1.5, 2])
    for bad in ("nope:1", "constant:x", "poisson", "closed:2,think_s=1,3"):
        with pytest.raises(lambdalab.ConfigError):
            parse_pattern(bad)
