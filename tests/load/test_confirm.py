"""A load run on a target that can cost money asks it first (``confirm_load``), before anything is sent.

The targets here are fakes of the one member the runner reads (``confirm_load``) on ``FakeFunction``; the
end-to-end run against a remote function through the stand-in is in tests/jupyter/test_aws_target.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from lambdalab import load
from lambdalab.errors import ConfigError
from lambdalab.load.runner import ROUND_TRIP_FLOOR_S, planned_requests
from tests.load.load_fakes import FakeFunction


class CostRefused(ConfigError):
    """Stands for lambdalab.aws.CostConfirmationRequired (a ConfigError)."""


class Priced(FakeFunction):
    """A fake remote function: records each question; refuses above ``limit`` requests unless confirmed."""

    def __init__(self, limit: int = 1_000_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit
        self.asked: list[tuple[int, float | None, bool]] = []

    def confirm_load(self, requests: int, duration_s: float | None, *, confirmed: bool = False) -> None:
        self.asked.append((requests, duration_s, confirmed))
        if requests > self.limit and not confirmed:
            raise CostRefused(f"Planned: ~{requests} requests; pass confirm=True to proceed")


def test_run_asks_once_with_the_planned_count_then_sends() -> None:
    fn = Priced()
    report = load.run(fn, load.Constant(20), duration_s=0.5, progress=False)
    assert fn.asked == [(10, 0.5, False)]
    assert len(fn.events) == 10 and report.summary.requests == 10


def test_confirm_true_is_passed_on() -> None:
    fn = Priced(limit=3)
    report = load.run(fn, load.Constant(100), count=5, progress=False, confirm=True)
    assert fn.asked == [(5, None, True)]
    assert len(fn.events) == 5 and report.summary.requests == 5


def test_refusal_propagates_before_any_request() -> None:
    fn = Priced(limit=3)
    with pytest.raises(CostRefused, match="~50 requests"):
        load.run(fn, load.Constant(100), duration_s=0.5, progress=False)
    assert fn.events == [] and fn.asked == [(50, 0.5, False)]


def test_start_asks_on_the_callers_thread_and_raises_there() -> None:
    fn = Priced(limit=3)
    with pytest.raises(CostRefused):
        load.start(fn, load.Constant(100), count=10)
    assert fn.events == [] and fn.asked == [(10, None, False)]
    handle = load.start(fn, load.Constant(100), count=10, confirm=True)
    assert handle.result(10).summary.requests == 10
    assert fn.asked[-1] == (10, None, True)


def test_bad_arguments_are_refused_before_the_question() -> None:
    fn = Priced()
    with pytest.raises(ConfigError, match="invalid duration_s"):
        load.run(fn, load.Constant(10), duration_s=-1, progress=False)
    assert fn.asked == []


def test_a_local_target_is_not_asked() -> None:
    fn = FakeFunction()
    assert not hasattr(fn, "confirm_load")
    assert load.run(fn, load.Constant(100), count=3, progress=False, confirm=True).summary.requests == 3


@pytest.mark.parametrize(
    ("pattern", "duration_s", "count", "expected"),
    [
        (load.Constant(10), 5.0, None, 50),
        (load.Constant(10), 5.0, 20, 20),  # the smaller of the two
        (load.Constant(10), 1.0, 20, 10),
        (load.Constant(10), None, 7, 7),
        (load.Constant(3), 0.5, None, 2),  # 1.5 expected, rounded up
        (load.Ramp(0, 10), 4.0, None, 20),  # the integral of the rate
        (load.Poisson(10, seed=1), 3.0, None, 30),  # the mean
        (load.Burst(12), None, None, 12),  # finite: its exact count
        (load.Replay([0, 1, 2, 3]), None, 2, 2),
        (load.ClosedLoop(4), None, 9, 9),
        (load.ClosedLoop(4), 2.0, None, math.ceil(4 * 2.0 / ROUND_TRIP_FLOOR_S)),
        (load.ClosedLoop(2, think_s=0.98), 10.0, None, 20),
    ],
)
def test_planned_requests(pattern: Any, duration_s: float | None, count: int | None, expected: int) -> None:
    assert planned_requests(pattern, duration_s, count) == expected
