"""``lambdalab serve --api`` and ``api_server.serve_api``: a SAM template's Api (1.0) and HttpApi (2.0) routes on
one port, as ``sam local start-api`` serves them, reached with plain HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import lambdalab
import lambdalab.endpoint.templates
from lambdalab import frontends
from lambdalab.endpoint.api_server import serve_api, start_api

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sam_api"
BLOB = bytes(range(256)) + b"\xff\xfe not utf-8"


def call(
    url: str, method: str, path: str, body: bytes | None = None, headers: list[tuple[str, str]] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request with plain ``http.client`` (repeated headers kept), as curl sends it."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host=any(k.lower() == "host" for k, _ in headers or []))
        for key, value in headers or []:
            connection.putheader(key, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        reply = connection.getresponse()
        return reply.status, reply.headers, reply.read()
    finally:
        connection.close()


class Output:
    """Lines an API server printed (from the Lab's loop thread), waited for with a timeout."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def wait_for(self, pattern: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = "\n".join(self.lines)
            if re.search(pattern, text):
                return text
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} not printed within {timeout_s} s: {self.lines!r}")


@pytest.fixture
def routes() -> Iterator[tuple[str, Output]]:
    out = Output()
    with lambdalab.Lab() as lab:
        yield serve_api(lab, FIXTURES / "routes" / "template.yaml", out=out), out


def echoed(url: str, method: str, path: str, **options: Any) -> tuple[dict[str, Any], http.client.HTTPMessage]:
    status, headers, body = call(url, method, path, **options)
    assert status == 200, body
    return json.loads(body), headers


def test_rest_route_gets_a_1_0_event_with_path_parameters_and_multi_values(routes: tuple[str, Output]) -> None:
    url, _ = routes
    event, headers = echoed(url, "GET", "/users/42?a=1&a=2&b=x%20y", headers=[("X-Multi", "one"), ("X-Multi", "two")])
    assert event["httpMethod"] == "GET" and event["resource"] == "/users/{id}" and event["path"] == "/users/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"] and event["headers"]["X-Multi"] == "two"
    assert event["requestContext"]["stage"] == "Prod" and event["requestContext"]["resourcePath"] == "/users/{id}"
    assert event["stageVariables"] == {"colour": "blue"}  # Globals.Api.Variables
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert headers.get_all("X-Many") == ["a", "b"] and headers["X-Route"] == "echo"  # multiValueHeaders answered
    literal, _ = echoed(url, "GET", "/users/me")  # a literal segment wins over {id}
    assert literal["resource"] == "/users/me" and literal["pathParameters"] is None


def test_greedy_proxy_and_any(routes: tuple[str, Output]) -> None:
    url, _ = routes
    for method in ("GET", "DELETE", "PATCH"):
        event, _ = echoed(url, method, "/files/a/b/c.txt")
        assert event["httpMethod"] == method and event["resource"] == "/files/{proxy+}"
        assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    status, _, body = call(url, "GET", "/files")  # {proxy+} needs at least one segment
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}


