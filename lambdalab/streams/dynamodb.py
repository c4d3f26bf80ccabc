"""A local DynamoDB table's stream with a Lambda event source mapping: ``lab.dynamodb_stream(...)``.

    table = lab.dynamodb_stream("orders", fn, key_attributes=("id",), report_batch_item_failures=True)
    table.put_item({"id": 1, "state": "new"})        # INSERT (a MODIFY when it replaces an item, nothing if equal)
    table.remove_item({"id": 1})                     # REMOVE (nothing if there is no such item)
    table.record("MODIFY", {"id": 2}, new_image={...}, old_image={...})   # any stream record, as given

The table remembers its items (so ``put_item`` knows INSERT from MODIFY and has the old image) by the
values of ``key_attributes`` (the table's key schema: partition key, and sort key if any). A record's shard
follows the MD5 of its key, so one item's records stay in order; sequence numbers are 21 digits. The images
sent follow ``stream_view_type``. The event is Lambda's DynamoDB Streams record
(``lambdalab.events.dynamodb_stream``), with this stream's ARN (``.../stream/<label>``: the time the stream
was made, or ``stream_label``, so an ARN given elsewhere, such as a template's, is kept). Batches, retries,
bisect and failures are ``mapping.py``'s; DynamoDB's starting positions are TRIM_HORIZON and LATEST.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdalab import events
from lambdalab.errors import ConfigError
from lambdalab.streams import settings as checks
from lambdalab.streams.mapping import StreamMapping
from lambdalab.streams.shards import DYNAMODB_SEQUENCE_BASE, Sequencer, StreamRecord, hash_key, make_shards, route

if TYPE_CHECKING:
    from lambdalab.api import Lab

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
MAX_SHARDS = 100


class DynamoDBStream(StreamMapping):
    """A DynamoDB table's stream in a Lab, read by an event source mapping that invokes ``function``."""

    kind = "dynamodb"
    info_key = "DDBStreamBatchInfo"

    def __init__(
        self,
        lab: Lab,
        table: str,
        function: str,
        *,
        shards: int = 1,
        stream_view_type: str = "NEW_AND_OLD_IMAGES",
        key_attributes: Sequence[str] = ("id",),
        stream_label: str | None = None,
        **options: Any,
    ) -> None:
        if not (isinstance(table, str) and 3 <= len(table) <= 255 and all(c.isalnum() or c in "_.-" for c in table)):
            raise ConfigError(f"invalid table: {table!r}; expected 3-255 letters, digits, '_', '.' or '-'")
        if not (isinstance(shards, int) and not isinstance(shards, bool) and 1 <= shards <= MAX_SHARDS):
            raise ConfigError(f"invalid shards: {shards!r}; expected 1 to {MAX_SHARDS}")
        if stream_view_type not in VIEW_TYPES:
            raise ConfigError(
                f"invalid stream_view_type: {stream_view_type!r}; expected one of {', '.join(VIEW_TYPES)}"
            )
        keys = (key_attributes,) if isinstance(key_attributes, str) else tuple(key_attributes)
        if not (1 <= len(keys) <= 2 and all(isinstance(k, str) and k for k in keys)):
            raise ConfigError(f"invalid key_attributes: {key_attributes!r}; expected a partition key and a sort key")
        settings = checks.make(self.kind, options)
        made = time.time()
        stamp = datetime.datetime.fromtimestamp(made, datetime.UTC)
        label = stream_label or stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"
        if not isinstance(label, str) or not 1 <= len(label) <= 64 or "/" in label:
            raise ConfigError(f"invalid stream_label: {stream_label!r}; expected up to 64 characters, no '/'")
        region, account = lab.settings.region, lab.settings.account_id
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"
        self.table, self.stream_view_type, self.key_attributes = table, stream_view_type, keys
        self._items: dict[str, dict[str, Any]] = {}
        self._sequences = Sequencer(DYNAMODB_SEQUENCE_BASE)
        ids = [f"shardId-{int(made * 1000):020d}-{os.urandom(4).hex()}" for _ in range(shards)]
        super().__init__(lab, table, function, arn, make_shards(ids), settings)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "stream_view_type": self.stream_view_type, "key_attributes": self.key_attributes,
                "stream_label": self.arn.rsplit("/", 1)[1]}  # fmt: skip

    def put_item(self, item: Mapping[str, Any]) -> dict[str, str] | None:
        """Write ``item``: an INSERT record, or MODIFY (with the old image) when it replaces one; None when it
        changes nothing (DynamoDB writes no record then). Returns the record's ``eventName``, ``ShardId`` and
        ``SequenceNumber``."""
        keys = self._keys(item)
        return self._on_loop(self._put, keys, copy.deepcopy(dict(item)))

    def remove_item(self, keys: Mapping[str, Any]) -> dict[str, str] | None:
        """Delete the item with ``keys``: a REMOVE record with its old image; None if there is no such item."""
        return self._on_loop(self._remove, self._keys(keys))

    def record(
        self,
        event_name: str,
        keys: Mapping[str, Any],
        new_image: Mapping[str, Any] | None = None,
        old_image: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Append a stream record as given (the table's items are not changed): ``event_name`` INSERT, MODIFY or
        REMOVE; a missing image is the keys alone."""
        if event_name not in EVENT_NAMES:
            raise ConfigError(f"invalid event_name: {event_name!r}; expected INSERT, MODIFY or REMOVE")
        plain = dict(keys)
        new = None if event_name == "REMOVE" else dict(new_image) if new_image is not None else plain
        old = None if event_name == "INSERT" else dict(old_image) if old_image is not None else plain
        return self._on_loop(self._append, event_name, plain, new, old)

    def items(self) -> list[dict[str, Any]]:
        """The table's items now, in the order first written."""
        return self._on_loop(lambda: [dict(i) for i in self._items.values()])

    def _keys(self, item: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise ConfigError(f"invalid item: {item!r}; expected a mapping of attribute names to values")
        missing = [k for k in self.key_attributes if k not in item]
        if missing:
            raise ConfigError(f"invalid item: it has no {missing[0]!r} (the table's key attributes are "
                              f"{list(self.key_attributes)})")  # fmt: skip
        return {k: item[k] for k in self.key_attributes}

    def _put(self, keys: dict[str, Any], item: dict[str, Any]) -> dict[str, str] | None:
        self._check_open()
        name = _key_text(keys)
        old = self._items.get(name)
        if old == item:
            return None
        self._items[name] = item
        return self._append("INSERT" if old is None else "MODIFY", keys, item, old)

    def _remove(self, keys: dict[str, Any]) -> dict[str, str] | None:
        self._check_open()
        old = self._items.pop(_key_text(keys), None)
        return None if old is None else self._append("REMOVE", keys, None, old)

    def _append(
        self, event_name: str, keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> dict[str, str]:
        self._check_open()
        shard = route(self._shards, hash_key(_key_text(keys)))
        sequence, arrival = self._sequences.next(), time.time()
        (event,) = events.dynamodb_stream(
            event_name,
            keys=keys,
            new_image=new,
            old_image=old,
            table=self.table,
            view_type=self.stream_view_type,
            sequence_number=sequence,
            account_id=self._lab.settings.account_id,
            region=self._lab.settings.region,
            time=arrival,
        )["Records"]
        event["eventSourceARN"] = self.arn
        self._accept([(shard, StreamRecord(sequence, arrival, event, len(json.dumps(event))))])
        return {"eventName": event_name, "ShardId": shard.id, "SequenceNumber": sequence}


def _key_text(keys: Mapping[str, Any]) -> str:
    """One text per item key (the table's index, and what its records are routed by)."""
    return repr(sorted(keys.items()))
