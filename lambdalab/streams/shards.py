"""Ordered shard logs: a stream's records in sequence order, and how a record finds its shard.

Kinesis routes a record by the MD5 of its partition key, read as a 128-bit number (or by its explicit hash
key), to the shard whose hash key range holds it; the shards of a new stream split the range evenly.
Sequence numbers only grow within a stream, so they grow within each shard; they are decimal strings of one
length (56 digits for Kinesis, 21 for DynamoDB Streams), so comparing them as numbers or as text agrees.

Rules: pure (no clock, no loop): the caller passes arrival times in. A shard keeps every record put to it
(a stream's retention is not modelled), so a mapping's checkpoint is an index into ``Shard.records``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from typing import Any

from lambdalab.errors import ConfigError

HASH_SPACE = 2**128
_HASH_KEY = re.compile(r"0|[1-9][0-9]{0,38}")  # Kinesis's HashKey pattern, ASCII digits
NAME = re.compile(r"[a-zA-Z0-9_.-]+")  # Kinesis stream and DynamoDB table names (ASCII)
KINESIS_SEQUENCE_BASE = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000  # 56 digits
DYNAMODB_SEQUENCE_BASE = 100_000_000_000_000_000_000  # 21 digits


@dataclasses.dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record in a shard: its sequence number, when it arrived, and the record as Lambda delivers it."""

    sequence: str
    arrival: float  # epoch seconds (Kinesis's approximateArrivalTimestamp)
    event: dict[str, Any]  # one element of the event's "Records"
    size: int  # bytes it adds to an invocation's payload


@dataclasses.dataclass
class Shard:
    """One shard: its id, the hash key range it owns, and its records in sequence order."""

    id: str
    start_hash: int
    end_hash: int
    records: list[StreamRecord] = dataclasses.field(default_factory=list)

    def owns(self, hash_key: int) -> bool:
        return self.start_hash <= hash_key <= self.end_hash

    def first_at_or_after(self, epoch_s: float) -> int:
        """The index of the first record that arrived at ``epoch_s`` or later (``len(records)``: none yet)."""
        return next((i for i, r in enumerate(self.records) if r.arrival >= epoch_s), len(self.records))


def encode_batch(events: list[dict[str, Any]]) -> bytes:
    """An invocation's payload for a batch: ``{"Records": [...]}``, as the mapping sends it (ASCII JSON)."""
    return json.dumps({"Records": events}).encode()


def event_size(event: dict[str, Any]) -> int:
    """The bytes one record adds to ``encode_batch``'s payload (without the separator before it)."""
    return len(json.dumps(event).encode())


BATCH_ENVELOPE = len(encode_batch([]))  # {"Records": []}
BATCH_SEPARATOR = len(encode_batch([{}, {}])) - BATCH_ENVELOPE - 2 * event_size({})  # ", " between records


def batch_size_bytes(sizes: list[int]) -> int:
    """``len(encode_batch(events))`` from the events' ``event_size``s, exactly."""
    return BATCH_ENVELOPE + sum(sizes) + BATCH_SEPARATOR * max(0, len(sizes) - 1)


def make_shards(ids: list[str]) -> list[Shard]:
    """Shards with the given ids splitting the 128-bit hash key range evenly, in order."""
    width = HASH_SPACE // len(ids)
    shards = []
    for i, shard_id in enumerate(ids):
        end = HASH_SPACE - 1 if i == len(ids) - 1 else (i + 1) * width - 1
        shards.append(Shard(shard_id, i * width, end))
    return shards


def hash_key(partition_key: str, explicit_hash_key: str | None = None) -> int:
    """The 128-bit hash key Kinesis routes by: the explicit one (a decimal string) or the MD5 of the partition key."""
    if explicit_hash_key is not None:
        if not (isinstance(explicit_hash_key, str) and _HASH_KEY.fullmatch(explicit_hash_key)):
            raise ConfigError(f"invalid explicit_hash_key: {explicit_hash_key!r}; expected a decimal number 0 to "
                              "2**128 - 1 (ASCII digits, no leading zeros)")  # fmt: skip
        value = int(explicit_hash_key)
        if value >= HASH_SPACE:
            raise ConfigError(f"invalid explicit_hash_key: {explicit_hash_key!r}; expected 0 to 2**128 - 1")
        return value
    return int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest(), "big")


def route(shards: list[Shard], key: int) -> Shard:
    """The shard whose hash key range holds ``key``."""
    return next(s for s in shards if s.owns(key))


class Sequencer:
    """A stream's sequence numbers: ``base + n`` for n = 1, 2, ..., as decimal strings of one length."""

    def __init__(self, base: int) -> None:
        self._base, self._count = base, itertools.count(1)

    def next(self) -> str:
        return str(self._base + next(self._count))
