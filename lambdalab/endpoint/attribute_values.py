"""DynamoDB's ``AttributeValue`` JSON (``{"S": "a"}``, ``{"N": "1.5"}``, ``{"M": {...}}``...) checked as DynamoDB
checks an item before it stores it, and kept exactly as sent (``BS`` stays ``BS``, a 38-digit number stays the
string it was), so the stream's images carry what the request wrote. (DynamoDB may print a number it returns in
another form, ``"1.50"`` as ``"1.5"``: the canonical form here is used to size numbers and to find duplicates in
a number set, not to rewrite them.)

Numbers are read as text only: at most 38 significant digits, a magnitude from 1E-130 to
9.9999999999999999999999999999999999999E+125 (or zero), as DynamoDB documents; no number is ever turned into
a Python int or Decimal, so an exponent of a million digits costs what its text costs. Nesting is at most 32
levels and an item at most 400 KB (DynamoDB's limits); a set is not empty and has no duplicates.

Refusals are ``ItemError`` with DynamoDB's code: ``SerializationException`` for JSON of the wrong shape (a
string where a map belongs: what botocore's serializer would never send), ``ValidationException`` for a value
DynamoDB refuses.

Rules: pure; no recursion deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

MAX_DEPTH = 32
MAX_ITEM_BYTES = 400 * 1024
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # of the first significant digit (1E-130 .. 9.99..E+125)
TYPES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
_NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?")


class ItemError(Exception):
    """One refusal of an item, with DynamoDB's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _invalid(message: str) -> ItemError:
    return ItemError("ValidationException", message)


def _shape(message: str) -> ItemError:
    return ItemError("SerializationException", message)


def number(text: Any) -> str:
    """``text`` (a DynamoDB number) in a canonical form (``"1e2"`` and ``"100.0"`` are ``"100"``);
    ``ValidationException`` if DynamoDB refuses it."""
    if not isinstance(text, str):
        raise _shape("NUMBER_VALUE cannot be converted to String")
    match = _NUMBER.fullmatch(text)  # linear in the text; nothing is converted before the checks below
    if match is None or not (match.group("int") or match.group("frac")):
        raise _invalid(f"The parameter cannot be converted to a numeric value: {text[:64]}")
    whole, frac = match.group("int"), match.group("frac") or ""
    digits = (whole + frac).lstrip("0")
    if not digits:
        return "0"
    leading = len(whole + frac) - len(digits)  # zeros before the first significant digit
    digits = digits.rstrip("0")
    if len(digits) > MAX_DIGITS:
        raise _invalid("Attempting to store more than 38 significant digits in a Number")
    raw_exp = match.group("exp") or "0"
    if len(raw_exp.lstrip("+-").lstrip("0")) > 6:  # beyond any range long before a conversion could cost anything
        negative = raw_exp.startswith("-")
        raise _invalid(_RANGE[negative])
    # the exponent of the first significant digit: 1.23e4 -> 4, 0.0012 -> -3
    exponent = int(raw_exp) + len(whole) - leading - 1
    if exponent > MAX_EXPONENT or exponent < MIN_EXPONENT:
        raise _invalid(_RANGE[exponent < MIN_EXPONENT])
    sign = "-" if match.group("sign") == "-" else ""
    point = exponent + 1  # digits before the decimal point
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


_RANGE = {
    False: "Number overflow. Attempting to store a number with magnitude larger than supported range",
    True: "Number underflow. Attempting to store a number with magnitude smaller than supported range",
}


def _binary(raw: Any) -> int:
    """The size of a base64 ``B`` value (it stays as sent)."""
    if not isinstance(raw, str):
        raise _shape("Binary value must be a base64 encoded string")
    try:
        return len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise _shape("Base64 encoded binary value is not valid") from None


