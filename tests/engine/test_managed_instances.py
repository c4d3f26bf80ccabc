"""Lambda Managed Instances in the engine: N runtime workers per environment, real processes, one shared /tmp.

The acceptance of issue 16: 8 concurrent 0.5 s requests at ``max_concurrency_per_environment=4`` use exactly 2
environments (of the 3 started with the function, as Lambda starts them: none is cold) and overlap inside each;
two workers see each other's /tmp files; with ``max_environments=1`` the 5th concurrent request is throttled as
Lambda throttles; a timeout fails the invocation while the code keeps running
(its late answer is dropped, the worker serves again); the logs are JSON; nothing is frozen.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.errors import TooManyRequestsException

SLEEPER = """import json, logging, os, tempfile, time
log = logging.getLogger()
def handler(event, context):
    started = time.time()
    log.info("sleeping in %s", os.getpid())
    time.sleep(event.get("sleep", 0.5))
    return {"pid": os.getpid(), "started": started, "ended": time.time(), "tmp": tempfile.gettempdir()}
"""

# two requests meet through /tmp: each writes its own file, then waits for the other's (a shared /tmp, at once)
MEET = """import os, tempfile, time
def handler(event, context):
    tmp = tempfile.gettempdir()
    with open(os.path.join(tmp, event["me"] + ".part"), "w") as f:  # written whole, then named: never read half
        f.write(str(os.getpid()))
    os.replace(os.path.join(tmp, event["me"] + ".part"), os.path.join(tmp, event["me"]))
    other = os.path.join(tmp, event["other"])
    deadline = time.time() + 5
    while not os.path.exists(other) and time.time() < deadline:
        time.sleep(0.01)
    with open(other) as f:
        return {"pid": os.getpid(), "other_pid": int(f.read() or 0), "tmp": tmp}
"""

# a request that outlives its timeout, and leaves a mark when it finally ends
LATE = """import os, tempfile, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open(os.path.join(tempfile.gettempdir(), "done-" + context.aws_request_id), "w") as f:
        f.write(str(context.get_remaining_time_in_millis()))
    return {"pid": os.getpid(), "left_ms": context.get_remaining_time_in_millis()}
"""


def _all(futures: list[concurrent.futures.Future[Any]], timeout: float = 60) -> list[Any]:
    return [f.result(timeout=timeout) for f in futures]


def _state(pid: int) -> str:
    """A process's state letter from /proc (T: stopped, as a frozen environment's runtime is)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


