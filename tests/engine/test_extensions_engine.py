"""Extensions on real processes: launched from a layer, registered, INVOKE per request, SHUTDOWN at the end;
the environment held (not frozen, billed) by an extension that does not ask for more; init failures; the
Extensions API's 403 answers; AWS's published example extensions, unchanged, from a layer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import lambdalab
from lambdalab.engine import mounts
from tests.engine.extension_helpers import (
    FIXTURES,
    aws_sample,
    collector,
    events,
    layer,
    probe,
    telemetry_example,
    telemetry_example_function,
    wait_for,
)

# AWS's examples run /opt/... and bind sandbox.localdomain: both need the environments' private mount namespaces
NEEDS_NAMESPACES = pytest.mark.skipif(not mounts.used(), reason="no private mount namespaces for environments here")
pytestmark = pytest.mark.timeout(120)

ECHO = "def handler(event, context):\n    return event\n"


def test_external_extension_registers_sees_every_invoke_and_shutdown(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("ext", ECHO, layers=[version.arn])
        results = [fn.invoke({"n": n}) for n in range(3)]
        assert [r.payload for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert results[0].cold and not results[1].cold
        log = fn.logs()
        registered = [line for line in log.splitlines() if line.startswith("REGISTERED probe")]
        assert len(registered) == 1
        answer = json.loads(registered[0].split(" ", 3)[3])
        assert answer == {"functionName": "ext", "functionVersion": "$LATEST", "handler": "lambda_function.handler"}
        # its registration is part of the init: the line comes before the first START
        assert log.index("REGISTERED probe") < log.index("START RequestId")
        invokes = [e for _, e in events(log) if e["eventType"] == "INVOKE"]
        assert [e["requestId"] for e in invokes] == [r.request_id for r in results]
        for event in invokes:
            assert event["invokedFunctionArn"] == fn.arn()
            assert event["tracing"]["type"] == "X-Amzn-Trace-Id" and event["tracing"]["value"].startswith("Root=1-")
            assert event["deadlineMs"] > time.time() * 1000
        fn.kill()
        assert wait_for(lambda: '"eventType": "SHUTDOWN"' in fn.logs())
        ((at, shutdown),) = [(t, e) for t, e in events(fn.logs()) if e["eventType"] == "SHUTDOWN"]
        assert set(shutdown) == {"eventType", "deadlineMs", "shutdownReason"}
        assert shutdown["shutdownReason"] == "spindown"
        assert 0 < shutdown["deadlineMs"] - at * 1000 <= 2000  # the documented 2,000 ms, less the runtime's grace


def test_an_extension_that_never_asks_for_more_holds_the_environment_until_the_timeout(tmp_path: Path) -> None:
    hold = probe(
        ("INVOKE",),
        on_event="""
    if event["eventType"] == "INVOKE":
        time.sleep(600)
""",
    )
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("hold", layer(tmp_path / "layer", {"hold": hold}))
        fn = lab.create_function("held", ECHO, layers=[version.arn], timeout_s=1)
        fn.invoke({"warm": "up"}) if False else None
        started = time.monotonic()
        future = fn.submit({"n": 1})
        seen: list[tuple[str, bool]] = []

        def held() -> bool:
            envs = fn.environments()
            seen.extend((e.state, e.frozen) for e in envs)
            return any(e.state == "post_runtime" for e in envs)

        assert wait_for(held, 5.0)  # the runtime answered, the extension has not: the invoke phase goes on
        time.sleep(0.3)
        envs = fn.environments()
        assert [(e.state, e.frozen) for e in envs] == [("post_runtime", False)]  # not frozen
        result = future.result(timeout=10)
        waited = time.monotonic() - started
        assert result.payload == {"n": 1}  # the runtime's answer stands
        record = lab.invocations().iloc[-1]
        assert record["duration_ms"] >= 990  # billed until the timeout
        assert record["billed_duration_ms"] >= 1000
        assert bool(record["reset"])  # and the environment is reset, as after a timeout
        assert waited >= 0.99


def test_an_idle_extension_ends_the_invoke_when_it_asks_for_more(tmp_path: Path) -> None:
    """Post-runtime work of an extension is part of Duration (billed), and the environment freezes after it."""
    slow = probe(
        ("INVOKE",),
        on_event="""
    if event["eventType"] == "INVOKE":
        time.sleep(0.3)