def test_http_api_route_gets_a_2_0_event_and_payload_1_0_when_asked(routes: tuple[str, Output]) -> None:
    url, _ = routes
    event, headers = echoed(url, "GET", "/items/7?x=1&x=2", headers=[("Cookie", "a=1; b=2")])
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/7" and event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"} and event["pathParameters"] == {"id": "7"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["requestContext"]["stage"] == "$default" and event["requestContext"]["http"]["method"] == "GET"
    assert "httpMethod" not in event and headers["apigw-requestid"] == event["requestContext"]["requestId"]
    old, _ = echoed(url, "GET", "/v1/items")  # PayloadFormatVersion "1.0" on an HttpApi event
    assert old["httpMethod"] == "GET" and old["resource"] == "/v1/items" and "routeKey" not in old
    assert old["version"] == "1.0" and old["multiValueHeaders"]
    status, _, _ = call(url, "POST", "/items/7")  # no such method on the route
    assert status == 403


def test_a_bad_answer_is_502_with_the_reason_in_the_log(routes: tuple[str, Output]) -> None:
    url, out = routes
    status, _, body = call(url, "GET", "/bad")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    out.wait_for(r"invalid answer from Bad: Malformed Lambda proxy response: no statusCode")
    status, _, body = call(url, "GET", "/boom")
    assert status == 502 and json.loads(body) == {"message": "Internal server error"}
    text = out.wait_for(r"Bad failed: ValueError: the handler failed on purpose")
    assert re.search(r'127\.0\.0\.1 - - \[[^]]+\] "GET /boom HTTP/1\.1" 502 -', text)
    assert re.search(r"START RequestId: \S+ Version: \$LATEST", text) and "REPORT RequestId:" in text


def test_binary_bodies_round_trip(routes: tuple[str, Output]) -> None:
    url, _ = routes
    for path in ("/upload", "/blob"):  # a REST API's BinaryMediaTypes; an HTTP API's non-text content type
        status, headers, body = call(url, "POST", path, BLOB, [("Content-Type", "application/octet-stream")])
        assert status == 200 and body == BLOB[::-1], path
        assert headers["Content-Type"] == "application/octet-stream"
    event, _ = echoed(url, "POST", "/upload", body=b'{"x": 1}', headers=[("Content-Type", "application/json")])
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False


def test_rest_api_cors_preflight(routes: tuple[str, Output]) -> None:
    url, out = routes
    status, headers, body = call(url, "OPTIONS", "/users/5", headers=[
        ("Origin", "http://localhost:8080"), ("Access-Control-Request-Method", "GET")])
    assert status == 200 and body == b""
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:8080"  # SAM's quoted '...' unquoted
    assert headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"  # the path's methods, as SAM's OPTIONS lists
    assert "START RequestId" not in out.wait_for(r'"OPTIONS /users/5 HTTP/1\.1" 200 -')  # no invocation


def test_only_loopback_hosts(routes: tuple[str, Output]) -> None:
    url, _ = routes
    status, _, body = call(url, "GET", "/users/1", headers=[("Host", "attacker.example")])
    assert status == 403 and b"not a loopback name" in body


def test_http_api_template_answers_404_for_unknown_routes() -> None:
    out = Output()
    with lambdalab.Lab() as lab:
        url = serve_api(lab, FIXTURES / "http" / "template.yaml", out=out)
        status, headers, body = call(url, "GET", "/orders/9")
        assert status == 200 and headers["Content-Type"] == "application/json"  # no statusCode: the JSON as body
        assert json.loads(body) == {"route": "GET /orders/{id}", "version": "2.0", "params": {"id": "9"}}
        status, _, body = call(url, "GET", "/nowhere")
        assert status == 404 and json.loads(body) == {"message": "Not Found"}
        page = [("Origin", "http://localhost:8080")]
        preflight = [*page, ("Access-Control-Request-Method", "GET")]
        status, headers, _ = call(url, "OPTIONS", "/orders/9", headers=preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
        assert headers["Access-Control-Allow-Methods"] == "GET"
        status, headers, _ = call(url, "GET", "/orders/9", headers=page)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
        assert headers["Access-Control-Expose-Headers"] == "X-Total"
        status, headers, _ = call(url, "GET", "/orders/9", headers=[("Origin", "http://elsewhere.example")])
        assert status == 200 and "Access-Control-Allow-Origin" not in headers  # an origin not allowed: none
        out.wait_for(r'"GET /nowhere HTTP/1\.1" 404 -')


def test_lab_serve_api() -> None:
    assert frontends.front_ends.serve_api is not None  # the package plugs it in itself
    with lambdalab.Lab() as lab:
        url = lab.serve_api(FIXTURES / "hello" / "template.yaml")
        status, _, body = call(url, "GET", "/hello")
        assert status == 200 and json.loads(body) == {"message": "hello world"}


@contextlib.contextmanager
def api_cli(template: Path, *extra: str) -> Iterator[tuple[str, queue.Queue[str]]]:
    """``lambdalab serve --template TEMPLATE --api [EXTRA]`` until its banner; then SIGTERM (exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    args = ["--template", str(template), "--port", "0", "--api", "--api-port", "0", *extra]
    proc = subprocess.Popen([sys.executable, "-m", "lambdalab", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not (seen and seen[-1].startswith("Ctrl-C")) and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        banner = "".join(seen)
        match = re.search(r"^API at (http://127\.0\.0\.1:\d+)", banner, re.M)
        assert match, f"no API URL within 60 s: {banner!r}"
        assert re.search(r"GET +http://127\.0\.0\.1:\d+/hello +-> HelloWorldFunction +\(Api, payload 1\.0", banner)
        yield match.group(1), lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            reader.join(10)
            proc.stdout.close()  # type: ignore[union-attr]




@pytest.fixture
def hello_cli() -> Iterator[tuple[str, queue.Queue[str]]]:
    """``lambdalab serve --template hello/template.yaml --api`` until its banner; then SIGTERM (exit 0)."""
    with api_cli(FIXTURES / "hello" / "template.yaml") as served:
        yield served


@pytest.mark.slow
def test_serve_api_watch_reads_the_routes_of_an_edited_template(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "hello", tmp_path / "hello")
    template = tmp_path / "hello" / "template.yaml"
    with api_cli(template, "--watch") as (url, lines):
        assert call(url, "GET", "/hola")[0] == 403
        template.write_text(template.read_text().replace("Path: /hello", "Path: /hola"))
        read_until(lines, r"GET +http://127\.0\.0\.1:\d+/hola|/hola", timeout_s=10)
        deadline = time.monotonic() + 5
        while call(url, "GET", "/hola")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, _, body = call(url, "GET", "/hola")
        assert status == 200 and json.loads(body) == {"message": "hello world"}
        assert call(url, "GET", "/hello")[0] == 403  # the old route is gone


def read_until(lines: queue.Queue[str], pattern: str, timeout_s: float = 20.0) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
        if re.search(pattern, "".join(seen)):
            return "".join(seen)
    raise AssertionError(f"{pattern!r} not printed within {timeout_s} s: {''.join(seen)!r}")


@pytest.mark.slow
def test_sam_hello_world_over_the_cli(hello_cli: tuple[str, queue.Queue[str]]) -> None:
    url, lines = hello_cli
    status, headers, body = call(url, "GET", "/hello", headers=[("User-Agent", "curl/8.5.0"), ("Accept", "*/*")])
    assert status == 200 and json.loads(body) == {"message": "hello world"}
    assert headers["Content-Type"] == "application/json"
    printed = read_until(lines, r'"GET /hello HTTP/1\.1" 200 -')
    assert "request GET /hello Prod" in printed  # the handler read httpMethod and resource: a 1.0 event
    for word in ("START RequestId:", "END RequestId:", "REPORT RequestId:"):
        assert word in printed
    assert printed.index("START") < printed.index("REPORT") < printed.index('"GET /hello HTTP/1.1" 200 -')
    status, _, body = call(url, "GET", "/nothing-here")
    assert status == 403 and json.loads(body) == {"message": "Missing Authentication Token"}
    read_until(lines, r'"GET /nothing-here HTTP/1\.1" 403 -')


def test_rest_api_resource_stage_and_alias() -> None:
    with lambdalab.Lab() as lab:
        url = serve_api(lab, FIXTURES / "rest" / "template.yaml", out=Output())
        status, headers, body = call(url, "PUT", "/orders/o-17", b"{}", [("Content-Type", "application/json")])
        assert status == 201 and headers["Location"] == "/orders/o-17"
        answer = json.loads(body)
        assert answer["stage"] == "dev" and answer["path"] == "/dev/orders/o-17"  # the API's StageName (a !Ref)
        assert answer["variables"] == {"table": "orders-dev"} and answer["order"] == "o-17"
        assert answer["arn"].endswith(":function:OrdersFunction:live")  # AutoPublishAlias: the alias is invoked


def test_route_choice_as_api_gateway_picks() -> None:
    from lambdalab.endpoint.api_routes import REST, Api, Route, Table

    api = Api(REST, "ServerlessRestApi", "Prod", {}, [])
    table = Table([Route(REST, method, path, name, None, version="1.0", api=api) for method, path, name in (
        ("ANY", "/{proxy+}", "greedy"), ("GET", "/a/{x}", "param"), ("GET", "/a/b", "literal"),
        ("ANY", "/a/b", "any-literal"), ("POST", "/a/{x}/c", "deep"), ("GET", "/", "root"))])

    def picked(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        found = table.match(method, path)
        return None if found is None else (found[0].function, found[1])

    assert picked("GET", "/a/b") == ("literal", {})
    assert picked("PUT", "/a/b") == ("any-literal", {})
    assert picked("GET", "/a/z") == ("param", {"x": "z"})
    assert picked("GET", "/a/z%20y") == ("param", {"x": "z y"})
    assert picked("POST", "/a/z/c") == ("deep", {"x": "z"})
    assert picked("GET", "/a/z/c") == ("greedy", {"proxy": "a/z/c"})
    assert picked("GET", "/") == ("root", {})
    assert picked("DELETE", "/") is None  # the greedy route needs a segment; the root has GET only
    assert table.kind == REST


def test_api_needs_a_template(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text("def handler(event, context):\n    return 1\n")
    done = subprocess.run([sys.executable, "-m", "lambdalab", "serve", str(tmp_path), "--port", "0", "--api",
                           "--no-urls"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--api needs a SAM template" in done.stderr


def test_reload_reads_the_routes_again(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    (tmp_path / "hello_world").mkdir()
    (tmp_path / "hello_world" / "app.py").write_text((FIXTURES / "hello" / "hello_world" / "app.py").read_text())
    text = (FIXTURES / "hello" / "template.yaml").read_text()
    template.write_text(text)
    with lambdalab.Lab() as lab:
        lambdalab.endpoint.templates.load_template(lab, template)
        server, notes = start_api(lab, template, 0, out=Output())
        assert notes == [] and call(server.url, "GET", "/hello")[0] == 200
        template.write_text(text.replace("Path: /hello", "Path: /hi"))
        assert server.reload(template) == []
        assert call(server.url, "GET", "/hi")[0] == 200 and call(server.url, "GET", "/hello")[0] == 403
