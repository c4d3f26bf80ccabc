"""The core's records (``core/_value.py:Value`` subclasses) say their fields the same way everywhere.

Each record's fields are declared once, as class annotations; ``tools/gen_records.py`` writes
``__slots__``, ``_fields`` and ``__init__`` from them. These tests check that the generated code is
current, that in every record of the core (generated or written by hand) the annotations, slots,
``_fields`` and ``__init__`` agree, and that ``Value`` gives equality, hashing and ``repr`` by fields
to whatever is installed (compiled or not). Read from the ``.py`` source: compiled classes keep no
``__slots__`` or annotations to inspect.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdalab.core._value import Value, astuple, fields
from lambdalab.core.events import Invocation
from lambdalab.core.outcomes import Status
from lambdalab.core.records import End, InitReport, InvocationRecord, PhaseSpan

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "lambdalab" / "core"
TOOL = ROOT / "tools" / "gen_records.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_records", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_records"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = load_tool()


@dataclass
class Declared:
    """One record class as its source spells it."""

    module: str
    name: str
    base: str
    annotations: list[tuple[str, str]]  # own fields: (name, annotation)
    slots: list[str] | None
    fields: list[str] | None
    parameters: list[tuple[str, str]] | None  # __init__'s, without self: (name, annotation)
    keyword_only: bool
    assigned: list[tuple[str, str]] | None  # __init__'s body: (attribute, parameter) per line


def _declared(module: str, node: ast.ClassDef, source: str) -> Declared:
    annotations: list[tuple[str, str]] = []
    slots: list[str] | None = None
    fields_: list[str] | None = None
    parameters: list[tuple[str, str]] | None = None
    assigned: list[tuple[str, str]] | None = None
    keyword_only = False
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            annotation = ast.get_source_segment(source, statement.annotation) or ""
            if statement.target.id == "_fields":
                fields_ = list(ast.literal_eval(statement.value)) if statement.value else None
            elif not annotation.startswith("ClassVar"):
                annotations.append((statement.target.id, annotation))
        elif isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in statement.targets
        ):
            slots = list(ast.literal_eval(statement.value))
        elif isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            args = statement.args
            keyword_only = bool(args.kwonlyargs)
            parameters = [
                (a.arg, ast.get_source_segment(source, a.annotation) or "")
                for a in [*args.args[1:], *args.kwonlyargs]
                if a.annotation is not None
            ]
            assigned = []
            for line in statement.body:  # anything but ``self.name = name`` shows as its source
                target = line.targets[0] if isinstance(line, ast.Assign) else None
                value = line.value if isinstance(line, ast.Assign) else None
                if isinstance(target, ast.Attribute) and isinstance(value, ast.Name):
                    assigned.append((target.attr, value.id))
                else:
                    assigned.append((ast.unparse(line), ""))
    base = node.bases[0].id if node.bases and isinstance(node.bases[0], ast.Name) else ""
    return Declared(module, node.name, base, annotations, slots, fields_, parameters, keyword_only, assigned)


def declared_records() -> dict[str, Declared]:
    """Every ``Value`` subclass in ``lambdalab/core``, by class name (names are unique there)."""
    classes: dict[str, Declared] = {}
    for path in sorted(CORE.glob("*.py")):
        source = path.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef):
                found = _declared(path.stem, node, source)
                assert found.name not in classes, f"two core classes named {found.name}"
                classes[found.name] = found

    def is_value(name: str) -> bool:
        return name == "Value" or (name in classes and is_value(classes[name].base))

    return {name: c for name, c in classes.items() if name != "Value" and is_value(c.base)}


RECORDS = declared_records()


def all_fields(record: Declared) -> list[str]:
    own = [name for name, _ in record.annotations]
    return (all_fields(RECORDS[record.base]) if record.base in RECORDS else []) + own


def all_annotations(record: Declared) -> list[tuple[str, str]]:
    inherited = all_annotations(RECORDS[record.base]) if record.base in RECORDS else []
    return inherited + record.annotations


# -- the generated code -------------------------------------------------------------------------
def test_generated_records_are_current() -> None:
    stale = [str(path.relative_to(ROOT)) for path in tool.stale()]
    assert stale == [], f"run `python tools/gen_records.py --write` ({', '.join(stale)} out of date)"


def test_the_core_has_the_records_the_drivers_use() -> None:
    assert {"InvocationRecord", "PhaseSpan", "ResponsePosted", "CompleteInvocation", "Windows"} <= set(RECORDS)
    assert len(RECORDS) >= 30


# -- the spellings agree -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(RECORDS))
def test_slots_are_the_declared_fields(name: str) -> None:
    record = RECORDS[name]
    assert record.slots == [field for field, _ in record.annotations], f"{record.module}.{name}"


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_fields_are_the_bases_then_the_own_in_order(name: str) -> None:
    record = RECORDS[name]
    if record.fields is None:  # nothing of its own: it inherits _fields
        assert record.annotations == [] and record.parameters is None, f"{record.module}.{name}"
        return
    assert record.fields == all_fields(record), f"{record.module}.{name}"


@pytest.mark.parametrize("name", sorted(n for n, r in RECORDS.items() if r.parameters is not None))
def test_init_takes_every_field_with_its_annotation_and_assigns_it(name: str) -> None:
    record = RECORDS[name]
    assert record.parameters == all_annotations(record), f"{record.module}.{name}"
    assert record.assigned == [(field, field) for field in all_fields(record)], f"{record.module}.{name}"


# -- what the installed classes do (compiled or not) -----------------------------------------------
def sample(annotation: str, index: int) -> Any:
    """A value of ``annotation``'s type, distinct per ``index`` (compiled classes check types)."""
    annotation = annotation.split(" | ")[0]
    simple: dict[str, Any] = {
        "str": f"v{index}",
        "int": index,
        "float": index + 0.5,
        "bool": index % 2 == 0,
        "Any": ("any", index),
        "bytes": b"b%d" % index,
        "Status": Status.ERROR,
        "InitPhase": "invoke",
        "Phase": "frozen",
        "dict[str, Any]": {"k": index},
        "LogEntry": End(f"r{index}", 0.0),
        "tuple[str, ...]": (f"e{index}",),
    }
    if annotation in simple:
        return simple[annotation]
    return build(annotation, index)


