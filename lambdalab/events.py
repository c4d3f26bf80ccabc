"""Events as AWS services deliver them to Lambda: one builder per trigger, each returning a plain dict.

    >>> from lambdalab import events
    >>> events.s3_put(bucket="photos", key="cats/tom.jpg", size=2048)["Records"][0]["eventName"]
    'ObjectCreated:Put'

Written from the AWS documentation of each event shape (the Lambda developer guide's "Using
Lambda with ..." pages, API Gateway's proxy-integration formats, the function URL payload page),
not from other tools' templates. Every builder takes the fields a handler usually reads as
parameters, with sensible defaults; ids and timestamps default to fresh values (pass ``time=``,
epoch seconds, for a fixed one). ``lambdalab event KIND --help`` lists the same parameters.

Rules: pure functions of their arguments plus the clock and ``uuid`` when no value is given; no
lambdalab imports; nothing here runs a function.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
import struct
import time as _time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
Headers = Mapping[str, "str | list[str]"]

__all__ = [
    "KINDS",
    "alb",
    "apigw_http",
    "apigw_rest",
    "cloudwatch_logs",
    "dynamodb_stream",
    "eventbridge",
    "function_url",
    "kinesis",
    "s3_delete",
    "s3_put",
    "schedule",
    "sns",
    "sqs",
    "sqs_record",
]


# -- shared helpers ----------------------------------------------------------------------------
def _clock(at: float | None) -> float:
    return _time.time() if at is None else float(at)


def _utc(at: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc)


def _iso_ms(at: float) -> str:
    """``2024-01-31T12:00:00.123Z`` (S3, SNS)."""
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


def _iso_s(at: float) -> str:
    """``2024-01-31T12:00:00Z`` (EventBridge)."""
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clf(at: float) -> str:
    """``31/Jan/2024:12:00:00 +0000`` (API Gateway's request time, English month names)."""
    t = _utc(at)
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][t.month - 1]
    return f"{t.day:02d}/{month}/{t.year}:{t:%H:%M:%S} +0000"


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
    return f"Root=1-{int(at):08x}-{uuid.uuid4().hex[:24]}"


