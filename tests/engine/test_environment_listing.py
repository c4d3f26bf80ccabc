"""Function.environments(): each environment's phase, the request it runs, seconds in its phase and its age."""

from __future__ import annotations

import time
from typing import Any

from lambdalab.results import EnvironmentInfo

SLOW = """
import time
time.sleep(0.8)  # a slow init
def handler(event, context):
    time.sleep(event)
    return context.aws_request_id
"""
CRASH = """
import os
def handler(event, context):
    if event == {"crash": 1}:
        os._exit(3)
    return 1
"""


def wait_for(fn: Any, check: Any, timeout: float = 20.0) -> EnvironmentInfo:
    """Poll ``fn.environments()`` until one environment passes ``check``; that one."""
    deadline = time.monotonic() + timeout
    while True:
        for info in fn.environments():
            if check(info):
                return info
        assert time.monotonic() < deadline, f"timed out; last listing {fn.environments()}"
        time.sleep(0.01)


def test_listing_follows_init_invoke_frozen_with_request_ids_and_times(lab: Any) -> None:
    fn = lab.create_function("slow", SLOW, timeout_s=10)
    assert fn.environments() == []
    future = fn.submit(0.6)
    init = wait_for(fn, lambda i: i.phase == "init" and i.since_s > 0.2)
    assert init.state == "initializing" and init.request_id is not None  # the request waiting for this init
    assert init.age_s >= init.since_s > 0.2 and init.invocations == 0 and not init.frozen
    invoking = wait_for(fn, lambda i: i.phase == "invoke" and i.since_s > 0.2)
    assert invoking.state in ("invoking", "finishing") and invoking.environment_id == init.environment_id
    assert invoking.age_s >= invoking.since_s + 0.7  # init (0.8 s) came first
    result = future.result(timeout=20)
    assert invoking.request_id == init.request_id == result.payload == result.request_id
    (frozen,) = fn.environments()
    assert (frozen.phase, frozen.state, frozen.frozen, frozen.request_id, frozen.invocations) == (
        "frozen",
        "idle",
        True,
        None,
        1,
    )
    time.sleep(0.3)
    (later,) = fn.environments()
    assert later.since_s >= frozen.since_s + 0.25 and later.age_s >= frozen.age_s + 0.25
    assert later.age_s > 1.3


def test_unfrozen_idle_and_reset_environments(lab: Any) -> None:
    fn = lab.create_function("crash", CRASH, freeze=False)
    fn.invoke(None)
    (idle,) = fn.environments()
    assert (idle.phase, idle.state, idle.frozen, idle.request_id) == ("idle", "idle", False, None)
    result = fn.invoke({"crash": 1})
    assert result.error is not None
    reset = wait_for(fn, lambda i: i.state == "reset")
    # no process until its next invoke re-inits it: shown as idle, with no request
    assert (reset.phase, reset.request_id, reset.environment_id) == ("idle", None, idle.environment_id)
    assert reset.age_s >= reset.since_s >= 0.0


def test_every_phase_listed_is_a_colour_key_and_the_fields_keep_their_order(lab: Any) -> None:
    from lambdalab.viz.colours import PHASE_COLOURS, environment_phase

    fn = lab.create_function("slow2", SLOW, timeout_s=10)
    futures = [fn.submit(0.2) for _ in range(3)]
    seen = set()
    deadline = time.monotonic() + 20
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        for info in fn.environments():
            seen.add(info.phase)
            assert info.phase in PHASE_COLOURS
            assert info.phase == environment_phase(info.state, info.frozen)  # the engine and the palette agree
            assert info.since_s >= 0 and info.age_s >= info.since_s
        time.sleep(0.02)
    assert {"init", "invoke"} <= seen
    # the six fields of old come first, positionally, as before
    assert [f for f in EnvironmentInfo.__dataclass_fields__][:6] == [
        "environment_id",
        "version",
        "state",
        "frozen",
        "provisioned",
        "invocations",
    ]
    fields = [f for f in EnvironmentInfo.__dataclass_fields__]
    assert fields[6:] == ["phase", "request_id", "since_s", "age_s", "worker"]


def test_listing_many_environments_is_cheap(lab: Any) -> None:
    fn = lab.create_function("many", "import time\ndef handler(event, context):\n    time.sleep(event)\n")
    futures = [fn.submit(0.5) for _ in range(20)]
    for future in futures:
        future.result(timeout=60)
    assert len(fn.environments()) == 20
    samples = []
    for _ in range(50):
        t0 = time.perf_counter()
        fn.environments()
        samples.append(time.perf_counter() - t0)
    assert sorted(samples)[25] < 0.02  # 20 environments: well under a millisecond here; 20 ms on a busy machine
