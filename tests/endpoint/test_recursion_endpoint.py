"""Recursive loop detection through the endpoint, with boto3 inside the handlers (botocore sends the function's
``_X_AMZN_TRACE_ID`` as ``X-Amzn-Trace-Id``): a function that sends to its own SQS queue, invokes itself
synchronously or asynchronously, is stopped at the 16th hop; ``recursion="Allow"`` (PutFunctionRecursionConfig)
lets the loop run; Get/PutFunctionRecursionConfig answer in Lambda's shapes."""

from __future__ import annotations

import time

import pytest

import lambdalab
from tests.endpoint.conftest import client, wait_for

pytestmark = pytest.mark.slow

SQS_LOOPER = """
import json, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body["n"] < body.get("stop", 40):  # the loop's own end, far past 16 unless the message says
            url = sqs.get_queue_url(QueueName="loop")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**body, "n": body["n"] + 1}))
    return {}
"""

SYNC_LOOPER = """
import json, os, boto3
from botocore.config import Config
client = boto3.client("lambda", config=Config(retries={"total_max_attempts": 1}, read_timeout=120))
def handler(event, context):
    n = event["n"]
    lineage = os.environ["_X_AMZN_TRACE_ID"].split("Lineage=")[1]
    try:
        answer = client.invoke(FunctionName=context.function_name, Payload=json.dumps({"n": n + 1}))
    except client.exceptions.ClientError as exc:
        error = exc.response["Error"]
        return {"n": n, "lineage": lineage, "stopped": error["Code"],
                "status": exc.response["ResponseMetadata"]["HTTPStatusCode"], "message": error["Message"]}
    return json.loads(answer["Payload"].read())
"""

ASYNC_LOOPER = """
import json, boto3
client = boto3.client("lambda")
def handler(event, context):
    client.invoke(FunctionName=context.function_name, InvocationType="Event", Payload=json.dumps({"n": event["n"] + 1}))
    return event["n"]
"""


def _settled(lab: lambdalab.Lab, count: int, timeout_s: float = 60) -> None:
    """Until ``count`` invocations are recorded, then a moment more in which no other may start."""
    wait_for(lambda: len(lab.invocations()) >= count, timeout_s, f"{count} invocations")
    time.sleep(1.0)


def test_a_function_sending_to_its_own_queue_is_stopped_at_the_16th_hop(lab_url):
    lab, url = lab_url
    lab.create_function("looper", SQS_LOOPER, aws_endpoint_url=url)
    queue = lab.sqs_queue("loop", "looper", max_receive_count=3)
    queue.send('{"n": 0}')  # from outside any chain: hop 1
    wait_for(lambda: lab.recursion_notices(), 90, "stopped")
    queue.wait_until_empty(30)
    _settled(lab, 16)
    table = lab.invocations()
    assert len(table) == 16, table[["request_id", "status"]]
    assert (table["status"] == "success").all()
    assert set(table["event_source_arn"]) == {queue.arn}
    notices = lab.recursion_notices()
    assert len(notices) == 1
    notice = notices[0]
    assert notice["function"] == "looper" and notice["hop"] == 17
    assert notice["source"] == queue.arn and notice["action"] == "dead_letter"
    dead = queue.dead_letters
    assert [d["body"] for d in dead] == ['{"n": 16}']  # the message the 16th invocation sent
    assert "Lineage=16:" in dead[0]["attributes"]["AWSTraceHeader"]
    assert queue.statistics()["recursive_loop"] == 1
    assert [d.outcome for d in queue.deliveries].count("recursive_loop") == 1


def test_without_a_dead_letter_queue_the_stopped_message_is_dropped(lab_url):
    lab, url = lab_url
    lab.create_function("looper", SQS_LOOPER, aws_endpoint_url=url)
    queue = lab.sqs_queue("loop", "looper")
    queue.send('{"n": 0}')
    wait_for(lambda: lab.recursion_notices(), 90, "stopped")
    queue.wait_until_empty(30)
    _settled(lab, 16)
    assert len(lab.invocations()) == 16
    assert lab.recursion_notices()[0]["action"] == "dropped"
    assert queue.dead_letters == [] and queue.statistics()["visible"] == 0


