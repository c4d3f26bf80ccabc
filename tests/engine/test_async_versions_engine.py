"""Asynchronous invocation (queue, retries, destinations) and versions and aliases, on real processes."""

from __future__ import annotations

import time

import pytest

import lambdalab

pytestmark = pytest.mark.slow

FAILING = """
attempts = 0
def handler(event, context):
    global attempts
    attempts += 1
    if event.get("fail"):
        raise RuntimeError("boom %d" % attempts)
    return {"ok": event}
"""


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_async_success_lands_in_on_success_with_lambdas_record_shape():
    with lambdalab.Lab(retry_delay_scale=0.01) as lab:
        fn = lab.create_function("ok", FAILING)
        accepted = fn.invoke({"x": 1}, invocation_type="Event")
        assert accepted.status_code == 202
        _wait_for(lambda: fn.destinations.on_success)
        record = fn.destinations.on_success[0]
        assert record["version"] == "1.0" and record["timestamp"].endswith("Z")
        assert record["requestContext"] == {
            "requestId": accepted.request_id,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:ok:$LATEST",
            "condition": "Success", "approximateInvokeCount": 1}
        assert record["requestPayload"] == {"x": 1}
        assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
        assert record["responsePayload"] == {"ok": {"x": 1}}


def test_failing_async_event_runs_three_times_then_lands_in_on_failure():
    with lambdalab.Lab(retry_delay_scale=0.01) as lab:  # retries after 0.6 s and 1.2 s
        fn = lab.create_function("bad", FAILING)
        accepted = fn.invoke_async({"fail": True})
        _wait_for(lambda: fn.destinations.on_failure, timeout=15)
        record = fn.destinations.on_failure[0]
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "RuntimeError"
        runs = lab.invocations()
        runs = runs[runs["request_id"] == accepted.request_id]
        assert len(runs) == 3 and (runs["status"] == "error").all()
        gaps = runs["start"].diff().dropna().tolist()
        assert 0.5 < gaps[0] < 1.2 and 1.1 < gaps[1] < 2.0
        assert fn.destinations.on_success == []


def test_max_retry_attempts_zero_runs_once():
    with lambdalab.Lab(retry_delay_scale=0.01) as lab:
        fn = lab.create_function("once", FAILING, max_retry_attempts=0)
        fn.invoke_async({"fail": True})
        _wait_for(lambda: fn.destinations.on_failure)
        assert fn.destinations.on_failure[0]["requestContext"]["approximateInvokeCount"] == 1


def test_event_older_than_its_maximum_age_goes_to_on_failure_without_running_again():
    with lambdalab.Lab(retry_delay_scale=0.01) as lab:  # 60 s max age -> 0.6 s; first retry due at 0.6 s
        fn = lab.create_function("old", FAILING, max_event_age_s=60)
        fn.invoke_async({"fail": True})
        _wait_for(lambda: fn.destinations.on_failure)
        record = fn.destinations.on_failure[0]
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 1
        assert len(lab.invocations()) == 1


def test_zero_reserved_sends_async_events_straight_to_on_failure():
    with lambdalab.Lab(retry_delay_scale=0.01) as lab:
        fn = lab.create_function("zero", FAILING, reserved_concurrency=0)
        fn.invoke_async({})
        _wait_for(lambda: fn.destinations.on_failure)
        assert fn.destinations.on_failure[0]["requestContext"]["condition"] == "ZeroReservedConcurrency"


VERSIONED = "VERSION = {v!r}\nimport os\ndef handler(event, context):\n    return [VERSION, os.getpid(), context.function_version, context.invoked_function_arn]\n"


def test_publishing_keeps_latest_warm_and_versions_have_their_own_environments(lab):
    fn = lab.create_function("v", VERSIONED.format(v="one"))
    latest = fn.invoke({})
    assert fn.publish() == "1"
    again = fn.invoke({})
    assert not again.cold and again.environment_id == latest.environment_id
    v1 = fn.invoke({}, qualifier="1")
    assert v1.cold and v1.version == "1" and v1.payload[2] == "1"
    assert v1.payload[3].endswith("function:v:1")
    fn.update(source=VERSIONED.format(v="two"))
    assert fn.invoke({}).payload[0] == "two"
    assert fn.invoke({}, qualifier="1").payload[0] == "one"
    assert fn.publish() == "2"
    streams = lab.log_streams("v")
    assert any("[1]" in s for s in streams) and any("[$LATEST]" in s for s in streams)


def test_a_weighted_alias_splits_traffic_within_tolerance(lab):
    fn = lab.create_function("canary", VERSIONED.format(v="blue"))
    fn.publish()
    fn.update(source=VERSIONED.format(v="green"))
    fn.publish()
    fn.create_alias("live", "1", weights={"2": 0.1})
    results = [fn.invoke({}, qualifier="live") for _ in range(1000)]
    green = sum(r.payload[0] == "green" for r in results)
    assert 60 <= green <= 140, green  # 100 expected; 4 standard deviations either way
    assert {r.version for r in results} == {"1", "2"}
    assert all(r.payload[3].endswith("function:canary:live") for r in results)


def test_unknown_qualifier_is_not_found(lab):
    fn = lab.create_function("q", VERSIONED.format(v="x"))
    with pytest.raises(lambdalab.UnknownFunctionError):
        fn.invoke({}, qualifier="nope")