# -- HTTP: API Gateway REST (v1), HTTP API (v2), function URLs, ALB ------------------------------
def apigw_rest(method: str = "GET", path: str = "/", *, body: Any = None, headers: Headers | None = None,
               query: Any = None, path_parameters: Mapping[str, str] | None = None, resource: str | None = None,
               stage: str = "prod", stage_variables: Mapping[str, str] | None = None,
               authorizer: Mapping[str, Any] | None = None, source_ip: str = "127.0.0.1",
               user_agent: str = "lambdalab", api_id: str = "1234567890", account_id: str = ACCOUNT_ID,
               region: str = REGION, request_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """API Gateway REST API, Lambda proxy integration (payload format 1.0).

    ``headers`` and ``query`` values may be lists (multi-value); the single-value maps carry the
    last value, as API Gateway does. ``body``: str as is, bytes base64 (``isBase64Encoded``), other
    values as JSON. ``resource`` defaults to ``path``.
    """
    at = _clock(time)
    multi_headers = _multi({"User-Agent": user_agent, **(headers or {})})
    multi_query = _grouped(_query_pairs(query))
    text, encoded = _body(body)
    request_id = request_id or str(uuid.uuid4())
    resource = resource or path
    context: dict[str, Any] = {
        "accountId": account_id, "apiId": api_id, "domainName": f"{api_id}.execute-api.{region}.amazonaws.com",
        "domainPrefix": api_id, "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
        "httpMethod": method, "identity": _rest_identity(source_ip, user_agent), "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1", "requestId": request_id, "requestTime": _clf(at), "requestTimeEpoch": int(at * 1000),
        "resourceId": hashlib.md5(resource.encode()).hexdigest()[:6], "resourcePath": resource, "stage": stage,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": context, "body": text, "isBase64Encoded": encoded,
    }


def _rest_identity(source_ip: str, user_agent: str) -> dict[str, Any]:
    empty = ["accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
             "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "user", "userArn"]
    return {**dict.fromkeys(empty), "sourceIp": source_ip, "userAgent": user_agent}


def _v2(method: str, path: str, *, body: Any, headers: Headers | None, query: Any, cookies: Iterable[str] | None,
        route_key: str, stage: str, domain: str, api_id: str, account_id: str, source_ip: str, user_agent: str,
        protocol: str, request_id: str | None, at: float) -> dict[str, Any]:
    """Payload format 2.0 (HTTP APIs and function URLs): lower-case headers, repeats joined by commas."""
    joined = {k.lower(): ",".join(v) for k, v in _multi(headers).items()}
    for key, value in (("host", domain), ("user-agent", user_agent), ("x-forwarded-for", source_ip),
                       ("x-forwarded-port", "443"), ("x-forwarded-proto", "https"),
                       ("x-amzn-trace-id", _trace_id(at))):
        joined.setdefault(key, value)
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": _raw_query(query)}
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = joined
    params = {k: ",".join(v) for k, v in _grouped(_query_pairs(query)).items()}
    if params:
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": account_id, "apiId": api_id, "domainName": domain, "domainPrefix": domain.split(".")[0],
        "http": {"method": method, "path": path, "protocol": protocol, "sourceIp": source_ip,
                 "userAgent": joined.get("user-agent", user_agent)},
        "requestId": request_id or str(uuid.uuid4()), "routeKey": route_key, "stage": stage,
        "time": _clf(at), "timeEpoch": int(at * 1000),
    }
    text, encoded = _body(body)
    if text is not None:
        event["body"] = text
    event["isBase64Encoded"] = encoded
    return event


def apigw_http(method: str = "GET", path: str = "/", *, body: Any = None, headers: Headers | None = None,
               query: Any = None, cookies: Iterable[str] | None = None,
               path_parameters: Mapping[str, str] | None = None, route_key: str = "$default",
               stage: str = "$default", stage_variables: Mapping[str, str] | None = None,
               authorizer: Mapping[str, Any] | None = None, source_ip: str = "127.0.0.1",
               user_agent: str = "lambdalab", api_id: str = "abcdef1234", account_id: str = ACCOUNT_ID,
               region: str = REGION, request_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """API Gateway HTTP API, Lambda proxy integration (payload format 2.0).

    With a named ``stage`` (not ``$default``) the raw path starts with ``/<stage>``, as HTTP APIs send it.
    """
    if stage != "$default":
        path = f"/{stage}{path}"
    event = _v2(method, path, body=body, headers=headers, query=query, cookies=cookies, route_key=route_key,
                stage=stage, domain=f"{api_id}.execute-api.{region}.amazonaws.com", api_id=api_id,
                account_id=account_id, source_ip=source_ip, user_agent=user_agent, protocol="HTTP/1.1",
                request_id=request_id, at=_clock(time))
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return event


def function_url(method: str = "GET", path: str = "/", *, body: Any = None, headers: Headers | None = None,
                 query: Any = None, cookies: Iterable[str] | None = None, source_ip: str = "127.0.0.1",
                 user_agent: str = "lambdalab", url_id: str = "abcdefghijklmnopqrstuvwxyz234567",
                 account_id: str = "anonymous", region: str = REGION, protocol: str = "HTTP/1.1",
                 request_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """A Lambda function URL request (payload format 2.0; ``routeKey`` and ``stage`` are ``$default``).

    ``account_id`` is ``anonymous`` for a URL with auth type NONE; ``query`` may be the raw string.
    """
    return _v2(method, path, body=body, headers=headers, query=query, cookies=cookies, route_key="$default",
               stage="$default", domain=f"{url_id}.lambda-url.{region}.on.aws", api_id=url_id, account_id=account_id,
               source_ip=source_ip, user_agent=user_agent, protocol=protocol, request_id=request_id,
               at=_clock(time))


def alb(method: str = "GET", path: str = "/", *, body: Any = None, headers: Headers | None = None, query: Any = None,
        multi_value: bool = False, target_group: str = "example-targets", account_id: str = ACCOUNT_ID,
        region: str = REGION, source_ip: str = "127.0.0.1") -> dict[str, Any]:
    """An Application Load Balancer request to a Lambda target.

    Query values are percent-encoded as a client sends them (the load balancer does not decode
    them). ``multi_value=True`` gives the multi-value header and query maps instead of the single ones.
    """
    multi_headers = _multi({"host": "lambda-alb-123578498.us-east-1.elb.amazonaws.com", "x-forwarded-for": source_ip,
                            "x-forwarded-port": "80", "x-forwarded-proto": "http", **(headers or {})})
    multi_query = {quote(k, safe=""): [quote(v, safe="") for v in vs]
                   for k, vs in _grouped(_query_pairs(query)).items()}
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


# -- S3 ----------------------------------------------------------------------------------------
def _s3(event_name: str, bucket: str, key: str, obj: dict[str, Any], region: str, at: float, source_ip: str,
        principal_id: str) -> dict[str, Any]:
    record = {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventTime": _iso_ms(at),
        "eventName": event_name, "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(),
                             "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode()},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "lambdalab-notification",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": principal_id},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), **obj}},
    }
    return {"Records": [record]}


