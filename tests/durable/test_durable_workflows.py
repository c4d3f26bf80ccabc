"""Durable functions: the SDK's example-style workflows give the same results under lambdalab as under the SDK's
own local runner (aws-durable-execution-sdk-python-testing) on the same input, and lambdalab records one invocation
per replay. One Lab for the module (the SDK's build is cached; time_scale=10 shortens the waits), each test's
environments shut down at its end."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

import lambdalab

pytest.importorskip("aws_durable_execution_sdk_python_testing")
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WORKFLOWS = Path(__file__).parent / "workflows"
SDK = ["aws-durable-execution-sdk-python==3.0.0"]
ORDER = {"id": "o-1", "items": [{"qty": 2, "cents": 150}, {"qty": 1, "cents": 999}], "numbers": [3, 1, 2], "wait_s": 20}


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("order_workflows", WORKFLOWS / "order_workflows.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


workflows = _module()


@pytest.fixture
def durable_lab(shared_lab: lambdalab.Lab) -> lambdalab.Lab:
    """The module's Lab (``conftest.shared_lab``: time_scale=10, checked for leftovers when it closes)."""
    return shared_lab


def deploy(lab: lambdalab.Lab, handler: str) -> lambdalab.Function:
    name = handler.replace("_", "-")
    if name in lab.functions():
        return lab.function(name)
    return lab.create_function(
        name,
        path=WORKFLOWS,
        handler=f"order_workflows.{handler}",
        requirements=SDK,
        durable=True,
        timeout_s=30,
        durable_execution_timeout_s=600,
    )


def asked_callback(fn: lambdalab.Function, timeout_s: float) -> str:
    """The callback id the latest execution of ``fn`` asked for, once its history shows it (within ``timeout_s``)."""
    deadline, callback_id = time.monotonic() + timeout_s, None
    while callback_id is None and time.monotonic() < deadline:
        history = fn.durable_history()
        started = history[history["event_type"] == "CallbackStarted"]
        callback_id = started["details"].iloc[0]["CallbackId"] if len(started) else None
        time.sleep(0.05)
    assert callback_id is not None, "the workflow never asked for its callback"
    return str(callback_id)


def local_runner(handler: str, event: dict) -> tuple[Any, int]:
    """The SDK's local runner on the same input: (the workflow's result, how many times it invoked the handler)."""
    with DurableFunctionTestRunner(handler=getattr(workflows, handler), poll_interval=0.05) as runner:
        arn = runner.run_async(input=json.dumps(event), execution_timeout=60)
        outcome = runner.wait_for_result(arn, timeout=60)
        events = runner.get_execution_history(arn).events
    assert outcome.status.value == "SUCCEEDED", outcome.error
    return json.loads(outcome.result), sum(e.event_type == "InvocationCompleted" for e in events)


def replays_recorded(lab: lambdalab.Lab, fn: lambdalab.Function) -> Any:
    """The execution's replays, each checked against lab.invocations(): one invocation per replay, the same ids."""
    replays = fn.durable_history().attrs["replays"]
    invocations = lab.invocations()
    mine = invocations[invocations["function"] == fn.name]
    assert sorted(mine["request_id"]) == sorted(replays["request_id"])
    assert (mine["billed_duration_ms"] > 0).all()
    return replays


@pytest.mark.parametrize(
    ("handler", "invocations"),
    [("steps", 1), ("wait", 2), ("fan_out", 1), ("retry", 3)],
)
def test_workflow_matches_the_local_runner_and_records_one_invocation_per_replay(
    durable_lab: lambdalab.Lab, handler: str, invocations: int
) -> None:
    expected, runner_invocations = local_runner(handler, ORDER)
    fn = deploy(durable_lab, handler)
    began = time.monotonic()
    result = fn.invoke(ORDER)
    took = time.monotonic() - began
    assert result.error is None, result.error
    assert result.payload == expected
    replays = replays_recorded(durable_lab, fn)
    assert len(replays) == invocations == runner_invocations
    assert list(replays["outcome"]) == ["PENDING"] * (invocations - 1) + ["SUCCEEDED"]
    assert result.request_id == replays["request_id"].iloc[-1]  # the answer carries the last replay's record
    if handler == "wait":  # 20 s of virtual time: 2 s here, and the log says 20
        assert 2.0 <= took < 10.0
        assert list(replays["skipped"].iloc[1]) == ["validate", "cool-off"] and list(replays["ran"].iloc[1]) == [
            "price"
        ]
        history = fn.durable_history()
        wait = history[history["event_type"] == "WaitStarted"]["details"].iloc[0]
        assert wait["Duration"] == 20
        assert "10× faster" in history.attrs["caption"]
    if handler == "retry":  # each retry a new invocation after the step's delay, the step's earlier attempts failed
        assert result.payload == {"result": "ok on attempt 3"}
        assert all(list(ran) == ["flaky"] for ran in replays["ran"])


