"""The seams between modules are public: no module reaches a private name of another module's object.

A module may use ``x._name`` only where ``_name`` is its own (defined, assigned or declared in that module:
its classes' private fields, its private functions); ``self._x`` and ``cls._x`` are always its own. A module
never imports a ``_name`` from another module. The front-ends (endpoint, SQS trigger, magics, the coming AWS
backend) therefore reach the Lab only through what it documents.

Run as a script to list the offences of some files: ``python tests/test_seams.py lambdalab/api.py ...``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lambdalab"

# Private names of the standard library that are its documented interface.
STDLIB_ALLOWED = frozenset({
    "_exit",      # os._exit: leave a forked child without running the parent's cleanup
    "_getframe",  # sys._getframe
    "_replace", "_asdict", "_fields", "_make",  # namedtuple's public methods
})


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_names(tree: ast.AST) -> set[str]:
    """Private names this module defines: functions, classes, assignments, attribute stores, slots, fields."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_private(node.value):
            names.add(node.value)  # __slots__ = ("_x", ...) and namedtuple field lists
    return {name for name in names if _is_private(name)}


def offences(path: Path) -> Iterator[str]:
    """``path:line: what`` for each reach into another module's private name."""
    tree = ast.parse(path.read_text(), str(path))
    own = own_names(tree)
    # a name the module imports is not its own definition, even though own_names() saw its alias
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    own -= {name for name in imported if _is_private(name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "lambdalab":
                continue
            for alias in node.names:
                if _is_private(alias.name):
                    yield f"{path}:{node.lineno}: imports private {alias.name} from {node.module}"
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            if node.attr in own or node.attr in STDLIB_ALLOWED:
                continue
            yield f"{path}:{node.lineno}: reaches {ast.unparse(owner)}.{node.attr}"


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def report(paths: Iterable[Path]) -> list[str]:
    return [line for path in paths for line in offences(path)]


def test_no_module_reaches_another_modules_private_names() -> None:
    found = report(package_files())
    assert not found, "private names reached across modules:\n" + "\n".join(found)


def test_the_check_catches_a_reach_and_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from lambdalab.viz._frames import _frame\n"
        "class Own:\n"
        "    def __init__(self):\n"
        "        self._mine = 1\n"
        "    def peer(self, other):\n"
        "        return other._mine + self._mine\n"
        "def reach(lab):\n"
        "    return lab._plane\n"
    )
    found = report([sample])
    assert [line.split(": ", 1)[1] for line in found] == [
        "imports private _frame from lambdalab.viz._frames",
        "reaches lab._plane",
    ]


def test_the_acceptance_grep_finds_nothing_outside_api() -> None:
    """Issue 20's check, literally: no ``._plane``, ``._resolve`` or ``lab._`` outside lambdalab/api.py."""
    import re

    pattern = re.compile(r"\._plane|\._resolve|lab\._")
    hits = [f"{path}:{number}: {line.strip()}" for path in package_files() if path.name != "api.py"
            or path.parent != PACKAGE
            for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, "\n".join(hits)


if __name__ == "__main__":
    lines = report(Path(arg) for arg in sys.argv[1:]) if sys.argv[1:] else report(package_files())
    print("\n".join(lines) or "no offences")
    sys.exit(1 if lines else 0)