""",
    )
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("slow", layer(tmp_path / "layer", {"slow": slow}))
        fn = lab.create_function("post", ECHO, layers=[version.arn])
        fn.invoke(1)
        result = fn.invoke(2)
        assert result.record.duration_ms >= 290
        assert 290 <= result.record.extension_overhead_ms <= result.record.duration_ms
        spans = lab.spans(include_open=False)
        post = spans[(spans["phase"] == "post_runtime") & (spans["request_id"] == result.request_id)]
        assert len(post) == 1 and post["duration_ms"].iloc[0] >= 290
        assert (spans["phase"] == "extension_init").sum() == 1  # the extensions' registration, before the runtime
        assert not bool(lab.invocations().iloc[-1]["reset"])
        assert wait_for(lambda: [e.frozen for e in fn.environments()] == [True], 2.0)


def test_init_fails_when_an_external_extension_exits_before_registering(tmp_path: Path) -> None:
    crash = "#!/bin/sh\necho crashing\nexit 3\n"
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("crash", layer(tmp_path / "layer", {"crash": crash}))
        fn = lab.create_function("broken", ECHO, layers=[version.arn])
        result = fn.invoke(1)
        assert result.error is not None and result.error["errorType"] == "Extension.Crash"
        assert "Error Type: Extension.Crash" in fn.logs()
        assert "crashing" in fn.logs()


def test_init_fails_with_extension_init_error_after_init_error_is_posted(tmp_path: Path) -> None:
    script = probe(
        before_loop="""
