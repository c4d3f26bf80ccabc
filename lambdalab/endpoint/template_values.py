"""Values of a template's properties: intrinsic functions resolved from what lambdalab knows, or left unresolved.

``context`` maps names to values: parameters (their ``Default``), ``AWS::Region``, ``AWS::AccountId``,
``AWS::Partition``, and what a ``Ref`` of a template resource gives once lambdalab made it (a function's
name, a layer's version ARN, a queue's URL); ``"LogicalId.Attribute"`` keys hold what ``Fn::GetAtt`` gives
(``Orders.Arn``, ``Orders.QueueName``, ``Worker.Arn``). ``resolve`` answers ``Ref``, ``Fn::GetAtt``,
``Fn::Sub`` (a string, or ``[string, {variables}]``), ``Fn::FindInMap`` (``Mappings``), ``Fn::Join`` and
``Fn::Select`` from it; anything else (``Fn::If`` and conditions, ``Fn::ImportValue``...), or a name it does not
know, is ``UNRESOLVED``, which the callers note and leave out.

Rules: pure; no Lab, no I/O.
"""

from __future__ import annotations

import re
from typing import Any

UNRESOLVED: Any = object()
MAPPINGS = "::Mappings"  # the context key holding the template's Mappings
_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Skip(Exception):
    """One resource lambdalab cannot serve: the reason goes into the notes, the rest of the template loads."""


def resolve(value: Any, context: dict[str, Any]) -> Any:
    """Plain values as they are; ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::FindInMap`` from ``context``."""
    if not isinstance(value, dict) or len(value) != 1:
        if isinstance(value, dict) and any(key.startswith("Fn::") or key == "Ref" for key in value):
            return UNRESOLVED
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        found = context.get(arg) if isinstance(arg, str) else None
        return UNRESOLVED if found is None else found
    if key == "Fn::GetAtt":
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(part, str) for part in arg)):
            return UNRESOLVED
        found = context.get(f"{arg[0]}.{arg[1]}")
        return UNRESOLVED if found is None else found
    if key == "Fn::Sub":
        return _sub(arg, context)
    if key == "Fn::FindInMap":
        return _find_in_map(arg, context)
    if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
        items = resolve(arg[1], context)
        parts = [resolve(item, context) for item in items] if isinstance(items, list) else [UNRESOLVED]
        if any(not isinstance(part, (str, int, float)) or isinstance(part, bool) for part in parts):
            return UNRESOLVED
        return arg[0].join(str(part) for part in parts)
    if key == "Fn::Select" and isinstance(arg, list) and len(arg) == 2:
        index, items = resolve(arg[0], context), resolve(arg[1], context)
        if not isinstance(items, list) or not str(index).isdigit() or int(index) >= len(items):
            return UNRESOLVED
        return resolve(items[int(index)], context)
    if key.startswith("Fn::"):
        return UNRESOLVED
    return value


def _sub(arg: Any, context: dict[str, Any]) -> Any:
    variables: dict[str, Any] = {}
    if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
        arg, raw = arg
        for name, raw_value in raw.items():
            variables[name] = resolve(raw_value, context)
    if not isinstance(arg, str):
        return UNRESOLVED
    missing = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        found = variables[name] if name in variables else context.get(name)
        if found is None or found is UNRESOLVED or isinstance(found, (dict, list)):
            missing.append(name)
            return match.group(0)
        return str(found)

    text = _VARIABLE.sub(substitute, arg).replace("${!", "${")
    return UNRESOLVED if missing else text


def _find_in_map(arg: Any, context: dict[str, Any]) -> Any:
    if not (isinstance(arg, list) and len(arg) in (3, 4)):
        return UNRESOLVED
    keys = [resolve(part, context) for part in arg[:3]]
    if not all(isinstance(part, (str, int)) for part in keys):
        return UNRESOLVED
    found: Any = context.get(MAPPINGS) or {}
    for part in keys:
        found = found.get(str(part)) if isinstance(found, dict) else None
        if found is None:
            if len(arg) == 4 and isinstance(arg[3], dict):  # the language extension's DefaultValue
                return resolve(arg[3].get("DefaultValue"), context)
            return UNRESOLVED
    return found


def number(kind: type, key: str, raw: Any) -> Any:
    """``raw`` as an int or float, or ``Skip`` naming ``key``."""
    if isinstance(raw, bool):
        raise Skip(f"{key} {raw!r} is not a number")
    try:
        return kind(raw)
    except (TypeError, ValueError, OverflowError):
        raise Skip(f"{key} {raw!r} is not a number") from None
