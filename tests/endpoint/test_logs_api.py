"""The endpoint's CloudWatch Logs subset, through boto3's real ``logs`` client and the AWS CLI, and
``Lab.log_events`` under it: one event per line, timed by its platform entry, ids unique and stable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.aws import records
from lambdalab.errors import UnknownFunctionError

from .conftest import CREDENTIALS, cli_env, client, serve_cli

SOURCE = """
import time
def handler(event, context):
    print("hello", event.get("n"))
    print("second line")
    time.sleep(event.get("sleep", 0))
    return event.get("n")
"""
GROUP = "/aws/lambda/f"


def logs_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1})
    return session.client("logs", endpoint_url=url, config=config)


@pytest.fixture
def logged() -> Iterator[tuple[lambdalab.Lab, Any]]:
    """A served Lab whose function ``f`` ran 4 times on one environment (then twice at once: a second one)."""
    with lambdalab.Lab() as lab:
        fn = lab.create_function("f", source=SOURCE)
        for n in range(4):
            fn.invoke({"n": n})
        both = [fn.submit({"n": 10 + n, "sleep": 0.3}) for n in range(2)]
        for future in both:
            future.result(timeout=30)
        yield lab, logs_client(lab.serve())


def all_events(logs: Any, **params: Any) -> list[dict]:
    return [e for page in logs.get_paginator("filter_log_events").paginate(**params) for e in page["events"]]


# -- Lab.log_events -----------------------------------------------------------------------------------------
def test_log_events_are_the_lines_of_the_labs_logs(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, _ = logged
    events = lab.log_events("f")
    assert sorted({e["logStreamName"] for e in events}) == sorted(lab.log_streams("f"))
    assert set(events[0]) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    for stream in lab.log_streams("f"):
        environment = stream.rsplit("]", 1)[1]
        mine = [e["message"] for e in events if e["logStreamName"] == stream]
        assert mine == [line for line in lab.logs("f", environment).splitlines() if line]
        assert [e["message"] for e in lab.log_events("f", environment)] == mine
    ids = [e["eventId"] for e in events]
    assert len(set(ids)) == len(ids) and ids == sorted(ids) and all(i.isdigit() for i in ids)
    assert [e["eventId"] for e in lab.log_events("f")][: len(ids)] == ids  # stable from call to call
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    with pytest.raises(UnknownFunctionError):
        lab.log_events("nope")


def test_platform_lines_carry_their_own_time_and_output_the_time_before_it(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, _ = logged
    events = lab.log_events("f")
    frame = lab.invocations()
    for _, row in frame.iterrows():
        (report,) = [e for e in events if e["message"].startswith(f"REPORT RequestId: {row.request_id}")]
        assert report["timestamp"] == int(row.end * 1000)
        (start,) = [e for e in events if e["message"].startswith(f"START RequestId: {row.request_id}")]
        stream = [e for e in events if e["logStreamName"] == start["logStreamName"]]
        after = stream[stream.index(start) + 1]
        assert after["message"].startswith("hello") and after["timestamp"] == start["timestamp"]


def test_records_read_back_from_the_events_agree_with_the_lab(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, _ = logged
    local = lab.invocations().sort_values("end").reset_index(drop=True)
    remote = records.invocations_frame(records.records_from_events(lab.log_events("f"), function="f"))
    assert list(remote["request_id"]) == list(local["request_id"])
    assert list(remote["cold"]) == list(local["cold"])
    assert (abs(remote["end"] - local["end"]) < 0.001).all()
    assert remote["environment_id"].nunique() == local["environment_id"].nunique() == 2


def test_json_format_events_read_back_too() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("j", source=SOURCE, log_format="JSON")
        results = [fn.invoke({"n": n}) for n in range(3)]
        events = lab.log_events("j")
        assert [e["message"] for e in events if e["message"].startswith("hello")] == ["hello 0", "hello 1", "hello 2"]
        got = records.records_from_events(events, function="j")
        assert [(r.request_id, r.cold) for r in got] == [(r.request_id, r.cold) for r in results]
        assert [r.end for r in got] == [int(r.record.end * 1000) / 1000.0 for r in results]
        spans = records.spans_from_events(events, function="j")
        assert [s.phase for s in spans] == ["init", "invoke", "invoke", "invoke"]
        assert spans[0].end <= spans[1].start


# -- FilterLogEvents ----------------------------------------------------------------------------------------
def test_filter_by_term_phrase_and_alternatives(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    reports = logs.filter_log_events(logGroupName=GROUP, filterPattern="REPORT")["events"]
    assert len(reports) == 6 and all(e["message"].startswith("REPORT RequestId: ") for e in reports)
    assert {e["message"] for e in logs.filter_log_events(logGroupName=GROUP, filterPattern='"hello 2"')["events"]} == {
        "hello 2"
    }
    either = logs.filter_log_events(logGroupName=GROUP, filterPattern="?END ?REPORT")["events"]
    assert len(either) == 12
    assert len(logs.filter_log_events(logGroupName=GROUP, filterPattern="hello -10 -11")["events"]) == 4
    with pytest.raises(logs.exceptions.InvalidParameterException, match="not supported"):
        logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.level = ERROR }")


def test_filter_by_stream_and_time(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    first, second = sorted(lab.log_streams("f"), key=lambda s: len(lab.logs("f", s.rsplit("]", 1)[1])))[::-1]
    got = all_events(logs, logGroupName=GROUP, logStreamNames=[second], filterPattern="REPORT")
    assert len(got) == 1 and {e["logStreamName"] for e in got} == {second}
    assert len(all_events(logs, logGroupName=GROUP, logStreamNamePrefix=first, filterPattern="REPORT")) == 5
    events = lab.log_events("f")
    middle = [e for e in events if e["message"].startswith("REPORT")][2]["timestamp"]
    later = all_events(logs, logGroupName=GROUP, startTime=middle)
    assert later and min(e["timestamp"] for e in later) >= middle
    assert len(later) == len([e for e in events if e["timestamp"] >= middle])
    upto = all_events(logs, logGroupName=GROUP, endTime=middle)  # endTime is inclusive
    assert len(upto) == len([e for e in events if e["timestamp"] <= middle])
    with pytest.raises(logs.exceptions.InvalidParameterException, match="mutually exclusive"):
        logs.filter_log_events(logGroupName=GROUP, logStreamNames=[first], logStreamNamePrefix="2")


def test_filter_pages_with_limit_and_next_token(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    seen: list[dict] = []
    params: dict[str, Any] = {"logGroupName": GROUP, "limit": 4}
    for _ in range(100):
        page = logs.filter_log_events(**params)
        assert len(page["events"]) <= 4
        seen += page["events"]
        if "nextToken" not in page:
            break
        params["nextToken"] = page["nextToken"]
    expected = lab.log_events("f")
    assert [e["eventId"] for e in seen] == [e["eventId"] for e in expected]
    assert len(all_events(logs, logGroupName=GROUP, PaginationConfig={"PageSize": 3})) == len(expected)
    with pytest.raises(logs.exceptions.InvalidParameterException, match="nextToken is invalid"):
        logs.filter_log_events(logGroupName=GROUP, nextToken="not-a-token")


# -- GetLogEvents, Describe*, DeleteLogGroup -----------------------------------------------------------------
def test_get_log_events_reads_one_stream_both_ways(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    stream = max(lab.log_streams("f"), key=lambda s: len(lab.logs("f", s.rsplit("]", 1)[1])))
    messages = [e["message"] for e in lab.log_events("f") if e["logStreamName"] == stream]
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=5)
    got = [e["message"] for e in page["events"]]
    token = page["nextForwardToken"]
    for _ in range(100):
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token, limit=5)
        got += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:  # the end: the same token again, as CloudWatch answers
            break
        token = page["nextForwardToken"]
    assert got == messages
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=3)  # the newest, by default
    assert [e["message"] for e in tail["events"]] == messages[-3:]
    back = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=tail["nextBackwardToken"], limit=2)
    assert [e["message"] for e in back["events"]] == messages[-5:-3]
    assert set(tail["events"][0]) == {"timestamp", "message", "ingestionTime"}
    with pytest.raises(logs.exceptions.ResourceNotFoundException, match="log stream does not exist"):
        logs.get_log_events(logGroupName=GROUP, logStreamName="2026/01/01/[$LATEST]0")


def test_describe_groups_and_streams(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    for name in ("g", "h"):
        lab.create_function(name, source=SOURCE).invoke({"n": 0})
    lab.create_function("quiet", source=SOURCE)  # never ran: no log group yet, as on Lambda
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/f", "/aws/lambda/g", "/aws/lambda/h"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"
    paged = [g for p in logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 2})
             for g in p["logGroups"]]  # fmt: skip
    assert [g["logGroupName"] for g in paged] == [g["logGroupName"] for g in groups]
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="LAMBDA/G")["logGroups"]] == [
        "/aws/lambda/g"
    ]
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == sorted(lab.log_streams("f"))
    newest = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", descending=True)["logStreams"]
    assert newest[0]["lastEventTimestamp"] == max(s["lastEventTimestamp"] for s in streams)
    assert all(s["firstEventTimestamp"] <= s["lastEventTimestamp"] for s in streams)
    one = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=streams[1]["logStreamName"])
    assert [s["logStreamName"] for s in one["logStreams"]] == [streams[1]["logStreamName"]]
    with pytest.raises(logs.exceptions.InvalidParameterException, match="LastEventTime"):
        logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", logStreamNamePrefix="2")


def test_delete_log_group_empties_it_until_the_function_logs_again(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    logs.delete_log_group(logGroupName=GROUP)
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=GROUP)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=GROUP)
    result = lab.function("f").invoke({"n": 99})
    again = all_events(logs, logGroupName=GROUP)
    assert [e["message"] for e in again if e["message"].startswith("REPORT")] == [
        e["message"] for e in again if result.request_id in e["message"] and e["message"].startswith("REPORT")
    ]
    assert "hello 99" in [e["message"] for e in again] and "hello 0" not in [e["message"] for e in again]


# -- errors on the wire -------------------------------------------------------------------------------------
def post(url: str, target: str | None, body: bytes) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_errors_have_cloudwatchs_json_shape(logged: tuple[lambdalab.Lab, Any]) -> None:
    lab, logs = logged
    url = logs.meta.endpoint_url
    assert post(url, "Logs_20140328.FilterLogEvents", b'{"logGroupName": "/aws/lambda/nope"}') == (
        400,
        {"__type": "ResourceNotFoundException", "message": "The specified log group does not exist."},
    )
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as caught:
        logs.describe_log_streams(logGroupName="/aws/lambda/nope")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    status, body = post(url, "Logs_20140328.PutLogEvents", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException") and "FilterLogEvents" in body["message"]
    assert post(url, "Logs_20140328.FilterLogEvents", b"[1]")[1]["__type"] == "SerializationException"
    bad_time = post(url, "Logs_20140328.FilterLogEvents", b'{"logGroupName": "/aws/lambda/f", "startTime": "x"}')
    assert bad_time[0] == 400 and bad_time[1]["__type"] == "InvalidParameterException"
    assert "startTime" in bad_time[1]["message"]
    status, body = post(url, None, b"{}")  # not a Logs call: what the endpoint answered before
    assert status == 501 and "does not implement POST /" in body["Message"]
    assert client(url).list_functions()["Functions"][0]["FunctionName"] == "f"  # the Lambda routes are unchanged


# -- the AWS CLI against `lambdalab serve` ------------------------------------------------------------------
@pytest.mark.slow
def test_the_aws_cli_reads_the_logs_of_lambdalab_serve(tmp_path: Path) -> None:
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "hello.py").write_text("def handler(event, context):\n    print('hi from serve')\n    return 1\n")
    env = cli_env(tmp_path)
    with serve_cli([str(folder), "--port", "0", "--no-urls"], env) as run:
        invoked = client(run.url).invoke(FunctionName="hello", Payload=b"{}")
        assert invoked["StatusCode"] == 200
        aws = os.path.join(os.path.dirname(sys.executable), "aws")
        command = [aws, "logs", "filter-log-events", "--endpoint-url", run.url, "--region", "us-east-1",
                   "--log-group-name", "/aws/lambda/hello", "--filter-pattern", "REPORT",
                   "--output", "json"]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        events = json.loads(done.stdout)["events"]
        assert len(events) == 1 and events[0]["message"].startswith("REPORT RequestId: ")
        assert time.monotonic() - started < 60
        missing = subprocess.run([*command[:-6], "--log-group-name", "/aws/lambda/nope"], capture_output=True,
                                 text=True, env=env, timeout=60)  # fmt: skip
        assert missing.returncode != 0
        assert "ResourceNotFoundException" in missing.stderr and "log group does not exist" in missing.stderr
