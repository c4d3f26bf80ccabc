"""Red team against the local endpoint: what a web page, a rebound DNS name or a greedy client can make it do.

Each attack runs on a real served Lab over raw HTTP (http.client or sockets); each then checks the
platform is healthy: a normal boto3 invoke still succeeds. docs/ENDPOINT.md, "What the endpoint
accepts, from whom", describes the rules these tests hold it to.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import lambdalab
from lambdalab.endpoint import function_url, serve
from tests.endpoint.conftest import cli_env, client

pytestmark = pytest.mark.slow

ECHO = "def handler(event, context):\n    return {'echo': event}\n"
PAGE = """
import json
BAD = {
    "crlf-header": {"statusCode": 200, "headers": {"x-a": "1\\r\\nSet-Cookie: stolen=1"}, "body": "x"},
    "lf-header": {"statusCode": 200, "headers": {"x-a": "1\\nx-b: 2"}, "body": "x"},
    "crlf-name": {"statusCode": 200, "headers": {"x-a\\r\\nx-b": "1"}, "body": "x"},
    "space-name": {"statusCode": 200, "headers": {"bad name": "1"}, "body": "x"},
    "crlf-cookie": {"statusCode": 200, "cookies": ["a=1\\r\\nx-b: 2"], "body": "x"},
    "status-1000": {"statusCode": 1000, "body": "x"},
    "status-99": {"statusCode": 99, "body": "x"},
    "status-100": {"statusCode": 100, "body": "x"},
    "status-text": {"statusCode": "abc", "body": "x"},
    "status-float": {"statusCode": 200.5, "body": "x"},
    "status-bool": {"statusCode": True, "body": "x"},
    "status-null": {"statusCode": None, "body": "x"},
    "headers-list": {"statusCode": 200, "headers": ["x-a"], "body": "x"},
    "bad-base64": {"statusCode": 200, "isBase64Encoded": True, "body": "%%%"},
}
def handler(event, context):
    name = event["rawPath"].strip("/")
    if name in BAD:
        return BAD[name]
    return {"statusCode": 201, "headers": {"x-method": event["requestContext"]["http"]["method"]}, "body": "ok"}
"""
INTERNAL_ERROR = {"Message": "Internal Server Error"}


def request(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            ) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request: (status, headers with lower-case names, body)."""
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def zipped(source: str, module: str = "app") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module}.py", source)
    return buffer.getvalue()


def create_body(name: str) -> bytes:
    return json.dumps({"FunctionName": name, "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r",
                       "Handler": "app.handler", "Code": {"ZipFile": base64.b64encode(zipped(ECHO)).decode()}}).encode()


