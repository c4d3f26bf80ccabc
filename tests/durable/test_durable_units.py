"""The durable package's pure parts: the scaled clock, what a replay skipped and ran, Lab(time_scale=) checks."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

import lambdalab
from lambdalab.durable.clock import ScaledClock, caption, check_time_scale
from lambdalab.durable.replays import ReplayLog
from lambdalab.errors import ConfigError


def test_scaled_clock_runs_faster_and_arms_in_real_seconds() -> None:
    clock = ScaledClock(3600)
    start = clock.now()
    assert clock.arm(start + datetime.timedelta(hours=2)) == pytest.approx(2.0, abs=0.05)
    assert clock.arm(start - datetime.timedelta(seconds=1)) == 0.0
    assert clock.real_seconds(86_400) == 24.0
    real = ScaledClock(1)
    assert abs((real.now() - datetime.datetime.now(datetime.UTC)).total_seconds()) < 0.5


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "10"])
def test_time_scale_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(ConfigError, match="time_scale"):
        check_time_scale(bad)
    with pytest.raises(ConfigError, match="time_scale"):
        lambdalab.Lab(time_scale=bad)  # type: ignore[arg-type]


def test_caption_says_when_the_clock_is_virtual() -> None:
    assert caption(1) == ""
    assert "60× faster" in caption(60) and "Lab(time_scale=60)" in caption(60)


def _op(op_id: str, name: str, status: str, kind: str = "STEP") -> SimpleNamespace:
    return SimpleNamespace(
        operation_id=op_id,
        name=name,
        operation_type=SimpleNamespace(value=kind),
        sub_type=None,
        status=SimpleNamespace(value=status),
        parent_id=None,
    )


def test_a_replay_skips_what_had_completed_and_runs_what_changed() -> None:
    log = ReplayLog()
    now = datetime.datetime.now(datetime.UTC)
    record = SimpleNamespace(
        request_id="r2", environment_id="e", cold=False, start=1.0, end=2.0, duration_ms=5.0, billed_duration_ms=5
    )
    before = [
        _op("x", "run", "STARTED", "EXECUTION"),
        _op("a", "validate", "SUCCEEDED"),
        _op("w", "hold", "SUCCEEDED", "WAIT"),
    ]
    log.starting("arn", before)
    after = [*before, _op("b", "price", "SUCCEEDED")]
    replay = log.finished("arn", record, "SUCCEEDED", after, (now, now))
    assert [v[1] for v in replay.skipped] == ["validate", "hold"]  # the EXECUTION operation is the execution itself
    assert [v[1] for v in replay.ran] == ["price"]
    assert replay.replay == 1 and log.count("arn") == 1 and log.of("arn") == [replay]
