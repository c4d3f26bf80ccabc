"""Import contracts, checked mechanically (STYLE §3.13).

1. ``lambdalab/core`` is sans-I/O: no module in it imports anything that does I/O, keeps time,
   draws random numbers or runs concurrently, and it depends on no lambdalab module outside
   ``lambdalab.core`` except ``lambdalab.errors``.
2. ``import lambdalab`` stays light: no IPython, ipywidgets, plotly or pandas until asked for.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lambdalab.core

CORE = Path(lambdalab.core.__file__).parent
CORE_MODULES = sorted(CORE.glob("*.py"))

FORBIDDEN = frozenset({
    "asyncio", "subprocess", "socket", "threading", "time", "os", "random", "selectors",
    # same powers under other names
    "multiprocessing", "concurrent", "_thread", "shutil", "pathlib", "tempfile", "secrets", "uuid",
    "importlib",
})
# ``datetime`` may format a driver-given time; reading the clock through it is caught by name.
CLOCK_READS = frozenset({"now", "utcnow", "today"})
# ``signal`` is allowed: outcomes.py needs signal *numbers and names* to word an exit the way the
# Runtime API does ("signal: killed"). test_core_uses_signal_only_for_constants holds it to that.
ALLOWED_LAMBDALAB = ("lambdalab.core", "lambdalab.errors")


def imported_modules(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """Every module an AST imports, absolute, with its line (relative imports resolved)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            # ``from lambdalab import engine`` imports the module lambdalab.engine
            found += [(node.lineno, f"{base}.{alias.name}" if base == "lambdalab" else base) for alias in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            found.append((node.lineno, "__import__"))
    return found


def clock_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls such as ``datetime.now()`` or ``date.today()``."""
    return [(node.lineno, node.func.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_READS]


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for line, module in imported_modules(tree, "lambdalab.core"):
        root = module.split(".")[0]
        if root in FORBIDDEN or module == "__import__":
            bad.append(f"{path.name}:{line} imports {module}")
        elif root == "lambdalab" and not module.startswith(ALLOWED_LAMBDALAB):
            bad.append(f"{path.name}:{line} imports {module} (core may use only lambdalab.core and lambdalab.errors)")
    bad += [f"{path.name}:{line} reads the clock ({name}())" for line, name in clock_reads(tree)]
    return bad


def test_core_modules_are_found() -> None:
    assert {p.name for p in CORE_MODULES} >= {"lifecycle.py", "pool.py", "placement.py", "records.py", "events.py",
                                              "effects.py", "outcomes.py", "runtime_api.py", "logstream.py", "ids.py"}


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_module_imports_nothing_that_does_io_or_keeps_time(path: Path) -> None:
    assert violations(path) == []


def test_core_uses_signal_only_for_constants() -> None:
    """``signal.SIGKILL`` and ``signal.Signals(n)`` are data; ``signal.signal(...)`` or ``os.kill`` are not."""
    for path in CORE_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "signal":
                assert node.attr == "Signals" or node.attr.startswith("SIG"), f"{path.name}:{node.lineno} signal.{node.attr}"
            if isinstance(node, ast.ImportFrom) and node.module == "signal":
                names = [a.name for a in node.names]
                assert all(n == "Signals" or n.startswith("SIG") for n in names), f"{path.name}: from signal import {names}"


@pytest.mark.parametrize(("source", "bad"), [
    ("import os", True),
    ("import time as clock", True),
    ("from asyncio import sleep", True),
    ("import concurrent.futures", True),
    ("def f():\n    import random", True),
    ("__import__('socket')", True),
    ("from lambdalab.engine import sandbox", True),
    ("from lambdalab import engine", True),
    ("from lambdalab import api", True),
    ("from .. import config", True),
    ("from lambdalab.core.events import Event", False),
    ("from . import outcomes", False),
    ("from lambdalab.errors import LifecycleError", False),
    ("from lambdalab import errors", False),
    ("import hashlib, json, math, signal", False),
    ("import datetime\ndatetime.datetime.fromtimestamp(0.0, tz=datetime.timezone.utc)", False),
    ("import datetime\ndatetime.datetime.now()", True),
    ("from datetime import date\ndate.today()", True),
])
def test_the_checker_catches_what_it_should(tmp_path: Path, source: str, bad: bool) -> None:
    module = tmp_path / "sample.py"
    module.write_text(source + "\n")
    assert bool(violations(module)) is bad


def test_import_lambdalab_loads_no_notebook_or_table_libraries() -> None:
    code = "import lambdalab, sys; assert not {'IPython','ipywidgets','plotly','pandas'} & set(sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
