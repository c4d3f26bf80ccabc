"""The Telemetry API on real processes: a subscriber extension receives every platform event of an invoke, in
order, with Lambda's field names, over HTTP (a JSON array per batch) or TCP (NDJSON); ``lab.telemetry()`` has the
same records; ``sandbox.localdomain`` is each environment's own loopback address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lambdalab
from lambdalab.engine import mounts
from tests.engine.extension_helpers import layer, probe, wait_for

pytestmark = pytest.mark.timeout(120)

ECHO = "def handler(event, context):\n    print('in the handler', flush=True)\n    return event\n"

HTTP_LISTENER = """
import http.server, threading
class Listener(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        for item in json.loads(body):
            print("TEL", self.headers["Sequence-Id"], json.dumps(item), flush=True)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("sandbox.localdomain", 4243), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
status, _, body = call("/2022-07-01/telemetry", json.dumps({
    "schemaVersion": SCHEMA, "types": TYPES,
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/telemetry"},
    "buffering": {"timeoutMs": 25, "maxBytes": 262144, "maxItems": 1000},
}).encode(), {"Lambda-Extension-Identifier": ident, "Content-Type": "application/json"}, "PUT")
print("SUBSCRIBED", status, body.decode(), flush=True)
"""

TCP_LISTENER = """
import socket, threading
listener = socket.create_server(("sandbox.localdomain", 4244))
def serve():
    connection, _ = listener.accept()
    for line in connection.makefile("rb"):
        print("TEL 0", line.decode().strip(), flush=True)
threading.Thread(target=serve, daemon=True).start()
status, _, body = call("/2022-07-01/telemetry", json.dumps({
    "schemaVersion": SCHEMA, "types": TYPES, "destination": {"protocol": "TCP", "port": 4244},
    "buffering": {"timeoutMs": 25},
}).encode(), {"Lambda-Extension-Identifier": ident}, "PUT")
print("SUBSCRIBED", status, body.decode(), flush=True)
"""

AFTER_SHUTDOWN = """
    if event["eventType"] == "SHUTDOWN":
        time.sleep(0.3)  # what was flushed at shutdown arrives meanwhile
"""


def subscriber(listener: str, schema: str, types: list[str]) -> str:
    return probe(before_loop=f"SCHEMA = {schema!r}\nTYPES = {types!r}\n" + listener, on_event=AFTER_SHUTDOWN)


def received(log: str) -> list[dict]:
    return [json.loads(line.split(" ", 2)[2]) for line in log.splitlines() if line.startswith("TEL ")]


needs_namespace = pytest.mark.skipif(not mounts.used(), reason="sandbox.localdomain needs the launcher's namespace")


@needs_namespace
@pytest.mark.parametrize("schema", ["2022-07-01", "2022-12-13", "2025-01-29"])
def test_a_subscriber_receives_every_platform_event_in_order(tmp_path: Path, schema: str) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version(
            "sub", layer(tmp_path / "layer", {"sub": subscriber(HTTP_LISTENER, schema, ["platform"])})
        )
        fn = lab.create_function("telemetry", ECHO, layers=[version.arn])
        results = [fn.invoke({"n": n}) for n in range(2)]
        fn.kill()
        assert wait_for(lambda: received(fn.logs()) and received(fn.logs())[-1]["type"] == "platform.report", 5.0), (
            fn.logs()
        )
        log = fn.logs()
        frame = lab.telemetry()
    assert 'SUBSCRIBED 200 "OK"' in log
    events = received(log)
    assert [e["type"] for e in events] == [
        "platform.initStart",
        "platform.extension",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.initReport",
        *["platform.start", "platform.runtimeDone", "platform.report"] * 2,
    ]
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event["record"])
        assert event["time"].endswith("Z") and "T" in event["time"]
    init = by_type["platform.initStart"][0]
    assert set(init) == {
        "initializationType",
        "phase",
        "runtimeVersion",
        "runtimeVersionArn",
        "functionName",
        "functionVersion",
        "instanceId",
        "instanceMaxMemory",
    }
    assert init["initializationType"] == "on-demand" and init["functionName"] == "telemetry"
    assert by_type["platform.extension"][0] == {"name": "sub", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}
    assert by_type["platform.telemetrySubscription"][0] == {"name": "sub", "state": "Subscribed", "types": ["platform"]}
    assert by_type["platform.initRuntimeDone"][0]["status"] == "success"
    assert by_type["platform.initReport"][0]["metrics"]["durationMs"] > 0
    for result, start, done, report in zip(
        results, by_type["platform.start"], by_type["platform.runtimeDone"], by_type["platform.report"], strict=True
    ):
        assert start == {"requestId": result.request_id, "version": "$LATEST"}
        assert done["requestId"] == result.request_id and done["status"] == "success"
        assert set(done["metrics"]) == {"durationMs", "producedBytes"}
        assert done["metrics"]["producedBytes"] == len(result.raw)
        assert [s["name"] for s in done["spans"]] == ["responseLatency", "responseDuration", "runtimeOverhead"]
        assert all(set(s) == {"name", "start", "durationMs"} for s in done["spans"])
        assert report["requestId"] == result.request_id and report["status"] == "success"
        assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(report["metrics"])
        assert report["metrics"]["durationMs"] == pytest.approx(result.record.duration_ms, abs=0.01)
        assert [s["name"] for s in report["spans"]] == ["extensionOverhead"]
    assert "initDurationMs" in by_type["platform.report"][0]["metrics"]
    assert "initDurationMs" not in by_type["platform.report"][1]["metrics"]
    # the same records, headless
    assert list(frame.columns) == ["time", "type", "record", "environment_id", "function", "version"]
    platform = frame[frame["type"].str.startswith("platform.")]
    assert list(platform["type"]) == [e["type"] for e in events]
    assert set(frame["function"]) == {"telemetry"}


@needs_namespace
def test_a_tcp_subscriber_receives_function_logs_as_ndjson(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        sub = subscriber(TCP_LISTENER, "2025-01-29", ["function", "extension"])
        version = lab.publish_layer_version("tcp", layer(tmp_path / "layer", {"tcp": sub}))
        fn = lab.create_function("tcp", ECHO, layers=[version.arn])
        fn.invoke(1)
        fn.invoke(2)
        fn.kill()
        assert wait_for(lambda: len([e for e in received(fn.logs()) if e["type"] == "function"]) >= 2, 5.0), fn.logs()
        events = received(fn.logs())
    function = [e["record"] for e in events if e["type"] == "function"]
    assert function.count("in the handler") == 2
    assert any(e["type"] == "extension" and e["record"].startswith("REGISTERED tcp") for e in events)
    assert not any(e["type"].startswith("platform.") for e in events)


HOSTNAME = """
import socket, time
def handler(event, context):
    time.sleep(0.3)
    return socket.gethostbyname("sandbox.localdomain")
"""


@needs_namespace
def test_sandbox_localdomain_is_each_environments_own_address() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("hosts", HOSTNAME)
        futures = [fn.submit() for _ in range(2)]
        addresses = {f.result(timeout=30).payload for f in futures}
    assert len(addresses) == 2
    assert all(a.startswith("127.") and a != "127.0.0.1" for a in addresses)


def test_lab_telemetry_has_platform_records_of_functions_without_extensions() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("plain", ECHO)
        result = fn.invoke(1)
        frame = lab.telemetry()
    platform = frame[frame["type"] != "function"]
    assert list(platform["type"]) == [
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    assert platform["record"].iloc[3] == {"requestId": result.request_id, "version": "$LATEST"}
    assert set(frame["environment_id"]) == {result.record.environment_id}


def test_subscriptions_are_validated(tmp_path: Path) -> None:
    bad = probe(
        before_loop="""
import urllib.error
def put(body):
    try:
        headers = {"Lambda-Extension-Identifier": ident}
        return call("/2022-07-01/telemetry", json.dumps(body).encode(), headers, "PUT")[0]
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())["errorType"]
dest = {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"}
print("BAD", json.dumps([
    put({"schemaVersion": "2019-01-01", "types": ["platform"], "destination": dest}),
    put({"schemaVersion": "2022-12-13", "types": [], "destination": dest}),
    put({"schemaVersion": "2022-12-13", "types": ["platform"], "destination": dest, "buffering": {"maxItems": 10}}),
    put({"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://example.com:80"}}),
    put({"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "TCP", "port": 0}}),
]), flush=True)
"""
    )
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("bad", layer(tmp_path / "layer", {"bad": bad}))
        fn = lab.create_function("bad", ECHO, layers=[version.arn])
        fn.invoke(1)
        (line,) = [line for line in fn.logs().splitlines() if line.startswith("BAD ")]
    assert json.loads(line[4:]) == [[400, "ValidationError"]] * 5


@needs_namespace
def test_the_logs_api_delivers_function_logs(tmp_path: Path) -> None:
    listener = HTTP_LISTENER.replace("/2022-07-01/telemetry", "/2020-08-15/logs")
    with lambdalab.Lab() as lab:
        sub = subscriber(listener, "2021-03-18", ["function"])
        version = lab.publish_layer_version("logs", layer(tmp_path / "layer", {"logs": sub}))
        fn = lab.create_function("logs", ECHO, layers=[version.arn])
        fn.invoke(1)
        fn.kill()
        assert wait_for(lambda: any(e["type"] == "function" for e in received(fn.logs())), 5.0), fn.logs()
        log = fn.logs()
    assert 'SUBSCRIBED 200 "OK"' in log
    assert [e["record"] for e in received(log) if e["type"] == "function"] == ["in the handler"]
