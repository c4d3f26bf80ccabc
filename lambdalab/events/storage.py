"""Storage events: S3 object notifications (put, delete) and DynamoDB Streams records.

DynamoDB keys and images are plain Python values here, converted to DynamoDB's typed JSON
(``_ddb``); S3 keys are URL-encoded as S3 sends them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

from lambdalab.events._common import ACCOUNT_ID, REGION, iso_ms, time_or_now, utc_datetime

__all__ = [
    "check_attribute_value",
    "check_number",
    "dynamodb_stream",
    "item_size",
    "s3_delete",
    "s3_put",
    "to_attribute_value",
]


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
# DynamoDB's number limits: 38 significant digits, magnitude 1E-130 to 9.9999999999999999999999999999999999999E+125
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?")
_MAX_DIGITS, _MAX_ADJUSTED, _MIN_ADJUSTED = 38, 125, -130
MAX_DEPTH = 32  # DynamoDB nests maps and lists up to 32 levels
_INVALID = "One or more parameter values were invalid: "
_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}


def check_number(text: object) -> str:
    """``text`` if it is a number DynamoDB stores (``ValueError`` in DynamoDB's words otherwise); never converted
    to ``int`` or ``float``, so every digit is kept and a huge exponent costs nothing."""
    match = _NUMBER.fullmatch(text) if isinstance(text, str) else None
    if match is None or not isinstance(text, str):
        raise ValueError(f"The parameter cannot be converted to a numeric value: {text}")
    mantissa = text[: match.start(1) - 1] if match.group(1) is not None else text
    exponent_text = (match.group(1) or "0").lstrip("+-").lstrip("0") or "0"
    digits = mantissa.lstrip("+-").replace(".", "")
    significant = digits.lstrip("0").rstrip("0")
    if not significant:
        return text  # zero
    if len(significant) > _MAX_DIGITS:
        raise ValueError("Attempting to store more than 38 significant digits in a Number")
    negative_exponent = (match.group(1) or "").startswith("-")
    if len(exponent_text) > 9:  # far beyond the range either way
        adjusted = -(10**10) if negative_exponent else 10**10
    else:  # the power of ten of the first significant digit
        adjusted = Decimal(mantissa).adjusted() + (-1 if negative_exponent else 1) * int(exponent_text)
    if adjusted > _MAX_ADJUSTED:
        raise ValueError("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if adjusted < _MIN_ADJUSTED:
        raise ValueError("Number underflow. Attempting to store a number with magnitude smaller than supported range")
    return text


def _binary(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError(f"Invalid Base64 value for a binary attribute: {value[:64]!r}") from None
        return value
    raise ValueError(f"Invalid binary attribute value: {value!r}; expected base64 text or bytes")


def check_attribute_value(value: object, depth: int = 1) -> dict[str, Any]:
    """A DynamoDB AttributeValue as it arrives on the wire (``{"S": ...}``, ``{"N": "..."}``, ``{"B": base64}``,
    SS, NS, BS, M, L, NULL, BOOL), checked as DynamoDB checks it and returned unchanged (bytes in B/BS become
    base64 text, as they travel); ``ValueError`` in DynamoDB's words otherwise."""
    if depth > MAX_DEPTH:
        raise ValueError(f"Nesting Levels have exceeded supported limits: the maximum is {MAX_DEPTH}")
    if not isinstance(value, Mapping) or len(value) != 1:
        many = isinstance(value, Mapping) and len(value) > 1
        raise ValueError(
            "One or more parameter values were invalid: Supplied AttributeValue "
            + ("has more than one datatypes set" if many else "is empty")
            + ", must contain exactly one of the supported datatypes"
        )
    ((kind, inner),) = value.items()
    if kind == "S" and isinstance(inner, str):
        return {"S": inner}
    if kind == "N":
        return {"N": check_number(inner)}
    if kind == "B":
        return {"B": _binary(inner)}
    if kind == "BOOL" and isinstance(inner, bool):
        return {"BOOL": inner}
    if kind == "NULL":
        if inner is not True:
            raise ValueError(
                "One or more parameter values were invalid: Null attribute value types must have the value of true"
            )
        return {"NULL": True}
    if kind == "M" and isinstance(inner, Mapping) and all(isinstance(k, str) for k in inner):
        return {"M": {k: check_attribute_value(v, depth + 1) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, (list, tuple)):
        return {"L": [check_attribute_value(v, depth + 1) for v in inner]}
    if kind in _SET_NAMES and isinstance(inner, (list, tuple)):
        if not inner:
            raise ValueError(f"One or more parameter values were invalid: An {_SET_NAMES[kind]} set  may not be empty")
        if kind == "SS":
            if not all(isinstance(v, str) for v in inner):
                raise ValueError(f"Invalid string set: {list(inner)!r}; expected strings")
            members = list(inner)
            seen: list[object] = members
        elif kind == "NS":
            members = [check_number(v) for v in inner]
            seen = [Decimal(v) for v in members]
        else:
            members = [_binary(v) for v in inner]
            seen = [base64.b64decode(v) for v in members]
        if len(set(seen)) != len(seen):
            raise ValueError(
                f"One or more parameter values were invalid: Input collection {list(inner)!r} contains duplicates."
            )
        return {kind: members}
    raise ValueError(f"One or more parameter values were invalid: invalid AttributeValue {{{kind!r}: {inner!r:.80}}}")


def to_attribute_value(value: Any, depth: int = 1) -> dict[str, Any]:
    """A Python value as a DynamoDB AttributeValue, as boto3's serializer makes it: None NULL, bool BOOL, int,
    ``Decimal`` and finite float N (the digits kept as text), str S, bytes B, a mapping M, a list or tuple L, a
    set of strings SS, of numbers NS, of bytes BS. ``ValueError`` in DynamoDB's words for anything else."""
    if depth > MAX_DEPTH:
        raise ValueError(f"Nesting Levels have exceeded supported limits: the maximum is {MAX_DEPTH}")
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": _binary(value)}
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ValueError(f"invalid attribute names: {list(value)!r:.80}; expected strings")
        return {"M": {k: to_attribute_value(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, (set, frozenset)):
        if not value:
            raise ValueError("One or more parameter values were invalid: An set may not be empty")
        if all(isinstance(v, str) for v in value):
            return {"SS": sorted(value)}
        if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in value):
            return {"NS": [_number_text(v) for v in sorted(value)]}
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return {"BS": [_binary(v) for v in sorted(bytes(v) for v in value)]}
        raise ValueError(
            f"invalid set: {sorted(map(repr, value))!r:.80}; expected all strings, all numbers or all bytes"
        )
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute_value(v, depth + 1) for v in value]}
    raise ValueError(f"invalid attribute value: {value!r:.80} ({type(value).__name__}); no DynamoDB type holds it")


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        if value.bit_length() > 430:  # beyond 10**126: overflow, without writing out the digits
            raise ValueError("Number overflow. Attempting to store a number with magnitude larger than supported range")
        return check_number(str(value))
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"The parameter cannot be converted to a numeric value: {value}")
    return check_number(repr(value) if isinstance(value, float) else str(value))


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it against the 400 KB item limit (typed AttributeValues): attribute
    names' UTF-8 bytes plus each value (S: UTF-8 bytes, N: a byte per two significant digits plus one, B: its
    bytes, BOOL/NULL: 1, M/L: 3 plus their elements plus 1 per element, sets: their members)."""
    return sum(len(k.encode()) + _value_size(v) for k, v in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        significant = inner.split("e")[0].split("E")[0].lstrip("+-").replace(".", "").strip("0")
        return (len(significant) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "BS":
        return sum(len(base64.b64decode(v)) for v in inner)
    return sum(_value_size({"N": v}) for v in inner)  # NS


def _image(image: Mapping[str, Any], convert: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(image, Mapping) or not all(isinstance(k, str) for k in image):
        raise ValueError(f"invalid image: {image!r:.80}; expected a mapping of attribute names to values")
    return {k: convert(v) for k, v in image.items()}


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
    typed: bool = False,
) -> dict[str, Any]:
    """A DynamoDB Streams record: ``INSERT`` (new image), ``MODIFY`` (both) or ``REMOVE`` (old image).

    Keys and images are plain Python values, converted to DynamoDB's typed JSON (``to_attribute_value``), or
    with ``typed=True`` AttributeValue maps already (checked, passed on unchanged); the images sent follow
    ``view_type``. A missing (None) image defaults to the keys plus a ``Message`` attribute; an empty one
    stays empty. ``ValueError`` (DynamoDB's words) for a value DynamoDB would not store.
    """
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"invalid event_name: {event_name!r}; expected INSERT, MODIFY or REMOVE")
    if view_type not in _DDB_IMAGES:
        raise ValueError(f"invalid view_type: {view_type!r}; expected one of {', '.join(_DDB_IMAGES)}")
    at = time_or_now(time)
    convert = check_attribute_value if typed else to_attribute_value
    keys = dict(keys if keys is not None else {"Id": {"N": "101"} if typed else 101})
    message = {"S": "New item!"} if typed else "New item!", {"S": "Old item"} if typed else "Old item"
    images = {
        "NewImage": None
        if event_name == "REMOVE"
        else {**keys, "Message": message[0]}
        if new_image is None
        else new_image,
        "OldImage": None
        if event_name == "INSERT"
        else {**keys, "Message": message[1]}
        if old_image is None
        else old_image,
    }
    record: dict[str, Any] = {"ApproximateCreationDateTime": int(at), "Keys": _image(keys, convert)}
    for name in _DDB_IMAGES[view_type]:
        image = images[name]
        if image is not None:
            record[name] = _image(image, convert)
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
