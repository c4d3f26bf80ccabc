"""Function URLs answer a plain HTTP client (curl when installed) with the mapped response."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest

import lambdalab

pytestmark = pytest.mark.slow

WEB = r'''
import base64, json

def handler(event, context):
    path = event["rawPath"]
    if path == "/string":
        return "Hello, world!"
    if path == "/dict":
        return {"message": "Hello, world!"}
    if path == "/binary":
        return {"statusCode": 200, "headers": {"content-type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\x89PNG\x00\xff").decode()}
    if path == "/fail":
        raise RuntimeError("no")
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
        "cookies": ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2; Path=/"],
        "body": json.dumps({"seen": {k: event.get(k) for k in ("rawPath", "rawQueryString", "cookies", "body",
                                                                 "isBase64Encoded", "queryStringParameters")},
                            "method": event["requestContext"]["http"]["method"],
                            "header": event["headers"].get("x-test"),
                            "requestId": event["requestContext"]["requestId"], "awsRequestId": context.aws_request_id,
                            "routeKey": event["routeKey"]}),
    }
'''


def _http(url: str, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture
def web_url() -> Any:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("web", WEB)
        yield fn.url()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_status_headers_cookies_and_body(web_url: str) -> None:
    result = subprocess.run(["curl", "-s", "-i", "-X", "POST", f"{web_url}orders/7?size=L&size=XL&q=a%20b",
                             "-H", "X-Test: yes", "-H", "Content-Type: application/json", "-b", "session=abc; theme=dark",
                             "--data", '{"qty": 2}'], capture_output=True, timeout=60, check=True)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created"
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
    assert ("My-Custom-Header", "Custom Value") in headers and ("Content-Type", "application/json") in headers
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["Cookie_1=Value1; Max-Age=78000",
                                                                    "Cookie_2=Value2; Path=/"]
    answer = json.loads(body)
    assert answer["seen"] == {"rawPath": "/orders/7", "rawQueryString": "size=L&size=XL&q=a%20b",
                              "cookies": ["session=abc", "theme=dark"], "body": '{"qty": 2}', "isBase64Encoded": False,
                              "queryStringParameters": {"size": "L,XL", "q": "a b"}}
    assert answer["method"] == "POST" and answer["header"] == "yes" and answer["routeKey"] == "$default"
    assert answer["requestId"] == answer["awsRequestId"]  # the event's request id is the invocation's


def test_bare_results_are_json_with_status_200(web_url: str) -> None:
    status, headers, body = _http(web_url, "GET", "/string")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b'"Hello, world!"')
    status, headers, body = _http(web_url, "GET", "/dict")
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json",
                                                                  {"message": "Hello, world!"})
    assert headers["x-amzn-RequestId"]


def test_binary_bodies_both_ways(web_url: str) -> None:
    status, headers, body = _http(web_url, "GET", "/binary")
    assert (status, headers["Content-Type"], body) == (200, "image/png", b"\x89PNG\x00\xff")
    status, _, body = _http(web_url, "PUT", "/upload", body=b"\x00\x01\xfe",
                            headers={"Content-Type": "application/octet-stream"})
    seen = json.loads(body)["seen"]
    assert status == 201 and seen["isBase64Encoded"] is True and seen["body"] == "AAH+"


def test_a_function_error_is_a_502(web_url: str) -> None:
    status, _, body = _http(web_url, "GET", "/fail")
    assert status == 502 and json.loads(body) == {"Message": "Internal Server Error"}


def test_url_per_function_and_qualifier() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("web", WEB)
        url = fn.url()
        assert fn.url() == url and url.startswith("http://127.0.0.1:") and url.endswith("/")
        fn.create_alias("live", fn.publish())
        assert fn.url("live") != url
        with pytest.raises(lambdalab.UnknownFunctionError):
            fn.url("nope")
