"""A local Kinesis data stream with a Lambda event source mapping: ``lab.kinesis_stream(...)``.

    stream = lab.kinesis_stream("clicks", fn, shards=2, batch_size=10, bisect_batch_on_function_error=True,
                                maximum_retry_attempts=2)
    stream.put_record({"user": 1}, "user-1"); stream.wait_until_processed(timeout_s=30); stream.failures()

A record goes to the shard whose hash key range holds the MD5 of its partition key (or its explicit hash
key), with the next sequence number (56 digits) and its arrival time; the event is Lambda's Kinesis record
(``lambdalab.events.kinesis``: ``kinesis.data`` base64, ``eventID`` ``shardId-...:sequence``,
``eventSourceARN``). Limits kept: a record's data and partition key up to 1 MiB, the key 1-256 characters,
``put_records`` up to 500 records. Everything else (batches, retries, bisect, failures) is ``mapping.py``'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lambdalab import events
from lambdalab.errors import ConfigError
from lambdalab.streams import settings as checks
from lambdalab.streams.mapping import StreamMapping
from lambdalab.streams.shards import (
    KINESIS_SEQUENCE_BASE,
    NAME,
    Sequencer,
    StreamRecord,
    event_size,
    hash_key,
    make_shards,
    route,
)

if TYPE_CHECKING:
    from lambdalab.api import Lab

MAX_RECORD_BYTES = 1024 * 1024
MAX_PUT_RECORDS = 500
MAX_SHARDS = 100  # lambdalab's bound (an account's default shard quota is 500 or more)


def _data_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    return data.encode() if isinstance(data, str) else json.dumps(data).encode()


class KinesisStream(StreamMapping):
    """A Kinesis data stream in a Lab, read by an event source mapping that invokes ``function``."""

    kind = "kinesis"
    info_key = "KinesisBatchInfo"

    def __init__(self, lab: Lab, name: str, function: str, *, shards: int = 1, **options: Any) -> None:
        if not (isinstance(name, str) and 0 < len(name) <= 128 and NAME.fullmatch(name)):
            raise ConfigError(f"invalid name: {name!r}; expected 1-128 ASCII letters, digits, '_', '.' or '-'")
        if not (isinstance(shards, int) and not isinstance(shards, bool) and 1 <= shards <= MAX_SHARDS):
            raise ConfigError(f"invalid shards: {shards!r}; expected 1 to {MAX_SHARDS}")
        settings = checks.make(self.kind, options)
        region, account = lab.settings.region, lab.settings.account_id
        arn = f"arn:aws:kinesis:{region}:{account}:stream/{name}"
        self._sequences = Sequencer(KINESIS_SEQUENCE_BASE)
        super().__init__(lab, name, function, arn, make_shards([f"shardId-{i:012d}" for i in range(shards)]), settings)

    def put_record(self, data: Any, partition_key: str, *, explicit_hash_key: str | None = None) -> dict[str, str]:
        """Put one record (``data``: bytes, str, or JSON for other values); returns its ``ShardId`` and
        ``SequenceNumber``, as PutRecord does."""
        return self.put_records([{"Data": data, "PartitionKey": partition_key, "ExplicitHashKey": explicit_hash_key}])[
            0
        ]

    def put_records(self, records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
        """Put records (each ``{"Data": ..., "PartitionKey": ..., "ExplicitHashKey": ...}``) in order; returns
        each one's ``ShardId`` and ``SequenceNumber``, as PutRecords does."""
        entries = list(records)
        if not 1 <= len(entries) <= MAX_PUT_RECORDS:
            raise ConfigError(f"invalid records: {len(entries)} records; expected 1 to {MAX_PUT_RECORDS}")
        checked = [self._check(entry) for entry in entries]
        return self._on_loop(self._put, checked)

    def _check(self, entry: Mapping[str, Any]) -> tuple[bytes, str, int]:
        key = entry.get("PartitionKey")
        if not (isinstance(key, str) and 1 <= len(key) <= 256):
            raise ConfigError(f"invalid partition_key: {key!r}; expected 1 to 256 characters")
        data = _data_bytes(entry.get("Data"))
        if len(data) + len(key.encode()) > MAX_RECORD_BYTES:
            raise ConfigError(f"invalid data: {len(data)} bytes with its partition key; expected at most 1 MiB")
        return data, key, hash_key(key, entry.get("ExplicitHashKey"))

    def _put(self, checked: list[tuple[bytes, str, int]]) -> list[dict[str, str]]:
        self._check_open()
        region, account = self._lab.settings.region, self._lab.settings.account_id
        answers, accepted = [], []
        for data, key, routed in checked:
            shard = route(self._shards, routed)
            sequence, arrival = self._sequences.next(), time.time()
            (event,) = events.kinesis(
                [data], stream=self.name, partition_key=key, shard_id=shard.id, account_id=account, region=region,
                time=arrival,
            )["Records"]  # fmt: skip
            event["kinesis"]["sequenceNumber"] = sequence
            event["eventID"] = f"{shard.id}:{sequence}"
            accepted.append((shard, StreamRecord(sequence, arrival, event, event_size(event))))
            answers.append({"ShardId": shard.id, "SequenceNumber": sequence})
        self._accept(accepted)
        return answers
