"""Scaling like Lambda on real processes: scale-out, limits and throttles, keep-alive, provisioned."""

from __future__ import annotations

import time

import pytest

import lambdalab

pytestmark = pytest.mark.slow

SLEEPER = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""


def _concurrently(fn, events, **options):
    futures = [fn.submit(e, **options) for e in events]
    results, errors = [], []
    for future in futures:
        try:
            results.append(future.result(30))
        except lambdalab.TooManyRequestsException as exc:
            errors.append(exc)
    return results, errors


def test_eight_concurrent_invokes_make_eight_environments_and_the_next_eight_none(lab):
    fn = lab.create_function("wide", SLEEPER)
    first, _ = _concurrently(fn, [{"sleep": 0.3}] * 8)
    assert sum(r.cold for r in first) == 8 and len({r.environment_id for r in first}) == 8
    second, _ = _concurrently(fn, [{"sleep": 0.3}] * 8)
    assert sum(r.cold for r in second) == 0
    assert {r.environment_id for r in second} == {r.environment_id for r in first}


def test_reserved_concurrency_throttles_the_excess_with_the_function_reason(lab):
    fn = lab.create_function("reserved", SLEEPER, reserved_concurrency=2)
    results, throttles = _concurrently(fn, [{"sleep": 0.5}] * 5)
    assert len(results) == 2 and len(throttles) == 3
    assert {t.reason for t in throttles} == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    table = lab.invocations()
    assert (table["status"] == "throttled").sum() == 3
    assert lab.statistics()["throttles"] == 3


def test_reserved_zero_throttles_everything(lab):
    fn = lab.create_function("off", SLEEPER, reserved_concurrency=0)
    with pytest.raises(lambdalab.TooManyRequestsException) as info:
        fn.invoke({})
    assert info.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_account_limit_throttles_with_the_account_reason():
    with lambdalab.Lab(account_concurrency=3) as lab:
        a = lab.create_function("a", SLEEPER)
        b = lab.create_function("b", SLEEPER)
        running = [a.submit({"sleep": 0.6}) for _ in range(2)] + [b.submit({"sleep": 0.6})]
        time.sleep(0.2)
        with pytest.raises(lambdalab.TooManyRequestsException) as info:
            b.invoke({})
        assert info.value.reason == "ConcurrentInvocationLimitExceeded"
        assert all(f.result(10) for f in running)


def test_a_reservation_over_what_the_account_allows_is_refused():
    with lambdalab.Lab(account_concurrency=10) as lab:  # floor: 1 unreserved
        lab.create_function("big", SLEEPER, reserved_concurrency=9)
        with pytest.raises(lambdalab.ConfigError):
            lab.create_function("more", SLEEPER, reserved_concurrency=1)


def test_scaling_rate_limits_new_environments():
    with lambdalab.Lab(scale_limit=2, scale_period_s=60) as lab:
        fn = lab.create_function("burst", SLEEPER)
        results, throttles = _concurrently(fn, [{"sleep": 0.4}] * 4)
        assert len(results) == 2 and len(throttles) == 2
        assert {t.reason for t in throttles} == {"FunctionInvocationRateLimitExceeded"}


def test_keep_alive_zero_makes_every_invoke_cold(lab):
    fn = lab.create_function("zero", SLEEPER, keep_alive_s=0)
    results = [fn.invoke({}) for _ in range(3)]
    assert all(r.cold for r in results)
    assert len({r.environment_id for r in results}) == 3
    assert "shutdown" in set(lab.spans()["phase"])


def test_keep_alive_one_second_is_warm_at_half_and_cold_at_one_and_a_half(lab):
    fn = lab.create_function("ka", SLEEPER, keep_alive_s=1)
    first = fn.invoke({})
    time.sleep(0.5)
    warm = fn.invoke({})
    time.sleep(1.5)
    cold = fn.invoke({})
    assert first.cold and not warm.cold and cold.cold
    assert warm.environment_id == first.environment_id != cold.environment_id


def test_provisioned_environments_are_initialised_ahead_and_used_first(lab):
    fn = lab.create_function("pc", SLEEPER, provisioned_concurrency=3)
    fn.wait_provisioned(timeout_s=10)
    assert fn.statistics()["idle"] == 3
    started = time.time()
    results, _ = _concurrently(fn, [{"sleep": 0.2}] * 4)
    provisioned = {e.environment_id for e in fn.environments() if e.provisioned}
    on_provisioned = [r for r in results if r.environment_id in provisioned]
    assert len(on_provisioned) == 3 and not any(r.cold for r in on_provisioned)
    spill = [r for r in results if r.environment_id not in provisioned]
    assert len(spill) == 1 and spill[0].cold
    spans = lab.spans()
    inits = spans[(spans["phase"] == "init") & spans["environment_id"].isin(provisioned)]
    assert len(inits) == 3 and (inits["end"] < started).all()
    log = lab.logs("pc", next(iter(provisioned)))
    assert "INIT_REPORT Init Duration: " in log and "\tPhase: init\tStatus: success" in log
    assert all("Init Duration" not in r.report for r in on_provisioned)


def test_kill_shuts_down_every_environment(lab):
    fn = lab.create_function("k", SLEEPER)
    _concurrently(fn, [{"sleep": 0.1}] * 2)
    fn.kill()
    deadline = time.monotonic() + 5
    while fn.environments():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert fn.invoke({}).cold
