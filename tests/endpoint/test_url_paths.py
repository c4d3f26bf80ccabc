"""Function URLs by path on the endpoint's own port (``/_aws/lambda-url/{url-id}/...``), with plain HTTP requests:
the same event (payload 2.0) and the same answer as on the URL's own port."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import lambdalab
from lambdalab.endpoint.url_paths import path_url

pytestmark = pytest.mark.slow

ECHO = r'''
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/fail":
        raise RuntimeError("no")
    if path == "/bin":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\x00\xffPNG" + (event.get("body") or "").encode()).decode()}
    if path == "/plain":
        return {"plain": True}
    seen = {k: event.get(k) for k in ("rawPath", "rawQueryString", "queryStringParameters", "cookies", "body",
                                       "isBase64Encoded", "routeKey", "version")}
    seen["method"] = event["requestContext"]["http"]["method"]
    seen["domain"] = event["requestContext"]["domainName"]
    seen["headers"] = {k: v for k, v in event["headers"].items() if k.startswith("x-test")}
    seen["function"] = context.function_name
    return {"statusCode": 201, "headers": {"My-Header": "mine"}, "cookies": ["a=1; Path=/", "b=2"],
            "body": json.dumps(seen)}
'''


def _http(base: str, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture
def served() -> Iterator[tuple[lambdalab.Lab, str, str, str]]:
    """(lab, endpoint URL, the echo function's URL by path, its own-port URL)."""
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        endpoint = lab.serve()
        own = lab.function("echo").url()
        yield lab, endpoint, path_url(lab, "echo"), own


def _prefix(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


def test_path_query_body_and_headers_reach_the_function_as_on_its_own_port(served: Any) -> None:
    lab, endpoint, by_path, own = served
    assert by_path.startswith(endpoint + "/_aws/lambda-url/") and by_path.endswith("/")
    url_id = _prefix(by_path).rsplit("/", 1)[1]
    assert len(url_id) == 32 and url_id.isalnum()
    answers = []
    for base, prefix in ((endpoint, _prefix(by_path)), (own, "")):
        status, headers, body = _http(
            base, "POST", prefix + "/orders/7%20x?size=L&tag=a&tag=b",
            body=b'{"n": 1}', headers={"Content-Type": "application/json", "X-Test-One": "1",
                                        "Cookie": "c1=v1; c2=v2"})
        assert status == 201 and headers["My-Header"] == "mine"
        assert headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
        answers.append(json.loads(body))
    path_seen, own_seen = answers
    assert path_seen == own_seen
    assert path_seen == {
        "rawPath": "/orders/7%20x", "rawQueryString": "size=L&tag=a&tag=b",
        "queryStringParameters": {"size": "L", "tag": "a,b"}, "cookies": ["c1=v1", "c2=v2"],
        "body": '{"n": 1}', "isBase64Encoded": False, "routeKey": "$default", "version": "2.0", "method": "POST",
        "domain": f"{url_id}.lambda-url.us-east-1.on.aws", "headers": {"x-test-one": "1"}, "function": "echo",
    }


def test_no_path_after_the_id_is_the_root(served: Any) -> None:
    _, endpoint, by_path, _ = served
    for target in (_prefix(by_path), _prefix(by_path) + "?q=1", _prefix(by_path) + "/"):
        status, _, body = _http(endpoint, "GET", target)
        seen = json.loads(body)
        assert status == 201 and seen["rawPath"] == "/" and seen["method"] == "GET"
        assert seen["rawQueryString"] == ("q=1" if "?" in target else "")


def test_a_binary_body_goes_in_base64_and_a_base64_answer_comes_out_as_bytes(served: Any) -> None:
    _, endpoint, by_path, _ = served
    raw = bytes(range(256))
    status, headers, body = _http(endpoint, "PUT", _prefix(by_path) + "/echo-binary", body=raw,
                                  headers={"Content-Type": "application/octet-stream"})
    seen = json.loads(body)
    assert status == 201 and seen["isBase64Encoded"] is True and base64.b64decode(seen["body"]) == raw
    status, headers, body = _http(endpoint, "POST", _prefix(by_path) + "/bin", body=b"xyz",
                                  headers={"Content-Type": "text/plain"})
    assert status == 200 and headers["Content-Type"] == "application/octet-stream" and body == b"\x00\xffPNGxyz"


def test_errors_plain_answers_unknown_ids_and_hosts(served: Any) -> None:
    _, endpoint, by_path, _ = served
    status, headers, body = _http(endpoint, "GET", _prefix(by_path) + "/fail")
    assert (status, json.loads(body)) == (502, {"Message": "Internal Server Error"})
    status, headers, body = _http(endpoint, "GET", _prefix(by_path) + "/plain")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", {"plain": True})
    status, headers, body = _http(endpoint, "GET", "/_aws/lambda-url/" + "0" * 32 + "/x")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    status, _, body = _http(endpoint, "GET", _prefix(by_path) + "/x", headers={"Host": "evil.example:80"})
    assert status == 403 and b"Forbidden" in body
    # a web page's Origin is the URL's business (its Cors), not refused as on the API
    status, _, _ = _http(endpoint, "GET", _prefix(by_path) + "/x", headers={"Origin": "http://example.com"})
    assert status == 201


def test_a_chunked_request_handed_to_aiohttp_gives_the_same_event(served: Any) -> None:
    _, endpoint, by_path, _ = served
    parts = urlsplit(endpoint)
    head = (f"POST {_prefix(by_path)}/chunked?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{parts.port}\r\n"
            "Content-Type: text/plain\r\nX-Test-Two: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        response = http.client.HTTPResponse(sock)
        response.begin()
        seen = json.loads(response.read())
    assert response.status == 201
    assert (seen["rawPath"], seen["rawQueryString"], seen["body"], seen["headers"]) == (
        "/chunked", "x=1", "hello world", {"x-test-two": "2"})


def test_invoke_api_and_url_paths_share_a_keep_alive_connection(served: Any) -> None:
    _, endpoint, by_path, _ = served
    parts = urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        for _ in range(2):
            conn.request("POST", "/2015-03-31/functions/echo/invocations", body=b'{"rawPath": "/plain"}')
            assert json.loads(conn.getresponse().read()) == {"plain": True}
            conn.request("GET", _prefix(by_path) + "/k")
            response = conn.getresponse()
            assert response.status == 201 and json.loads(response.read())["rawPath"] == "/k"
    finally:
        conn.close()


def test_a_body_over_6_mb_is_413_and_an_alias_url_has_its_own_id(served: Any) -> None:
    lab, endpoint, by_path, _ = served
    status, _, _ = _http(endpoint, "POST", _prefix(by_path) + "/big", body=b"x" * (6 * 1024 * 1024 + 10),
                         headers={"Content-Type": "text/plain"})
    assert status == 413
    fn = lab.function("echo")
    version = fn.publish()
    fn.create_alias("live", version)
    live = path_url(lab, "echo", "live")
    assert live != by_path and path_url(lab, "echo", "live") == live
    status, _, body = _http(endpoint, "GET", _prefix(live) + "/v")
    assert status == 201 and json.loads(body)["rawPath"] == "/v"


def test_a_urls_cors_applies_by_path_too(served: Any) -> None:
    lab, endpoint, by_path, _ = served
    from lambdalab.endpoint import function_url

    function_url(lab, "echo", cors={"AllowOrigins": ["http://localhost:8888"], "AllowMethods": ["POST"]})
    origin = {"Origin": "http://localhost:8888"}
    status, headers, body = _http(endpoint, "OPTIONS", _prefix(by_path) + "/x",
                                  headers={**origin, "Access-Control-Request-Method": "POST"})
    assert status == 200 and body == b"" and headers["Access-Control-Allow-Origin"] == "http://localhost:8888"
    assert headers["Access-Control-Allow-Methods"] == "POST"
    status, headers, _ = _http(endpoint, "POST", _prefix(by_path) + "/x", body=b"{}", headers=origin)
    assert status == 201 and headers["Access-Control-Allow-Origin"] == "http://localhost:8888"
    assert len(lab.invocations()) == 1  # the preflight invoked nothing


def test_a_page_served_by_path_cannot_read_the_api_on_its_own_origin(served: Any) -> None:
    """The page shares the endpoint's origin, so its GETs carry no Origin; its Sec-Fetch-Site gives it away."""
    _lab, base, by_path, _own = served
    page = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    status, _, body = _http(base, "GET", "/2015-03-31/functions/echo", headers=page)
    assert status == 403 and b"web page" in body and b"Environment" not in body
    status, _, _ = _http(base, "GET", "/2015-03-31/functions/", headers=page)
    assert status == 403
    status, _, _ = _http(base, "POST", "/2015-03-31/functions/echo/invocations", b"{}", headers=page)
    assert status == 403
    status, _, _ = _http(base, "GET", urlsplit(by_path).path + "page", headers=page)
    assert status == 201  # the function URL itself answers its page, as on its own port
    status, _, _ = _http(base, "GET", "/2015-03-31/functions/echo")  # an SDK sends no Sec-Fetch-*
    assert status == 200
