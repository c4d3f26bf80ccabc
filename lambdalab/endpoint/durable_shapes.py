"""The durable execution APIs' requests checked against botocore's model of Lambda before the local runner reads them.

A body (``body``) or a query string (``query``) is walked along the operation's input shape in botocore's
``lambda/service-2.json``: a member of the wrong JSON type (a string where ``Updates``' list belongs, a number
where ``CheckpointToken``'s string belongs: what botocore's serializer never sends), a query value that does not
read as its type (``MaxItems=abc``, ``ReverseOrder=maybe``, ``StartedAfter=notadate``) or a ``Statuses`` list
given by a bare name is ``InvalidParameterValueException`` (400, which every durable operation declares); a
missing required member, a length, a range, a pattern or an enum outside the model is Lambda's
``ValidationException`` in its words (``1 validation error detected: Value 'BOGUS' at 'statuses' failed to
satisfy constraint: ...``; a list's item is ``updates.1.member.type``); a callback's ``Result`` over 1 MiB
(``raw_payload``) is a ``ValidationException`` too. Members the model does not know are
ignored, as Lambda ignores them. So nothing malformed reaches the runner's ``from_dict`` (which answers a wrongly
typed member with ``AttributeError``) and no malformed request is ever a 500.

Rules: pure (botocore's model is read once); no aiohttp; every refusal is a ``wire.ApiError``.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

from lambdalab.endpoint import wire

_SHOWN = 128  # the characters of a refused value a message echoes
_MAX_DEPTH = 16  # the model's request shapes nest 4 deep; a body deeper than this is not one of them


@functools.cache
def _model() -> dict[str, Any]:
    from botocore.loaders import Loader

    return Loader().load_service_model("lambda", "service-2")  # type: ignore[no-any-return]


def _shape(name: str) -> dict[str, Any]:
    return _model()["shapes"][name]  # type: ignore[no-any-return]


def _input(operation: str) -> dict[str, Any]:
    return _shape(_model()["operations"][operation]["input"]["shape"])


def _camel(member: str) -> str:
    return member[:1].lower() + member[1:]


def _text(value: Any) -> str:
    """A value as Lambda's message echoes it (a list as ``[a, b]``), cut to ``_SHOWN`` characters."""
    if isinstance(value, list):
        text = "[" + ", ".join(_text(item) for item in value) + "]"
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _refused(value: Any, field: str, constraint: str) -> wire.ApiError:
    shown = "null" if value is None else f"'{_text(value)}'"
    return wire.ApiError(
        400,
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{field}' failed to satisfy constraint: {constraint}",
        user=False,
    )


