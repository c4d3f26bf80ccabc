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
which botocore takes the code its modelled exceptions use). A request of the wrong shape (a string where a list
belongs, what botocore's serializer never sends) is each service's ``SerializationException`` (SQS:
``InvalidParameterValue``), a body over the endpoint's limit a 413 in the same shape: never a 500. SQS messages
are at most 1 MiB (1,048,576 bytes: body, attribute names, types and values), a batch too. DynamoDB items are
checked and kept as DynamoDB keeps them (``attribute_values.py``) and handed to the table's stream as typed JSON
(``put_typed_item`` / ``delete_typed_item``), so the images carry exactly what DynamoDB would store.

Rules: the sources' blocking calls run on the endpoint's worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab import events, lineage, streams
from lambdalab.endpoint import attribute_values, logs_api, recursion, wire
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

Params = dict[str, Any]
SQS_MAX_MESSAGE_BYTES = 1_048_576  # SendMessage's MessageBody and attributes; SendMessageBatch's entries together
SQS_MAX_ATTRIBUTES = 10


class ServiceError(Exception):
    def __init__(self, code: str, message: str, *, query_code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.query_code, self.status = code, message, query_code, status


def _source(lab: Lab, kind: str, name: str | None, arn: str | None) -> Any:
    for source in streams.sources(lab):
        if str(source.arn).split(":")[2] != kind:
            continue
        if (arn and (source.arn == arn or str(source.arn).split("/stream/")[0] == arn)) or getattr(
            source, "name", None
        ) == name:
            return source
    return None


def _blob(raw: Any, field: str) -> bytes:
    if not isinstance(raw, str):
        raise ServiceError("SerializationException", f"{field} must be a base64 string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("SerializationException", f"{field} is not valid base64") from None


def _text(params: Params, field: str, *, default: str | None = None) -> str | None:
    """A string field (absent: ``default``); ``SerializationException`` for another JSON type."""
    raw = params.get(field)
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise ServiceError("SerializationException", f"{field} must be a string")
    return raw


# -- Kinesis -----------------------------------------------------------------------------------------
def _stream(lab: Lab, params: Params) -> Any:
    name, arn = _text(params, "StreamName"), _text(params, "StreamARN")
    found = _source(lab, "kinesis", name, arn)
    if found is None:
        shown = name or str(arn).rsplit("/", 1)[-1]
        raise ServiceError(
            "ResourceNotFoundException", f"Stream {shown} under account {lab.settings.account_id} not found."
        )
    return found


def _put_record(lab: Lab, params: Params) -> Params:
    stream = _stream(lab, params)
    record = _record(params)
    out = stream.put_record(record["Data"], record["PartitionKey"], explicit_hash_key=record.get("ExplicitHashKey"))
    return {"ShardId": out["ShardId"], "SequenceNumber": out["SequenceNumber"]}


def _record(entry: Any) -> Params:
    """One PutRecord(s) entry as the stream takes it (``SerializationException`` for JSON of another shape)."""
    if not isinstance(entry, dict):
        raise ServiceError("SerializationException", "Each entry of Records must be a JSON object")
    out: Params = {
        "Data": _blob(entry.get("Data", ""), "Data"),
        "PartitionKey": _text(entry, "PartitionKey", default=""),
    }
    hash_key = _text(entry, "ExplicitHashKey")
    if hash_key:
        out["ExplicitHashKey"] = hash_key
    return out


def _put_records(lab: Lab, params: Params) -> Params:
    stream = _stream(lab, params)
    entries = params.get("Records")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ServiceError("SerializationException", "Records must be a JSON array")
    records = [_record(e) for e in entries]
    put = stream.put_records(records)
    return {
        "FailedRecordCount": 0,
        "Records": [{"SequenceNumber": r["SequenceNumber"], "ShardId": r["ShardId"]} for r in put],
    }


# -- SQS -------------------------------------------------------------------------------------------
_NO_QUEUE = ("QueueDoesNotExist", "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue")


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, query_code="InvalidParameterValue")


def _queue(lab: Lab, params: Params) -> Any:
    raw = params.get("QueueUrl") or params.get("QueueName") or ""
    if not isinstance(raw, str):
        raise _invalid("QueueUrl must be a string")
    name = raw.rstrip("/").rsplit("/", 1)[-1]
    found = _source(lab, "sqs", name, None)
    if found is None:
        code, message, query = _NO_QUEUE
        raise ServiceError(code, message, query_code=query)
    return found


def _attributes(raw: Any) -> tuple[dict[str, Any], int]:
    """SendMessage's ``MessageAttributes`` in the shape the local queue (and Lambda's record) carries them, and
    their size as SQS counts it (names, types and values)."""
    if raw is None:
        return {}, 0
    if not isinstance(raw, dict):
        raise _invalid("MessageAttributes must be a map of attribute names to MessageAttributeValue objects")
    if len(raw) > SQS_MAX_ATTRIBUTES:
        raise _invalid(f"Number of message attributes [{len(raw)}] exceeds the allowed maximum [{SQS_MAX_ATTRIBUTES}].")
    out: dict[str, Any] = {}
    size = 0
    for name, attr in raw.items():
        if not isinstance(attr, dict):
            raise _invalid(f"The message attribute '{name}' must be a MessageAttributeValue object.")
        kind = attr.get("DataType")
        if not isinstance(kind, str) or not kind:
            raise _invalid(f"The message attribute '{name}' must contain non-empty message attribute type.")
        if attr.get("BinaryValue") is not None:
            size += len(_blob(attr["BinaryValue"], f"MessageAttributes.{name}.BinaryValue"))
            out[name] = {"binaryValue": attr["BinaryValue"], "dataType": kind}
        else:
            text = attr.get("StringValue")
            if not isinstance(text, str) or not text:
                raise _invalid(
                    f"The message attribute '{name}' must contain non-empty message attribute value for message "
                    f"attribute type '{kind}'."
                )
            size += len(text.encode("utf-8", "surrogatepass"))
            out[name] = {"stringValue": text, "dataType": kind}
        size += len(name.encode("utf-8", "surrogatepass")) + len(kind.encode("utf-8", "surrogatepass"))
    return out, size


def _message(body: Any, attributes: Any) -> tuple[str, dict[str, Any], int]:
    """(body, attributes, size) of one message, checked as SQS checks it (1 MiB at most)."""
    if not isinstance(body, str) or not body:
        raise ServiceError("InvalidParameterValue", "The request must contain the parameter MessageBody.")
    shaped, size = _attributes(attributes)
    size += len(body.encode("utf-8", "surrogatepass"))
    if size > SQS_MAX_MESSAGE_BYTES:
        raise _invalid(
            f"One or more parameters are invalid. Reason: Message must be shorter than {SQS_MAX_MESSAGE_BYTES} bytes."
        )
    return body, shaped, size


def _sent(queue: Any, body: str, shaped: dict[str, Any], trace: str | None = None) -> Params:
    message_id = queue.send(body, message_attributes=shaped, trace_header=trace)
    out = {"MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(), "MessageId": message_id}
    if shaped:
        out["MD5OfMessageAttributes"] = events.sqs_record(body, message_attributes=shaped)["md5OfMessageAttributes"]
    return out


def _get_queue_url(lab: Lab, params: Params) -> Params:
    queue = _queue(lab, params)
    return {"QueueUrl": f"https://sqs.{lab.settings.region}.amazonaws.com/{lab.settings.account_id}/{queue.name}"}


def _send_message(lab: Lab, params: Params) -> Params:
    queue = _queue(lab, params)
    body, shaped, _ = _message(params.get("MessageBody"), params.get("MessageAttributes"))
    return _sent(queue, body, shaped, recursion.message_trace(params))


def _send_message_batch(lab: Lab, params: Params) -> Params:
    queue = _queue(lab, params)
    entries = params.get("Entries") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _invalid("Entries must be a list of SendMessageBatchRequestEntry objects")
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
    if not all(isinstance(i, str) and i for i in ids):
        raise _invalid("Each SendMessageBatchRequestEntry must have an Id (a string).")
    if len(set(ids)) != len(ids):
        raise ServiceError(
            "BatchEntryIdsNotDistinct",
            "Two or more batch entries in the request have the same Id.",
            query_code="AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        )
    messages = [_message(e.get("MessageBody"), e.get("MessageAttributes")) for e in entries]
    total = sum(size for _, _, size in messages)
    if total > SQS_MAX_MESSAGE_BYTES:
        raise ServiceError(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {SQS_MAX_MESSAGE_BYTES} bytes. You have sent {total} bytes.",
            query_code="AWS.SimpleQueueService.BatchRequestTooLong",
        )
    done = [
        {"Id": e["Id"], **_sent(queue, body, shaped, recursion.message_trace(e))}
        for e, (body, shaped, _) in zip(entries, messages, strict=True)
    ]
    return {"Successful": done, "Failed": []}


# -- DynamoDB ----------------------------------------------------------------------------------------
def _typed(raw: Any) -> Params:
    """An ``Item`` or ``Key`` as DynamoDB keeps it (``attribute_values``); its refusals as DynamoDB's."""
    try:
        return attribute_values.item(raw)
    except attribute_values.ItemError as exc:
        raise ServiceError(exc.code, exc.message) from None


def _return_values(params: Params) -> str:
    chosen = _text(params, "ReturnValues", default="NONE") or "NONE"
    if chosen not in ("NONE", "ALL_OLD"):
        raise ServiceError(
            "ValidationException",
            f"Return values set to invalid value: {chosen[:32]} (PutItem and DeleteItem: NONE or ALL_OLD)",
        )
    return chosen


def _table(lab: Lab, params: Params) -> Any:
    name = _text(params, "TableName", default="") or ""
    found = _source(lab, "dynamodb", name, name if name.startswith("arn:") else None)
    if found is None:
        raise ServiceError("ResourceNotFoundException", "Requested resource not found")
    return found


def _put_item(lab: Lab, params: Params) -> Params:
    table = _table(lab, params)
    return dict(table.put_typed_item(_typed(params.get("Item")), return_values=_return_values(params)))


def _delete_item(lab: Lab, params: Params) -> Params:
    table = _table(lab, params)
    return dict(table.delete_typed_item(_typed(params.get("Key")), return_values=_return_values(params)))


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
        try:
            raw = await endpoint.read_body(request, lambda: ValueError("the request body is over the endpoint's limit"))
        except wire.ApiError as exc:  # too large, or too slow: in the service's shape, not Lambda's
            raise ServiceError(
                _CODES[service], f"lambdalab: {exc.message}", status=413 if exc.status == 400 else exc.status
            ) from None
        try:
            params = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            raise ServiceError("SerializationException", "The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object")
        if service == "sqs":  # the sender's lineage goes with its messages (recursive loop detection)
            recursion.with_trace_header(params, request.headers.get(lineage.TRACE_HEADER))
        return _reply(await endpoint.blocking(operation, endpoint.lab, params), content_type)
    except ServiceError as exc:
        shown = f"com.amazonaws.sqs#{exc.code}" if service == "sqs" else exc.code
        return _reply({"__type": shown, "message": exc.message}, content_type, exc.status, exc.query_code)
    except LambdaLabError as exc:  # a closed source, a record the source refuses (ConfigError)
        return _reply({"__type": _CODES[service], "message": str(exc)}, content_type, 400)


# a value the service refuses
_CODES = {"kinesis": "InvalidArgumentException", "sqs": "InvalidParameterValue", "dynamodb": "ValidationException"}


ROUTES = [("POST", "/", handle)]
