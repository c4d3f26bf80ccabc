"""``Value``: the base of the core's small immutable records (events, effects, records).

A record declares its fields once, as class annotations (a default as a ``# default ...``
comment), and ``tools/gen_records.py`` writes the rest below them: ``__slots__`` (its own
fields), ``_fields`` (all of them, in ``__init__``'s order) and an explicit ``__init__`` that
assigns them. That is what makes construction cheap both in CPython (a plain slotted class) and
when mypyc compiles the core (a native class, about 35 ns for an ``InvocationRecord``: a
``dataclass``'s generated ``__init__`` stays interpreted Python there, about 900 ns, and a
simulated invocation builds about twenty records). Treat instances as immutable; ``Value`` gives
them equality, hashing and ``repr`` by ``_fields``, and ``fields``/``astuple`` stand in for their
``dataclasses`` namesakes. ``tests/core/test_values.py`` checks that the generated code is current
and that every record's annotations, slots, ``_fields`` and ``__init__`` agree.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Value:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:  # != is its negation (mypyc writes that __ne__ as CPython does)
        if type(other) is not type(self):
            return NotImplemented
        return astuple(self) == astuple(other)

    def __hash__(self) -> int:
        return hash(astuple(self))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"


def fields(cls: type[Value] | Value) -> tuple[str, ...]:
    """The field names, in ``__init__``'s order."""
    return cls._fields


def astuple(value: Value) -> tuple[Any, ...]:
    """The field values, in ``__init__``'s order (not recursive, unlike ``dataclasses.astuple``)."""
    return tuple([getattr(value, name) for name in value._fields])
