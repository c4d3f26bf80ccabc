"""The on-failure destination's record for discarded stream records, in Lambda's shape.

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},   # only after an invocation
     "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
     "KinesisBatchInfo" | "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
         "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize", "streamArn"}}

As on Lambda, the records themselves are not in it: their shard and sequence numbers are. Kinesis writes the
arrival times to the millisecond, DynamoDB Streams to the second. Pure: ``now`` is an argument.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from lambdalab.streams.shards import StreamRecord


def iso(epoch_s: float, *, milliseconds: bool = True) -> str:
    at = datetime.datetime.fromtimestamp(epoch_s, datetime.UTC)
    if milliseconds:
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_record(
    *,
    info_key: str,
    stream_arn: str,
    function_arn: str,
    shard_id: str,
    records: Sequence[StreamRecord],
    condition: str,
    invokes: int,
    request_id: str | None,
    response: dict[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """One discarded span's record (``info_key``: ``KinesisBatchInfo`` or ``DDBStreamBatchInfo``)."""
    precise = info_key == "KinesisBatchInfo"
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
    }
    if response is not None:
        record["responseContext"] = dict(response)
    record["version"] = "1.0"
    record["timestamp"] = iso(now)
    record[info_key] = {
        "shardId": shard_id,
        "startSequenceNumber": records[0].sequence,
        "endSequenceNumber": records[-1].sequence,
        "approximateArrivalOfFirstRecord": iso(records[0].arrival, milliseconds=precise),
        "approximateArrivalOfLastRecord": iso(records[-1].arrival, milliseconds=precise),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    return record
