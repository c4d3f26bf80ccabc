"""HTTP events: API Gateway REST APIs (payload 1.0), HTTP APIs and function URLs (2.0), ALB targets.

Also the request parts they share: bodies (text, base64 bytes or JSON), multi-value headers and
query strings, and API Gateway's request-time format.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from lambdalab.events._common import ACCOUNT_ID, REGION, time_or_now, utc_datetime

Headers = Mapping[str, "str | list[str]"]

__all__ = ["alb", "apigw_http", "apigw_rest", "function_url"]


# -- request parts -----------------------------------------------------------------------------
def _clf(at: float) -> str:
    """``31/Jan/2024:12:00:00 +0000`` (API Gateway's request time, English month names)."""
    second = int(at // 1)
    last = _clf_last.get(second)
    if last is not None:  # a function URL's every request asks: made once a second
        return last
    t = utc_datetime(second)
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][t.month - 1]
    text = f"{t.day:02d}/{month}/{t.year}:{t:%H:%M:%S} +0000"
    _clf_last.clear()
    _clf_last[second] = text
    return text


_clf_last: dict[int, str] = {}


def _request_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` makes it, in a third of its time."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab"


def _body(body: Any) -> tuple[str | None, bool]:
    """A request body as API Gateway passes it: text as is, bytes base64-encoded, objects as JSON."""
    if body is None:
        return None, False
    if isinstance(body, (bytes, bytearray)):
        return base64.b64encode(bytes(body)).decode(), True
    if isinstance(body, str):
        return body, False
    return json.dumps(body), False


def _multi(values: Mapping[str, Any] | None) -> dict[str, list[str]]:
    return {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] for k, v in (values or {}).items()}


def _query_pairs(query: Any) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return [(k, v) for k, values in _multi(query).items() for v in values]


def _raw_query(query: Any) -> str:
    if isinstance(query, str):
        return query.lstrip("?")
    return urlencode(_query_pairs(query))


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _trace_id(at: float) -> str:
    return f"Root=1-{int(at):08x}-{os.urandom(12).hex()}"


# -- HTTP: API Gateway REST (v1), HTTP API (v2), function URLs, ALB ------------------------------
def apigw_rest(
    method: str = "GET",
    path: str = "/",
    *,
    body: Any = None,
    headers: Headers | None = None,
    query: Any = None,
    path_parameters: Mapping[str, str] | None = None,
    resource: str | None = None,
    stage: str = "prod",
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "lambdalab",
    api_id: str = "1234567890",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    request_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """API Gateway REST API, Lambda proxy integration (payload format 1.0).

    ``headers`` and ``query`` values may be lists (multi-value); the single-value maps carry the
    last value, as API Gateway does. ``body``: str as is, bytes base64 (``isBase64Encoded``), other
    values as JSON. ``resource`` defaults to ``path``.
    """
    at = time_or_now(time)
    multi_headers = _multi({"User-Agent": user_agent, **(headers or {})})
    multi_query = _grouped(_query_pairs(query))
    text, encoded = _body(body)
    request_id = request_id or str(uuid.uuid4())
    resource = resource or path
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": f"{api_id}.execute-api.{region}.amazonaws.com",
        "domainPrefix": api_id,
        "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
        "httpMethod": method,
        "identity": _rest_identity(source_ip, user_agent),
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": _clf(at),
        "requestTimeEpoch": int(at * 1000),
        "resourceId": hashlib.md5(resource.encode()).hexdigest()[:6],
        "resourcePath": resource,
        "stage": stage,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": encoded,
    }


def _rest_identity(source_ip: str, user_agent: str) -> dict[str, Any]:
    empty = [
        "accessKey",
        "accountId",
        "caller",
        "cognitoAuthenticationProvider",
        "cognitoAuthenticationType",
        "cognitoIdentityId",
        "cognitoIdentityPoolId",
        "principalOrgId",
        "user",
        "userArn",
    ]
    return {**dict.fromkeys(empty), "sourceIp": source_ip, "userAgent": user_agent}


def _v2(
    method: str,
    path: str,
    *,
    body: Any,
    headers: Headers | None,
    query: Any,
    cookies: Iterable[str] | None,
    route_key: str,
    stage: str,
    domain: str,
    api_id: str,
    account_id: str,
    source_ip: str,
    user_agent: str,
    protocol: str,
    request_id: str | None,
    at: float,
) -> dict[str, Any]:
    """Payload format 2.0 (HTTP APIs and function URLs): lower-case headers, repeats joined by commas."""
    joined = {k.lower(): ",".join(v) for k, v in _multi(headers).items()}
    for key, value in (
        ("host", domain),
        ("user-agent", user_agent),
        ("x-forwarded-for", source_ip),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
        ("x-amzn-trace-id", _trace_id(at)),
    ):
        joined.setdefault(key, value)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": _raw_query(query),
    }
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = joined
    params = {k: ",".join(v) for k, v in _grouped(_query_pairs(query)).items()}
    if params:
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", user_agent),
        },
        "requestId": request_id or _request_id(),
        "routeKey": route_key,
        "stage": stage,
        "time": _clf(at),
        "timeEpoch": int(at * 1000),
    }
    text, encoded = _body(body)
    if text is not None:
        event["body"] = text
    event["isBase64Encoded"] = encoded
    return event


def apigw_http(
    method: str = "GET",
    path: str = "/",
    *,
    body: Any = None,
    headers: Headers | None = None,
    query: Any = None,
    cookies: Iterable[str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    route_key: str = "$default",
    stage: str = "$default",
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "lambdalab",
    api_id: str = "abcdef1234",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    request_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """API Gateway HTTP API, Lambda proxy integration (payload format 2.0).

    With a named ``stage`` (not ``$default``) the raw path starts with ``/<stage>``, as HTTP APIs send it.
    """
    if stage != "$default":
        path = f"/{stage}{path}"
    event = _v2(
        method,
        path,
        body=body,
        headers=headers,
        query=query,
        cookies=cookies,
        route_key=route_key,
        stage=stage,
        domain=f"{api_id}.execute-api.{region}.amazonaws.com",
        api_id=api_id,
        account_id=account_id,
        source_ip=source_ip,
        user_agent=user_agent,
        protocol="HTTP/1.1",
        request_id=request_id,
        at=time_or_now(time),
    )
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return event


def function_url(
    method: str = "GET",
    path: str = "/",
    *,
    body: Any = None,
    headers: Headers | None = None,
    query: Any = None,
    cookies: Iterable[str] | None = None,
    source_ip: str = "127.0.0.1",
    user_agent: str = "lambdalab",
    url_id: str = "abcdefghijklmnopqrstuvwxyz234567",
    account_id: str = "anonymous",
    region: str = REGION,
    protocol: str = "HTTP/1.1",
    request_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """A Lambda function URL request (payload format 2.0; ``routeKey`` and ``stage`` are ``$default``).

    ``account_id`` is ``anonymous`` for a URL with auth type NONE; ``query`` may be the raw string.
    """
    return _v2(
        method,
        path,
        body=body,
        headers=headers,
        query=query,
        cookies=cookies,
        route_key="$default",
        stage="$default",
        domain=f"{url_id}.lambda-url.{region}.on.aws",
        api_id=url_id,
        account_id=account_id,
        source_ip=source_ip,
        user_agent=user_agent,
        protocol=protocol,
        request_id=request_id,
        at=time_or_now(time),
    )


def alb(
    method: str = "GET",
    path: str = "/",
    *,
    body: Any = None,
    headers: Headers | None = None,
    query: Any = None,
    multi_value: bool = False,
    target_group: str = "example-targets",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An Application Load Balancer request to a Lambda target.

    Query values are percent-encoded as a client sends them (the load balancer does not decode
    them). ``multi_value=True`` gives the multi-value header and query maps instead of the single ones.
    """
    multi_headers = _multi(
        {
            "host": "lambda-alb-123578498.us-east-1.elb.amazonaws.com",
            "x-forwarded-for": source_ip,
            "x-forwarded-port": "80",
            "x-forwarded-proto": "http",
            **(headers or {}),
        }
    )
    multi_query = {
        quote(k, safe=""): [quote(v, safe="") for v in vs] for k, vs in _grouped(_query_pairs(query)).items()
    }
    text, encoded = _body(body)
    arn = f"arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/{target_group}/{uuid.uuid4().hex[:16]}"
    event: dict[str, Any] = {"requestContext": {"elb": {"targetGroupArn": arn}}, "httpMethod": method, "path": path}
    if multi_value:
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = multi_headers
    else:
        event["queryStringParameters"] = {k: v[-1] for k, v in multi_query.items()}
        event["headers"] = {k: v[-1] for k, v in multi_headers.items()}
    event["body"] = text or ""
    event["isBase64Encoded"] = encoded
    return event
