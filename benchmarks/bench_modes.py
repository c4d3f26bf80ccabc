"""Issue 16's execution modes on their hot paths, each against a floor measured in the same run.

Figures: (1) warm ``fn.invoke({})`` p50/p99 of a Managed Instances function (``max_concurrency_per_environment=4``,
its environments started ahead) and (3) of a tenant-isolated one (``tenancy="PER_TENANT"``, one tenant), both
against the same no-op handler as a classic function (the floor): the three are invoked in interleaved blocks of 50,
so drift and other load hit all alike. (2) Throughput with 8 concurrent clients (a closed loop of ``fn.submit``, each
completion submitting the next), Managed Instances (4 per environment, 3 environments started ahead) against classic
with 8 warm environments (the floor), alternating 1.5 s runs, 2 of each. (4) A durable workflow of 3 steps
(``durable=True``, the Durable Execution SDK from PyPI through lambdalab's package cache): wall time of a synchronous
``fn.invoke`` per execution (warm environment, one replay each) against the same handler module in AWS's local runner
in-process (``DurableFunctionTestRunner.run``: the floor); and the handler's own time per step (each step
checkpoints START and SUCCEED through lambdalab's endpoint) against the same under the runner.

    python benchmarks/bench_modes.py [--rounds 20] [--seconds 1.5] [--executions 15]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, leftover_children, median, ms, pct, us  # noqa: E402

import lambdalab  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
BLOCK = 50
CLIENTS = 8
PER_ENVIRONMENT = 4
SDK = ["aws-durable-execution-sdk-python==3.0.0"]  # the version tests/durable pins: its build is in the cache
WORKFLOW = """\
import time

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step


@durable_step
def validate(step_context: StepContext, order: dict) -> dict:
    return {"id": order["id"], "items": order["items"]}


@durable_step
def price(step_context: StepContext, items: list) -> int:
    return sum(item["qty"] * item["cents"] for item in items)


@durable_step
def charge(step_context: StepContext, order_id: str, cents: int) -> str:
    return f"charged {order_id} {cents}"


@durable_execution
def handler(event: dict, context: DurableContext) -> dict:
    t0 = time.perf_counter()
    order = context.step(validate(event))
    total = context.step(price(order["items"]))
    receipt = context.step(charge(order["id"], total))
    return {"receipt": receipt, "steps_s": time.perf_counter() - t0}
