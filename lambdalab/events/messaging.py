"""Messaging and streaming events: SQS, SNS, EventBridge and schedules, Kinesis, CloudWatch Logs.

SQS records carry the MD5 digests SQS computes (body and message attributes); ``sqs_record``
builds one record on its own, as the local queue (``lambdalab.sqs``) delivers them.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import struct
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from lambdalab.events._common import ACCOUNT_ID, REGION, iso_ms, iso_s, time_or_now, utc_datetime

__all__ = ["cloudwatch_logs", "eventbridge", "kinesis", "schedule", "sns", "sqs", "sqs_record"]


# -- SQS -----------------------------------------------------------------------------------------
def _sqs_attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):  # already {"stringValue"/"binaryValue", "dataType"}
        return {"stringListValues": [], "binaryListValues": [], **value}
    if isinstance(value, (bytes, bytearray)):
        return {
            "binaryValue": base64.b64encode(bytes(value)).decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        }
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


def sqs_record(
    body: str,
    *,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    receive_count: int = 1,
    sent_at: float | None = None,
    first_received_at: float | None = None,
    message_attributes: Mapping[str, Any] | None = None,
    queue: str = "example-queue",
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
) -> dict[str, Any]:
    """One SQS record as Lambda's event source mapping delivers it (``Records[i]``)."""
    sent = time_or_now(sent_at)
    first = sent if first_received_at is None else first_received_at
    attributes = {name: _sqs_attribute(v) for name, v in (message_attributes or {}).items()}
    record: dict[str, Any] = {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or base64.b64encode(uuid.uuid4().bytes * 4).decode(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int(sent * 1000)),
            "SenderId": sender_id,
            "ApproximateFirstReceiveTimestamp": str(int(first * 1000)),
        },
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
    }
    if attributes:
        record["md5OfMessageAttributes"] = _md5_of_attributes(attributes)
    record.update(
        {"eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{region}:{account_id}:{queue}", "awsRegion": region}
    )
    return record


def sqs(
    messages: Iterable[Any] = ("Hello from SQS!",),
    *,
    queue: str = "example-queue",
    message_attributes: Mapping[str, Any] | None = None,
    sender_id: str = "AIDAIENQZJOLO23YVJ4VO",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    time: float | None = None,
) -> dict[str, Any]:
    """A batch of SQS messages. Each message is a body (str; other values become JSON) or a dict
    with ``body`` and optionally ``message_attributes`` / ``message_id`` / ``receive_count``."""
    at = time_or_now(time)
    records = []
    for message in messages:
        spec = dict(message) if isinstance(message, Mapping) and "body" in message else {"body": message}
        body = spec.pop("body")
        spec.setdefault("message_attributes", message_attributes)
        records.append(
            sqs_record(
                body if isinstance(body, str) else json.dumps(body),
                sent_at=at,
                queue=queue,
                sender_id=sender_id,
                account_id=account_id,
                region=region,
                **spec,
            )
        )
    return {"Records": records}


# -- SNS, EventBridge, schedules -----------------------------------------------------------------
def sns(
    message: Any = "Hello from SNS!",
    *,
    subject: str | None = None,
    topic: str = "example-topic",
    message_attributes: Mapping[str, Any] | None = None,
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    message_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """An SNS notification (one record). Non-string messages become JSON."""
    topic_arn = f"arn:aws:sns:{region}:{account_id}:{topic}"
    subscription = f"{topic_arn}:{uuid.uuid4()}"
    attributes = {
        k: {
            "Type": "Binary"
            if isinstance(v, bytes)
            else "Number"
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            else "String",
            "Value": base64.b64encode(v).decode() if isinstance(v, bytes) else str(v),
        }
        for k, v in (message_attributes or {}).items()
    }
    body = {
        "SignatureVersion": "1",
        "Timestamp": iso_ms(time_or_now(time)),
        "Signature": base64.b64encode(hashlib.sha256(str(message).encode()).digest()).decode(),
        "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-lambdalab.pem",
        "MessageId": message_id or str(uuid.uuid4()),
        "Message": message if isinstance(message, str) else json.dumps(message),
        "MessageAttributes": attributes,
        "Type": "Notification",
        "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
        "TopicArn": topic_arn,
        "Subject": subject,
    }
    return {
        "Records": [
            {"EventVersion": "1.0", "EventSubscriptionArn": subscription, "EventSource": "aws:sns", "Sns": body}
        ]
    }


def eventbridge(
    detail: Mapping[str, Any] | None = None,
    *,
    detail_type: str = "Example Event",
    source: str = "com.example.app",
    resources: Iterable[str] = (),
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    event_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """An EventBridge event (``detail-type``, ``source``, ``detail``...)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": iso_s(time_or_now(time)),
        "region": region,
        "resources": list(resources),
        "detail": dict(detail or {}),
    }


def schedule(
    rule: str = "example-schedule",
    *,
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    event_id: str | None = None,
    time: float | None = None,
) -> dict[str, Any]:
    """A scheduled event (EventBridge rule or schedule): ``Scheduled Event`` from ``aws.events``."""
    return eventbridge(
        {},
        detail_type="Scheduled Event",
        source="aws.events",
        resources=[f"arn:aws:events:{region}:{account_id}:rule/{rule}"],
        account_id=account_id,
        region=region,
        event_id=event_id,
        time=time,
    )


# -- Kinesis -----------------------------------------------------------------------------------
def kinesis(
    data: Iterable[Any] = ("Hello from Kinesis!",),
    *,
    stream: str = "example-stream",
    partition_key: str = "partition-1",
    shard_id: str = "shardId-000000000000",
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    time: float | None = None,
) -> dict[str, Any]:
    """Kinesis Data Streams records (``data`` base64-encoded; str, bytes, or JSON for other values)."""
    at = time_or_now(time)
    base = int(at * 1e6) * 10**38
    records = []
    for i, item in enumerate(data):
        raw = item if isinstance(item, bytes) else item.encode() if isinstance(item, str) else json.dumps(item).encode()
        sequence = str(base + i)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(raw).decode(),
                    "approximateArrivalTimestamp": round(at, 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard_id}:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{account_id}:role/lambda-role",
                "awsRegion": region,
                "eventSourceARN": f"arn:aws:kinesis:{region}:{account_id}:stream/{stream}",
            }
        )
    return {"Records": records}


# -- CloudWatch Logs -------------------------------------------------------------------------------
def cloudwatch_logs(
    messages: Iterable[str] = ("Example log line",),
    *,
    log_group: str = "/aws/lambda/example",
    log_stream: str | None = None,
    filter_name: str = "example-filter",
    owner: str = ACCOUNT_ID,
    time: float | None = None,
) -> dict[str, Any]:
    """A CloudWatch Logs subscription delivery: ``awslogs.data`` is base64 of the gzipped JSON document."""
    at = time_or_now(time)
    stamp = int(at * 1000)
    stream = log_stream or utc_datetime(at).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": stream,
        "subscriptionFilters": [filter_name],
        "logEvents": [
            {"id": f"{stamp:d}{i:06d}".ljust(56, "0"), "timestamp": stamp, "message": m} for i, m in enumerate(messages)
        ],
    }
    data = gzip.compress(json.dumps(document).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(data).decode()}}
