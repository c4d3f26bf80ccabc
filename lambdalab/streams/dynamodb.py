"""A local DynamoDB table's stream with a Lambda event source mapping: ``lab.dynamodb_stream(...)``.

    table = lab.dynamodb_stream("orders", fn, key_attributes=("id",), report_batch_item_failures=True)
    table.put_item({"id": 1, "state": "new"})        # INSERT (a MODIFY when it replaces an item, nothing if equal)
    table.remove_item({"id": 1})                     # REMOVE (nothing if there is no such item)
    table.record("MODIFY", {"id": 2}, new_image={...}, old_image={...})   # any stream record, as given
    table.put_typed_item({"id": {"S": "a"}, "n": {"N": "1.50"}})   # DynamoDB's wire JSON, into the images as is
    table.delete_typed_item({"id": {"S": "a"}})                      # PutItem's / DeleteItem's answers

The table remembers its items (so ``put_item`` knows INSERT from MODIFY and has the old image) by the
values of ``key_attributes`` (the table's key schema: partition key, and sort key if any; numbers by value, so
``1`` and ``1.0`` are one item). Items are checked as DynamoDB checks them (``lambdalab.events.storage``: types,
38-digit numbers kept as their text, sets, 400 KB) and a write is stored only together with its record. A record's shard
follows the MD5 of its key, so one item's records stay in order; sequence numbers are 21 digits. The images
sent follow ``stream_view_type``. The event is Lambda's DynamoDB Streams record
(``lambdalab.events.dynamodb_stream``), with this stream's ARN (``.../stream/<label>``: the time the stream
was made, or ``stream_label``, so an ARN given elsewhere, such as a template's, is kept). Batches, retries,
bisect and failures are ``mapping.py``'s; DynamoDB's starting positions are TRIM_HORIZON and LATEST.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdalab import events
from lambdalab.errors import ConfigError
from lambdalab.events import storage
from lambdalab.streams import settings as checks
from lambdalab.streams.mapping import StreamMapping
from lambdalab.streams.shards import (
    DYNAMODB_SEQUENCE_BASE,
    NAME,
    Sequencer,
    Shard,
    StreamRecord,
    event_size,
    hash_key,
    make_shards,
    route,
)

if TYPE_CHECKING:
    from lambdalab.api import Lab

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
MAX_SHARDS = 100
_LABEL = re.compile(r"[A-Za-z0-9_.:-]+")  # a stream label (DynamoDB's are times: 2026-01-02T03:04:05.678)
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit


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
        if not (isinstance(table, str) and 3 <= len(table) <= 255 and NAME.fullmatch(table)):
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
        if not (isinstance(label, str) and 1 <= len(label) <= 64 and _LABEL.fullmatch(label)):
            raise ConfigError(f"invalid stream_label: {stream_label!r}; expected 1-64 ASCII letters, digits, "
                              "'-', '_', '.' or ':'")  # fmt: skip
        region, account = lab.settings.region, lab.settings.account_id
        arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"
        self.table, self.stream_view_type, self.key_attributes = table, stream_view_type, keys
        self._items: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # key text: (typed item, as given)
        self._sequences = Sequencer(DYNAMODB_SEQUENCE_BASE)
        ids = [f"shardId-{int(made * 1000):020d}-{os.urandom(4).hex()}" for _ in range(shards)]
        super().__init__(lab, table, function, arn, make_shards(ids), settings)

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "stream_view_type": self.stream_view_type, "key_attributes": self.key_attributes,
                "stream_label": self.arn.rsplit("/", 1)[1]}  # fmt: skip

    def put_item(self, item: Mapping[str, Any]) -> dict[str, str] | None:
        """Write ``item`` (plain Python values, as boto3's Table resource takes them: ``Decimal``, int and finite
        float numbers, str, bytes, bool, None, dict, list, sets): an INSERT record, or MODIFY (with the old image)
        when it replaces one; None when it changes nothing (DynamoDB writes no record then). Returns the record's
        ``eventName``, ``ShardId`` and ``SequenceNumber``. The item is stored only if its record is made."""
        typed = self._typed(item, plain=True)
        return self._on_loop(self._put, typed, copy.deepcopy(dict(item)))[0]

    def remove_item(self, keys: Mapping[str, Any]) -> dict[str, str] | None:
        """Delete the item with ``keys``: a REMOVE record with its old image; None if there is no such item."""
        return self._on_loop(self._remove, self._key(self._image(keys)))

    def put_typed_item(self, item: Mapping[str, Any], *, return_values: str = "NONE") -> dict[str, Any]:
        """PutItem with DynamoDB's AttributeValue JSON as it arrives on the wire (``{"id": {"S": "a"}, "n":
        {"N": "1.50"}}``: S, N, B, SS, NS, BS, M, L, NULL, BOOL), checked as DynamoDB checks it (38-digit numbers
        in range, kept as their text; a 400 KB item at most) and passed into the images unchanged. Returns what
        PutItem returns: ``{}``, or ``{"Attributes": <old item>}`` with ``return_values="ALL_OLD"`` when it
        replaced one. ``ConfigError`` with DynamoDB's ValidationException message otherwise."""
        wants_old = _return_values(return_values)
        typed = self._typed(item, plain=False)
        old = self._on_loop(self._put, typed, None)[1]
        return {"Attributes": old} if wants_old and old is not None else {}

    def delete_typed_item(self, key: Mapping[str, Any], *, return_values: str = "NONE") -> dict[str, Any]:
        """DeleteItem with a typed ``key`` (the table's key attributes, each S, N or B): a REMOVE record if the
        item exists. Returns ``{}``, or ``{"Attributes": <old item>}`` with ``return_values="ALL_OLD"``."""
        wants_old = _return_values(return_values)
        old = self._on_loop(self._remove_typed, self._key(self._image(key, plain=False)))
        return {"Attributes": old} if wants_old and old is not None else {}

    def record(
        self,
        event_name: str,
        keys: Mapping[str, Any],
        new_image: Mapping[str, Any] | None = None,
        old_image: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Append a stream record as given (the table's items are not changed): ``event_name`` INSERT, MODIFY or
        REMOVE; a missing (None) image is the keys alone, an empty one stays empty."""
        if event_name not in EVENT_NAMES:
            raise ConfigError(f"invalid event_name: {event_name!r}; expected INSERT, MODIFY or REMOVE")
        typed_keys = self._image(keys)
        for image in (new_image, old_image):
            if image is not None:
                self._typed(image, plain=True, keyed=False)  # DynamoDB's checks and its 400 KB item limit
        new = None if event_name == "REMOVE" else self._image(new_image) if new_image is not None else typed_keys
        old = None if event_name == "INSERT" else self._image(old_image) if old_image is not None else typed_keys
        return self._on_loop(self._append, event_name, typed_keys, new, old)

    def items(self) -> list[dict[str, Any]]:
        """The table's items now, in the order first written: as given (plain values for ``put_item``, typed
        AttributeValues for ``put_typed_item``)."""
        return self._on_loop(lambda: [copy.deepcopy(given) for _, given in self._items.values()])

    # -- checks (the caller's thread) -------------------------------------------------------------
    def _image(self, image: Mapping[str, Any], plain: bool = True) -> dict[str, Any]:
        if not (isinstance(image, Mapping) and all(isinstance(k, str) and k for k in image)):
            raise ConfigError(f"invalid item: {image!r:.80}; expected a mapping of attribute names to values")
        convert = storage.to_attribute_value if plain else storage.check_attribute_value
        try:
            return {k: convert(v) for k, v in image.items()}
        except ValueError as e:
            raise ConfigError(str(e)) from None
        except RecursionError:
            raise ConfigError("Nesting Levels have exceeded supported limits") from None

    def _typed(self, item: Mapping[str, Any], *, plain: bool, keyed: bool = True) -> dict[str, Any]:
        typed = self._image(item, plain)
        if keyed:
            self._key(typed, exact=False)
        size = storage.item_size(typed)
        if size > MAX_ITEM_BYTES:
            raise ConfigError(f"Item size has exceeded the maximum allowed size ({size} bytes; at most 400 KB)")
        return typed

    def _key(self, typed: dict[str, Any], exact: bool = True) -> dict[str, Any]:
        """The table's key attributes of a typed item (``exact``: a key, nothing else)."""
        missing = [k for k in self.key_attributes if k not in typed]
        if missing:
            raise ConfigError(f"One or more parameter values were invalid: Missing the key {missing[0]} in the item "
                              f"(the table's key attributes are {list(self.key_attributes)})")  # fmt: skip
        if exact and set(typed) != set(self.key_attributes):
            raise ConfigError("The provided key element does not match the schema")
        for name in self.key_attributes:
            (kind,) = typed[name]
            if kind not in ("S", "N", "B"):
                raise ConfigError(f"One or more parameter values were invalid: Type mismatch for key {name}: "
                                  f"{kind} (a key attribute is S, N or B)")  # fmt: skip
        return {k: typed[k] for k in self.key_attributes}

    # -- the loop's side --------------------------------------------------------------------------
    def _put(
        self, typed: dict[str, Any], given: dict[str, Any] | None
    ) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
        """Store ``typed`` and append its record (both or neither); returns the record's answer and the old item."""
        self._check_open()
        keys = {k: typed[k] for k in self.key_attributes}
        name = _key_text(keys)
        found = self._items.get(name)
        old = found[0] if found is not None else None
        if old == typed:
            answer = None
        else:
            shard, record, answer = self._make("INSERT" if old is None else "MODIFY", keys, typed, old)
            self._items[name] = (typed, given if given is not None else typed)  # stored once its record is made
            self._accept([(shard, record)])
        return answer, old

    def _remove(self, keys: dict[str, Any]) -> dict[str, str] | None:
        self._check_open()
        name = _key_text(keys)
        found = self._items.get(name)
        if found is None:
            return None
        shard, record, answer = self._make("REMOVE", keys, None, found[0])
        del self._items[name]
        self._accept([(shard, record)])
        return answer

    def _remove_typed(self, keys: dict[str, Any]) -> dict[str, Any] | None:
        found = self._items.get(_key_text(keys))
        self._remove(keys)
        return None if found is None else found[0]

    def _append(
        self, event_name: str, keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> dict[str, str]:
        self._check_open()
        shard, record, answer = self._make(event_name, keys, new, old)
        self._accept([(shard, record)])
        return answer

    def _make(
        self, event_name: str, keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None
    ) -> tuple[Shard, StreamRecord, dict[str, str]]:
        """The stream record for a change (typed keys and images), not yet appended."""
        shard = route(self._shards, hash_key(_key_text(keys)))
        arrival = time.time()
        (event,) = events.dynamodb_stream(
            event_name,
            keys=keys,
            new_image=new,
            old_image=old,
            table=self.table,
            view_type=self.stream_view_type,
            sequence_number="0",
            account_id=self._lab.settings.account_id,
            region=self._lab.settings.region,
            time=arrival,
            typed=True,
        )["Records"]
        sequence = self._sequences.next()  # taken last: a record that could not be made leaves no gap
        event["dynamodb"]["SequenceNumber"] = sequence
        event["eventSourceARN"] = self.arn
        record = StreamRecord(sequence, arrival, event, event_size(event))
        return shard, record, {"eventName": event_name, "ShardId": shard.id, "SequenceNumber": sequence}


def _return_values(value: str) -> bool:
    if value not in ("NONE", "ALL_OLD"):
        raise ConfigError(f"1 validation error detected: Value '{value}' at 'returnValues' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [NONE, ALL_OLD]")  # fmt: skip
    return value == "ALL_OLD"


_EXACT = decimal.Context(prec=38, Emax=999_999, Emin=-999_999)  # exact for any number DynamoDB stores


def _key_text(keys: Mapping[str, Any]) -> str:
    """One text per item key (typed; the table's index, and what its records are routed by): numbers by value,
    so ``1`` and ``1.0`` are one item, as in DynamoDB."""
    parts = []
    for name, value in sorted(keys.items()):
        ((kind, inner),) = value.items()
        if kind == "N":
            inner = str(_EXACT.normalize(decimal.Decimal(inner)))
        parts.append([name, kind, inner])
    return json.dumps(parts)