def s3_put(bucket: str = "example-bucket", key: str = "example/key.txt", *, size: int = 1024,
           etag: str | None = None, version_id: str | None = None, region: str = REGION,
           source_ip: str = "127.0.0.1", principal_id: str = "AWS:AIDAEXAMPLE", time: float | None = None
           ) -> dict[str, Any]:
    """An S3 ``ObjectCreated:Put`` notification (the key is URL-encoded, as S3 sends it)."""
    at = _clock(time)
    obj: dict[str, Any] = {"size": size, "eTag": etag or hashlib.md5(f"{key}:{size}".encode()).hexdigest()}
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = f"{int(at * 1e9):018X}"
    return _s3("ObjectCreated:Put", bucket, key, obj, region, at, source_ip, principal_id)


def s3_delete(bucket: str = "example-bucket", key: str = "example/key.txt", *, version_id: str | None = None,
              delete_marker: bool = False, region: str = REGION, source_ip: str = "127.0.0.1",
              principal_id: str = "AWS:AIDAEXAMPLE", time: float | None = None) -> dict[str, Any]:
    """An S3 ``ObjectRemoved:Delete`` (or ``ObjectRemoved:DeleteMarkerCreated``) notification."""
    at = _clock(time)
    obj: dict[str, Any] = {"versionId": version_id} if version_id else {}
    obj["sequencer"] = f"{int(at * 1e9):018X}"
    name = "ObjectRemoved:DeleteMarkerCreated" if delete_marker else "ObjectRemoved:Delete"
    return _s3(name, bucket, key, obj, region, at, source_ip, principal_id)


# -- SQS -----------------------------------------------------------------------------------------
def _sqs_attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):  # already {"stringValue"/"binaryValue", "dataType"}
        return {"stringListValues": [], "binaryListValues": [], **value}
    if isinstance(value, (bytes, bytearray)):
        return {"binaryValue": base64.b64encode(bytes(value)).decode(), "stringListValues": [],
                "binaryListValues": [], "dataType": "Binary"}
    kind = "Number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "String"
    return {"stringValue": str(value), "stringListValues": [], "binaryListValues": [], "dataType": kind}


def _md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """SQS's MD5 of message attributes: length-prefixed name, type, transport byte and value, sorted by name."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        attr = attributes[name]
        kind = attr["dataType"]
        for part in (name.encode(), kind.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if "binaryValue" in attr:
            value = base64.b64decode(attr["binaryValue"])
            digest.update(b"\x02" + struct.pack(">I", len(value)) + value)
        else:
            value = str(attr.get("stringValue", "")).encode()
            digest.update(b"\x01" + struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def sqs_record(body: str, *, message_id: str | None = None, receipt_handle: str | None = None,
               receive_count: int = 1, sent_at: float | None = None, first_received_at: float | None = None,
               message_attributes: Mapping[str, Any] | None = None, queue: str = "example-queue",
               sender_id: str = "AIDAIENQZJOLO23YVJ4VO", account_id: str = ACCOUNT_ID, region: str = REGION
               ) -> dict[str, Any]:
    """One SQS record as Lambda's event source mapping delivers it (``Records[i]``)."""
    sent = _clock(sent_at)
    first = sent if first_received_at is None else first_received_at
    attributes = {name: _sqs_attribute(v) for name, v in (message_attributes or {}).items()}
    record: dict[str, Any] = {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or base64.b64encode(uuid.uuid4().bytes * 4).decode(),
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": str(int(sent * 1000)),
                       "SenderId": sender_id, "ApproximateFirstReceiveTimestamp": str(int(first * 1000))},
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
    }
    if attributes:
        record["md5OfMessageAttributes"] = _md5_of_attributes(attributes)
    record.update({"eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{region}:{account_id}:{queue}",
                   "awsRegion": region})
    return record