def assert_healthy(url: str) -> None:
    answer = client(url).invoke(FunctionName="echo", Payload=b'{"ok": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"ok": 1}}


def starts(lab: lambdalab.Lab, name: str) -> int:
    """How many invocations of ``name`` have started (its log's START lines)."""
    return lab.logs(name).count("START RequestId")


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def refused(status: int, headers: dict[str, str], body: bytes, fragment: str) -> bool:
    data = json.loads(body)
    return (status == 403 and headers.get("x-amzn-errortype") == "AccessDeniedException" and data["Type"] == "User"
            and fragment in data["Message"])


@pytest.fixture
def served() -> Iterator[tuple[lambdalab.Lab, str]]:
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        yield lab, lab.serve()


# -- a web page driving the API (cross-site request) ----------------------------------------------
def test_foreign_origin_simple_post_cannot_create_a_function(served):
    lab, url = served
    path = "/2015-03-31/functions"
    attacks = [{"Content-Type": "text/plain", "Origin": "http://evil.example"},          # a form or fetch(no-cors)
               {"Content-Type": "application/json", "Origin": "http://evil.example"},
               {"Content-Type": "text/plain;charset=UTF-8"},                             # Origin stripped somehow
               {"Content-Type": "application/x-www-form-urlencoded"},
               {"Content-Type": "multipart/form-data; boundary=x"},
               {"Content-Type": "application/json", "Origin": "null"}]                   # a sandboxed iframe
    for i, headers in enumerate(attacks):
        status, got, body = request(url, "POST", path, create_body(f"evil{i}"), headers)
        assert refused(status, got, body, "Origin" if "Origin" in headers else "Content-Type"), (headers, status, body)
    assert lab.functions() == ["echo"]
    listed = client(url).list_functions()["Functions"]
    assert [f["FunctionName"] for f in listed] == ["echo"]
    assert_healthy(url)


def test_foreign_origin_cannot_invoke_or_update(served):
    lab, url = served
    before = starts(lab, "echo")
    for method, path in [("POST", "/2015-03-31/functions/echo/invocations"),
                         ("PUT", "/2015-03-31/functions/echo/configuration"),
                         ("GET", "/2015-03-31/functions")]:
        status, got, body = request(url, method, path, b'{"Timeout": 9}', {"Origin": "https://evil.example"})
        assert refused(status, got, body, "Origin 'https://evil.example' is not allowed"), (method, path)
    assert client(url).get_function_configuration(FunctionName="echo")["Timeout"] != 9
    assert starts(lab, "echo") == before               # nothing was invoked
    assert_healthy(url)


def test_allowed_origin_works_and_others_do_not():
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        url = lab.serve(allow_origins=["http://localhost:8888"])       # Lab.serve forwards it
        path = "/2015-03-31/functions/echo/invocations"
        status, _, body = request(url, "POST", path, b'{"a": 1}', {"Origin": "http://localhost:8888"})
        assert (status, json.loads(body)) == (200, {"echo": {"a": 1}})
        status, got, body = request(url, "POST", path, b'{"a": 1}', {"Origin": "http://localhost:9999"})
        assert refused(status, got, body, "not allowed")
        # an allowed page still may not use a CORS-simple type on a call that takes JSON
        status, got, body = request(url, "POST", "/2015-03-31/functions", create_body("x"),
                                    {"Origin": "http://localhost:8888", "Content-Type": "text/plain"})
        assert refused(status, got, body, "Content-Type")
        assert_healthy(url)
    with lambdalab.Lab() as other, pytest.raises(lambdalab.ConfigError, match="allow_origins"):
        serve(other, allow_origins=["localhost:8888"])


# -- DNS rebinding: a foreign name that resolves to 127.0.0.1 ------------------------------------
def test_rebound_host_is_refused_on_the_api_and_function_urls(served):
    lab, url = served
    port = port_of(url)
    fn_url = lab.function("echo").url()
    for host in [f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", f"localhost.evil:{port}",
                 "", f"[::1:{port}", f"127.0.0.1:{port}x"]:
        status, got, body = request(url, "POST", "/2015-03-31/functions/echo/invocations", b"{}", {"Host": host})
        assert refused(status, got, body, "Host"), (host, status, body)
        status, got, body = request(fn_url, "GET", "/", headers={"Host": host})
        assert status == 403 and got["x-amzn-errortype"] == "AccessDeniedException", host
    for host in [f"localhost:{port}", f"LOCALHOST:{port}", f"app.localhost:{port}", f"127.0.0.1:{port}",
                 f"127.1.2.3:{port}", f"[::1]:{port}", "localhost", "localhost.:80"]:
        status, _, body = request(url, "POST", "/2015-03-31/functions/echo/invocations", b"{}", {"Host": host})
        assert status == 200, (host, body)
    assert_healthy(url)


# -- the clients people use keep working, unchanged ----------------------------------------------
def test_boto3_and_the_aws_cli_still_work(served, tmp_path: Path):
    lab, url = served
    boto = client(url)
    boto.create_function(FunctionName="made", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
                         Handler="app.handler", Code={"ZipFile": zipped(ECHO)})
    answer = boto.invoke(FunctionName="made", Payload=b'{"x": 1}')
    assert json.loads(answer["Payload"].read()) == {"echo": {"x": 1}}
    boto.update_function_configuration(FunctionName="made", Timeout=7)
    boto.put_function_concurrency(FunctionName="made", ReservedConcurrentExecutions=2)
    config = boto.create_function_url_config(FunctionName="made", AuthType="NONE")
    assert config["FunctionUrl"].startswith("http://127.0.0.1:")
    aws = Path(sys.executable).with_name("aws")
    out = tmp_path / "out.json"
    run = subprocess.run([str(aws), "lambda", "invoke", "--endpoint-url", url, "--function-name", "made",
                          "--payload", '{"y": 2}', str(out)], env=cli_env(tmp_path), capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text()) == {"echo": {"y": 2}}
    run = subprocess.run([str(aws), "lambda", "update-function-configuration", "--endpoint-url", url,
                          "--function-name", "made", "--timeout", "8"], env=cli_env(tmp_path), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert boto.get_function_configuration(FunctionName="made")["Timeout"] == 8
    # curl's defaults: `-d` sends application/x-www-form-urlencoded, fine for Invoke (its body is the caller's)
    status, _, body = request(url, "POST", "/2015-03-31/functions/echo/invocations", b'{"c": 3}',
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, json.loads(body)) == (200, {"echo": {"c": 3}})
    assert_healthy(url)


# -- function URLs: CORS as the URL's configuration says, closed by default -----------------------
def test_function_url_cors_default_closed(served):
    lab, url = served
    lab.create_function("page", PAGE)
    page = function_url(lab, "page")
    origin = {"Origin": "https://app.example"}
    status, got, body = request(page, "GET", "/", headers=origin)
    assert (status, body) == (201, b"ok")                      # the function answers (its own CORS would decide)
    assert not any(key.startswith("access-control-") for key in got)
    # no CORS config: the platform answers no preflight; OPTIONS reaches the function like any method
    status, got, body = request(page, "OPTIONS", "/", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert (status, got["x-method"], body) == (201, "OPTIONS", b"ok")
    assert not any(key.startswith("access-control-") for key in got)
    assert_healthy(url)


def test_function_url_cors_preflight_and_responses(served):
    lab, url = served
    lab.create_function("page", PAGE)
    boto = client(url)
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"],
            "ExposeHeaders": ["x-method"], "MaxAge": 300, "AllowCredentials": True}
    config = boto.create_function_url_config(FunctionName="page", AuthType="NONE", Cors=cors)
    assert config["Cors"] == cors
    assert boto.get_function_url_config(FunctionName="page")["Cors"] == cors
    page = config["FunctionUrl"]
    invoked = starts(lab, "page")
    status, got, body = request(page, "OPTIONS", "/", headers={"Origin": "https://app.example",
                                                              "Access-Control-Request-Method": "POST",
                                                              "Access-Control-Request-Headers": "x-custom"})
    assert (status, body) == (200, b"")
    assert got["access-control-allow-origin"] == "https://app.example"
    assert got["access-control-allow-methods"] == "GET, POST"
    assert got["access-control-allow-headers"] == "x-custom"
    assert got["access-control-max-age"] == "300"
    assert got["access-control-allow-credentials"] == "true"
    assert "x-method" not in got                                 # answered by the platform, not the function
    assert starts(lab, "page") == invoked
    status, got, body = request(page, "POST", "/", b"hi", {"Origin": "https://app.example"})
    assert (status, body, got["x-method"]) == (201, b"ok", "POST")
    assert got["access-control-allow-origin"] == "https://app.example"
    assert got["access-control-expose-headers"] == "x-method"
    # another origin: the function still runs (CORS is the browser's check), with no CORS header to read it by
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"}):
        status, got, _ = request(page, "OPTIONS" if len(headers) > 1 else "GET", "/", headers=headers)
        assert status in (200, 201) and "access-control-allow-origin" not in got
    # UpdateFunctionUrlConfig: any origin, then no CORS at all
    updated = boto.update_function_url_config(FunctionName="page", Cors={"AllowOrigins": ["*"]})
    assert updated["Cors"] == {"AllowOrigins": ["*"]}
    status, got, _ = request(page, "GET", "/", headers={"Origin": "https://other.example"})
    assert (status, got["access-control-allow-origin"]) == (201, "*")
    boto.update_function_url_config(FunctionName="page", Cors={})
    status, got, _ = request(page, "GET", "/", headers={"Origin": "https://other.example"})
    assert status == 201 and "access-control-allow-origin" not in got
    with pytest.raises(boto.exceptions.ClientError) as error:
        boto.update_function_url_config(FunctionName="page", Cors={"MaxAge": 100000})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert_healthy(url)


def test_function_url_cors_from_python(served):
    lab, url = served
    lab.create_function("page", PAGE)
    page = function_url(lab, "page", cors={"allow_origins": ["http://localhost:8888"], "allow_methods": ["*"]})
    status, got, _ = request(page, "OPTIONS", "/", headers={"Origin": "http://localhost:8888",
                                                           "Access-Control-Request-Method": "PUT"})
    assert (status, got["access-control-allow-origin"], got["access-control-allow-methods"]) == (
        200, "http://localhost:8888", "*")
    with pytest.raises(lambdalab.ConfigError, match="invalid cors"):
        function_url(lab, "page", cors={"AllowOrigins": "http://localhost:8888"})
    assert_healthy(url)


# -- connections: a cap, and idle or slow connections closed --------------------------------------
def test_idle_connections_beyond_the_cap_cannot_exhaust_descriptors():
    cap = 16
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        url = serve(lab, max_connections=cap, idle_timeout_s=1.0)
        assert_healthy(url)
        time.sleep(1.5)                                      # boto3's pooled connection goes idle and is closed
        owner = psutil.Process()
        baseline = owner.num_fds()
        port = port_of(url)
        held: list[socket.socket] = []
        try:
            for _ in range(10 * cap):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(0.3)
            assert owner.num_fds() - len(held) <= baseline + cap + 4   # this process holds the client ends too
            answers = []
            for sock in held[cap:]:
                sock.settimeout(5)
                answers.append(sock.recv(200))
            assert all(a.startswith(b"HTTP/1.1 503 ") or a == b"" for a in answers)
            assert any(a.startswith(b"HTTP/1.1 503 ") for a in answers)
            # a slow client: half a request head, never finished, is closed after idle_timeout_s like idle ones
            slow = socket.create_connection(("127.0.0.1", port), timeout=5)
            held.append(slow)
            time.sleep(1.6)
            for sock in held[:cap]:
                sock.settimeout(5)
                assert sock.recv(200) == b""                  # closed by the endpoint, not by us
        finally:
            for sock in held:
                sock.close()
        assert owner.num_fds() <= baseline + 4
        assert_healthy(url)


def test_a_slow_request_head_is_cut_off():
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        url = serve(lab, idle_timeout_s=1.0)
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=5) as sock:
            sock.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: localhost\r\n")
            started = time.monotonic()
            for _ in range(20):
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    break
                time.sleep(0.2)
            sock.settimeout(5)
            try:
                data = sock.recv(200)
            except ConnectionResetError:
                data = b""
            assert data == b"" and time.monotonic() - started < 3.5
        assert_healthy(url)


# -- wire shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("payload", "fragment"), [
    (b'{"a": NaN}', "Non-standard token 'NaN'"),
    (b'{"a": Infinity}', "Non-standard token 'Infinity'"),
    (b"[-Infinity]", "Non-standard token '-Infinity'"),
    (b"NaN", "Non-standard token 'NaN'"),
    (b"not json", "Could not parse payload into json"),
    (b'{"a": 1', "Could not parse payload into json"),
])
def test_invoke_body_that_is_not_json_is_400(served, payload, fragment):
    lab, url = served
    status, got, body = request(url, "POST", "/2015-03-31/functions/echo/invocations", payload)
    data = json.loads(body)
    assert (status, got["x-amzn-errortype"], data["Type"]) == (400, "InvalidRequestContentException", "User")
    assert data["message"].startswith("Could not parse request body into json: Could not parse payload into json: ")
    assert fragment in data["message"]
    boto = client(url)
    with pytest.raises(boto.exceptions.InvalidRequestContentException):
        boto.invoke(FunctionName="echo", Payload=payload)
    assert_healthy(url)


