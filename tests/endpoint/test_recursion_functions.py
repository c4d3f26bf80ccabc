"""Recursive loop detection counts each function's invocations in a chain, through the endpoint with boto3 inside the
handlers (each sends the next message with its own ``_X_AMZN_TRACE_ID``, kept by SQS as ``AWSTraceHeader``): a
pipeline of 17 distinct functions is no loop and runs to its end; a ping-pong loop of two functions through two
queues is stopped at the first function's 17th invocation, each having run 16 times."""

from __future__ import annotations

import time

import pytest

from tests.endpoint.conftest import wait_for

pytestmark = pytest.mark.slow

FORWARDER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        trace = record["attributes"].get("AWSTraceHeader")
        if os.environ["NEXT"] and body["n"] < body["stop"]:
            url = sqs.get_queue_url(QueueName=os.environ["NEXT"])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**body, "n": body["n"] + 1}))
    return {"trace": os.environ["_X_AMZN_TRACE_ID"], "received": trace}
"""


def test_a_pipeline_of_17_distinct_functions_through_sqs_is_not_stopped(lab_url):
    lab, url = lab_url
    names = [f"stage{i:02d}" for i in range(1, 18)]
    queues = []
    for i, name in enumerate(names):
        following = f"to-{names[i + 1]}" if i + 1 < len(names) else ""
        lab.create_function(name, FORWARDER, aws_endpoint_url=url, env_vars={"NEXT": following}, timeout_s=30)
        queues.append(lab.sqs_queue(f"to-{name}", name))
    queues[0].send('{"n": 1, "stop": 17}')  # from outside any chain
    wait_for(lambda: len(lab.invocations()) >= 17, 120, "17 invocations")
    for queue in queues:
        queue.wait_until_empty(30)
    time.sleep(0.5)
    table = lab.invocations()
    assert sorted(table["function"]) == names and (table["status"] == "success").all()
    assert lab.recursion_notices() == []
    assert sum(queue.statistics()["recursive_loop"] for queue in queues) == 0
    assert list(table.sort_values("start")["function"]) == names  # one after another: the 17th hop ran


def test_a_ping_pong_loop_through_two_queues_is_stopped_at_one_functions_17th_invocation(lab_url):
    lab, url = lab_url
    lab.create_function("ping", FORWARDER, aws_endpoint_url=url, env_vars={"NEXT": "to-pong"}, timeout_s=30)
    lab.create_function("pong", FORWARDER, aws_endpoint_url=url, env_vars={"NEXT": "to-ping"}, timeout_s=30)
    to_ping = lab.sqs_queue("to-ping", "ping", max_receive_count=3)
    to_pong = lab.sqs_queue("to-pong", "pong", max_receive_count=3)
    to_ping.send('{"n": 1, "stop": 100}')  # the loop's own end is far past 16
    wait_for(lambda: lab.recursion_notices(), 120, "stopped")
    to_ping.wait_until_empty(30)
    to_pong.wait_until_empty(30)
    time.sleep(1.0)
    table = lab.invocations()
    assert table["function"].value_counts().to_dict() == {"ping": 16, "pong": 16}
    (notice,) = lab.recursion_notices()
    assert notice["function"] == "ping" and notice["hop"] == 17 and notice["source"] == to_ping.arn
    assert notice["action"] == "dead_letter"
    (dead,) = to_ping.dead_letters
    assert dead["body"] == '{"n": 33, "stop": 100}'  # the message pong's 16th invocation sent
    assert to_pong.dead_letters == []
    assert "Lineage=16:" in dead["attributes"]["AWSTraceHeader"]  # pong's count in the header it sent