def test_callback_completed_through_the_endpoint_matches_the_local_runner(durable_lab: lambdalab.Lab) -> None:
    import boto3

    with DurableFunctionTestRunner(handler=workflows.approval, poll_interval=0.05) as runner:
        arn = runner.run_async(input=json.dumps(ORDER), execution_timeout=60)
        callback_id = runner.wait_for_callback(arn, name="approval", timeout=30)
        runner.send_callback_success(callback_id, b'"approved"')
        expected = json.loads(runner.wait_for_result(arn, timeout=30).result)

    fn = deploy(durable_lab, "approval")
    pending = fn.submit(ORDER)
    callback_id = asked_callback(fn, 30)
    assert not pending.done()  # it waits for the callback; nothing runs meanwhile
    lam = boto3.client(
        "lambda",
        endpoint_url=durable_lab.serve(),
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"approved"')
    result = pending.result(timeout=60)
    # callback results pass through as the caller sent them (the SDK's PASS_THROUGH_SERDES): the JSON text itself
    assert result.payload == expected == {"order": "o-1", "decision": '"approved"'}
    replays = replays_recorded(durable_lab, fn)
    assert list(replays["outcome"]) == ["PENDING", "SUCCEEDED"]
    with pytest.raises(lam.exceptions.ClientError) as again:  # the callback is done: Lambda's conflict
        lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b'"again"')
    assert again.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400


