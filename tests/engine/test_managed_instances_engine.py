"""What the engine shares between the workers of a Managed Instances environment, and what it keeps apart.

One memory cgroup for all the workers (limit ``memory_mb``), one log stream, one /tmp removed with the last worker;
a worker that crashes takes nobody else's process with it; a whole environment ends at its keep-alive.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.engine.limits import CGROUP_ROOT, Limits

WORKER = """import os, time
def handler(event, context):
    if event.get("exit"):
        os._exit(3)
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""


def _all(futures: list[concurrent.futures.Future[Any]], timeout: float = 60) -> list[Any]:
    return [f.result(timeout=timeout) for f in futures]


def _memory_group(pid: int) -> str | None:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path
    return None


cgroups = pytest.mark.skipif(Limits("probe").memory_base is None, reason="needs a writable cgroup v1 memory hierarchy")


@cgroups
@pytest.mark.timeout(60)
def test_the_workers_share_one_memory_group_limited_to_memory_mb(lab: lambdalab.Lab) -> None:
    fn = lab.create_function(
        "managed", WORKER, max_concurrency_per_environment=3, memory_mb=256, timeout_s=10, min_environments=1
    )
    results = _all([fn.submit({"sleep": 0.4}) for _ in range(3)])
    pids = [r.payload for r in results]
    assert len(set(pids)) == 3 and len({r.record.environment_id for r in results}) == 1
    groups = {_memory_group(pid) for pid in pids}
    assert len(groups) == 1, groups
    group = CGROUP_ROOT / "memory" / str(groups.pop()).lstrip("/")
    assert int((group / "memory.limit_in_bytes").read_text()) == 256 * 1024 * 1024
    members = {int(p) for p in (group / "cgroup.procs").read_text().split()}
    assert set(pids) <= members


