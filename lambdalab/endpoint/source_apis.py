"""Feeding the Lab's local sources with the AWS SDK: the few Kinesis, SQS and DynamoDB calls that put records in.

``POST /`` with an ``X-Amz-Target`` of ``Kinesis_20131202.PutRecord`` / ``PutRecords`` (JSON 1.1),
``AmazonSQS.GetQueueUrl`` / ``SendMessage`` / ``SendMessageBatch`` (SQS's JSON protocol, 1.0) or
``DynamoDB_20120810.PutItem`` / ``DeleteItem`` (JSON 1.0), as botocore's models define them, so a boto3
``kinesis``, ``sqs`` or ``dynamodb`` client pointed at the endpoint feeds ``lab.kinesis_stream``,
``lab.sqs_queue`` and ``lab.dynamodb_stream`` (a template's too) without a Python handle. A stream, queue or
table is one of the Lab's open sources (``lambdalab.streams.sources``): nothing else exists here, and any other
operation answers 400 ``UnknownOperationException``. Any other target goes on to the CloudWatch Logs subset
(``logs_api.handle``), which answers 501 for one it does not know either.

Errors are each service's: 400 and ``{"__type": ..., "message": ...}`` (SQS adds ``x-amzn-query-error``, from
which botocore takes the code its modelled exceptions use).

Rules: the sources' blocking calls run on the endpoint's worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab import events, streams
from lambdalab.endpoint import logs_api, wire
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

Params = dict[str, Any]


class ServiceError(Exception):
    def __init__(self, code: str, message: str, *, query_code: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.query_code = code, message, query_code


def _source(lab: Lab, kind: str, name: str | None, arn: str | None) -> Any:
    for source in streams.sources(lab):
        if str(source.arn).split(":")[2] != kind:
            continue
        if (arn and (source.arn == arn or str(source.arn).split("/stream/")[0] == arn)) or source.name == name:
            return source
    return None


def _blob(raw: Any, field: str) -> bytes:
    try:
        return base64.b64decode(str(raw), validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("SerializationException", f"{field} is not valid base64") from None


# -- Kinesis -----------------------------------------------------------------------------------------
def _stream(lab: Lab, params: Params) -> Any:
    name, arn = params.get("StreamName"), params.get("StreamARN")
    found = _source(lab, "kinesis", name, arn)
    if found is None:
        shown = name or str(arn).rsplit("/", 1)[-1]
        raise ServiceError(
            "ResourceNotFoundException", f"Stream {shown} under account {lab.settings.account_id} not found."
        )
    return found


def _put_record(lab: Lab, params: Params) -> Params:
    stream = _stream(lab, params)
    data = _blob(params.get("Data", ""), "Data")
    out = stream.put_record(data, str(params.get("PartitionKey", "")), explicit_hash_key=params.get("ExplicitHashKey"))
    return {"ShardId": out["ShardId"], "SequenceNumber": out["SequenceNumber"]}


def _put_records(lab: Lab, params: Params) -> Params:
    stream = _stream(lab, params)
    entries = params.get("Records") or []
    records = [
        {"Data": _blob(e.get("Data", ""), "Data"), "PartitionKey": str(e.get("PartitionKey", ""))}
        | ({"ExplicitHashKey": e["ExplicitHashKey"]} if e.get("ExplicitHashKey") else {})
        for e in entries
    ]
    put = stream.put_records(records)
    return {
        "FailedRecordCount": 0,
        "Records": [{"SequenceNumber": r["SequenceNumber"], "ShardId": r["ShardId"]} for r in put],
    }


# -- SQS -------------------------------------------------------------------------------------------
_NO_QUEUE = ("QueueDoesNotExist", "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue")


def _queue(lab: Lab, params: Params) -> Any:
    name = str(params.get("QueueUrl") or params.get("QueueName") or "").rstrip("/").rsplit("/", 1)[-1]
    found = _source(lab, "sqs", name, None)
    if found is None:
        code, message, query = _NO_QUEUE
        raise ServiceError(code, message, query_code=query)
    return found


def _attributes(raw: Any) -> dict[str, Any]:
    """SendMessage's ``MessageAttributes`` in the shape the local queue (and Lambda's record) carries them."""
    out: dict[str, Any] = {}
    for name, attr in (raw or {}).items():
        kind = str(attr.get("DataType", "String"))
        if "BinaryValue" in attr:
            out[name] = {"binaryValue": attr["BinaryValue"], "dataType": kind}
        else:
            out[name] = {"stringValue": str(attr.get("StringValue", "")), "dataType": kind}
    return out


def _sent(queue: Any, body: Any, attributes: Any) -> Params:
    if not isinstance(body, str) or not body:
        raise ServiceError("InvalidParameterValue", "The request must contain the parameter MessageBody.")
    shaped = _attributes(attributes)
    message_id = queue.send(body, message_attributes=shaped)
    out = {"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(), "MessageId": message_id}
    if shaped:
        out["MD5OfMessageAttributes"] = events.sqs_record(body, message_attributes=shaped)["md5OfMessageAttributes"]
    return out


def _get_queue_url(lab: Lab, params: Params) -> Params:
    queue = _queue(lab, params)
    return {"QueueUrl": f"https://sqs.{lab.settings.region}.amazonaws.com/{lab.settings.account_id}/{queue.name}"}


def _send_message(lab: Lab, params: Params) -> Params:
    return _sent(_queue(lab, params), params.get("MessageBody"), params.get("MessageAttributes"))


def _send_message_batch(lab: Lab, params: Params) -> Params:
    queue = _queue(lab, params)
    entries = params.get("Entries") or []
    if not entries:
        raise ServiceError(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
            query_code="AWS.SimpleQueueService.EmptyBatchRequest",
        )
    if len(entries) > 10:
        raise ServiceError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are 10. You have sent {len(entries)}.",
            query_code="AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        )
    ids = [e.get("Id") for e in entries]
    if len(set(ids)) != len(ids):
        raise ServiceError(
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
            query_code="AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        )
    done = [{"Id": e["Id"], **_sent(queue, e.get("MessageBody"), e.get("MessageAttributes"))} for e in entries]
    return {"Successful": done, "Failed": []}


# -- DynamoDB ----------------------------------------------------------------------------------------
def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def _plain(value: Any) -> Any:
    """A DynamoDB AttributeValue as the Python value ``lab.dynamodb_stream`` takes."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ServiceError("ValidationException", f"Supplied AttributeValue is not valid: {value!r}")
    ((kind, raw),) = value.items()
    readers: dict[str, Callable[[Any], Any]] = {
        "S": str,
        "N": _number,
        "B": lambda r: _blob(r, "B"),
        "BOOL": bool,
        "NULL": lambda r: None,
        "M": lambda r: {k: _plain(v) for k, v in r.items()},
        "L": lambda r: [_plain(v) for v in r],
        "SS": set,
        "NS": lambda r: {_number(v) for v in r},
        "BS": lambda r: {_blob(v, "BS") for v in r},
    }
    if kind not in readers:
        raise ServiceError("ValidationException", f"Supplied AttributeValue has an unknown type: {kind}")
    return readers[kind](raw)