def test_deeply_nested_json_is_never_a_500(served):
    lab, url = served
    depth = 100_000
    status, got, body = request(url, "POST", "/2015-03-31/functions/echo/invocations",
                                b"[" * depth + b"]" * depth)
    assert status in (200, 400), (status, body[:300])
    if status == 200:  # passed to the runtime, which cannot take it apart: Lambda's Runtime.UnmarshalError
        assert got.get("x-amz-function-error") == "Unhandled"
        assert json.loads(body)["errorType"] == "Runtime.UnmarshalError"
    assert_healthy(url)


def test_bad_function_url_answers_are_502(served):
    lab, url = served
    lab.create_function("page", PAGE)
    page = function_url(lab, "page")
    cases = ["crlf-header", "lf-header", "crlf-name", "space-name", "crlf-cookie", "status-1000", "status-99",
             "status-100", "status-text", "status-float", "status-bool", "status-null", "headers-list", "bad-base64"]
    host, port = "127.0.0.1", port_of(page)
    conn = http.client.HTTPConnection(host, port, timeout=30)   # one keep-alive connection for all: never broken
    try:
        for case in cases:
            conn.request("GET", f"/{case}")
            response = conn.getresponse()
            body = response.read()
            assert response.status == 502, (case, response.status, body)
            assert json.loads(body) == INTERNAL_ERROR, case
            assert response.getheader("Set-Cookie") is None and response.getheader("x-b") is None, case
        conn.request("GET", "/fine")
        response = conn.getresponse()
        assert (response.status, response.read(), response.getheader("x-method")) == (201, b"ok", "GET")
    finally:
        conn.close()
    assert_healthy(url)


