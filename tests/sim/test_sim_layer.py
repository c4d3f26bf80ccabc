"""The simulator is layer L1 beside the engine: it may use the core, never the engine (STYLE §3.2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lambdalab.sim

SIM = Path(lambdalab.sim.__file__).parent
ALLOWED = ("lambdalab.core", "lambdalab.errors", "lambdalab.config", "lambdalab.sim")
FORBIDDEN_ROOTS = {"asyncio", "subprocess", "socket", "threading", "IPython", "ipywidgets", "plotly"}


@pytest.mark.parametrize("path", sorted(SIM.glob("*.py")), ids=lambda p: p.name)
def test_sim_modules_import_only_the_core_and_leaf_modules(path: Path) -> None:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            if name.startswith("lambdalab") and not name.startswith(ALLOWED):
                bad.append(f"{path.name}:{node.lineno} imports {name}")
            if name.split(".")[0] in FORBIDDEN_ROOTS:
                bad.append(f"{path.name}:{node.lineno} imports {name}")
    assert bad == []
