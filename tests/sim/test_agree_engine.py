"""The engine and the simulator drive the same core, so they must make the same decisions.

For each canonical scenario the engine (real processes, wall clock) and the simulator (virtual
clock) run the same traffic through a ``RecordingScheduler`` around their scheduler; the
normalised steps (placement decisions in order; per environment, events with its lifecycle states
before and after, and the effects) must be identical, and so must what the public tables say (per environment: its phases; per invocation:
environment, cold or warm, status). Durations differ; decisions must not.

The engine builds its scheduler itself, so the test wraps it in place (``lab._plane.scheduler``)
before any function exists: the one private attribute read here, and no engine change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sim_recording import RecordingScheduler

import lambdalab
from lambdalab.core.scheduler import Scheduler
from lambdalab.sim import Constant, Simulation

pytestmark = pytest.mark.slow

HANDLER = """
import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise Exception("boom")
    return "ok"
"""


class Script:
    """A latency model that plays given durations in order (the engine's events carry them)."""

    def __init__(self, *seconds: float) -> None:
        self.seconds = seconds
        self.mean_s = sum(seconds) / len(seconds)

    def sampler(self, rng: Any) -> Callable[[], float]:
        return iter(self.seconds).__next__


def _wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def _engine(scenario: Callable[[lambdalab.Lab], None], **lab_settings: Any) -> tuple[list[Any], dict[str, Any]]:
    with lambdalab.Lab(**lab_settings) as lab:
        recorder = RecordingScheduler(lab._plane.scheduler)  # see the module docstring
        lab._plane.scheduler = recorder
        scenario(lab)
        time.sleep(0.3)  # let exits of killed processes arrive (they change nothing)
        steps = list(recorder.steps)
        tables = _tables(lab.invocations(), lab.spans())
    return steps, tables


def _simulate(pattern: Any, **settings: Any) -> tuple[list[Any], dict[str, Any]]:
    recorders: list[RecordingScheduler] = []

    def factory(limits: Any, new_id: Callable[[], str]) -> Any:
        recorders.append(RecordingScheduler(Scheduler(limits, new_id)))
        return recorders[-1]

    settings = {"timeout_s": 3.0, "init": Constant(0.05), **settings}
    result = Simulation(pattern, seed=1, scheduler_factory=factory, **settings).run()
    return recorders[0].steps, _tables(result.invocations, result.spans)


def _tables(invocations: Any, spans: Any) -> dict[str, Any]:
    """Per invocation (in order of submission) and per environment (renamed in that order): what happened."""
    rows = invocations.sort_values("submitted", kind="stable")
    labels: dict[str, str] = {}
    for env in rows["environment_id"]:
        if env:
            labels.setdefault(env, f"e{len(labels) + 1}")
    calls = [
        (labels.get(r.environment_id, "-"), bool(r.cold), r.status, bool(r.init_suppressed), r.error_type)
        for r in rows.itertuples()
    ]
    phases = {labels.get(env, env): tuple(group["phase"]) for env, group in spans.groupby("environment_id", sort=False)}
    # environments that served nothing (Managed Instances' pre-started ones): their phases, not their random ids
    unused = sorted(phases.pop(env) for env in list(phases) if env not in labels.values())
    return {"invocations": calls, "phases": dict(sorted(phases.items())), "unused": unused}


def _projected(steps: list[Any]) -> dict[str, Any]:
    """Placement decisions in order, and each environment's own steps in order.

    Steps of different environments (or a request arriving while another environment starts)
    may interleave differently on a real clock; that is timing, not a decision.
    """
    per_environment: dict[str, list[Any]] = {}
    for step in steps:
        if step[0] != "submit":
            per_environment.setdefault(step[1], []).append(step)
        elif step[1] != "throttle":
            per_environment.setdefault(step[2], []).append(step)
    return {"decisions": [s for s in steps if s[0] == "submit"], "environments": per_environment}


def _agree(engine: tuple[list[Any], dict[str, Any]], sim: tuple[list[Any], dict[str, Any]]) -> None:
    (engine_steps, engine_tables), (sim_steps, sim_tables) = engine, sim
    assert _projected(sim_steps) == _projected(engine_steps)
    assert sim_tables == engine_tables


def test_cold_start() -> None:
    engine = _engine(lambda lab: lab.create_function("f", HANDLER).invoke({}))
    _agree(engine, _simulate([0.0], service=Constant(0.01)))
    assert engine[0][0][:2] == ("submit", "cold")


def test_warm_reuse() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER)
        fn.invoke({})
        fn.invoke({})

    engine = _engine(scenario)
    _agree(engine, _simulate([0.0, 1.0], service=Constant(0.01)))
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["cold", "warm"]