def test_cli_allow_origin_option_reaches_the_endpoint(tmp_path: Path):
    (tmp_path / "echo.py").write_text(ECHO)
    process = subprocess.Popen([sys.executable, "-m", "lambdalab", "serve", str(tmp_path), "--port", "0", "--no-urls",
                                "--allow-origin", "http://localhost:8888"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("Lambda API at "), (line, process.stderr.read() if process.poll() is not None else "")
        url = line.split()[3]
        path = "/2015-03-31/functions/echo/invocations"
        status, _, body = request(url, "POST", path, b'{"a": 1}', {"Origin": "http://localhost:8888"})
        assert (status, json.loads(body)) == (200, {"echo": {"a": 1}})
        status, got, body = request(url, "POST", path, b'{"a": 1}', {"Origin": "http://localhost:9999"})
        assert refused(status, got, body, "not allowed")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0



def test_a_body_that_never_arrives_is_cut_off(monkeypatch):
    from lambdalab.endpoint import guard

    monkeypatch.setattr(guard, "BODY_TIMEOUT_S", 1.0)
    import lambdalab.endpoint.server as server

    monkeypatch.setattr(server, "BODY_TIMEOUT_S", 1.0)
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        url = lab.serve()
        with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
            sock.sendall(b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
            started = time.monotonic()
            data = sock.recv(400)
            assert data.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 5, data
        assert_healthy(url)
