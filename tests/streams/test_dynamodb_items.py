"""DynamoDB stream items: typed AttributeValues passed through unchanged (``put_typed_item``), plain values converted
as boto3 does (Decimal, BS, 38-digit numbers as text), DynamoDB's checks (numbers, types, 400 KB items), and a write
stored only together with its stream record. No function runs: the mapping is disabled and the records read from
the shards through the public statistics and a disabled mapping's batches (none)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError
from lambdalab.events import storage

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["LOG"], "a") as f:
        for r in event["Records"]:
            f.write(json.dumps(r) + "\\n")
"""


def delivered(lab: lambdalab.Lab, tmp_path: Path, fill, **options) -> list[dict]:  # type: ignore[no-untyped-def]
    """The stream records a function received after ``fill(table)``."""
    log = tmp_path / "records.jsonl"
    fn = lab.create_function("recorder", RECORDER, env_vars={"LOG": str(log)})
    table = lab.dynamodb_stream("orders", fn, **options)
    fill(table)
    table.wait_until_processed(timeout_s=20)
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_typed_items_arrive_unchanged(lab: lambdalab.Lab, tmp_path: Path) -> None:
    item = {
        "id": {"S": "a"},
        "big": {"N": "12345678901234567890.123"},
        "bs": {"BS": ["AQI=", "AwQ="]},
        "ns": {"NS": ["1.50", "2"]},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "nested": {"M": {"l": {"L": [{"S": "x"}, {"N": "-0.000001"}]}}},
    }
    answers: list[dict] = []
    records = delivered(
        lab,
        tmp_path,
        lambda t: answers.extend(
            [
                t.put_typed_item(item),
                t.put_typed_item({**item, "flag": {"BOOL": True}}, return_values="ALL_OLD"),
                t.delete_typed_item({"id": {"S": "a"}}),
            ]
        ),
    )
    assert answers[0] == {} and answers[1] == {"Attributes": item} and answers[2] == {}
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0]["dynamodb"]["NewImage"] == item
    assert records[0]["dynamodb"]["Keys"] == {"id": {"S": "a"}}
    assert records[1]["dynamodb"]["OldImage"] == item and records[1]["dynamodb"]["NewImage"]["flag"] == {"BOOL": True}


def test_plain_values_convert_as_boto3_does(lab: lambdalab.Lab, tmp_path: Path) -> None:
    item = {"id": 1, "price": Decimal("9.99"), "blobs": {b"\x01\x02", b"\x03"},
            "exact": Decimal("1234567890123456789.5"), "yes": True, "f": 0.1}  # fmt: skip
    records = delivered(lab, tmp_path, lambda t: t.put_item(item))
    image = records[0]["dynamodb"]["NewImage"]
    assert image["price"] == {"N": "9.99"} and image["exact"] == {"N": "1234567890123456789.5"}
    assert image["blobs"] == {"BS": ["AQI=", "Aw=="]}
    assert image["yes"] == {"BOOL": True} and image["f"] == {"N": "0.1"} and image["id"] == {"N": "1"}


def test_empty_images_stay_empty(lab: lambdalab.Lab, tmp_path: Path) -> None:
    records = delivered(lab, tmp_path, lambda t: t.record("MODIFY", {"id": 1}, new_image={}, old_image={}))
    assert records[0]["dynamodb"]["NewImage"] == {} and records[0]["dynamodb"]["OldImage"] == {}


