"""Durable workflows in the style of the AWS Durable Execution SDK's examples, one handler each.

The same module runs in-process under the SDK's local test runner and deployed as a function under lambdalab,
so the acceptance tests compare the two on the same input.
"""

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy


@durable_step
def validate(step_context: StepContext, order: dict) -> dict:
    return {"id": order["id"], "items": order["items"], "valid": bool(order["items"])}


@durable_step
def price(step_context: StepContext, items: list) -> int:
    return sum(item["qty"] * item["cents"] for item in items)


@durable_step
def charge(step_context: StepContext, order_id: str, cents: int) -> str:
    return f"charged {order_id} {cents}"


@durable_execution
def steps(event: dict, context: DurableContext) -> dict:
    """Three steps in a row."""
    order = context.step(validate(event))
    total = context.step(price(order["items"]))
    receipt = context.step(charge(order["id"], total))
    return {"order": order["id"], "total": total, "receipt": receipt}


@durable_execution
def wait(event: dict, context: DurableContext) -> dict:
    """A step, a wait (the function ends, Lambda invokes it again when the wait is over), a step."""
    order = context.step(validate(event))
    context.wait(Duration.from_seconds(event.get("wait_s", 2)), name="cool-off")
    total = context.step(price(order["items"]))
    return {"order": order["id"], "total": total}


def _square(ctx: DurableContext, item: int, index: int, items: list) -> int:
    return ctx.step(lambda _: item * item, name=f"square-{index}")


@durable_execution
def fan_out(event: dict, context: DurableContext) -> dict:
    """map over the items and parallel branches, each a step in a child context."""
    squares = context.map(event["numbers"], _square, name="squares").get_results()
    branches = context.parallel(
        [
            lambda ctx: ctx.step(lambda _: sum(event["numbers"]), name="sum"),
            lambda ctx: ctx.step(lambda _: max(event["numbers"]), name="max"),
        ],
        name="stats",
    ).get_results()
    return {"squares": squares, "sum": branches[0], "max": branches[1]}


@durable_execution
def approval(event: dict, context: DurableContext) -> dict:
    """A callback: the workflow waits until someone calls SendDurableExecutionCallbackSuccess with its id."""
    order = context.step(validate(event))
    callback = context.create_callback(name="approval")
    context.step(lambda _: callback.callback_id, name="ask-for-approval")
    decision = callback.result()
    return {"order": order["id"], "decision": decision}


@durable_step
def flaky(step_context: StepContext, fail_times: int) -> str:
    if step_context.attempt <= fail_times:
        raise RuntimeError(f"transient failure on attempt {step_context.attempt}")
    return f"ok on attempt {step_context.attempt}"


RETRY = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(max_attempts=3, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE)
    )
)


@durable_execution
def retry(event: dict, context: DurableContext) -> dict:
    """A step that fails twice, retried by the SDK's strategy: each retry is a new invocation after the delay."""
    return {"result": context.step(flaky(event.get("fail_times", 2)), config=RETRY)}


NO_RETRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


@durable_step
def reserve(step_context: StepContext, order_id: str) -> str:
    raise ValueError(f"out of stock for {order_id}")


@durable_execution
def out_of_stock(event: dict, context: DurableContext) -> dict:
    """A workflow that fails: its step raises and is not retried, so the execution FAILS with the step's error."""
    order = context.step(validate(event))
    context.wait(Duration.from_seconds(10), name="hold")
    context.step(reserve(order["id"]), config=NO_RETRY)
    return {"order": order["id"]}


def tax(event: dict, context: object) -> dict:
    """A plain (not durable) function a workflow invokes."""
    return {"tax": event["cents"] // 10}


@durable_execution
def chained(event: dict, context: DurableContext) -> dict:
    """Chained invokes: a plain function, then a durable one (a child execution of its own)."""
    levy = context.invoke("tax", {"cents": 1299}, name="tax")
    child = context.invoke("steps", event, name="child-order")
    return {"tax": levy, "child": child}


@durable_execution
def whoami(event: dict, context: DurableContext) -> dict:
    """What each replay sees of its invoke: the tenant (context.tenant_id) and the trace header's lineage, before and
    after a wait (two replays)."""
    import os

    def seen() -> list:
        lineage = os.environ.get("_X_AMZN_TRACE_ID", "").rpartition("Lineage=")[2]
        return [getattr(context.lambda_context, "tenant_id", None), lineage.split(":")[0] or None]

    first = seen()
    context.wait(Duration.from_seconds(event.get("wait_s", 2)), name="pause")
    return {"first": first, "last": seen()}