def build(name: str, index: int = 0) -> Value:
    record = RECORDS[name]
    cls = getattr(importlib.import_module(f"lambdalab.core.{record.module}"), name)
    values = {field: sample(annotation, index + n) for n, (field, annotation) in enumerate(all_annotations(record))}
    return cls(**values)  # type: ignore[no-any-return]


def buildable() -> list[str]:
    return sorted(
        name for name, r in RECORDS.items() if all(a.split(" | ")[0] != "QueuedEvent" for _, a in all_annotations(r))
    )


@pytest.mark.parametrize("name", buildable())
def test_a_record_built_by_keyword_holds_its_fields_in_order(name: str) -> None:
    record = RECORDS[name]
    value = build(name, 1)
    expected = [sample(annotation, 1 + n) for n, (_, annotation) in enumerate(all_annotations(record))]

    assert fields(value) == tuple(all_fields(record))
    assert list(astuple(value)) == expected
    assert value == build(name, 1)
    if not any(annotation.startswith("dict") for _, annotation in all_annotations(record)):
        assert hash(value) == hash(build(name, 1))
    assert repr(value).startswith(f"{name}(")
    if all_fields(record):
        assert value != build(name, 2)


def test_many_field_records_are_built_by_keyword_only() -> None:
    assert {name for name, r in RECORDS.items() if r.keyword_only} == set(tool.KEYWORD_ONLY)
    with pytest.raises(TypeError):
        PhaseSpan("e", "f", "$LATEST", "init", 0.0, 1.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        InitReport(1.0, "init", Status.SUCCESS, None, 0.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        InvocationRecord(
            "r",
            "f",
            "$LATEST",
            "e",
            False,
            None,
            False,
            1.0,
            1,
            128,
            1,  # type: ignore[misc]
            Status.SUCCESS,
            None,
            0.0,
            1.0,
            0.0,
        )


def test_defaults_come_from_the_declaration() -> None:
    span = PhaseSpan(environment_id="e", function="f", version="$LATEST", phase="init", start=0.0, end=1.0)
    assert span.request_id is None
    assert Invocation("r", 1.0) == Invocation("r", 1.0, None, "", None)
    record = build("InvocationRecord")
    assert isinstance(record, InvocationRecord)
    values = dict(zip(fields(record), astuple(record), strict=True))
    del values["reset"]
    assert InvocationRecord(**values).reset is False


def test_value_equality_is_by_type_and_fields() -> None:
    end = End("r1", 0.5)
    assert end == End("r1", 0.5) and end != End("r1", 0.6) and end != ("r1", 0.5)
    assert not (end != End("r1", 0.5))
    assert {end, End("r1", 0.5)} == {end}
    assert repr(end) == "End(request_id='r1', at=0.5)"


# -- the generator itself -------------------------------------------------------------------------
SOURCE = '''
class Base(Value):
    key: str


class Thing(Base):
    """A thing."""

    size: int  # default 3; how big
    note: str | None  # default None

    @property
    def double(self) -> int:
        return self.size * 2


class Empty(Base):
    pass_through: ClassVar[int] = 0
'''


def test_the_generator_writes_slots_fields_and_init_from_the_annotations() -> None:
    out = tool.generate(SOURCE)

    assert tool.generate(out) == out
    assert '    __slots__ = ("size", "note")\n' in out
    assert '    _fields: ClassVar[tuple[str, ...]] = ("key", "size", "note")\n' in out
    assert "    def __init__(self, key: str, size: int = 3, note: str | None = None) -> None:\n" in out
    assert "        self.note = note\n" in out
    thing = out.index("class Thing")
    assert out.index("def double") < out.index(tool.MARKER[0], thing) < out.index("def __init__(self, key: str, size")
    assert out.count("__slots__ = ()") == 1  # Empty has no fields of its own


def test_the_generator_refuses_a_default_written_as_an_assignment() -> None:
    with pytest.raises(ValueError, match="default"):
        tool.generate("class A(Value):\n    x: int = 1\n")