def test_allow_lets_the_loop_run_past_16(lab_url):
    lab, url = lab_url
    lab.create_function("looper", SQS_LOOPER, aws_endpoint_url=url)
    boto = client(url)
    answer = boto.put_function_recursion_config(FunctionName="looper", RecursiveLoop="Allow")
    assert answer["RecursiveLoop"] == "Allow"
    assert boto.get_function_recursion_config(FunctionName="looper")["RecursiveLoop"] == "Allow"
    assert lab.function("looper").config.recursion == "Allow"
    queue = lab.sqs_queue("loop", "looper")
    queue.send('{"n": 0, "stop": 20}')  # the handler ends the loop itself at n == 20: 21 invocations
    wait_for(lambda: len(lab.invocations()) >= 21, 120, "21 invocations")
    queue.wait_until_empty(30)
    time.sleep(1.0)
    assert len(lab.invocations()) == 21 and lab.recursion_notices() == []


def test_a_synchronous_self_invoke_gets_recursive_invocation_exception_at_the_17th(lab_url):
    lab, url = lab_url
    lab.create_function("selfish", SYNC_LOOPER, aws_endpoint_url=url, timeout_s=120)
    answer = lab.function("selfish").invoke({"n": 1})
    assert answer.error is None, answer.payload
    body = answer.payload
    assert body["stopped"] == "RecursiveInvocationException" and body["status"] == 400
    assert body["n"] == 16 and body["lineage"].startswith("16:")
    assert "recursive loop" in body["message"]
    assert len(lab.invocations()) == 16
    (notice,) = lab.recursion_notices()
    assert notice["hop"] == 17 and notice["source"] == "invoke" and notice["action"] == "RecursiveInvocationException"


def test_asynchronous_self_invokes_end_in_the_on_failure_destination(lab_url):
    lab, url = lab_url
    fn = lab.create_function("echoer", ASYNC_LOOPER, aws_endpoint_url=url)
    fn.invoke_async({"n": 1})
    wait_for(lambda: fn.destinations.on_failure, 90, "on failure")
    _settled(lab, 16)
    assert len(lab.invocations()) == 16
    assert len(fn.destinations.on_success) == 16
    (failure,) = fn.destinations.on_failure
    assert failure["requestContext"]["condition"] == "RecursiveInvocationException"
    assert failure["requestContext"]["approximateInvokeCount"] == 0
    assert failure["requestPayload"] == {"n": 17}
    assert lab.recursion_notices()[0]["action"] == "on_failure"


def test_recursion_config_shapes_and_refusals(lab_url):
    lab, url = lab_url
    lab.create_function("plain", "def handler(event, context):\n    return 1\n")
    boto = client(url)
    assert boto.get_function_recursion_config(FunctionName="plain")["RecursiveLoop"] == "Terminate"
    with pytest.raises(boto.exceptions.ResourceNotFoundException):
        boto.get_function_recursion_config(FunctionName="nothing")
    with pytest.raises(boto.exceptions.ClientError) as caught:
        boto.put_function_recursion_config(FunctionName="plain", RecursiveLoop="Sometimes")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "Allow, Terminate" in caught.value.response["Error"]["Message"]
    fn = lab.function("plain")
    first = fn.invoke({})
    boto.put_function_recursion_config(FunctionName="plain", RecursiveLoop="Allow")
    second = fn.invoke({})
    assert not second.cold and second.environment_id == first.environment_id  # set in place: no redeploy
    boto.put_function_recursion_config(FunctionName="plain", RecursiveLoop="Terminate")
    assert fn.config.recursion == "Terminate"