def sqs(messages: Iterable[Any] = ("Hello from SQS!",), *, queue: str = "example-queue",
        message_attributes: Mapping[str, Any] | None = None, sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
        account_id: str = ACCOUNT_ID, region: str = REGION, time: float | None = None) -> dict[str, Any]:
    """A batch of SQS messages. Each message is a body (str; other values become JSON) or a dict
    with ``body`` and optionally ``message_attributes`` / ``message_id`` / ``receive_count``."""
    at = _clock(time)
    records = []
    for message in messages:
        spec = dict(message) if isinstance(message, Mapping) and "body" in message else {"body": message}
        body = spec.pop("body")
        spec.setdefault("message_attributes", message_attributes)
        records.append(sqs_record(body if isinstance(body, str) else json.dumps(body), sent_at=at, queue=queue,
                                  sender_id=sender_id, account_id=account_id, region=region, **spec))
    return {"Records": records}


# -- SNS, EventBridge, schedules -----------------------------------------------------------------
def sns(message: Any = "Hello from SNS!", *, subject: str | None = None, topic: str = "example-topic",
        message_attributes: Mapping[str, Any] | None = None, account_id: str = ACCOUNT_ID, region: str = REGION,
        message_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """An SNS notification (one record). Non-string messages become JSON."""
    topic_arn = f"arn:aws:sns:{region}:{account_id}:{topic}"
    subscription = f"{topic_arn}:{uuid.uuid4()}"
    attributes = {k: {"Type": "Binary" if isinstance(v, bytes) else "Number" if isinstance(v, (int, float))
                      and not isinstance(v, bool) else "String",
                      "Value": base64.b64encode(v).decode() if isinstance(v, bytes) else str(v)}
                  for k, v in (message_attributes or {}).items()}
    body = {
        "SignatureVersion": "1", "Timestamp": _iso_ms(_clock(time)),
        "Signature": base64.b64encode(hashlib.sha256(str(message).encode()).digest()).decode(),
        "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-lambdalab.pem",
        "MessageId": message_id or str(uuid.uuid4()),
        "Message": message if isinstance(message, str) else json.dumps(message),
        "MessageAttributes": attributes, "Type": "Notification",
        "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
        "TopicArn": topic_arn, "Subject": subject,
    }
    return {"Records": [{"EventVersion": "1.0", "EventSubscriptionArn": subscription, "EventSource": "aws:sns",
                         "Sns": body}]}


def eventbridge(detail: Mapping[str, Any] | None = None, *, detail_type: str = "Example Event",
                source: str = "com.example.app", resources: Iterable[str] = (), account_id: str = ACCOUNT_ID,
                region: str = REGION, event_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """An EventBridge event (``detail-type``, ``source``, ``detail``...)."""
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": account_id, "time": _iso_s(_clock(time)), "region": region, "resources": list(resources),
            "detail": dict(detail or {})}


def schedule(rule: str = "example-schedule", *, account_id: str = ACCOUNT_ID, region: str = REGION,
             event_id: str | None = None, time: float | None = None) -> dict[str, Any]:
    """A scheduled event (EventBridge rule or schedule): ``Scheduled Event`` from ``aws.events``."""
    return eventbridge({}, detail_type="Scheduled Event", source="aws.events",
                       resources=[f"arn:aws:events:{region}:{account_id}:rule/{rule}"], account_id=account_id,
                       region=region, event_id=event_id, time=time)


# -- DynamoDB Streams, Kinesis ---------------------------------------------------------------------
def _ddb(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB AttributeValue."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        return {"M": {k: _ddb(v) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):
        items = sorted(value, key=str)
        if all(isinstance(v, str) for v in items):
            return {"SS": items}
        return {"NS": [str(v) for v in items]}
    return {"L": [_ddb(v) for v in value]}


_DDB_IMAGES = {"KEYS_ONLY": (), "NEW_IMAGE": ("NewImage",), "OLD_IMAGE": ("OldImage",),
               "NEW_AND_OLD_IMAGES": ("NewImage", "OldImage")}


def dynamodb_stream(event_name: str = "INSERT", *, keys: Mapping[str, Any] | None = None,
                    new_image: Mapping[str, Any] | None = None, old_image: Mapping[str, Any] | None = None,
                    table: str = "example-table", view_type: str = "NEW_AND_OLD_IMAGES",
                    sequence_number: str | None = None, account_id: str = ACCOUNT_ID, region: str = REGION,
                    time: float | None = None) -> dict[str, Any]:
    """A DynamoDB Streams record: ``INSERT`` (new image), ``MODIFY`` (both) or ``REMOVE`` (old image).

    Keys and images are plain Python values, converted to DynamoDB's typed JSON; the images sent
    follow ``view_type``. Missing images default to the keys plus a ``Message`` attribute.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"invalid event_name: {event_name!r}; expected INSERT, MODIFY or REMOVE")
    if view_type not in _DDB_IMAGES:
        raise ValueError(f"invalid view_type: {view_type!r}; expected one of {', '.join(_DDB_IMAGES)}")
    at = _clock(time)
    keys = dict(keys or {"Id": 101})
    images = {"NewImage": new_image or {**keys, "Message": "New item!"} if event_name != "REMOVE" else None,
              "OldImage": old_image or {**keys, "Message": "Old item"} if event_name != "INSERT" else None}
    record: dict[str, Any] = {"ApproximateCreationDateTime": int(at), "Keys": {k: _ddb(v) for k, v in keys.items()}}
    for name in _DDB_IMAGES[view_type]:
        if images[name] is not None:
            record[name] = {k: _ddb(v) for k, v in images[name].items()}  # type: ignore[union-attr]
    record["SequenceNumber"] = sequence_number or str(int(at * 1e6))
    record["SizeBytes"] = len(json.dumps({k: v for k, v in record.items() if k in ("Keys", "NewImage", "OldImage")}))
    record["StreamViewType"] = view_type
    label = _utc(at).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}"
    return {"Records": [{
        "eventID": uuid.uuid4().hex, "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": region, "dynamodb": record,
        "eventSourceARN": f"arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/{label}",
    }]}


def kinesis(data: Iterable[Any] = ("Hello from Kinesis!",), *, stream: str = "example-stream",
            partition_key: str = "partition-1", shard_id: str = "shardId-000000000000",
            account_id: str = ACCOUNT_ID, region: str = REGION, time: float | None = None) -> dict[str, Any]:
    """Kinesis Data Streams records (``data`` base64-encoded; str, bytes, or JSON for other values)."""
    at = _clock(time)
    base = int(at * 1e6) * 10**38
    records = []
    for i, item in enumerate(data):
        raw = item if isinstance(item, bytes) else item.encode() if isinstance(item, str) else json.dumps(item).encode()
        sequence = str(base + i)
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key, "sequenceNumber": sequence,
                        "data": base64.b64encode(raw).decode(), "approximateArrivalTimestamp": round(at, 3)},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": f"arn:aws:iam::{account_id}:role/lambda-role",
            "awsRegion": region, "eventSourceARN": f"arn:aws:kinesis:{region}:{account_id}:stream/{stream}",
        })
    return {"Records": records}


# -- CloudWatch Logs -------------------------------------------------------------------------------
def cloudwatch_logs(messages: Iterable[str] = ("Example log line",), *, log_group: str = "/aws/lambda/example",
                    log_stream: str | None = None, filter_name: str = "example-filter", owner: str = ACCOUNT_ID,
                    time: float | None = None) -> dict[str, Any]:
    """A CloudWatch Logs subscription delivery: ``awslogs.data`` is base64 of the gzipped JSON document."""
    at = _clock(time)
    stamp = int(at * 1000)
    stream = log_stream or _utc(at).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
    document = {
        "messageType": "DATA_MESSAGE", "owner": owner, "logGroup": log_group, "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [{"id": f"{stamp:d}{i:06d}".ljust(56, "0"), "timestamp": stamp, "message": m}
                      for i, m in enumerate(messages)],
    }
    data = gzip.compress(json.dumps(document).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "apigw_rest": apigw_rest, "apigw_http": apigw_http, "function_url": function_url, "alb": alb,
    "s3_put": s3_put, "s3_delete": s3_delete, "sqs": sqs, "sns": sns, "eventbridge": eventbridge,
    "dynamodb_stream": dynamodb_stream, "kinesis": kinesis, "schedule": schedule, "cloudwatch_logs": cloudwatch_logs,
}
