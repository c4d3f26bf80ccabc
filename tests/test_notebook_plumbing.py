"""The tutorials read as tutorials: a learner in JupyterLab sees the lesson, not the test plumbing.

The notebooks run as tests (``make test-notebooks``: nbval runs every code cell, hidden or not). The asserts
that make them tests live in *check cells*: code cells tagged ``check`` whose source JupyterLab keeps folded
(``"jupyter": {"source_hidden": true}``), so the placeholder shows only their first line,
``# Check (hidden): what it checks``. A check cell asserts and shows nothing; a lesson cell never asserts; and the
lesson never reads a name that only a check cell defines, so folding the checks hides nothing a learner needs.

No ``# NBVAL_...`` comment markers either: the notebooks are committed without outputs, and nbval compares no
outputs of a cell that never ran (``execution_count`` null), so the markers did nothing but clutter the lesson.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TUTORIALS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
CHECK_TAG = "check"
CHECK_FIRST_LINE = "# Check (hidden): "
SETUP_FIRST_LINE = "# Set-up (hidden)"
MARKER = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+", re.MULTILINE)
SHOWS = {"print", "display"}  # calls that put output under a cell whose code is hidden


def is_check(cell: nbformat.NotebookNode) -> bool:
    return CHECK_TAG in cell.metadata.get("tags", [])


def is_hidden(cell: nbformat.NotebookNode) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


def python_of(source: str) -> ast.Module:
    """The cell as the kernel runs it: magics become ``get_ipython()`` calls (a ``%%lambda`` cell's body, the
    function's own code, becomes a string, so a handler's asserts are not the notebook's)."""
    return ast.parse(TransformerManager().transform_cell(source))


def _uses_magic(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "get_ipython" for n in ast.walk(tree))


def _calls(tree: ast.Module) -> set[str]:
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _bound(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _read(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What a learner would trip over in ``nb``: plumbing in the lesson, or a check cell that checks nothing."""
    found = []
    visible_bound: set[str] = set()
    visible_read: dict[str, int] = {}
    check_bound: set[str] = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index}"
        if MARKER.search(cell.source):
            found.append(
                f"{where}: an NBVAL comment marker (nbval compares no outputs of a notebook committed "
                "without them): remove it"
            )
        tree = python_of(cell.source)
        asserts = sum(isinstance(node, ast.Assert) for node in ast.walk(tree))
        first_line = cell.source.split("\n", 1)[0]
        if is_check(cell):
            if not is_hidden(cell):
                found.append(f"{where}: a check cell must be hidden (metadata jupyter.source_hidden: true)")
            if not first_line.startswith(CHECK_FIRST_LINE) or len(first_line) <= len(CHECK_FIRST_LINE):
                found.append(
                    f"{where}: a check cell's first line (all JupyterLab shows) is "
                    f"{CHECK_FIRST_LINE!r} and what it checks"
                )
            if asserts == 0:
                found.append(f"{where}: a check cell that asserts nothing")
            if _uses_magic(tree):
                found.append(f"{where}: a magic in a check cell is lesson code: move it to a visible cell")
            if _calls(tree) & SHOWS or (
                tree.body and isinstance(tree.body[-1], ast.Expr) and not isinstance(tree.body[-1].value, ast.Call)
            ):
                found.append(f"{where}: a check cell shows output whose code is hidden: move that to the lesson")
            check_bound |= _bound(tree)
            continue
        if asserts:
            found.append(
                f"{where} mixes lesson code and {asserts} assert(s): move them to a hidden check cell "
                f"(tags [{CHECK_TAG!r}], jupyter.source_hidden)"
            )
        if is_hidden(cell) and not first_line.startswith(SETUP_FIRST_LINE):
            found.append(f"{where}: hidden, but neither a check cell nor a {SETUP_FIRST_LINE!r} cell")
        visible_bound |= _bound(tree)
        for name in _read(tree):
            visible_read.setdefault(name, index)
    for name in sorted((check_bound - visible_bound) & visible_read.keys()):
        found.append(f"cell {visible_read[name]} reads {name!r}, which only a hidden check cell defines")
    return found


# -- the checker can fail ---------------------------------------------------------------------------
def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def _check(source: str, *, hidden: bool = True) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata = {"tags": [CHECK_TAG], **({"jupyter": {"source_hidden": True}} if hidden else {})}
    return cell


def test_a_lesson_cell_with_an_assert_is_reported() -> None:
    nb = _notebook(nbformat.v4.new_code_cell("r = fn.invoke({})\nassert r.cold"))
    assert problems(nb) == [
        "cell 0 mixes lesson code and 1 assert(s): move them to a hidden check cell "
        "(tags ['check'], jupyter.source_hidden)"
    ]
    nested = _notebook(nbformat.v4.new_code_cell("for r in rs:\n    assert r.cold\nrs"))
    assert len(problems(nested)) == 1


def test_a_handlers_own_assert_is_not_the_notebooks() -> None:
    nb = _notebook(nbformat.v4.new_code_cell("%%lambda f\ndef handler(event, context):\n    assert event\n"))
    assert problems(nb) == []


def test_a_check_cell_that_asserts_nothing_or_shows_or_is_visible_is_reported() -> None:
    good = _check("# Check (hidden): warm\nwarm = r.cold is False\nassert warm")
    assert problems(_notebook(nbformat.v4.new_code_cell("r = fn.invoke({})"), good)) == []
    assert problems(_notebook(_check("# Check (hidden): nothing\nx = 1"))) == [
        "cell 0: a check cell that asserts nothing"
    ]
    assert "shows output" in problems(_notebook(_check("# Check (hidden): x\nassert x\nprint(x)")))[0]
    assert "shows output" in problems(_notebook(_check("# Check (hidden): x\nassert x\nx")))[0]
    assert "a magic" in problems(_notebook(_check("# Check (hidden): x\n%lambda kill f\nassert x")))[0]
    assert "must be hidden" in problems(_notebook(_check("# Check (hidden): x\nassert x", hidden=False)))[0]
    assert "first line" in problems(_notebook(_check("assert x")))[0]


def test_markers_hidden_lesson_cells_and_names_only_a_check_defines_are_reported() -> None:
    marked = _notebook(nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nfn.invoke({})"))
    assert "NBVAL comment marker" in problems(marked)[0]
    hidden = nbformat.v4.new_code_cell("r = fn.invoke({})")
    hidden.metadata = {"jupyter": {"source_hidden": True}}
    assert "neither a check cell" in problems(_notebook(hidden))[0]
    leaks = _notebook(_check("# Check (hidden): x\nbase = r.init\nassert base"), nbformat.v4.new_code_cell("base"))
    assert problems(leaks) == ["cell 1 reads 'base', which only a hidden check cell defines"]


# -- the notebooks -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_keeps_its_checks_out_of_the_lesson(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert problems(nb) == []
    checks = [cell for cell in nb.cells if cell.cell_type == "code" and is_check(cell)]
    assert checks, "no check cell: a tutorial proves its point with asserts"


@pytest.mark.parametrize("path", [*NOTEBOOKS, ROOT / "README.md"], ids=lambda p: p.name)
def test_no_text_cites_a_document_outside_the_repository(path: Path) -> None:
    assert "LAMBDA-SPEC" not in path.read_text()


def test_every_tutorial_is_checked() -> None:
    assert len(TUTORIALS) >= 15
    for path in TUTORIALS:
        nb = nbformat.read(path, as_version=4)
        asserts = sum(
            isinstance(node, ast.Assert)
            for cell in nb.cells
            if cell.cell_type == "code" and is_check(cell)
            for node in ast.walk(python_of(cell.source))
        )
        assert asserts >= 2, f"{path.name}: {asserts} assert(s)"