@pytest.mark.timeout(90)
def test_eight_concurrent_requests_fill_two_environments_of_four_workers(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("managed", SLEEPER, max_concurrency_per_environment=4, timeout_s=30)
    # Lambda's three environments started with the function, outside any invocation, and are ready when it returns
    started = fn.environments()
    assert len({e.environment_id for e in started}) == 3 and len(started) == 12
    assert {e.state for e in started} == {"idle"} and len(lab.invocations()) == 0
    results = _all([fn.submit({"sleep": 0.5}) for _ in range(8)])
    assert all(r.error is None for r in results), [r.error for r in results]
    assert not any(r.record.cold for r in results)  # Managed Instances has no cold starts
    assert all(r.record.init_duration_ms is None for r in results)
    by_environment: dict[str, list[Any]] = {}
    for r in results:
        by_environment.setdefault(r.record.environment_id, []).append(r)
    assert len(by_environment) == 2, sorted(by_environment)
    for served in by_environment.values():
        assert len(served) == 4
        # four worker processes, one request each, all at once: the latest start is before the earliest end
        assert len({r.payload["pid"] for r in served}) == 4
        assert sorted(r.record.worker for r in served) == [0, 1, 2, 3]
        assert max(r.payload["started"] for r in served) < min(r.payload["ended"] for r in served)
        assert max(r.record.start for r in served) < min(r.record.end for r in served)
        assert len({r.payload["tmp"] for r in served}) == 1
    # the records say the same: 8 invocations, 2 environment ids, 4 workers each
    table = lab.invocations()
    assert len(table) == 8 and table["environment_id"].nunique() == 2
    assert sorted(table.groupby("environment_id")["worker"].nunique()) == [4, 4]
    # a second wave is warm: the same two environments serve it, no new init
    again = _all([fn.submit({"sleep": 0.2}) for _ in range(8)])
    assert {r.record.environment_id for r in again} == set(by_environment)
    assert not any(r.record.cold for r in again)
    # the timeline draws three rows of four worker lanes, the invocations overlapping inside two of them
    import numpy as np

    figure = lambdalab.viz.timeline(lab.spans())
    invoke = next(trace for trace in figure.data if trace.name == "invoke")
    y = np.asarray(invoke.y, dtype=float)
    lanes = sorted(set(np.round(y[~np.isnan(y)], 3).tolist()))
    assert len(lanes) == 8 and len({round(lane) for lane in lanes}) == 2
    assert list(figure.layout.yaxis.range) == [2.5, -0.5]  # three rows


@pytest.mark.timeout(60)
def test_two_workers_see_each_others_tmp_files(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("meet", MEET, max_concurrency_per_environment=2, timeout_s=10)
    first, second = _all([fn.submit({"me": "a", "other": "b"}), fn.submit({"me": "b", "other": "a"})])
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.record.environment_id == second.record.environment_id  # one environment ...
    assert first.payload["pid"] != second.payload["pid"]  # ... two worker processes ...
    assert {first.record.worker, second.record.worker} == {0, 1}
    # ... and each read the file the other wrote, with the writer's pid in it
    assert first.payload["other_pid"] == second.payload["pid"]
    assert second.payload["other_pid"] == first.payload["pid"]


@pytest.mark.timeout(60)
def test_every_worker_busy_and_no_new_environment_allowed_throttles(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("capped", SLEEPER, max_concurrency_per_environment=4, max_environments=1, timeout_s=30)
    busy = [fn.submit({"sleep": 1.5}) for _ in range(4)]
    time.sleep(0.2)  # the four are placed (one environment, four workers)
    with pytest.raises(TooManyRequestsException) as caught:
        fn.invoke({"sleep": 0})
    assert caught.value.code == "TooManyRequestsException"
    assert caught.value.reason  # Lambda's Reason field, as the Invoke API sends it
    served = _all(busy)
    assert all(r.error is None for r in served)
    assert len({r.record.environment_id for r in served}) == 1
    table = lab.invocations()
    throttled = table[table["status"] == "throttled"]
    assert len(throttled) == 1 and throttled["function"].tolist() == ["capped"]
    # once a worker is free, the same environment serves again
    after = fn.invoke({"sleep": 0})
    assert after.error is None and after.record.environment_id == served[0].record.environment_id


@pytest.mark.timeout(60)
def test_the_endpoint_throttles_the_fifth_request_as_lambda_does(lab: lambdalab.Lab) -> None:
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    fn = lab.create_function("capped", SLEEPER, max_concurrency_per_environment=4, max_environments=1, timeout_s=30)
    url = lab.serve()
    client = boto3.session.Session(
        aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="lambdalab-secret", region_name="us-east-1"
    ).client("lambda", endpoint_url=url, config=Config(retries={"total_max_attempts": 1}, read_timeout=30))
    busy = [fn.submit({"sleep": 1.5}) for _ in range(4)]
    time.sleep(0.2)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.invoke(FunctionName="capped", Payload=b"{}")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response.get("Reason")
    _all(busy)


@pytest.mark.timeout(60)
def test_a_timeout_fails_the_invocation_and_the_code_runs_on(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("late", LATE, max_concurrency_per_environment=1, max_environments=1, timeout_s=1)
    warm = fn.invoke({})
    assert warm.error is None
    timed_out = fn.invoke({"sleep": 1.8})
    assert timed_out.record.status == "timeout"
    assert timed_out.error is not None and timed_out.error["errorType"] == "Sandbox.Timedout"
    assert timed_out.record.environment_id == warm.record.environment_id
    # the worker is still running the handler: not killed, so the only worker is busy and a request is throttled
    assert _state(warm.payload["pid"]) != "T"
    with pytest.raises(TooManyRequestsException):
        fn.invoke({})
    # the code ends on its own a little later; then the same worker (the same process) serves again
    deadline = time.monotonic() + 5
    while True:
        try:
            after = fn.invoke({})
            break
        except TooManyRequestsException:
            assert time.monotonic() < deadline, "the worker never came back after its late answer"
            time.sleep(0.1)
    assert after.error is None
    assert after.payload["pid"] == warm.payload["pid"]  # never restarted
    assert after.record.environment_id == warm.record.environment_id and not after.record.cold
    # its late answer was dropped: one record for the timed-out request, a timeout
    table = lab.invocations()
    rows = table[table["request_id"] == timed_out.record.request_id]
    assert rows["status"].tolist() == ["timeout"]
    # the timeline's story: the invoke span ends at the timeout, an overrun span runs until the code asked for more
    spans = lab.spans()
    mine = spans[spans["request_id"] == timed_out.record.request_id].set_index("phase")
    assert {"invoke", "overrun"} <= set(mine.index)
    assert mine.loc["invoke", "end"] == pytest.approx(mine.loc["overrun", "start"])
    assert 0.5 < mine.loc["overrun", "end"] - mine.loc["overrun", "start"] < 1.5  # slept 1.8 s with a 1 s timeout


@pytest.mark.timeout(60)
def test_the_late_handler_finished_its_work(lab: lambdalab.Lab) -> None:
    """What the timed-out handler did after its timeout: its file is in the shared /tmp, and it saw no time left."""
    fn = lab.create_function("late", LATE + READER, max_concurrency_per_environment=2, max_environments=1, timeout_s=1)
    timed_out = fn.invoke({"sleep": 1.5})
    assert timed_out.record.status == "timeout"
    time.sleep(1.0)
    seen = fn.invoke({"read": "done-" + timed_out.record.request_id})
    assert seen.error is None and seen.payload["found"] is True
    assert seen.payload["left_ms"] == 0  # what the code sees after its timeout: no time left (Lambda: zero or less)


READER = """
_late = handler
def handler(event, context):
    if "read" in event:
        path = os.path.join(tempfile.gettempdir(), event["read"])
        return {"found": os.path.exists(path), "left_ms": int(open(path).read()) if os.path.exists(path) else None}
    return _late(event, context)
"""


@pytest.mark.timeout(60)
def test_logs_are_json_and_nothing_is_frozen(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("managed", SLEEPER, max_concurrency_per_environment=2, timeout_s=10)
    assert fn.config.log_format == "JSON"
    first, second = _all([fn.submit({"sleep": 0.3}), fn.submit({"sleep": 0.3})])
    for result in (first, second):
        records = [json.loads(line) for line in result.log.splitlines() if line.strip()]
        mine = [r for r in records if r.get("message", "").startswith("sleeping in")]
        assert any(r.get("requestId") == result.record.request_id for r in mine), records
        types = {r.get("type") for r in records}
        assert {"platform.start", "platform.report"} <= types
    # no freeze: the workers are running (not stopped) between invocations
    time.sleep(0.3)
    for result in (first, second):
        assert _state(result.payload["pid"]) in "RS", _state(result.payload["pid"])
    spans = lab.spans()
    assert "frozen" not in set(spans["phase"])