"""
ORDER = {"id": "o-1", "items": [{"qty": 2, "cents": 150}, {"qty": 1, "cents": 999}]}


def closed_loop(fn: lambdalab.Function, seconds: float, **options: Any) -> tuple[float, int, set[str], int]:
    """``CLIENTS`` submits in flight for ``seconds`` (each completion submits the next, on the Lab's callback
    thread): (invokes/s, completed, environments used, errors)."""
    lock, finished = threading.Lock(), threading.Event()
    state = {"completed": 0, "outstanding": 0, "errors": 0}
    used: set[str] = set()
    stop_at = time.perf_counter() + seconds

    def on_done(future: concurrent.futures.Future[Any]) -> None:
        try:
            result = future.result()
            error, env = result.error is not None, result.environment_id
        except Exception:  # noqa: BLE001 - a throttle counts as an error, the loop goes on
            error, env = True, None
        with lock:
            state["outstanding"] -= 1
            state["completed"] += 1
            state["errors"] += error
            if env:
                used.add(env)
            again = time.perf_counter() < stop_at
            if again:
                state["outstanding"] += 1
            elif state["outstanding"] == 0:
                finished.set()
        if again:
            fn.submit({}, **options).add_done_callback(on_done)

    t0 = time.perf_counter()
    with lock:
        state["outstanding"] = CLIENTS
    for _ in range(CLIENTS):
        fn.submit({}, **options).add_done_callback(on_done)
    if not finished.wait(seconds + 60):
        raise SystemExit("the closed loop did not drain")
    return state["completed"] / (time.perf_counter() - t0), state["completed"], used, state["errors"]


def warm_modes(rounds: int, seconds: float) -> dict[str, Any]:
    times: dict[str, list[float]] = {"classic": [], "managed": [], "tenant": []}
    rates: dict[str, list[float]] = {"classic": [], "managed": []}
    used: dict[str, set[str]] = {"classic": set(), "managed": set()}
    errors = {"classic": 0, "managed": 0}
    with lambdalab.Lab() as lab:
        fns = {
            "classic": lab.create_function("classic", NOOP),
            "managed": lab.create_function("managed", NOOP, max_concurrency_per_environment=PER_ENVIRONMENT),
            "tenant": lab.create_function("tenant", NOOP, tenancy="PER_TENANT"),
        }
        options: dict[str, dict[str, Any]] = {"classic": {}, "managed": {}, "tenant": {"tenant_id": "a"}}
        for key, fn in fns.items():
            for _ in range(200):
                fn.invoke({}, **options[key])
        clock = time.perf_counter
        for _ in range(rounds):  # interleaved blocks
            for key, fn in fns.items():
                opts, out = options[key], times[key]
                for _ in range(BLOCK):
                    t0 = clock()
                    fn.invoke({}, **opts)
                    out.append(clock() - t0)
        sequential_envs = {key: len({e.environment_id for e in fn.environments()}) for key, fn in fns.items()}
        # throughput: 8 warm classic environments (8 at once warms 8), the Managed Instances ones started ahead
        list(concurrent.futures.wait([fns["classic"].submit({}) for _ in range(CLIENTS)], 60)[0])
        for key in rates:
            closed_loop(fns[key], 0.3)
        for _ in range(2):
            for key in rates:
                rate, _, envs, errs = closed_loop(fns[key], seconds)
                rates[key].append(rate)
                used[key] |= envs
                errors[key] += errs
    return {"times": times, "rates": rates, "used": used, "errors": errors, "sequential_envs": sequential_envs}


def durable(executions: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-modes-") as tmp:
        (Path(tmp) / "workflow.py").write_text(WORKFLOW)
        spec = importlib.util.spec_from_file_location("bench_workflow", Path(tmp) / "workflow.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        walls: dict[str, list[float]] = {"lab": [], "runner": []}
        steps: dict[str, list[float]] = {"lab": [], "runner": []}
        replays: list[int] = []
        with lambdalab.Lab() as lab:
            t0 = time.perf_counter()
            fn = lab.create_function(
                "workflow", path=tmp, handler="workflow.handler", requirements=SDK, durable=True, timeout_s=30
            )
            first = fn.invoke(ORDER)
            cold = time.perf_counter() - t0
            if first.error:
                raise SystemExit(f"the durable workflow failed: {first.error}")
            expected = first.payload["receipt"]
            from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

            with DurableFunctionTestRunner(handler=module.handler, poll_interval=0.01) as runner:
                for i in range(executions + 2):  # alternating, the first two of each dropped (warm-up)
                    t0 = time.perf_counter()
                    outcome = runner.run(input=json.dumps(ORDER), execution_timeout=60, execution_name=f"e{i}")
                    wall = time.perf_counter() - t0
                    if outcome.status.value != "SUCCEEDED" or json.loads(outcome.result)["receipt"] != expected:
                        raise SystemExit(f"the local runner's execution {i} failed: {outcome.error}")
                    if i >= 2:
                        walls["runner"].append(wall)
                        steps["runner"].append(json.loads(outcome.result)["steps_s"])
                    t0 = time.perf_counter()
                    result = fn.invoke(ORDER)
                    wall = time.perf_counter() - t0
                    if result.error or result.payload["receipt"] != expected:
                        raise SystemExit(f"lambdalab's execution {i} failed: {result.error}")
                    if i >= 2:
                        walls["lab"].append(wall)
                        steps["lab"].append(result.payload["steps_s"])
            replays = [
                len(fn.durable_history(arn).attrs["replays"]) for arn in lab.durable_executions()["execution_arn"]
            ]
    return {"walls": walls, "steps": steps, "cold": cold, "replays": replays}


def _row(name: str, figure: str, floor: str, ratio: str) -> dict[str, Any]:
    """A table row with no target (these figures are context: the modes against classic Lambda or AWS's runner)."""
    return {"name": name, "figure": figure, "floor": floor, "ratio": ratio, "target": "—", "met": None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--executions", type=int, default=15)
    args = parser.parse_args()
    modes = warm_modes(args.rounds, args.seconds)
    flows = durable(args.executions)
    leftover = leftover_children()

    times, rates = modes["times"], modes["rates"]
    base = pct(times["classic"], 0.5)
    p50 = {key: pct(values, 0.5) for key, values in times.items()}
    p99 = {key: pct(values, 0.99) for key, values in times.items()}
    n = len(times["classic"])
    print(f"warm fn.invoke, {n} each in interleaved blocks of {BLOCK}, environments {modes['sequential_envs']}:")
    for key, label in (
        ("classic", "classic (floor)"),
        ("managed", f"Managed Instances, N={PER_ENVIRONMENT}"),
        ("tenant", "tenant isolation, one tenant"),
    ):
        print(f"  {label:32s} p50 {us(p50[key])}  p99 {us(p99[key])}  ratio p50/floor {p50[key] / base:.2f}")
    rate = {key: median(values) for key, values in rates.items()}
    print(
        f"throughput, {CLIENTS} clients (fn.submit closed loop), median of {len(rates['classic'])} runs of "
        f"{args.seconds:g} s:"
    )
    for key, label in (
        ("classic", f"classic, {CLIENTS} warm environments (floor)"),
        ("managed", f"Managed Instances, N={PER_ENVIRONMENT}"),
    ):
        print(
            f"  {label:42s} {rate[key]:,.0f}/s (runs {', '.join(f'{r:,.0f}' for r in rates[key])}; "
            f"{len(modes['used'][key])} environments used, {modes['errors'][key]} errors)"
        )
    print(f"  ratio managed/classic {rate['managed'] / rate['classic']:.2f}")
    walls, steps = flows["walls"], flows["steps"]
    wall = {key: median(values) for key, values in walls.items()}
    step = {key: median(values) / 3 for key, values in steps.items()}
    print(
        f"durable workflow of 3 steps, {len(walls['lab'])} executions each (create + first, cold: "
        f"{flows['cold']:.2f} s; replays per execution {sorted(set(flows['replays']))}):"
    )
    print(
        f"  lambdalab fn.invoke: median {ms(wall['lab'])} (p10 {ms(pct(walls['lab'], 0.1))}, "
        f"p90 {ms(pct(walls['lab'], 0.9))}); per step in the handler {us(step['lab'])}"
    )
    print(
        f"  local runner in-process (floor): median {ms(wall['runner'])} (p10 {ms(pct(walls['runner'], 0.1))}, "
        f"p90 {ms(pct(walls['runner'], 0.9))}); per step in the handler {us(step['runner'])}"
    )
    print(
        f"  ratio per execution {wall['lab'] / wall['runner']:.2f} "
        f"(lambdalab adds {ms(wall['lab'] - wall['runner'])}), "
        f"per step {step['lab'] / step['runner']:.1f}"
    )

    rows = [
        _row(f"Managed Instances warm invoke p50 (N={PER_ENVIRONMENT}, sequential)", us(p50["managed"]), us(base),
             f"{p50['managed'] / base:.2f}"),
        _row(f"Managed Instances warm invoke p99 (N={PER_ENVIRONMENT}, sequential)", us(p99["managed"]),
             us(p99["classic"]), f"{p99['managed'] / p99['classic']:.2f}"),
        _row(f"Managed Instances throughput, {CLIENTS} clients (N={PER_ENVIRONMENT})", f"{rate['managed']:,.0f}/s",
             f"{rate['classic']:,.0f}/s", f"{rate['managed'] / rate['classic']:.2f}"),
        _row("tenant-isolated warm invoke p50 (one tenant)", us(p50["tenant"]), us(base),
             f"{p50['tenant'] / base:.2f}"),
        _row("durable workflow, 3 steps, per execution (sync invoke)", ms(wall["lab"]), ms(wall["runner"]),
             f"{wall['lab'] / wall['runner']:.2f}"),
        _row("durable step through the endpoint (START + SUCCEED checkpoints)", us(step["lab"]),
             us(step["runner"]), f"{step['lab'] / step['runner']:.1f}"),
    ]
    context = [
        "floors: the classic function (same no-op handler, same Lab) for the warm and throughput rows (the p99 row "
        "against the classic p99); AWS's local runner (aws-durable-execution-sdk-python-testing, in-process, "
        "same handler module) for the durable rows",
        f"environments after the sequential invokes: {modes['sequential_envs']}; throughput runs used "
        f"{len(modes['used']['classic'])} classic and {len(modes['used']['managed'])} Managed Instances environments "
        f"({modes['errors']['classic']} / {modes['errors']['managed']} errors)",
        f"durable: create + first (cold) execution {flows['cold']:.2f} s; replays per execution "
        f"{sorted(set(flows['replays']))}; per step = the handler's own time for its 3 steps / 3",
        f"durable: about 100 ms of every execution, under both, is the SDK's own: its checkpoint thread checks for "
        f"the stop signal every 0.1 s (_STOP_SIGNAL_POLL_SECONDS), so the handler returns up to 0.1 s after its "
        f"last step; lambdalab adds {ms(wall['lab'] - wall['runner'])} per execution (the difference of the medians)",
    ]
    emit("bench_modes", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
