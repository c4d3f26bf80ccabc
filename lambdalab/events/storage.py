"""Storage events: S3 object notifications (put, delete) and DynamoDB Streams records.

DynamoDB keys and images are plain Python values here, converted to DynamoDB's typed JSON
(``_ddb``); S3 keys are URL-encoded as S3 sends them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from lambdalab.events._common import ACCOUNT_ID, REGION, iso_ms, time_or_now, utc_datetime

__all__ = ["dynamodb_stream", "s3_delete", "s3_put"]


# -- S3 ----------------------------------------------------------------------------------------
def _s3(
    event_name: str,
    bucket: str,
    key: str,
    obj: dict[str, Any],
    region: str,
    at: float,
    source_ip: str,
    principal_id: str,
) -> dict[str, Any]:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_ms(at),
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
            "x-amz-id-2": base64.b64encode(uuid.uuid4().bytes * 3).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "lambdalab-notification",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": principal_id}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), **obj},
        },
    }
    return {"Records": [record]}


def s3_put(
    bucket: str = "example-bucket",
    key: str = "example/key.txt",
    *,
    size: int = 1024,
    etag: str | None = None,
    version_id: str | None = None,
    region: str = REGION,
    source_ip: str = "127.0.0.1",
    principal_id: str = "AWS:AIDAEXAMPLE",
    time: float | None = None,
) -> dict[str, Any]:
    """An S3 ``ObjectCreated:Put`` notification (the key is URL-encoded, as S3 sends it)."""
    at = time_or_now(time)
    obj: dict[str, Any] = {"size": size, "eTag": etag or hashlib.md5(f"{key}:{size}".encode()).hexdigest()}
    if version_id:
        obj["versionId"] = version_id
    obj["sequencer"] = f"{int(at * 1e9):018X}"
    return _s3("ObjectCreated:Put", bucket, key, obj, region, at, source_ip, principal_id)


def s3_delete(
    bucket: str = "example-bucket",
    key: str = "example/key.txt",
    *,
    version_id: str | None = None,
    delete_marker: bool = False,
    region: str = REGION,
    source_ip: str = "127.0.0.1",
    principal_id: str = "AWS:AIDAEXAMPLE",
    time: float | None = None,
) -> dict[str, Any]:
    """An S3 ``ObjectRemoved:Delete`` (or ``ObjectRemoved:DeleteMarkerCreated``) notification."""
    at = time_or_now(time)
    obj: dict[str, Any] = {"versionId": version_id} if version_id else {}
    obj["sequencer"] = f"{int(at * 1e9):018X}"
    name = "ObjectRemoved:DeleteMarkerCreated" if delete_marker else "ObjectRemoved:Delete"
    return _s3(name, bucket, key, obj, region, at, source_ip, principal_id)


# -- DynamoDB Streams --------------------------------------------------------------------------
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


_DDB_IMAGES = {
    "KEYS_ONLY": (),
    "NEW_IMAGE": ("NewImage",),
    "OLD_IMAGE": ("OldImage",),
    "NEW_AND_OLD_IMAGES": ("NewImage", "OldImage"),
}


def dynamodb_stream(
    event_name: str = "INSERT",
    *,
    keys: Mapping[str, Any] | None = None,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    table: str = "example-table",
    view_type: str = "NEW_AND_OLD_IMAGES",
    sequence_number: str | None = None,
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    time: float | None = None,
) -> dict[str, Any]:
    """A DynamoDB Streams record: ``INSERT`` (new image), ``MODIFY`` (both) or ``REMOVE`` (old image).

    Keys and images are plain Python values, converted to DynamoDB's typed JSON; the images sent
    follow ``view_type``. Missing images default to the keys plus a ``Message`` attribute.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"invalid event_name: {event_name!r}; expected INSERT, MODIFY or REMOVE")
    if view_type not in _DDB_IMAGES:
        raise ValueError(f"invalid view_type: {view_type!r}; expected one of {', '.join(_DDB_IMAGES)}")
    at = time_or_now(time)
    keys = dict(keys or {"Id": 101})
    images = {
        "NewImage": new_image or {**keys, "Message": "New item!"} if event_name != "REMOVE" else None,
        "OldImage": old_image or {**keys, "Message": "Old item"} if event_name != "INSERT" else None,
    }
    record: dict[str, Any] = {"ApproximateCreationDateTime": int(at), "Keys": {k: _ddb(v) for k, v in keys.items()}}
    for name in _DDB_IMAGES[view_type]:
        if images[name] is not None:
            record[name] = {k: _ddb(v) for k, v in images[name].items()}  # type: ignore[union-attr]
    record["SequenceNumber"] = sequence_number or str(int(at * 1e6))
    record["SizeBytes"] = len(json.dumps({k: v for k, v in record.items() if k in ("Keys", "NewImage", "OldImage")}))
    record["StreamViewType"] = view_type
    label = utc_datetime(at).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}"
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": record,
                "eventSourceARN": f"arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/{label}",
            }
        ]
    }