def test_timeout_resets_and_the_next_invoke_restarts() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER, timeout_s=1)
        fn.invoke({"sleep": 2})
        fn.invoke({})

    engine = _engine(scenario)
    _agree(engine, _simulate([0.0, 3.0], service=Script(2.0, 0.01), timeout_s=1.0))
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["cold", "restart"]


def test_throttle_over_reserved_concurrency() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER, reserved_concurrency=1)
        futures = [fn.submit({"sleep": 0.5}) for _ in range(2)]
        for future in futures:
            try:
                future.result(30)
            except lambdalab.TooManyRequestsException:
                pass

    engine = _engine(scenario)
    _agree(engine, _simulate([0.0, 0.01], service=Constant(0.5), reserved=1))
    assert ("submit", "throttle", "ReservedFunctionConcurrentInvocationLimitExceeded") in engine[0]


def test_keep_alive_expiry_makes_the_next_invoke_cold() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER, keep_alive_s=1)
        fn.invoke({})
        time.sleep(0.4)
        fn.invoke({})
        time.sleep(1.8)
        fn.invoke({})

    engine = _engine(scenario)
    _agree(engine, _simulate([0.0, 0.5, 2.5], service=Constant(0.01), keep_alive_s=1.0))
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["cold", "warm", "cold"]


def test_provisioned_environments_are_used_first() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER, provisioned_concurrency=1)
        _wait_for(lambda: any(e.frozen for e in fn.environments()))
        futures = [fn.submit({"sleep": 0.3}) for _ in range(2)]
        for future in futures:
            future.result(30)

    engine = _engine(scenario)
    _agree(engine, _simulate([1.0, 1.0], service=Constant(0.3), provisioned=1))
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["warm_provisioned", "cold"]


def test_a_failing_async_event_is_retried_twice() -> None:
    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER)
        fn.invoke_async({"fail": True})
        _wait_for(lambda: fn.destinations.on_failure)

    engine = _engine(scenario, retry_delay_scale=0.01)  # retries after 0.6 s and 1.2 s
    _agree(engine, _simulate([0.0], service=Constant(0.01), error_probability=1.0, invocation_type="Event"))
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["cold", "warm", "warm"]


def test_managed_instances_timeout_overruns_and_the_worker_serves_again() -> None:
    """One worker per environment keeps the decisions free of races between workers' inits (which worker is ready
    first is timing): the three environments are ready before the first invoke (none is cold), the timeout fails the
    invocation without a kill, the code runs on, and its worker serves again."""

    def scenario(lab: lambdalab.Lab) -> None:
        fn = lab.create_function("f", HANDLER, timeout_s=1, max_concurrency_per_environment=1)
        fn.invoke({"sleep": 2})
        time.sleep(1.8)  # the code ends about 1 s after its timeout
        fn.invoke({})

    engine = _engine(scenario)
    _agree(
        engine,
        _simulate([0.0, 3.0], service=Script(2.0, 0.01), timeout_s=1.0, max_concurrency_per_environment=1),
    )
    assert [s[1] for s in engine[0] if s[0] == "submit"] == ["warm", "warm"]
    assert engine[1]["invocations"][0][2] == "timeout"
    assert "overrun" in engine[1]["phases"]["e1"] and engine[1]["unused"] == [("init", "idle")] * 2