def value(raw: Any, depth: int = 0) -> tuple[dict[str, Any], int]:
    """(the AttributeValue as DynamoDB keeps it, its size in bytes as DynamoDB counts it, roughly)."""
    if depth > MAX_DEPTH:
        raise _invalid("Nesting Levels have exceeded supported limits: the maximum nesting level is 32")
    if not isinstance(raw, dict):
        raise _shape("Unexpected value type in payload: an AttributeValue must be a JSON object")
    if not raw:
        raise _invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    if len(raw) > 1:
        raise _invalid(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported "
            "datatypes"
        )
    ((kind, item),) = raw.items()
    if kind not in TYPES:
        raise _shape(f"Unknown AttributeValue type: {str(kind)[:32]}")
    if kind == "S":
        if not isinstance(item, str):
            raise _shape("STRING_VALUE cannot be converted to String")
        return {"S": item}, len(item.encode("utf-8", "surrogatepass"))
    if kind == "N":
        text = number(item)
        return {"N": item}, len(text) // 2 + 1
    if kind == "B":
        return {"B": item}, _binary(item)
    if kind == "BOOL":
        if not isinstance(item, bool):
            raise _shape("BOOL value must be true or false")
        return {"BOOL": item}, 1
    if kind == "NULL":
        if item is not True:
            raise _invalid("One or more parameter values were invalid: Null attribute value types must have the "
                           "value of true")  # fmt: skip
        return {"NULL": True}, 1
    if kind == "M":
        if not isinstance(item, dict):
            raise _shape("Start of structure or map expected: M must be a JSON object")
        kept, size = attributes(item, depth + 1)
        return {"M": kept}, size + 3
    if kind == "L":
        if not isinstance(item, list):
            raise _shape("Start of list expected: L must be a JSON array")
        out, size = [], 3
        for element in item:
            kept_one, one = value(element, depth + 1)
            out.append(kept_one)
            size += one + 1
        return {"L": out}, size
    return _set(kind, item)


def _set(kind: str, item: Any) -> tuple[dict[str, Any], int]:
    if not isinstance(item, list):
        raise _shape(f"Start of list expected: {kind} must be a JSON array")
    if not item:
        names = {"SS": "string", "NS": "number", "BS": "binary"}
        raise _invalid(f"One or more parameter values were invalid: An {names[kind]} set  may not be empty")
    if kind == "SS":
        if not all(isinstance(s, str) for s in item):
            raise _shape("STRING_VALUE cannot be converted to String")
        kept = canonical = list(item)
        size = sum(len(s.encode("utf-8", "surrogatepass")) for s in item)
    elif kind == "NS":
        canonical = [number(n) for n in item]
        kept, size = list(item), sum(len(n) // 2 + 1 for n in canonical)
    else:
        size = sum(_binary(b) for b in item)
        kept = canonical = list(item)
    if len(set(canonical)) != len(canonical):
        raise _invalid(f"One or more parameter values were invalid: Input collection {kind} contains duplicates.")
    return {kind: kept}, size


def attributes(raw: Any, depth: int = 0) -> tuple[dict[str, Any], int]:
    """An item (or a key, or a map's contents): name -> AttributeValue, checked; (kept, size)."""
    if not isinstance(raw, dict):
        raise _shape("Start of structure or map expected: an item must be a JSON object")
    out: dict[str, Any] = {}
    size = 0
    for name, item in raw.items():
        if not name:
            raise _invalid("One or more parameter values were invalid: An attribute name may not be empty")
        out[name], one = value(item, depth)
        size += len(name.encode("utf-8", "surrogatepass")) + one
    return out, size


def item(raw: Any) -> dict[str, Any]:
    """A PutItem ``Item`` / DeleteItem ``Key`` as DynamoDB keeps it (400 KB at most)."""
    if raw is None:
        raise _invalid("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member "
                       "must not be null")  # fmt: skip
    kept, size = attributes(raw)
    if size > MAX_ITEM_BYTES:
        raise _invalid("Item size has exceeded the maximum allowed size")
    return kept