def _malformed(field: str, expected: str, value: Any) -> wire.ApiError:
    got = (
        "null"
        if value is None
        else {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")
    )
    return wire.invalid(f"Could not read the request: '{field}' must be {expected}, not {got}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_EXPECTED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "structure": ("an object", lambda v: isinstance(v, dict)),
    "map": ("an object", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "string": ("a string", lambda v: isinstance(v, str)),
    "blob": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("a boolean", lambda v: isinstance(v, bool)),
    "integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "long": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "timestamp": ("a timestamp", lambda v: _number(v) or isinstance(v, str)),
}
_ANY: tuple[str, Callable[[Any], bool]] = ("a value", lambda v: True)


def _constraint(shape: dict[str, Any], value: Any) -> str | None:
    """The first of the model's constraints (``min``/``max``, ``pattern``, ``enum``) that ``value`` breaks."""
    kind = shape["type"]
    if kind in ("string", "list", "map", "blob"):
        if "min" in shape and len(value) < shape["min"]:
            return f"Member must have length greater than or equal to {shape['min']}"
        if "max" in shape and len(value) > shape["max"]:
            return f"Member must have length less than or equal to {shape['max']}"
    if kind in ("integer", "long"):
        if "min" in shape and value < shape["min"]:
            return f"Member must have value greater than or equal to {shape['min']}"
        if "max" in shape and value > shape["max"]:
            return f"Member must have value less than or equal to {shape['max']}"
    if kind == "string" and "enum" in shape and value not in shape["enum"]:
        return f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]"
    if kind == "string" and "pattern" in shape and _pattern(shape["pattern"]).fullmatch(value) is None:
        return f"Member must satisfy regular expression pattern: {shape['pattern']}"
    return None


@functools.cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _check(name: str, value: Any, field: str, depth: int = 0) -> None:
    shape = _shape(name)
    kind = shape["type"]
    expected, fits = _EXPECTED.get(kind, _ANY)
    if not fits(value) or depth > _MAX_DEPTH:
        raise _malformed(field, expected, value)
    broken = _constraint(shape, value)
    if broken is not None:
        raise _refused(value, field, broken)
    if kind == "structure":
        _members(shape, value, field, depth)
    elif kind == "list":
        item = shape["member"]["shape"]
        if _shape(item)["type"] in ("structure", "list", "map"):
            for index, element in enumerate(value, start=1):
                _check(item, element, f"{field}.{index}.member", depth + 1)
        else:  # a list of scalars is refused whole, as Lambda words it
            item_shape = _shape(item)
            item_expected, item_fits = _EXPECTED.get(item_shape["type"], _ANY)
            for element in value:
                if not item_fits(element):
                    raise _malformed(f"{field}.member", item_expected, element)
                broken = _constraint(item_shape, element)
                if broken is not None:
                    raise _refused(value, field, f"Member must satisfy constraint: [{broken}]")


def _members(shape: dict[str, Any], value: dict[str, Any], field: str, depth: int) -> None:
    prefix = f"{field}." if field else ""
    for member, spec in shape["members"].items():
        if "location" in spec:  # the path, query and headers are not in the body
            continue
        where = prefix + _camel(member)
        if value.get(member) is None:
            if member in shape.get("required", ()):
                raise _refused(None, where, "Member must not be null")
            continue
        _check(spec["shape"], value[member], where, depth + 1)


def body(operation: str, data: Any) -> None:
    """``data`` (a parsed JSON body) as ``operation``'s request body; raises ``wire.ApiError``. An operation whose
    body is one member (its ``payload``: StopDurableExecution's ``Error``) checks the body as that member."""
    shape = _input(operation)
    payload = shape.get("payload")
    if payload is not None:
        _check(shape["members"][payload]["shape"], data, _camel(payload))
    else:
        _check(_model()["operations"][operation]["input"]["shape"], data, "")


def raw_payload(operation: str, data: bytes) -> None:
    """``data`` as ``operation``'s raw body (its ``payload`` blob: SendDurableExecutionCallbackSuccess's ``Result``,
    at most 1 MiB): over the model's length, ``ValidationException``; the value is not echoed (it is sensitive)."""
    shape = _input(operation)
    member = shape["payload"]
    limit = _shape(shape["members"][member]["shape"]).get("max")
    if limit is not None and len(data) > limit:
        raise wire.ApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value at '{_camel(member)}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limit}",
            user=False,
        )


def _epoch(text: str) -> float:
    """A query timestamp as botocore sends one (ISO 8601, UTC) or as epoch seconds."""
    try:
        return float(text)
    except ValueError:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.UTC)
        return stamp.timestamp()


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower() == "true"


_READ: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "long": int,
    "boolean": _boolean,
    "timestamp": _epoch,
    "string": str,
}
_WORDS = {"integer": "an integer", "long": "an integer", "boolean": "true or false", "timestamp": "a timestamp"}


def _read(kind: str, key: str, text: str) -> Any:
    try:
        return _READ[kind](text)
    except (ValueError, OverflowError):
        raise wire.invalid(f"{key} must be {_WORDS.get(kind, kind)}: {text[:_SHOWN]!r}") from None


def query(operation: str, params: Any) -> dict[str, Any]:
    """``operation``'s query-string members read from ``params`` (a multidict: ``getall``) by their types (a
    timestamp as epoch seconds) and checked; keyed by the model's member names. An empty value is left out."""
    out: dict[str, Any] = {}
    for member, spec in _input(operation)["members"].items():
        if spec.get("location") != "querystring":
            continue
        key = spec.get("locationName", member)
        values = [value for value in params.getall(key, []) if value != ""]
        if not values:
            continue
        shape = _shape(spec["shape"])
        if shape["type"] == "list":
            kind = _shape(shape["member"]["shape"])["type"]
            value: Any = [_read(kind, key, text) for text in values]
        else:
            value = _read(shape["type"], key, values[0])
        _check(spec["shape"], value, _camel(member))
        out[member] = value
    return out
