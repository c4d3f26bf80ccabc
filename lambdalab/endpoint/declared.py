"""Event sources a template declared (``AWS::SQS::Queue``, ``AWS::Kinesis::Stream``, ``AWS::DynamoDB::Table`` with a
stream) by ARN, per Lab, with the settings of the source itself (a queue's visibility timeout, a stream's shard
count, a table's stream view type). A mapping made later (a template's, or CreateEventSourceMapping on the
endpoint) makes its local source with them.

Rules: no aiohttp; a Lab's entries go with the Lab (weak keys).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdalab.api import Lab

_DECLARED: weakref.WeakKeyDictionary[Lab, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def declare(lab: Lab, arn: str, settings: dict[str, Any]) -> None:
    """Remember the source ``arn`` a template declared, with its own settings (keyword options of its maker)."""
    _DECLARED.setdefault(lab, {})[arn] = dict(settings)


def declared(lab: Lab, arn: str) -> dict[str, Any] | None:
    """The settings a template declared for ``arn`` (a copy), or None."""
    found = _DECLARED.get(lab, {}).get(arn)
    return None if found is None else dict(found)
