"""``Simulation.calibrate``: a simulation from a real run, on this machine or on AWS Lambda (issue 18 item 4).

A local Lab's ``invocations()`` and a remote one's have the same columns; a remote row may lack what only the logs
say (``environment_id == ""``), and warm rows have no init duration (None or NaN). Calibrating either gives the
settings ``from_records`` gives, and a what-if far past one machine (1,000 requests/s) runs on them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lambdalab
from lambdalab.core.records import InvocationRecord
from lambdalab.errors import ConfigError
from lambdalab.load import Constant as Steady
from lambdalab.sim import Simulation
from lambdalab.sim.calibration import Steady as DefaultPattern

HANDLER = """
import time
time.sleep(0.05)                      # Init

def handler(event, context):
    time.sleep(0.005)
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def local_run() -> pd.DataFrame:
    """Ten real invocations, three of them cold (the environment is killed before them)."""
    with lambdalab.Lab() as lab:
        fn = lab.create_function("api", HANDLER, memory_mb=256)
        for i in range(10):
            if i in (0, 4, 7):
                fn.kill()
            fn.invoke({})
        return lab.invocations()


def remote_shaped(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as a remote Lab's invocations() gives it: the first rows' log streams not read yet, warm rows'
    init duration NaN, object columns where a value may be missing, the frame's attrs."""
    remote = df.copy()
    remote["environment_id"] = [""] * 3 + [f"2026/12/07/[$LATEST]{e[-8:]}" for e in remote["environment_id"][3:]]
    remote["init_duration_ms"] = [v if c else math.nan for v, c in zip(df["init_duration_ms"], df["cold"], strict=True)]
    remote["function"] = "lambdalab-api"
    remote.attrs.update(source="aws", unknown_phases=["frozen", "idle", "shutdown"])
    return remote


def test_calibrate_gives_the_settings_from_records_gives(local_run: pd.DataFrame) -> None:
    assert int(local_run["cold"].sum()) == 3 and (local_run["status"] == "success").all()
    pattern = Steady(2)
    calibrated = Simulation.calibrate(local_run, pattern, keep_alive_s=60, seed=3)
    assert calibrated.scenario == Simulation.from_records(local_run, pattern, keep_alive_s=60, seed=3).scenario
    assert calibrated.pattern is pattern and calibrated.seed == 3
    s = calibrated.scenario
    assert s.memory_mb == 256 and s.function == "api" and s.keep_alive_s == 60
    inits = local_run.loc[local_run["cold"], "init_duration_ms"]
    assert s.init.mean_s == pytest.approx(inits.mean() / 1000)
    assert s.service.mean_s == pytest.approx(local_run.loc[~local_run["cold"], "duration_ms"].mean() / 1000)
    assert 0.004 < s.service.mean_s < s.init.mean_s  # the 5 ms invoke, shorter than the 50 ms init


def test_a_lab_or_function_is_read_through_its_invocations() -> None:
    class Remote:  # anything with invocations(): a Lab or a Function of either target
        def __init__(self, frame: pd.DataFrame) -> None:
            self.frame = frame

        def invocations(self) -> pd.DataFrame:
            return self.frame

    frame = pd.DataFrame(
        {"cold": [True, False], "duration_ms": [30.0, 10.0], "init_duration_ms": [200.0, None],
         "status": ["success", "success"]}
    )
    assert Simulation.calibrate(Remote(frame), seed=1).scenario == Simulation.calibrate(frame, seed=1).scenario
    with pytest.raises(ConfigError, match="invalid records: list"):
        Simulation.calibrate([1, 2, 3])
    with pytest.raises(ConfigError, match="missing column"):
        Simulation.calibrate(pd.DataFrame({"cold": []}))


def test_without_a_pattern_it_simulates_one_request_a_second(local_run: pd.DataFrame) -> None:
    sim = Simulation.calibrate(local_run, seed=1)
    assert isinstance(sim.pattern, DefaultPattern) and repr(sim.pattern) == "Steady(1/s)"
    result = sim.run(duration_s=30)
    assert result.summary.requests == 30
    assert list(result.invocations["submitted"].head(3)) == [0.0, 1.0, 2.0]
    assert result.summary.cold_starts == 1  # one environment, kept alive between requests a second apart
    with pytest.raises(ConfigError, match="never ends by itself"):
        sim.run()
    with pytest.raises(ConfigError, match="invalid rate"):
        DefaultPattern(0)


def test_a_remote_runs_frame_calibrates_as_the_local_one(local_run: pd.DataFrame) -> None:
    remote = remote_shaped(local_run)
    local_settings = Simulation.calibrate(local_run, seed=1).scenario
    remote_settings = Simulation.calibrate(remote, seed=1).scenario
    assert remote_settings.init == local_settings.init and remote_settings.service == local_settings.service
    assert remote_settings.cold_service == local_settings.cold_service
    assert remote_settings.function == "lambdalab-api" and remote_settings.memory_mb == 256


def test_cells_a_remote_run_could_not_fill_are_skipped_not_read_as_zero() -> None:
    frame = pd.DataFrame(
        {
            "environment_id": ["", "2026/12/07/[$LATEST]ab", "", "2026/12/07/[$LATEST]ab", ""],
            "cold": [True, False, None, False, np.nan],
            "duration_ms": [20.0, 10.0, np.nan, 12.0, 11.0],
            "init_duration_ms": [400.0, None, None, np.nan, np.nan],
            "status": ["success"] * 5,
            "memory_size_mb": [np.nan, 512, 512, 512, 512],
            "max_memory_used_mb": [60, 61, np.nan, 64, None],
            "function": [None, "f", "f", "f", "f"],
        }
    )
    s = Simulation.calibrate(frame, seed=1).scenario
    assert s.init.mean_s == pytest.approx(0.4) and s.cold_service.mean_s == pytest.approx(0.42)
    assert s.service.mean_s == pytest.approx(0.011)  # 10, 12 and 11 ms: the NaN duration is left out
    assert s.memory_mb == 512 and s.max_memory_used_mb == 64 and s.function == "function"


def test_an_init_run_inside_the_invoke_is_not_counted_twice() -> None:
    """After a reset the next invoke re-runs init inside its Duration (``init_suppressed``): that Duration is the
    whole cold request, not what follows the init."""
    frame = pd.DataFrame(
        {
            "cold": [True, True, False],
            "duration_ms": [10.0, 310.0, 10.0],
            "init_duration_ms": [300.0, 300.0, None],
            "init_suppressed": [False, True, False],
            "status": ["success"] * 3,
        }
    )
    s = Simulation.calibrate(frame, seed=1).scenario
    assert s.init.mean_s == pytest.approx(0.3) and s.cold_service.mean_s == pytest.approx(0.31)


def test_from_records_the_aws_backend_builds() -> None:
    """The frame lambdalab.aws.records builds from REPORT lines (H2), as a remote Lab's invocations() gives it."""
    records = pytest.importorskip("lambdalab.aws.records")
    rows = []
    for i, (init, duration) in enumerate([(180.5, 25.0), (None, 8.0), (None, 9.0), (170.0, 22.0), (None, 7.0)]):
        rid = f"6b3c1d2e-0000-4000-8000-00000000000{i}"
        report = f"REPORT RequestId: {rid}\tDuration: {duration} ms\tBilled Duration: {math.ceil(duration)} ms\t"
        report += "Memory Size: 128 MB\tMax Memory Used: 40 MB\t"
        if init is not None:
            report += f"Init Duration: {init} ms\t"
        tail = f"START RequestId: {rid} Version: $LATEST\nEND RequestId: {rid}\n{report}\n"
        rows.append(
            records.record_from_tail(
                tail, function="lambdalab-api", version="$LATEST", request_id=rid, submitted=100.0 + i,
                end=100.5 + i, error_type=None,
            )
        )
    assert all(isinstance(r, InvocationRecord) for r in rows) and rows[0].environment_id == ""
    frame = records.invocations_frame(rows)
    s = Simulation.calibrate(frame, seed=1).scenario
    assert s.init.mean_s == pytest.approx((0.1805 + 0.170) / 2)
    assert s.service.mean_s == pytest.approx(0.008) and s.memory_mb == 128 and s.max_memory_used_mb == 40


def test_a_remote_labs_invocations_calibrate_through_the_stand_in() -> None:
    """A lambdalab.aws.Lab on the stand-in (a local Lab's endpoint for Lambda and CloudWatch Logs, moto's IAM): its
    invocations() and the Lab itself calibrate the same simulation, with the remote function's name."""
    pytest.importorskip("moto")
    import lambdalab.aws
    from lambdalab.aws.standin import StandIn

    with StandIn(), lambdalab.aws.Lab(logs_wait_s=5.0) as remote:
        fn = remote.create_function("api", HANDLER, memory_mb=256)
        results = [fn.invoke({}) for _ in range(4)]
        frame = remote.invocations()
        from_lab = Simulation.calibrate(remote, seed=1).scenario
    assert [r.cold for r in results] == [True, False, False, False]
    assert list(frame["environment_id"].str.contains(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")) == [True] * 4
    s = Simulation.calibrate(frame, seed=1).scenario
    assert s == from_lab and s.memory_mb == 256
    assert s.init.mean_s == pytest.approx(results[0].init_duration_ms / 1000)
    assert s.service.mean_s == pytest.approx(sum(r.duration_ms for r in results[1:]) / 3000, rel=0.01)


def test_a_what_if_at_1000_requests_a_second_reports_cold_starts(local_run: pd.DataFrame) -> None:
    """Far past one machine: 5,000 requests in 5 s on the remote run's latencies."""
    summary = Simulation.calibrate(remote_shaped(local_run), Steady(1000), seed=1).run(duration_s=5).summary
    assert summary.requests == 5000 and summary.throttles == 0
    # every request that arrives while the first environments initialise needs one of its own
    assert 5 <= summary.cold_starts == summary.environments_created < 1000
    assert 0 < summary.cold_start_probability < 0.2 and summary.peak_environments >= summary.cold_starts / 2
    again = Simulation.calibrate(remote_shaped(local_run), Steady(1000), seed=1).run(duration_s=5).summary
    assert again == summary  # the same seed, the same what-if


# -- runs recorded on real AWS Lambda (tests/fixtures/aws_runs/README.md) ---------------------------------------
RUNS = sorted(p.parent for p in (Path(__file__).parents[1] / "fixtures" / "aws_runs").glob("*/invocations.jsonl"))


@pytest.mark.parametrize("run", RUNS or [pytest.param(None, marks=pytest.mark.skip("no run recorded on AWS yet"))])
def test_a_run_recorded_on_aws_calibrates_the_what_if(run: Path) -> None:
    frame = pd.read_json(run / "invocations.jsonl", lines=True, dtype={"environment_id": str, "request_id": str})
    about = json.loads((run / "run.json").read_text())
    assert {"date", "region"} <= about.keys() and run.name == f"{about['date']}_{about['region']}"
    assert list(frame.columns) == [*InvocationRecord._fields, "latency_ms"]
    ok = frame[frame["status"] == "success"]
    assert ok["cold"].any() and (~ok["cold"]).any()
    summary = Simulation.calibrate(frame, Steady(1000), seed=1).run(duration_s=5).summary
    assert summary.requests == 5000 and summary.cold_starts >= 1