def test_numeric_keys_one_and_one_point_zero_are_one_item(lab: lambdalab.Lab, tmp_path: Path) -> None:
    def fill(t: lambdalab.streams.DynamoDBStream) -> None:
        t.put_item({"id": 1, "v": "a"})
        t.put_item({"id": 1.0, "v": "b"})
        t.put_typed_item({"id": {"N": "1.00"}, "v": {"S": "c"}})

    records = delivered(lab, tmp_path, fill)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"N": "1e1000000"}, "Number overflow"),
        ({"N": "1e-131"}, "Number underflow"),
        ({"N": "1" * 39}, "38 significant digits"),
        ({"N": "NaN"}, "cannot be converted"),
        ({"N": "Infinity"}, "cannot be converted"),
        ({"N": "abc"}, "cannot be converted"),
        ({"BOOL": "false"}, "invalid AttributeValue"),
        ({"M": "x"}, "invalid AttributeValue"),
        ({"S": "a", "N": "1"}, "more than one datatypes"),
        ({}, "is empty"),
        ({"NULL": False}, "value of true"),
        ({"SS": []}, "may not be empty"),
        ({"SS": ["a", "a"]}, "contains duplicates"),
        ({"NS": ["1", "1.0"]}, "contains duplicates"),
        ({"BS": ["not base64!"]}, "Base64"),
    ],
)
def test_typed_values_refused_in_dynamodbs_words(lab: lambdalab.Lab, value: dict, message: str) -> None:
    fn = lab.create_function("c", "def handler(e, c):\n    return None\n")
    table = lab.dynamodb_stream("orders", fn, enabled=False)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message):
        table.put_typed_item({"id": {"S": "a"}, "x": value})
    assert time.monotonic() - started < 1.0
    assert table.items() == [] and table.statistics()["records"] == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity"), 10**200, object()])
def test_plain_values_refused(lab: lambdalab.Lab, value: object) -> None:
    fn = lab.create_function("c", "def handler(e, c):\n    return None\n")
    table = lab.dynamodb_stream("orders", fn, enabled=False)
    with pytest.raises(ConfigError):
        table.put_item({"id": 1, "x": value})
    assert table.items() == [] and table.statistics()["records"] == 0


def test_a_failed_write_stores_nothing_and_large_items_are_refused(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", "def handler(e, c):\n    return None\n")
    table = lab.dynamodb_stream("orders", fn, enabled=False)
    with pytest.raises(ConfigError, match="Item size has exceeded the maximum allowed size"):
        table.put_item({"id": 1, "blob": "x" * 410_000})
    with pytest.raises(ConfigError, match="Item size has exceeded"):
        table.put_typed_item({"id": {"N": "1"}, "blob": {"S": "x" * 410_000}})
    table.put_item({"id": 1, "blob": "x" * 400_000})  # just under 400 KB
    assert table.statistics()["records"] == 1
    with pytest.raises(ConfigError, match="key element does not match"):
        table.delete_typed_item({"id": {"N": "1"}, "other": {"S": "x"}})
    with pytest.raises(ConfigError, match="Missing the key id"):
        table.put_typed_item({"other": {"S": "x"}})
    with pytest.raises(ConfigError, match="Type mismatch for key id"):
        table.put_typed_item({"id": {"M": {}}})


def test_number_check_keeps_text_and_costs_nothing_for_huge_exponents() -> None:
    started = time.monotonic()
    for text in ("1e999999999999999999999", "-1e-99999999999999"):
        with pytest.raises(ValueError, match="flow"):
            storage.check_number(text)
    assert time.monotonic() - started < 0.1
    assert storage.check_number("9.9999999999999999999999999999999999999E+125").endswith("E+125")
    assert storage.check_number("0." + "0" * 129 + "1").endswith("1")
    assert storage.check_number("-0.00") == "-0.00"


def test_record_images_are_checked_too(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("c", "def handler(e, c):\n    return None\n")
    table = lab.dynamodb_stream("orders", fn, enabled=False)
    with pytest.raises(ConfigError, match="Item size has exceeded"):
        table.record("INSERT", {"id": 1}, new_image={"id": 1, "blob": "x" * 410_000})
    with pytest.raises(ConfigError, match="cannot be converted"):
        table.record("REMOVE", {"id": 1}, old_image={"id": 1, "x": float("nan")})
    assert table.statistics()["records"] == 0
