"""The event heap: (time, priority, sequence) order, horizons and stopping."""

from __future__ import annotations

import pytest

from lambdalab.sim.kernel import ARRIVAL, DEADLINE, PROCESS, WAKEUP, Kernel


def test_actions_run_by_time_then_priority_then_order_of_scheduling() -> None:
    kernel, seen = Kernel(), []
    for name, at, priority in [("late", 2.0, PROCESS), ("wake", 1.0, WAKEUP), ("arrive", 1.0, ARRIVAL),
                               ("deadline", 1.0, DEADLINE), ("posted-1", 1.0, PROCESS), ("posted-2", 1.0, PROCESS)]:
        kernel.schedule(at, priority, seen.append, name)
    kernel.run()
    assert seen == ["posted-1", "posted-2", "deadline", "arrive", "wake", "late"]
    assert kernel.now == 2.0 and kernel.steps == 6


def test_run_until_stops_at_the_horizon_and_keeps_later_actions() -> None:
    kernel, seen = Kernel(), []
    for at in (0.5, 1.0, 1.5):
        kernel.schedule(at, PROCESS, seen.append, at)
    kernel.run(until=1.0)
    assert seen == [0.5, 1.0] and len(kernel) == 1 and kernel.peek() == 1.5
    kernel.advance(1.2)
    assert kernel.now == 1.2


def test_an_action_can_schedule_more_and_stop_the_run() -> None:
    kernel, seen = Kernel(), []

    def tick(n: int) -> None:
        seen.append((kernel.now, n))
        if n == 3:
            kernel.stop()
        kernel.schedule(kernel.now + 1.0, PROCESS, tick, n + 1)

    kernel.schedule(0.0, PROCESS, tick, 0)
    kernel.run()
    assert seen == [(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 3)]


def test_scheduling_in_the_past_is_refused() -> None:
    kernel = Kernel()
    kernel.schedule(1.0, PROCESS, lambda _: None)
    kernel.run()
    with pytest.raises(ValueError, match="before now"):
        kernel.schedule(0.5, PROCESS, lambda _: None)
