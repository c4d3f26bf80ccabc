"""Stream event sources: Kinesis data streams and DynamoDB Streams, read by Lambda event source mappings.

    stream = lab.kinesis_stream("clicks", fn, shards=2, bisect_batch_on_function_error=True)
    table = lab.dynamodb_stream("orders", fn, report_batch_item_failures=True)
    lambdalab.streams.sources(lab)      # every open SQS queue and stream mapping of the Lab

Where things are: ``shards.py`` (shard logs, routing by partition key, sequence numbers), ``settings.py``
(the mapping's settings, checked as Lambda checks them), ``cursor.py`` (the poller's rules, pure: batches,
windows, retries, bisect, checkpoints, record age), ``mapping.py`` (the poller on the Lab's loop, shared by
both kinds), ``destination.py`` (the on-failure record), ``kinesis.py`` and ``dynamodb.py``.
The Lab makes them (``Lab.kinesis_stream``, ``Lab.dynamodb_stream``) and closes them with itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lambdalab.streams.dynamodb import DynamoDBStream
from lambdalab.streams.kinesis import KinesisStream
from lambdalab.streams.mapping import StreamMapping, StreamTimeoutError

if TYPE_CHECKING:
    from lambdalab.api import Lab

__all__ = ["DynamoDBStream", "EventSource", "KinesisStream", "StreamMapping", "StreamTimeoutError", "sources"]


@runtime_checkable
class EventSource(Protocol):
    """What an event source mapping of a Lab offers: ``lambdalab.sqs.SqsQueue`` and the stream mappings here."""

    arn: str
    uuid: str
    function: str
    closed: bool

    @property
    def qualifier(self) -> str | None: ...

    def settings(self) -> dict[str, Any]: ...

    def update(self, **options: Any) -> None: ...

    def close(self) -> None: ...


def sources(lab: Lab) -> list[EventSource]:
    """Every open event source of ``lab`` (``SqsQueue``, ``KinesisStream``, ``DynamoDBStream``), oldest first;
    each has ``arn``, ``uuid``, ``function``, ``qualifier``, ``settings()`` and ``update()``."""
    return [item for item in lab.attached if isinstance(item, EventSource) and not item.closed]