@pytest.mark.timeout(60)
def test_a_crashing_worker_takes_only_itself(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("managed", WORKER, max_concurrency_per_environment=2, timeout_s=10, max_environments=1)
    first = fn.invoke({})  # the one environment is up: two workers
    slow = fn.submit({"sleep": 1.0})
    time.sleep(0.2)
    crashed = fn.invoke({"exit": True})
    assert crashed.error is not None and crashed.error["errorType"] == "Runtime.ExitError"
    served = slow.result(timeout=30)
    assert served.error is None  # its worker was not killed with the other one
    assert served.record.environment_id == crashed.record.environment_id == first.record.environment_id
    assert served.record.worker != crashed.record.worker
    # the crashed worker's process is gone; the environment serves on (the other worker, or a respawned one)
    again = _all([fn.submit({"sleep": 0.2}) for _ in range(2)])
    assert all(r.error is None for r in again)
    assert {r.record.environment_id for r in again} == {first.record.environment_id}
    assert crashed.record.reset is True


@pytest.mark.timeout(60)
def test_one_log_stream_per_environment(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("managed", WORKER, max_concurrency_per_environment=2, timeout_s=10, max_environments=1)
    results = _all([fn.submit({"sleep": 0.3}) for _ in range(2)])
    assert len({r.record.environment_id for r in results}) == 1
    assert len(lab.log_streams("managed")) == 1
    lines = [json.loads(line) for line in lab.logs("managed").splitlines() if line.startswith("{")]
    starts = [line["record"]["requestId"] for line in lines if line.get("type") == "platform.start"]
    assert sorted(starts) == sorted(r.record.request_id for r in results)  # each invocation once, not per worker
    inits = [line for line in lines if line.get("type") == "platform.initStart"]
    assert len(inits) == 1  # each worker ran its own init; the environment's is reported once, as Lambda's one INIT
    rows = fn.environments()
    assert {row.environment_id for row in rows} == {results[0].record.environment_id}
    assert sorted(row.worker for row in rows) == [0, 1]


def _host_folder(pid: int) -> Path | None:
    """Where a runtime's private /tmp (a tmpfs bound in its mount namespace) is mounted on the machine's side."""
    try:
        device = os.stat(f"/proc/{pid}/root/tmp").st_dev
    except OSError:
        return None
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        with contextlib.suppress(OSError):
            found = Path(point)
            if os.stat(found).st_dev == device and found.name == "tmp" and found.parent.parent.name == "environments":
                return found
    return None


@pytest.mark.timeout(60)
def test_the_environment_ends_as_a_whole_and_its_tmp_goes_with_the_last_worker(lab: lambdalab.Lab) -> None:
    fn = lab.create_function(
        "managed",
        "import os, tempfile\ndef handler(event, context):\n"
        "    open(tempfile.gettempdir() + '/x', 'w').write('x')\n    return os.getpid()\n",
        max_concurrency_per_environment=2,
        keep_alive_s=0.5,
        timeout_s=10,
        min_environments=1,
    )
    pid = fn.invoke({}).payload
    fn.set_scaling(0, None)  # the minimum kept it; without one, it goes after its keep-alive
    folder = _host_folder(pid) if lab.isolation == "namespace" else None
    if lab.isolation == "namespace":
        assert folder is not None and (folder / "x").read_text() == "x"  # the workers' one /tmp, from the machine
    deadline = time.monotonic() + 10
    while fn.environments() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fn.environments() == []
    spans = lab.spans()
    shutdowns = spans[spans["phase"] == "shutdown"]
    assert sorted(shutdowns["worker"]) == [0, 1]  # both workers, together
    assert shutdowns["start"].max() - shutdowns["start"].min() < 0.5
    if folder is not None:
        assert not folder.exists()  # removed with the last worker


LOGGING = """import logging, time
log = logging.getLogger()
def handler(event, context):
    log.info("start %s", event)
    time.sleep(0.3)
    log.info("end %s", event)
    return event
"""


@pytest.mark.timeout(60)
def test_an_invocations_log_keeps_its_own_records(lab: lambdalab.Lab) -> None:
    """Two workers write one stream at once; each result's log holds its own request's JSON records only."""
    fn = lab.create_function("managed", LOGGING, max_concurrency_per_environment=2, timeout_s=10)
    results = _all([fn.submit(1), fn.submit(2)])
    assert len({r.record.environment_id for r in results}) == 1
    for result in results:
        records = [json.loads(line) for line in result.log.splitlines()]
        named = {r.get("requestId") or r.get("record", {}).get("requestId") for r in records}
        assert named == {result.record.request_id}
        assert [r["message"] for r in records if "message" in r] == [f"start {result.payload}", f"end {result.payload}"]
        assert [r["type"] for r in records if "type" in r] == ["platform.start", "platform.report"]
    both = lab.logs("managed")
    assert both.count('"platform.start"') == 2  # the stream itself keeps everything


@pytest.mark.timeout(60)
def test_external_extensions_are_refused_in_managed_instances(lab: lambdalab.Lab, tmp_path: Path) -> None:
    """lambdalab's limit, said plainly: its workers are separate runtimes, each would start its own extensions."""
    layer = tmp_path / "layer"
    (layer / "extensions").mkdir(parents=True)
    script = layer / "extensions" / "noop"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    with pytest.raises(lambdalab.ConfigError, match="without external extensions"):
        lab.create_function("managed", WORKER, max_concurrency_per_environment=2, layers=[str(layer)])
    assert "managed" not in lab.functions()
    plain = lab.create_function("plain", WORKER, layers=[str(layer)])  # the same layer: fine in the classic model
    assert plain.config.max_concurrency_per_environment is None


@pytest.mark.timeout(60)
def test_a_workers_init_may_take_130_seconds_or_the_functions_timeout(lab: lambdalab.Lab) -> None:
    """Lambda's rule for Managed Instances: init is limited to the larger of 130 s and the function's timeout (a
    classic function's init has 10 s): an init of 11 s completes."""
    slow_init = "import time\ntime.sleep(11)\ndef handler(event, context):\n    return 'ready'\n"
    fn = lab.create_function("managed", slow_init, max_concurrency_per_environment=1, timeout_s=3, min_environments=1)
    result = fn.invoke({})  # create_function returned once the environment's init had run: not a cold start
    assert result.error is None and result.payload == "ready" and not result.record.cold
    spans = lab.spans()
    assert spans[spans["phase"] == "init"]["duration_ms"].iloc[0] > 11_000  # the first, before any invoke


ENVIRONMENT = """import os
def handler(event, context):
    return [os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"), os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")]
"""


@pytest.mark.timeout(60)
def test_each_worker_sees_lambdas_managed_instances_variables(lab: lambdalab.Lab) -> None:
    """``AWS_LAMBDA_MAX_CONCURRENCY`` as Lambda sets it in a Managed Instances environment (lambdalab's runtimes serve
    one request per worker process whatever it says), and the initialization type of an environment started ahead;
    not for awslambdaric (``python-ric``), which would fork that many workers of its own."""
    fn = lab.create_function("managed", ENVIRONMENT, max_concurrency_per_environment=2, min_environments=1)
    assert fn.invoke({}).payload == ["2", "lambda-managed-instances"]
    assert lab.create_function("plain", ENVIRONMENT).invoke({}).payload == [None, "on-demand"]
    ric = lab.create_function(
        "ric", ENVIRONMENT, runtime="python-ric", max_concurrency_per_environment=2, min_environments=1
    )
    assert ric.invoke({}).payload == [None, "lambda-managed-instances"]
