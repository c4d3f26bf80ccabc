"""A load report's environment counts when the rows do not name their environments (a run on AWS Lambda).

The Invoke API's answers carry no environment: a remote run's rows have ``environment_id == ""`` until CloudWatch
Logs are read. Their counts are unknown (None, printed "unknown"), never 1; ``with_environments`` fills the rows
from the function's records (one log stream per environment) and counts them. The run is real: ``lambdalab.aws``
through ``lambdalab.aws.StandIn`` (a local Lab's endpoint for Lambda and CloudWatch Logs, moto's IAM on loopback).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import lambdalab
from lambdalab import load
from lambdalab.load.report import summarize
from tests.load.test_load_runner import assert_summary_matches

SLOW = "import time\n\ndef handler(event, context):\n    time.sleep(0.25)\n    return {'i': event.get('i')}\n"


@pytest.fixture(scope="module")
def standin() -> Iterator[Any]:
    pytest.importorskip("moto")
    from lambdalab.aws.standin import StandIn

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMBDALAB_SPARES", "0")  # the stand-in's Lab keeps no spare environment running
        running = StandIn(set_environ=False).start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def aws_lab(standin: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An AWS Lab on the stand-in, closed with delete=True: its functions' environments end with the test."""
    for name, value in standin.environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with lambdalab.aws.Lab(logs_wait_s=5.0) as lab:
        yield lab


@pytest.mark.slow
def test_a_remote_run_counts_its_environments_only_once_the_logs_name_them(aws_lab: Any) -> None:
    fn = aws_lab.create_function("slow", SLOW)
    # 40/s of 0.25 s requests: about ten in flight at once, so several environments start
    report = load.run(fn, load.Constant(40), count=20, event=lambda i: {"i": i}, progress=False, confirm=True)
    s = report.summary
    assert s.requests == s.invoked == 20 and s.errors == 0 and s.cold_starts >= 3
    assert (report.invocations["environment_id"] == "").all()  # the invoke answers name no environment
    assert s.environments_created is None and s.environments_used is None  # unknown, not 1
    assert "environments unknown" in str(s) and "environments created 1" not in str(s)
    table = s.to_frame().set_index("metric")
    assert pd.isna(table.loc["environments_created", "value"])

    filled = report.with_environments(fn.invocations())  # CloudWatch Logs: one stream per environment
    rows, counted = filled.invocations, filled.summary
    streams = fn.log_streams()
    assert (rows["environment_id"] != "").all() and set(rows["environment_id"]) == set(streams)
    assert counted.environments_used == len(streams) >= 3
    assert counted.environments_created == counted.cold_starts == s.cold_starts  # each environment started once
    assert f"environments created {counted.cold_starts}, used {len(streams)}" in str(counted)
    assert counted == summarize(rows, report.duration_s)  # the same numbers as a summary of the filled rows
    assert_summary_matches(filled)
    assert report.summary.environments_used is None  # the report itself is unchanged


@pytest.mark.slow
def test_rows_whose_logs_are_not_read_keep_the_counts_unknown(aws_lab: Any) -> None:
    fn = aws_lab.create_function("slow2", SLOW)
    report = load.run(fn, load.Constant(40), count=6, progress=False, confirm=True)
    records = fn.invocations()
    first = report.invocations["request_id"].iloc[0]
    partial = report.with_environments(records[records["request_id"] != first])
    assert (partial.invocations["environment_id"] == "").sum() == 1
    assert partial.summary.environments_used is None
    assert report.with_environments(records.iloc[0:0]) is report  # nothing read: nothing changes


def test_a_local_run_counts_as_before() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("quick", "def handler(event, context):\n    return 1\n")
        report = load.run(fn, load.Constant(50), count=5, progress=False)
        s = report.summary
        assert s.environments_created == s.cold_starts >= 1 and s.environments_used >= 1
        assert report.with_environments(lab.invocations()).summary == s  # nothing to fill
        assert f"environments created {s.environments_created}, used {s.environments_used}" in str(s)
