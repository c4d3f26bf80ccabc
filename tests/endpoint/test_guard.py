"""The endpoint's request checks and function URL CORS, as units (the attacks themselves: tests/reliability)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from lambdalab.endpoint import wire
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.guard import Guard, split_host


@pytest.mark.parametrize(("value", "name"), [
    ("localhost:3001", "localhost"), ("LOCALHOST", "localhost"), ("[::1]:80", "::1"), ("127.0.0.1", "127.0.0.1"),
    ("localhost.:1", "localhost"), ("[::1", None), ("a:b", None), ("a:", None), ("[::1]x", None),
])
def test_split_host(value, name):
    assert split_host(value) == name


def test_host_rules():
    local = Guard("127.0.0.1")
    allowed = ["localhost:1", "a.localhost:1", "127.0.0.1:1", "127.9.9.9", "[::1]:1", "[::ffff:127.0.0.1]:1"]
    assert all(local.host_allowed(h) for h in allowed)
    refused = ["evil.example:1", "localhost.evil.example", "10.0.0.1:1", "0.0.0.0:1", "", "2130706433", "[::1"]
    assert not any(local.host_allowed(h) for h in refused)
    remote = Guard("192.168.1.5", allow_remote=True)
    assert remote.host_allowed("192.168.1.5:3001") and not remote.host_allowed("10.0.0.1:3001")
    wildcard = Guard("0.0.0.0", allow_remote=True)
    assert wildcard.host_allowed("10.0.0.1:3001") and wildcard.host_allowed("[fe80::1]:1")
    assert not wildcard.host_allowed("evil.example:3001")          # names still have to be loopback names


def test_refusal_reasons():
    guard = Guard("127.0.0.1", allow_origins=["http://localhost:8888/"])
    ok = CIMultiDict({"Host": "127.0.0.1:1", "Content-Type": "application/json"})
    assert guard.refusal(ok, json_api=True) is None
    assert guard.refusal(CIMultiDict({"Origin": "HTTP://LOCALHOST:8888"}), json_api=True) is None
    assert "Origin" in guard.refusal(CIMultiDict({"Origin": "http://localhost:8889"}), json_api=False)
    assert guard.refusal(CIMultiDict({"Origin": "http://x"}), json_api=False, check_origin=False) is None
    for kind in ("text/plain", "Text/Plain; charset=utf-8", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x"):
        assert "Content-Type" in guard.refusal(CIMultiDict({"Content-Type": kind}), json_api=True)
        assert guard.refusal(CIMultiDict({"Content-Type": kind}), json_api=False) is None
    assert "Host" in guard.refusal(CIMultiDict({"Host": "evil.example"}), json_api=False)
    assert Guard("127.0.0.1", allow_origins=["*"]).refusal(CIMultiDict({"Origin": "null"}), json_api=False) is None


def test_a_pages_own_requests_are_refused_unless_its_origin_is_listed():
    """A page served by path (/_aws/lambda-url/...) shares the endpoint's origin: its same-origin GET has no Origin,
    but its Sec-Fetch-Site says a page made it. SDKs send no Sec-Fetch-*; a typed address says "none"."""
    guard = Guard("127.0.0.1", allow_origins=["http://localhost:8888"])
    for site in ("same-origin", "same-site", "cross-site"):
        why = guard.refusal(CIMultiDict({"Sec-Fetch-Site": site}), json_api=False)
        assert why is not None and "web page" in why, site
        assert guard.refusal(CIMultiDict({"Sec-Fetch-Site": site}), json_api=False, check_origin=False) is None
    listed = CIMultiDict({"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost:8888"})
    assert guard.refusal(listed, json_api=False) is None
    assert guard.refusal(CIMultiDict({"Sec-Fetch-Site": "none"}), json_api=False) is None
    assert guard.refusal(CIMultiDict({"Host": "127.0.0.1:1"}), json_api=False) is None
    assert Guard("127.0.0.1", allow_origins=["*"]).refusal(CIMultiDict({"Sec-Fetch-Site": "same-origin"}),
                                                           json_api=False) is None


def test_cors_parse_and_shape():
    cors = Cors.parse({"allow_origins": ["https://a.example"], "AllowMethods": ["GET"], "MaxAge": 0,
                       "AllowCredentials": False})
    assert cors is not None
    assert cors.shape() == {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"], "MaxAge": 0,
                            "AllowCredentials": False}
    assert Cors.parse(None) is None and Cors.parse({}).shape() == {}
    bad = [{"AllowOrigins": "https://a.example"}, {"AllowMethods": ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE",
                                                                   "OPTIONS"]},
           {"AllowMethods": ["OPTIONSX"]}, {"MaxAge": 86401}, {"MaxAge": -1}, {"MaxAge": "1"},
           {"AllowCredentials": "yes"}, {"Nope": 1}, ["AllowOrigins"], {"AllowHeaders": ["a\r\nb"]}]
    for value in bad:
        with pytest.raises(wire.ApiError):
            Cors.parse(value)


def test_cors_headers():
    cors = Cors.parse({"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-h"],
                       "ExposeHeaders": ["x-e"], "MaxAge": 60, "AllowCredentials": True})
    assert cors is not None
    assert cors.preflight("https://a.example") == {
        "Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "x-h",
        "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "60"}
    assert cors.response("https://a.example") == {
        "Access-Control-Allow-Origin": "https://a.example", "Vary": "Origin",
        "Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "x-e"}
    assert cors.preflight("https://b.example") == {} and cors.response("https://b.example") == {}
    anyone = Cors.parse({"AllowOrigins": ["*"]})
    assert anyone is not None and anyone.response("https://b.example")["Access-Control-Allow-Origin"] == "*"
    with_credentials = Cors.parse({"AllowOrigins": ["*"], "AllowCredentials": True})
    assert with_credentials is not None
    # a browser refuses "*" with credentials, so the origin is echoed
    assert with_credentials.response("https://b.example")["Access-Control-Allow-Origin"] == "https://b.example"
