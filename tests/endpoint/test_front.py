"""The endpoint's front door (endpoint/front.py): the Invoke API answered on the lean path, byte for byte what the
aiohttp route answers, and every other request handed to aiohttp on the same connection."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator

import pytest

import lambdalab
from lambdalab.endpoint import endpoint_of
from lambdalab.endpoint.invoke import fast_target

from .conftest import ECHO, client

pytestmark = pytest.mark.slow

INVOKE = "/2015-03-31/functions/echo/invocations"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"


def request(path: str, body: bytes = b"{}", headers: dict[str, str] | None = None, method: str = "POST") -> bytes:
    fields = {"Host": "localhost", **(headers or {}), "Content-Length": str(len(body))}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode() + body


def read_responses(sock: socket.socket, count: int, timeout: float = 20) -> list[tuple[int, dict[str, str], bytes]]:
    """``count`` responses framed by Content-Length: (status, headers with lower-case names, body)."""
    buf, out = bytearray(), []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            lines = buf[:end].decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            size = end + 4 + int(headers.get("content-length", "0"))
            if len(buf) >= size:
                out.append((int(lines[0].split()[1]), headers, bytes(buf[end + 4:size])))
                del buf[:size]
                continue
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(1 << 20)
        assert data, f"connection closed after {len(out)} of {count} responses"
        buf += data
    return out


@pytest.fixture
def front(served: tuple[lambdalab.Lab, str]) -> Iterator[tuple[lambdalab.Lab, str, socket.socket]]:
    lab, url = served
    assert endpoint_of(lab).front is not None, "the front door is on by default"
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=20) as sock:
        yield lab, url, sock


def test_fast_target_takes_only_what_it_decodes_exactly() -> None:
    line = b"POST /2015-03-31/functions/%s/invocations%s HTTP/1.1"
    assert fast_target(line % (b"echo", b"")) == ("echo", None)
    assert fast_target(line % (b"arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho", b"?Qualifier=%24LATEST")) \
        == (ARN, "$LATEST")
    assert fast_target(line % (b"echo", b"?a=1&Qualifier=prod&Qualifier=x")) == ("echo", "prod")
    assert fast_target(line % (b"echo", b"?Qualifier=")) == ("echo", "")
    for name, query in [(b"a%2Fb", b""), (b"a%252F", b""), (b"caf%C3%A9", b""), (b"", b""), (b"a/b", b""),
                        (b"echo", b"?Qualifie%72=x"), (b"echo", b"?Qualifier=a;b=c"), (b"echo", b"#x")]:
        assert fast_target(line % (name, query)) is None, (name, query)
    assert fast_target(b"POST /2015-03-31/functions/echo/invocations HTTP/1.0") is None
    assert fast_target(b"GET /2015-03-31/functions/echo/invocations HTTP/1.1") is None
    assert fast_target(b"POST /2015-03-31/functions/echo/invocations/ HTTP/1.1") is None


def test_invoke_then_management_then_invoke_again_on_the_front(front) -> None:
    lab, url, sock = front
    endpoint = endpoint_of(lab)
    sock.sendall(request(INVOKE, b'{"n": 1}'))
    [(status, headers, body)] = read_responses(sock, 1)
    assert status == 200 and json.loads(body)["event"] == {"n": 1}
    assert "server" not in headers and headers["x-amz-executed-version"] == "$LATEST"   # answered by the front
    assert endpoint.front.handed_off == 0
    sock.sendall(request("/2015-03-31/functions/echo", b"", method="GET"))
    [(status, headers, body)] = read_responses(sock, 1)
    assert status == 200 and json.loads(body)["Configuration"]["FunctionName"] == "echo" and "server" in headers
    assert endpoint.front.handed_off == 1 and headers["connection"] == "close"
    sock.settimeout(5)
    assert sock.recv(100) == b""                     # closed after aiohttp's answer: the next connection is fast
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=20) as again:
        again.sendall(request(INVOKE, b'{"n": 2}'))
        [(status, headers, body)] = read_responses(again, 1)
    assert status == 200 and json.loads(body)["event"] == {"n": 2} and "server" not in headers
    assert endpoint.front.handed_off == 1


def test_pipelined_requests_are_answered_in_order(front) -> None:
    lab, _, sock = front
    sock.sendall(request(INVOKE, b'{"n": 1}') + request(INVOKE, b"", {"X-Amz-Invocation-Type": "DryRun"})
                 + request(INVOKE, b'{"n": 3}') + request("/2016-08-19/account-settings", b"", method="GET")
                 + request(INVOKE, b'{"n": 5}'))
    answers = read_responses(sock, 4)
    assert [a[0] for a in answers] == [200, 204, 200, 200]
    assert json.loads(answers[0][2])["event"] == {"n": 1} and json.loads(answers[2][2])["event"] == {"n": 3}
    assert "AccountLimit" in json.loads(answers[3][2]) and answers[3][1]["connection"] == "close"
    sock.settimeout(5)
    assert sock.recv(100) == b""          # the request after a Connection: close answer is not run (HTTP/1.1)
    assert lab.logs("echo").count("START RequestId") == 2


def test_a_request_sent_byte_by_byte(front) -> None:
    _, _, sock = front
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in request(INVOKE + "?Qualifier=%24LATEST", b'{"slow": true}', {"X-Amz-Log-Type": "Tail"}):
        sock.sendall(bytes([byte]))
    [(status, headers, body)] = read_responses(sock, 1)
    assert status == 200 and json.loads(body)["event"] == {"slow": True}
    assert "event {'slow': True}" in base64.b64decode(headers["x-amz-log-result"]).decode()


def test_an_early_error_discards_the_body_and_keeps_the_connection(front) -> None:
    _, _, sock = front
    sock.sendall(request("/2015-03-31/functions/bad!name/invocations", b'{"x": 1}' * 1000)[:-10])
    [(status, headers, body)] = read_responses(sock, 1)    # answered before the body is complete
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
    sock.sendall((b'{"x": 1}' * 1000)[-10:] + request(INVOKE, b'{"after": 1}'))
    [(status, _, body)] = read_responses(sock, 1)
    assert status == 200 and json.loads(body)["event"] == {"after": 1}


def test_connection_close_is_honoured(front) -> None:
    _, _, sock = front
    sock.sendall(request(INVOKE, b"{}", {"Connection": "close"}))
    [(status, headers, _)] = read_responses(sock, 1)
    assert status == 200 and headers["connection"] == "close"
    sock.settimeout(5)
    assert sock.recv(100) == b""


@pytest.mark.parametrize("headers", [{"Transfer-Encoding": "chunked"}, {"Expect": "100-continue"}])
def test_framing_it_leaves_to_aiohttp_still_works(front, headers) -> None:
    lab, _, sock = front
    body = b'{"framed": 1}'
    if "Transfer-Encoding" in headers:
        head = f"POST {INVOKE} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        sock.sendall(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    else:
        sock.sendall(request(INVOKE, body, headers))
    answers = read_responses(sock, 2 if "Expect" in headers else 1)
    status, _, got = answers[-1]
    assert status == 200 and json.loads(got)["event"] == {"framed": 1}
    assert endpoint_of(lab).front.handed_off == 1


# every header and body the aiohttp route gives, the front gives (Date and Server aside, ids masked)
CASES = {
    "ok": request(INVOKE, b'{"a": 1}'), "empty": request(INVOKE, b""), "fail": request(INVOKE, b'{"fail": true}'),
    "tail": request(INVOKE, b"{}", {"X-Amz-Log-Type": "Tail"}),
    "event": request(INVOKE, b"{}", {"X-Amz-Invocation-Type": "Event"}),
    "dry": request(INVOKE, b"{}", {"X-Amz-Invocation-Type": "DryRun"}),
    "kind": request(INVOKE, b"{}", {"X-Amz-Invocation-Type": "Sometimes"}),
    "missing": request("/2015-03-31/functions/nope/invocations"),
    "arn": request(f"/2015-03-31/functions/{ARN.replace(':', '%3A')}/invocations?Qualifier=%24LATEST"),
    "other-account": request("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A999999999999%3Afunction"
                             "%3Aecho/invocations"),
    "qualifier": request(INVOKE + "?Qualifier=staging"), "mismatch": request("/2015-03-31/functions/echo:a/invocations"
                                                                             "?Qualifier=b"),
    "name": request("/2015-03-31/functions/bad%20name/invocations"), "json": request(INVOKE, b"{nope"),
    "nan": request(INVOKE, b'{"a": NaN}'), "host": request(INVOKE, b"{}", {"Host": "evil.example"}),
    "origin": request(INVOKE, b"{}", {"Origin": "https://evil.example"}),
    "form": request(INVOKE, b'{"f": 1}', {"Content-Type": "application/x-www-form-urlencoded"}),
    "context": request(INVOKE, b"{}", {"X-Amz-Client-Context": base64.b64encode(b'{"custom": {"k": "v"}}').decode()}),
    "bad-context": request(INVOKE, b"{}", {"X-Amz-Client-Context": "!!!"}),
    "big-context": request(INVOKE, b"{}", {"X-Amz-Client-Context": "e30=" * 1000}),
    "too-large": request(INVOKE, b'"' + b"x" * (6 * 1024 * 1024) + b'"'),
}


def _answers(monkeypatch: pytest.MonkeyPatch, fast: str) -> dict[str, tuple[int, list[str], object]]:
    monkeypatch.setenv("LAMBDALAB_FAST_FRONT", fast)
    out = {}
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        url = lab.serve()
        assert (endpoint_of(lab).front is not None) == (fast == "1")
        lab.function("echo").invoke({})                   # warm: the same environment serves every case
        for name, raw in CASES.items():
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=20) as sock:
                sock.sendall(raw)
                [(status, headers, body)] = read_responses(sock, 1)
            data = json.loads(body) if body else None
            if isinstance(data, dict):
                data = {k: ("<id>" if k in ("requestId", "stackTrace") else v) for k, v in data.items()}
            if "x-amz-log-result" in headers:
                headers["x-amz-log-result"] = base64.b64decode(headers["x-amz-log-result"]).decode().split("\n")[1]
            out[name] = (status, sorted(f"{k}: {v}" if k not in ("x-amzn-requestid", "date", "content-length") else k
                                        for k, v in headers.items() if k != "server"), data)
    return out


def test_the_front_answers_exactly_as_the_aiohttp_route(monkeypatch) -> None:
    slow, fast = _answers(monkeypatch, "0"), _answers(monkeypatch, "1")
    for name in CASES:
        assert fast[name] == slow[name], name
    assert fast["ok"][0] == 200 and fast["too-large"][0] == 413 and fast["host"][0] == 403


def test_boto3_through_the_front(served) -> None:
    lab, url = served
    boto = client(url)
    assert boto.get_function(FunctionName="echo")["Configuration"]["FunctionName"] == "echo"   # handed to aiohttp
    for i in range(3):                                # then every invoke on the front door (no aiohttp Server header)
        answer = boto.invoke(FunctionName="echo", Payload=json.dumps({"i": i}), LogType="Tail")
        assert json.loads(answer["Payload"].read())["event"] == {"i": i} and "LogResult" in answer
        assert "server" not in answer["ResponseMetadata"]["HTTPHeaders"]
    assert endpoint_of(lab).front.handed_off == 1


# -- function URLs: the same front door on each URL's port ------------------------------------------
PAGE = r'''
import base64, json
def handler(event, context):
    p = event["rawPath"]
    if p == "/fail":
        raise RuntimeError("no")
    if p == "/string":
        return "hi"
    if p == "/plain":
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain", "Date": "x", "Server": "mine"}, "body": "ok"}
    if p == "/nobody":
        return {"statusCode": 204}
    if p == "/odd":
        return {"statusCode": 299, "body": "odd"}
    if p == "/cookies":
        return {"statusCode": 201, "headers": {"x-a": "1", "access-control-allow-origin": "me"},
                "cookies": ["a=1", "b=2"], "body": {"j": 1}}
    if p == "/bin":
        return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\xff").decode()}
    if p == "/bad":
        return {"statusCode": 1000}
    e = dict(event)
    e["requestContext"] = {k: v for k, v in e["requestContext"].items()
                           if k not in ("requestId", "time", "timeEpoch", "domainPrefix", "domainName", "apiId")}
    e["headers"] = {k: v for k, v in e["headers"].items() if k not in ("x-forwarded-port", "x-amzn-trace-id")}
    return {"statusCode": 200, "body": json.dumps(e, sort_keys=True)}
'''
URL_CASES = {
    "event": request("/a/b%20c?x=1&y=%20&x=2", b"hello", {"Cookie": "k=v; k2=v2", "Content-Type": "text/plain",
                                                           "User-Agent": "probe", "X-Forwarded-For": "10.0.0.1"}),
    "binary-body": request("/e", b"\x00\xff\xfe", {"Content-Type": "application/octet-stream"}, method="PUT"),
    "fail": request("/fail", b"", method="GET"), "string": request("/string", b"", method="GET"),
    "plain": request("/plain", b"", method="GET"), "nobody": request("/nobody", b"", method="GET"),
    "odd": request("/odd", b"", method="DELETE"), "cookies": request("/cookies", b"", method="GET"),
    "bin": request("/bin", b"", method="GET"), "bad": request("/bad", b"", method="GET"),
    "head": request("/plain", b"", method="HEAD"), "host": request("/", b"", {"Host": "evil.example"}, method="GET"),
    "origin": request("/cookies", b"", {"Origin": "https://a.example"}, method="GET"),
    "preflight": request("/", b"", {"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
                         method="OPTIONS"),
    "preflight-other": request("/", b"", {"Origin": "https://b.example", "Access-Control-Request-Method": "POST"},
                               method="OPTIONS"),
    "fail-origin": request("/fail", b"", {"Origin": "https://a.example"}, method="GET"),
    "too-large": request("/", b"x" * (6 * 1024 * 1024 + 1)),
}


def _url_answers(monkeypatch: pytest.MonkeyPatch, fast: str) -> dict[str, tuple[int, list[str], bytes]]:
    from lambdalab.endpoint import function_url

    monkeypatch.setenv("LAMBDALAB_FAST_FRONT", fast)
    out = {}
    with lambdalab.Lab() as lab:
        lab.create_function("page", PAGE)
        lab.serve()
        url = function_url(lab, "page", cors={"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "POST"],
                                              "ExposeHeaders": ["x-a"], "MaxAge": 5})
        listener = next(iter(endpoint_of(lab).urls.values()))
        assert (listener.front is not None) == (fast == "1")
        for name, raw in URL_CASES.items():
            with socket.create_connection(("127.0.0.1", int(url.rstrip("/").rsplit(":", 1)[1])), timeout=20) as sock:
                sock.sendall(raw)
                sock.settimeout(20)
                data = b""
                while b"\r\n\r\n" not in data or (name != "head" and len(data) < data.index(b"\r\n\r\n") + 4 + int(
                        re.search(rb"(?i)content-length: (\d+)", data).group(1) if re.search(
                            rb"(?i)content-length: (\d+)", data) else 0)):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            kept = [line for line in lines[1:] if line == "Date: x" or not line.lower().startswith((
                "server: python", "x-amzn-requestid", "content-length", "date: "))]
            out[name] = (lines[0], kept, body)
    return out


def test_function_urls_answer_exactly_as_the_aiohttp_handler(monkeypatch) -> None:
    slow, fast = _url_answers(monkeypatch, "0"), _url_answers(monkeypatch, "1")
    for name in URL_CASES:
        assert fast[name] == slow[name], name
    assert fast["event"][0] == "HTTP/1.1 200 OK" and b'"rawQueryString": "x=1&y=%20&x=2"' in fast["event"][2]
    assert fast["odd"][0] == "HTTP/1.1 299 " and fast["nobody"][0] == "HTTP/1.1 204 No Content"
    assert "Date: x" in fast["plain"][1] and "Server: mine" in fast["plain"][1] and fast["head"][2] == b""
    assert fast["cookies"][1].count("Set-Cookie: a=1") == 1 and fast["too-large"][0].startswith("HTTP/1.1 413")


@pytest.mark.parametrize("fast", ["0", "1"])
def test_an_engine_that_does_not_answer_in_time_is_a_500_and_the_connection_goes_on(monkeypatch, fast) -> None:
    from lambdalab.endpoint import invoke

    monkeypatch.setenv("LAMBDALAB_FAST_FRONT", fast)
    monkeypatch.setattr(invoke, "_SLACK_S", -12.0)          # the limit: 5 s timeout + 8 s init - 12 = 1 s
    with lambdalab.Lab(init_timeout_s=8.0) as lab:
        lab.create_function("slow", "import time\ndef handler(e, c):\n    time.sleep(e.get('s', 0))\n    return 1\n",
                            timeout_s=5)
        lab.function("slow").invoke({})
        url = lab.serve()
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=20) as sock:
            started = time.monotonic()
            sock.sendall(request("/2015-03-31/functions/slow/invocations", b'{"s": 3}'))
            [(status, headers, body)] = read_responses(sock, 1)
            assert 0.9 < time.monotonic() - started < 2.8
            assert (status, headers["x-amzn-errortype"], json.loads(body)) == (
                500, "ServiceException", {"message": "lambdalab: no answer from the engine in time"})
            sock.sendall(request("/2015-03-31/functions/slow/invocations", b"{}"))
            [(status, _, body)] = read_responses(sock, 1)
            assert (status, body) == (200, b"1")


def test_a_client_that_pipelines_without_reading_is_paused_not_buffered(served, monkeypatch) -> None:
    import threading

    from lambdalab.endpoint import front

    lab, url = served
    paused = []
    monkeypatch.setattr(front.Connection, "pause_writing",
                        lambda self, original=front.Connection.pause_writing: (paused.append(1), original(self)))
    count = 150000                                         # 20 MB of requests, 24 MB of answers
    flood = request(INVOKE, b"", {"X-Amz-Invocation-Type": "DryRun"}) * count
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)    # the answers pile up in the endpoint
        sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        writer = threading.Thread(target=sock.sendall, args=(flood,))
        writer.start()
        time.sleep(2.0)

        async def buffered() -> int:
            [connection] = endpoint_of(lab).front.connections
            return connection.transport.get_write_buffer_size()
        assert writer.is_alive() and lab._thread.run(buffered(), timeout=10) < 2 * 1024 * 1024
        answers = read_responses(sock, count, timeout=120)
        writer.join(30)
        assert not writer.is_alive() and all(a[0] == 204 for a in answers) and len(answers) == count
        assert paused, "the endpoint's writes were never paused: the flood was too small to show anything"
        assert lab.function("echo").environments() == []
        sock.sendall(request(INVOKE, b'{"after": 1}'))
        [(status, _, body)] = read_responses(sock, 1)
        assert status == 200 and json.loads(body)["event"] == {"after": 1}
