"""viz.compare: this machine and AWS Lambda side by side, two columns on one y axis and one x range."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from lambdalab import viz
from lambdalab.errors import ConfigError
from lambdalab.viz.colours import COLD_COLOUR, RESTORED_COLOUR, THROTTLE_COLOUR, WARM_COLOUR
from tests.viz.test_viz_figures import T0, arr, invocations_table, with_throttles


def run_frame(n: int, t0: float, gap_s: float, cold_every: int, warm_ms: float, envs: int) -> pd.DataFrame:
    """n requests ``gap_s`` apart; every ``cold_every``-th cold (3x slower), spread over ``envs`` environments."""
    i = np.arange(n)
    cold = i % cold_every == 0
    latency = np.where(cold, 3 * warm_ms, warm_ms)
    frame = pd.DataFrame(
        {
            "function": "hello",
            "request_id": [f"r{k}" for k in i],
            "environment_id": [f"{k % envs:032d}" for k in i],
            "cold": cold,
            "submitted": t0 + i * gap_s,
            "latency_ms": latency,
            "status": "success",
        }
    )
    frame["end"] = frame["submitted"] + frame["latency_ms"] / 1000
    return frame


LOCAL = run_frame(30, T0, 0.1, 10, 2.0, 3)  # 3 s, 3 cold
REMOTE = run_frame(50, T0 + 3600, 0.1, 5, 40.0, 10)  # 5 s, 10 cold, an hour later


def columns(fig: Any) -> tuple[list[Any], list[Any]]:
    left = [t for t in fig.data if t.xaxis == "x" and t.yaxis == "y"]
    right = [t for t in fig.data if t.xaxis == "x2" and t.yaxis == "y2"]
    assert len(left) + len(right) == len(fig.data)
    return left, right


def titles(fig: Any) -> list[str]:
    return [annotation.text for annotation in fig.layout.annotations]


def test_cold_starts_side_by_side_on_one_y_axis_and_one_bin_width() -> None:
    fig = viz.compare(LOCAL, REMOTE)
    left, right = columns(fig)
    assert [t.name for t in left] == [t.name for t in right] == ["cold", "warm", "restored", "throttled"]
    assert (
        [t.marker.color for t in left]
        == [t.marker.color for t in right]
        == [
            COLD_COLOUR,
            WARM_COLOUR,
            RESTORED_COLOUR,
            THROTTLE_COLOUR,
        ]
    )
    # the legend: the left column's, and "restored" only where a side has restored starts (neither here)
    assert [t.showlegend for t in fig.data] == [True, True, False, True] + [False] * 4
    assert {t.legendgroup for t in left} == {"cold", "warm", "restored", "throttled"}  # one legend toggles both
    assert titles(fig) == ["this machine", "AWS Lambda"]
    assert fig.layout.title.text == "Cold starts over time"
    assert fig.layout.title.subtitle.text == (
        "this machine: 30 requests, 3 cold, warm p50 2 ms · AWS Lambda: 50 requests, 10 cold, warm p50 40 ms"
    )
    # one bin width for both (0.2 s: about 40 bins over the longer run), so the heights compare
    assert left[0].width == right[0].width == pytest.approx(0.2)
    assert arr(left[0].x)[0] == arr(right[0].x)[0] == 0.0  # each run from its own first request
    # every request counted once per side: rate x width summed over the bins and the outcomes
    assert sum(float(arr(t.y).sum()) * t.width for t in left) == pytest.approx(30)
    assert sum(float(arr(t.y).sum()) * t.width for t in right) == pytest.approx(50)
    assert sum(float(arr(t.y).sum()) * t.width for t in right if t.name == "cold") == pytest.approx(10)
    # the shared y axis holds the highest stack of either column; the x range the longer run
    top = max(float(sum(arr(t.y) for t in side).max()) for side in (left, right))
    assert fig.layout.yaxis2.matches == "y"
    assert tuple(fig.layout.yaxis.range) == tuple(fig.layout.yaxis2.range) == pytest.approx((0.0, top * 1.05))
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.xaxis2.range)
    assert fig.layout.xaxis.range[0] == 0.0 and 5.0 <= fig.layout.xaxis.range[1] <= 5.4
    assert fig.layout.yaxis.title.text == "requests / s" and fig.layout.yaxis2.title.text is None


def test_a_given_bin_width_is_kept() -> None:
    fig = viz.compare(LOCAL, REMOTE, bin_s=1.0, title="Cold starts")
    assert {t.width for t in fig.data} == {1.0}
    assert fig.layout.title.text == "Cold starts"


def test_latency_shares_one_log_axis_over_both_runs_and_counts_throttles() -> None:
    local = with_throttles(invocations_table())
    fig = viz.compare(local, REMOTE, kind="latency")
    left, right = columns(fig)
    # throttles never ran: no points; "restored" is there, empty and out of the legend (no SnapStart here)
    assert [t.name for t in left] == [t.name for t in right] == ["cold", "warm", "restored"]
    assert [t.marker.color for t in left] == [COLD_COLOUR, WARM_COLOUR, RESTORED_COLOUR]
    assert [t.showlegend for t in left] == [True, True, False]
    assert len(arr(left[0].x)) + len(arr(left[1].x)) == 5 and len(arr(right[0].x)) == 10
    assert fig.layout.yaxis.type == fig.layout.yaxis2.type == "log"
    low, high = fig.layout.yaxis.range
    assert tuple(fig.layout.yaxis2.range) == (low, high)
    everything = np.concatenate([arr(t.y) for t in fig.data])
    assert 10**low < everything.min() and everything.max() < 10**high  # both runs inside the one axis
    assert everything.max() == pytest.approx(120.0) and everything.min() == pytest.approx(10.0, rel=1e-4)
    assert "ms" in " ".join(fig.layout.yaxis.ticktext)
    assert "this machine: 5 requests, 3 cold, 2 throttled" in fig.layout.title.subtitle.text


def test_latency_on_a_linear_axis() -> None:
    fig = viz.compare(LOCAL, REMOTE, kind="latency", log_y=False)
    assert fig.layout.yaxis.type == "linear"
    assert tuple(fig.layout.yaxis.range) == pytest.approx((0.0, 120.0 * 1.05))


def test_reuse_numbers_environments_on_one_x_range() -> None:
    fig = viz.compare(LOCAL, REMOTE, kind="reuse")
    left, right = columns(fig)
    assert [t.name for t in left] == [t.name for t in right] == ["cold", "restored", "warm"]
    assert list(arr(left[0].x)) == [1, 2, 3] and list(arr(right[0].x)) == list(range(1, 11))
    assert tuple(fig.layout.xaxis.range) == tuple(fig.layout.xaxis2.range) == (0.5, 10.5)
    # LOCAL: 3 environments share 30 requests (10 each); REMOTE: 10 environments, 5 each
    per_env_left = arr(left[0].y) + arr(left[1].y) + arr(left[2].y)
    assert list(per_env_left) == [10, 10, 10]
    assert tuple(fig.layout.yaxis.range) == pytest.approx((0.0, 10 * 1.05))


class FakeLab:
    """The members compare reads of a Lab: create_function (to know it is one), invocations(), region."""

    def __init__(self, frame: pd.DataFrame, region: str | None = None) -> None:
        self.frame = frame
        if region is not None:
            self.region = region

    def create_function(self, name: str, source: str | None = None, **options: Any) -> Any:
        raise AssertionError("compare must not create anything")

    def invocations(self) -> pd.DataFrame:
        return self.frame


class LocalFunction:
    def __init__(self, lab: FakeLab, name: str) -> None:
        self.lab, self.name = lab, name


class RemoteFunction(LocalFunction):
    def invocations(self) -> pd.DataFrame:
        return REMOTE


def test_labs_and_functions_take_their_frames_and_the_remote_region() -> None:
    other = LOCAL.assign(function="other")
    local_lab = FakeLab(pd.concat([LOCAL, other], ignore_index=True))
    remote_lab = FakeLab(REMOTE, region="eu-west-1")
    by_lab = viz.compare(local_lab, remote_lab)
    assert titles(by_lab) == ["this machine", "AWS Lambda (eu-west-1)"]
    assert "this machine: 60 requests" in by_lab.layout.title.subtitle.text
    by_function = viz.compare(LocalFunction(local_lab, "hello"), RemoteFunction(remote_lab, "hello"), kind="reuse")
    assert titles(by_function) == ["this machine", "AWS Lambda (eu-west-1)"]  # the region of the function's Lab
    assert "this machine: 30 requests" in by_function.layout.title.subtitle.text  # filtered to the function
    assert "AWS Lambda: 50 requests" in by_function.layout.title.subtitle.text


def test_an_empty_side_and_bad_arguments() -> None:
    fig = viz.compare(LOCAL.iloc[:0], REMOTE)
    left, right = columns(fig)
    assert all(len(arr(t.x)) == 0 for t in left) and len(arr(right[1].x)) > 0
    assert fig.layout.title.subtitle.text.startswith("this machine: no requests")
    with pytest.raises(ConfigError, match="invalid compare kind: 'timeline'"):
        viz.compare(LOCAL, REMOTE, kind="timeline")
    with pytest.raises(ConfigError, match="invalid compare argument"):
        viz.compare(LOCAL, object())


def test_a_real_local_lab_against_a_frame(lab: Any) -> None:
    fn = lab.create_function("hello", source="def handler(e, c):\n    return e\n")
    lab.create_function("other", source="def handler(e, c):\n    return 1\n").invoke({})
    first, second = fn.invoke({"n": 1}), fn.invoke({"n": 2})
    assert first.cold and not second.cold
    fig = viz.compare(fn, REMOTE, kind="cold_starts")
    left, _ = columns(fig)
    counts = {t.name: float(arr(t.y).sum()) * t.width for t in left}
    assert counts == pytest.approx({"cold": 1, "warm": 1, "restored": 0, "throttled": 0})
    assert viz.compare(lab, REMOTE).layout.title.subtitle.text.startswith("this machine: 3 requests, 2 cold")


def test_restored_starts_are_their_own_outcome_on_either_side() -> None:
    """A SnapStart restore (restore_duration_ms set) is neither cold nor warm: its own bars, listed once."""
    remote = REMOTE.copy()
    remote["restore_duration_ms"] = np.where(remote["cold"].astype(bool), 4.0, np.nan)
    fig = viz.compare(LOCAL, remote)
    left, right = columns(fig)
    counts = {t.name: float(arr(t.y).sum()) * t.width for t in right}
    assert counts == pytest.approx({"cold": 0, "warm": 40, "restored": 10, "throttled": 0})
    assert [t.showlegend for t in left] == [True, True, True, True]  # restored on the right: listed on the left
    assert "AWS Lambda: 50 requests, 0 cold, 10 restored" in fig.layout.title.subtitle.text