def _table(lab: Lab, params: Params) -> Any:
    name = str(params.get("TableName") or "")
    found = _source(lab, "dynamodb", name, name if name.startswith("arn:") else None)
    if found is None:
        raise ServiceError("ResourceNotFoundException", "Requested resource not found")
    return found


def _put_item(lab: Lab, params: Params) -> Params:
    table = _table(lab, params)
    table.put_item({k: _plain(v) for k, v in (params.get("Item") or {}).items()})
    return {}


def _delete_item(lab: Lab, params: Params) -> Params:
    table = _table(lab, params)
    table.remove_item({k: _plain(v) for k, v in (params.get("Key") or {}).items()})
    return {}


# -- dispatch ----------------------------------------------------------------------------------------
Operation = Callable[["Lab", Params], Params]
SERVICES: dict[str, tuple[str, str, dict[str, Operation]]] = {
    # target prefix: (service, content type, operations)
    "Kinesis_20131202.": (
        "kinesis",
        "application/x-amz-json-1.1",
        {"PutRecord": _put_record, "PutRecords": _put_records},
    ),
    "AmazonSQS.": (
        "sqs",
        "application/x-amz-json-1.0",
        {"GetQueueUrl": _get_queue_url, "SendMessage": _send_message, "SendMessageBatch": _send_message_batch},
    ),
    "DynamoDB_20120810.": (
        "dynamodb",
        "application/x-amz-json-1.0",
        {"PutItem": _put_item, "DeleteItem": _delete_item},
    ),
}


def _reply(data: Params, content_type: str, status: int = 200, query_code: str | None = None) -> web.Response:
    headers = {"Content-Type": content_type, "x-amzn-RequestId": wire.new_request_id()}
    if query_code:
        headers["x-amzn-query-error"] = f"{query_code};Sender"
    return web.Response(status=status, body=json.dumps(data).encode(), headers=headers)


async def handle(endpoint: Endpoint, request: web.Request) -> web.Response:
    target = request.headers.get("X-Amz-Target", "")
    prefix = next((p for p in SERVICES if target.startswith(p)), None)
    if prefix is None:
        return await logs_api.handle(endpoint, request)
    service, content_type, operations = SERVICES[prefix]
    name = target[len(prefix) :]
    try:
        operation = operations.get(name)
        if operation is None:
            raise ServiceError(
                "UnknownOperationException",
                f"lambdalab's endpoint serves {', '.join(operations)} of {service} to feed local sources, not {name}",
            )
        raw = await endpoint.read_body(request, lambda: ValueError("the request body is over the endpoint's limit"))
        try:
            params = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise ServiceError("SerializationException", "The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object")
        return _reply(await endpoint.blocking(operation, endpoint.lab, params), content_type)
    except ServiceError as exc:
        shown = f"com.amazonaws.sqs#{exc.code}" if service == "sqs" else exc.code
        return _reply({"__type": shown, "message": exc.message}, content_type, 400, exc.query_code)
    except LambdaLabError as exc:  # a closed source, a record the source refuses (ConfigError)
        code = "InvalidParameterValue" if service == "sqs" else "ValidationException"
        if service == "kinesis":
            code = "InvalidArgumentException"
        return _reply({"__type": code, "message": str(exc)}, content_type, 400)


ROUTES = [("POST", "/", handle)]