def test_invoke_through_the_endpoint_returns_the_workflow_and_the_apis_read_it(durable_lab: lambdalab.Lab) -> None:
    import boto3

    expected, _ = local_runner("steps", ORDER)
    fn = deploy(durable_lab, "steps")
    lam = boto3.client(
        "lambda",
        endpoint_url=durable_lab.serve(),
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    answer = lam.invoke(FunctionName=fn.name, Payload=json.dumps(ORDER).encode(), DurableExecutionName="order-o-1")
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == expected
    again = lam.invoke(FunctionName=fn.name, Payload=json.dumps(ORDER).encode(), DurableExecutionName="order-o-1")
    assert json.loads(again["Payload"].read()) == expected  # the same name is the same execution: not run again
    with pytest.raises(lam.exceptions.DurableExecutionAlreadyStartedException):  # ... with another payload: refused
        lam.invoke(FunctionName=fn.name, Payload=b'{"id": "o-2", "items": []}', DurableExecutionName="order-o-1")
    queued = lam.invoke(FunctionName=fn.name, Payload=json.dumps(ORDER).encode(), InvocationType="Event")
    assert queued["StatusCode"] == 202 and queued["DurableExecutionArn"]
    assert fn.durable_history(queued["DurableExecutionArn"]).attrs["execution_arn"] == queued["DurableExecutionArn"]
    listed = lam.list_durable_executions_by_function(FunctionName=fn.name)["DurableExecutions"]
    table = durable_lab.durable_executions()
    mine = table[table["function"] == fn.name]
    assert {e["DurableExecutionArn"] for e in listed} == set(mine["execution_arn"])
    assert list(mine["name"]).count("order-o-1") == 1
    named = mine[mine["name"] == "order-o-1"]
    assert named["replays"].tolist() == [1]  # invoked once: the second Invoke joined it
    arn = named["execution_arn"].iloc[0]
    got = lam.get_durable_execution(DurableExecutionArn=arn)
    assert got["Status"] == "SUCCEEDED" and json.loads(got["Result"]) == expected
    events = lam.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    assert [e["Name"] for e in events if e["EventType"] == "StepSucceeded"] == ["validate", "price", "charge"]


def test_replays_chart_shows_each_replay_and_what_it_skipped(durable_lab: lambdalab.Lab) -> None:
    pytest.importorskip("plotly")
    from lambdalab.viz.durable import replays

    fn = deploy(durable_lab, "wait")
    fn.invoke(ORDER)
    fig = replays(fn.durable_history())
    assert "2 invocations" in fig.layout.title.text and "10× faster" in fig.layout.title.subtitle.text
    skipped = next(t for t in fig.data if t.name == "skipped")
    assert list(zip(skipped.y, skipped.x, strict=True)) == [("replay 2", "validate"), ("replay 2", "cool-off")]
    waiting = next(t for t in fig.data if t.name == "ran: started")
    assert list(zip(waiting.y, waiting.x, strict=True)) == [("replay 1", "cool-off")]
    bars = [t for t in fig.data if t.type == "bar"]
    assert sum(len(t.y) for t in bars) == 2
    retried = deploy(durable_lab, "retry")
    retried.invoke(ORDER)
    fig = replays(retried.durable_history())
    failed = next(t for t in fig.data if t.name == "ran: failed")
    assert list(zip(failed.y, failed.x, strict=True)) == [("replay 1", "flaky"), ("replay 2", "flaky")]
    done = next(t for t in fig.data if t.name == "ran: succeeded")
    assert list(zip(done.y, done.x, strict=True)) == [("replay 3", "flaky")]


def test_a_failing_workflow_answers_with_the_local_runners_error(durable_lab: lambdalab.Lab) -> None:
    with DurableFunctionTestRunner(handler=workflows.out_of_stock, poll_interval=0.05) as runner:
        arn = runner.run_async(input=json.dumps(ORDER), execution_timeout=60)
        outcome = runner.wait_for_result(arn, timeout=60)
    assert outcome.status.value == "FAILED" and outcome.error is not None
    fn = deploy(durable_lab, "out_of_stock")
    result = fn.invoke(ORDER)
    assert result.function_error == "Unhandled"
    assert result.error["errorType"] == outcome.error.type
    assert result.error["errorMessage"] == outcome.error.message == "out of stock for o-1"
    replays = replays_recorded(durable_lab, fn)
    assert list(replays["outcome"]) == ["PENDING", "FAILED"]  # the wait, then the step that fails the workflow
    table = durable_lab.durable_executions()
    assert table[table["function"] == fn.name]["status"].tolist() == ["FAILED"]


def test_the_execution_timeout_runs_on_the_durable_clock(durable_lab: lambdalab.Lab) -> None:
    """DurableConfig.ExecutionTimeout of 30 s against a 100 s wait: TIMED_OUT after 3 s at time_scale=10."""
    fn = durable_lab.create_function(
        "wait-too-long",
        path=WORKFLOWS,
        handler="order_workflows.wait",
        requirements=SDK,
        durable=True,
        durable_execution_timeout_s=30,
    )
    began = time.monotonic()
    started = fn.invoke({**ORDER, "wait_s": 100}, invocation_type="Event")
    assert started.status_code == 202
    result = fn.invoke({**ORDER, "wait_s": 100})  # a second execution, waited for
    took = time.monotonic() - began
    assert result.error is not None and "timed out" in result.error["errorMessage"]
    assert 2.5 <= took < 15
    table = durable_lab.durable_executions()
    mine = table[table["function"] == fn.name]
    assert started.request_id in set(mine["execution_arn"])  # an Event invoke answers with the execution's ARN
    assert len(fn.durable_history(started.request_id).attrs["replays"]) == 1  # only the first: then it waited


def test_closing_the_lab_ends_a_wait_for_an_execution() -> None:
    """A caller waiting on an execution (a wait, then more) is answered when the Lab closes, not left hanging."""
    lab = lambdalab.Lab()
    try:
        fn = deploy(lab, "wait")
        pending = fn.submit({**ORDER, "wait_s": 3600})
        deadline = time.monotonic() + 30
        while not len(fn.durable_history().attrs["replays"]) and time.monotonic() < deadline:
            time.sleep(0.05)  # the first replay has run: the execution waits an hour
    finally:
        lab.close()
    with pytest.raises(lambdalab.LabClosedError):
        pending.result(timeout=10)


def test_stop_and_unknown_executions_through_the_endpoint(durable_lab: lambdalab.Lab) -> None:
    import boto3

    fn = deploy(durable_lab, "wait")
    lam = boto3.client(
        "lambda",
        endpoint_url=durable_lab.serve(),
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    arn = lam.invoke(FunctionName=fn.name, Payload=json.dumps({**ORDER, "wait_s": 3600}), InvocationType="Event")[
        "DurableExecutionArn"
    ]
    deadline = time.monotonic() + 30
    while lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING" and not len(
        fn.durable_history(arn).attrs["replays"]
    ):
        assert time.monotonic() < deadline, "the first replay never ran"
        time.sleep(0.05)
    stopped = lam.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorMessage": "cancelled by the shop"})
    assert stopped["StopTimestamp"]
    got = lam.get_durable_execution(DurableExecutionArn=arn)
    assert got["Status"] == "STOPPED"
    assert len(fn.durable_history(arn).attrs["replays"]) == 1  # nothing ran after the stop
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_durable_execution(DurableExecutionArn="no-such-execution/at-all")


def test_the_functions_sdk_is_pointed_at_the_labs_endpoint(durable_lab: lambdalab.Lab) -> None:
    """AWS_ENDPOINT_URL_LAMBDA (aws_endpoint_url's lambda service) is the Lab's endpoint; other services stay."""
    url = durable_lab.serve()
    assert deploy(durable_lab, "steps").config.aws_endpoint_url == {"lambda": url}
    kwargs: dict[str, Any] = {
        "path": WORKFLOWS,
        "handler": "order_workflows.steps",
        "requirements": SDK,
        "durable": True,
    }
    mapped = durable_lab.create_function("mapped", aws_endpoint_url={"s3": "http://127.0.0.1:9"}, **kwargs)
    assert mapped.config.aws_endpoint_url == {"s3": "http://127.0.0.1:9", "lambda": url}
    single = durable_lab.create_function("single", aws_endpoint_url="http://127.0.0.1:9", **kwargs)
    assert single.config.aws_endpoint_url == "http://127.0.0.1:9"
    assert single.config.env_vars["AWS_ENDPOINT_URL_LAMBDA"] == url  # botocore's per-service variable wins
    assert single.invoke(ORDER).payload["total"] == 1299  # its checkpoints reached the Lab, not the stand-in
    mapped.update(aws_endpoint_url=None, env_vars={"STAGE": "test"})  # back to the Lab's (none): still the Lab's
    assert mapped.config.aws_endpoint_url == {"lambda": url} and mapped.config.env_vars == {"STAGE": "test"}
    single.update(env_vars={"STAGE": "test"})
    assert single.config.env_vars == {"STAGE": "test", "AWS_ENDPOINT_URL_LAMBDA": url}


def test_chained_invokes_of_the_labs_functions_match_the_local_runner(durable_lab: lambdalab.Lab) -> None:
    with DurableFunctionTestRunner(handler=workflows.chained, poll_interval=0.05) as runner:
        runner.register_function("tax", workflows.tax)
        runner.register_durable_function("steps", workflows.steps)
        arn = runner.run_async(input=json.dumps(ORDER), execution_timeout=60)
        outcome = runner.wait_for_result(arn, timeout=60)
    assert outcome.status.value == "SUCCEEDED", outcome.error
    expected = json.loads(outcome.result)
    steps = deploy(durable_lab, "steps")
    levy = durable_lab.create_function("tax", path=WORKFLOWS, handler="order_workflows.tax", requirements=SDK)
    fn = deploy(durable_lab, "chained")
    before = len(durable_lab.durable_executions())
    result = fn.invoke(ORDER)
    assert result.error is None, result.error
    assert result.payload == expected
    invocations = durable_lab.invocations()
    assert (invocations["function"] == levy.name).sum() == 1  # the plain function: one ordinary invocation
    table = durable_lab.durable_executions()
    assert len(table) == before + 2  # the workflow and its durable child
    child = table.iloc[-1]
    assert child["function"] == steps.name and child["status"] == "SUCCEEDED" and child["replays"] == 1