headers = {"Lambda-Extension-Identifier": ident, "Lambda-Extension-Function-Error-Type": "Extension.NoConfig"}
status, _, body = call("/2020-01-01/extension/init/error", b'{"errorMessage":"no config"}', headers)
print("INIT_ERROR", status, body.decode(), flush=True)
sys.exit(1)
"""
    )
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("bad", layer(tmp_path / "layer", {"bad": script}))
        fn = lab.create_function("bad", ECHO, layers=[version.arn])
        result = fn.invoke(1)
        assert result.error is not None and result.error["errorType"] == "Extension.InitError"
        assert 'INIT_ERROR 202 {"status":"OK"}' in fn.logs()


API_ERRORS = """#!/usr/bin/env python3
import json, os, urllib.error, urllib.request, uuid
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(path, data=None, headers=None, method=None):
    request = urllib.request.Request(f"http://{api}{path}", data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
out = {}
reg = "/2020-01-01/extension/register"
out["no_name"] = call(reg, b'{"events":[]}')[::2]
out["config_keys"] = call(reg, b'{"events":[],"configurationKeys":["a"]}', {"Lambda-Extension-Name": "x"})[::2]
out["bad_event"] = call(reg, b'{"events":["INVOKE","BOGUS"]}', {"Lambda-Extension-Name": "x"})[::2]
out["internal_shutdown"] = call(reg, b'{"events":["SHUTDOWN"]}', {"Lambda-Extension-Name": "internal"})[::2]
status, headers, body = call(reg, b'{"events":["INVOKE","SHUTDOWN"]}',
                             {"Lambda-Extension-Name": "apierrors", "Lambda-Extension-Accept-Feature": "accountId"})
ident = headers["Lambda-Extension-Identifier"]
out["register"] = [status, json.loads(body), str(uuid.UUID(ident)) == ident]
out["twice"] = call(reg, b'{"events":[]}', {"Lambda-Extension-Name": "apierrors"})[::2]
nxt = "/2020-01-01/extension/event/next"
out["next_no_id"] = call(nxt)[::2]
out["next_bad_id"] = call(nxt, headers={"Lambda-Extension-Identifier": "nope"})[::2]
out["next_unknown"] = call(nxt, headers={"Lambda-Extension-Identifier": str(uuid.uuid4())})[::2]
out["init_error_no_type"] = call("/2020-01-01/extension/init/error", b"{}", {"Lambda-Extension-Identifier": ident})[::2]
out["telemetry_bad"] = call("/2022-07-01/telemetry", b'{"schemaVersion":"2022-07-01","types":["nope"]}',
                            {"Lambda-Extension-Identifier": ident}, "PUT")[::2]
print("API", json.dumps(out), flush=True)
while True:
    event = json.loads(call(nxt, headers={"Lambda-Extension-Identifier": ident})[2])
    if event["eventType"] == "SHUTDOWN":
        break
"""

LATE_REGISTER = """
import json, os, urllib.error, urllib.request
def handler(event, context):
    request = urllib.request.Request(
        f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2020-01-01/extension/register",
        data=b'{"events":["INVOKE"]}', headers={"Lambda-Extension-Name": "late"})
    try:
        urllib.request.urlopen(request)
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())]
"""


def test_the_extensions_api_answers_as_lambda_does(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("api", layer(tmp_path / "layer", {"apierrors": API_ERRORS}))
        fn = lab.create_function("api", LATE_REGISTER, layers=[version.arn])
        late = fn.invoke(1).payload
        assert late == [
            403,
            {"errorType": "Extension.RegistrationClosed", "errorMessage": "Extension registration closed already"},
        ]
        (line,) = [line for line in fn.logs().splitlines() if line.startswith("API ")]
        out = json.loads(line[4:])

    def shape(item: list) -> tuple[int, str]:
        return item[0], json.loads(item[1])["errorType"]

    assert shape(out["no_name"]) == (403, "Extension.InvalidExtensionName")
    assert json.loads(out["no_name"][1])["errorMessage"] == "Empty extension name"
    assert shape(out["config_keys"]) == (403, "InvalidRequestFormat")
    assert shape(out["bad_event"]) == (403, "Extension.InvalidEventType")
    assert shape(out["internal_shutdown"]) == (403, "Extension.InvalidEventType")
    assert out["register"][0] == 200 and out["register"][2] is True
    assert out["register"][1] == {
        "functionName": "api",
        "functionVersion": "$LATEST",
        "handler": "lambda_function.handler",
        "accountId": "123456789012",
    }
    assert shape(out["twice"]) == (403, "Extension.InvalidExtensionState")
    assert shape(out["next_no_id"]) == (403, "Extension.MissingExtensionIdentifier")
    assert shape(out["next_bad_id"]) == (403, "Extension.InvalidExtensionIdentifier")
    assert shape(out["next_unknown"]) == (403, "Extension.UnknownExtensionIdentifier")
    assert shape(out["init_error_no_type"]) == (403, "Extension.MissingHeader")
    assert shape(out["telemetry_bad"]) == (400, "ValidationError")


def test_eleven_external_extensions_fail_the_init(tmp_path: Path) -> None:
    scripts = {f"e{k:02d}": probe() for k in range(11)}
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("many", layer(tmp_path / "layer", scripts))
        fn = lab.create_function("many", ECHO, layers=[version.arn])
        result = fn.invoke(1)
        assert result.error is not None and result.error["errorType"] == "Extension.LaunchError"  # RAPID's
        assert "e10" not in fn.logs()  # none of them ran


def test_extension_processes_are_frozen_with_the_environment(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("probe", layer(tmp_path / "layer", {"probe": probe()}))
        fn = lab.create_function("frozen", ECHO, layers=[version.arn])
        fn.invoke(1)
        (line,) = [line for line in fn.logs().splitlines() if line.startswith("REGISTERED probe")]
        pid = int(line.split()[2])

        def state() -> str:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rpartition(")")[2].split()[0]

        assert wait_for(lambda: state() == "T", 2.0)  # stopped while the environment is frozen
        fn.invoke(2)  # thawed for the invoke: it took the INVOKE event
        assert len([e for _, e in events(fn.logs()) if e["eventType"] == "INVOKE"]) == 2


# -- AWS's examples, unchanged ------------------------------------------------------------------


@NEEDS_NAMESPACES
def test_aws_python_example_extension_runs_unchanged_from_a_layer(tmp_path: Path) -> None:
    root = aws_sample(tmp_path / "layer", "python-example-extension", "python-example-extension")
    assert (root / "python-example-extension" / "extension.py").read_bytes() == (
        FIXTURES / "python-example-extension" / "python-example-extension" / "extension.py"
    ).read_bytes()
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("python-example-extension", root)
        fn = lab.create_function("example", ECHO, layers=[version.arn])
        ids = [fn.invoke({"n": n}).request_id for n in range(2)]
        fn.kill()
        assert wait_for(lambda: "Received SHUTDOWN event. Exiting." in fn.logs(), 10.0)
        log = fn.logs()
    name = "python-example-extension"
    assert f"{name}  launching extension" in log
    assert f"[{name}] Registered with ID: " in log
    received = [line for line in log.splitlines() if line.startswith(f"[{name}] Received event: ")]
    assert [json.loads(line.split(": ", 1)[1])["requestId"] for line in received] == ids


@NEEDS_NAMESPACES
def test_aws_telemetry_api_example_runs_unchanged_from_a_layer(tmp_path: Path) -> None:
    root, function = telemetry_example(tmp_path / "layer")
    with collector() as (url, batches), lambdalab.Lab() as lab:
        fn = telemetry_example_function(lab, root, function, url)
        results = [fn.invoke({}) for _ in range(2)]
        assert json.loads(results[0].payload["body"]) == {"message": "hello lambda extensions"}
        fn.kill()
        assert wait_for(lambda: "Handle Shutdown Event" in fn.logs(), 10.0), fn.logs()
        log = fn.logs()
    assert "Extension successfully subscribed to telemetry api" in log
    assert "Started http listener" in log
    received = [event for batch in batches for event in batch]
    kinds = [e["type"] for e in received]
    for kind in (
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
        "function",
    ):
        assert kind in kinds, (kind, kinds)
    starts = [e["record"]["requestId"] for e in received if e["type"] == "platform.start"]
    assert starts == [r.request_id for r in results]
    assert any(e["type"] == "function" and "inside the handler" in e["record"] for e in received)
