"""``value``: the decorator of the core's small immutable records (events, effects, records).

Frozen for the type checker (``dataclass_transform(frozen_default=True)``: mypy rejects
assignments), a plain slotted dataclass at run time. ``frozen=True`` makes every construction
call ``object.__setattr__`` once per field, about three times the cost, and a simulated
invocation builds about twenty of these. Instances hash and compare by value, as before.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value(cls: type[T]) -> type[T]:
    return dataclasses.dataclass(slots=True, unsafe_hash=True)(cls)
