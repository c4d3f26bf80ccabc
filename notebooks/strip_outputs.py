"""Strip the tutorial notebooks for committing: no outputs, no execution counts, no widget state.

    python notebooks/strip_outputs.py            # rewrite every notebooks/*.ipynb that needs it
    python notebooks/strip_outputs.py --check    # list the ones that need it; exit 1 if any

Run it before committing a notebook you executed. Outputs hold timings, request ids and, for
widgets, megabytes of state (plotly's FigureWidget bundle); nbval and Binder run the notebooks
fresh anyway. Cell ids, tags and ``jupyter.source_hidden`` stay (a check cell stays tagged ``check`` and
folded: tests/test_notebook_plumbing.py); other cell metadata goes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
KEEP_CELL_METADATA = ("tags", "jupyter")
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def strip(nb: nbformat.NotebookNode) -> bool:
    """Strip ``nb`` in place; True if anything changed."""
    changed = False
    for key in list(nb.metadata):
        if key not in KEEP_NOTEBOOK_METADATA:  # widgets, execution timings, editor state
            del nb.metadata[key]
            changed = True
    if nb.metadata.get("language_info", {}).keys() - {"name"}:
        nb.metadata["language_info"] = {"name": nb.metadata["language_info"].get("name", "python")}
        changed = True
    for cell in nb.cells:
        for key in list(cell.metadata):
            if key not in KEEP_CELL_METADATA:
                del cell.metadata[key]
                changed = True
        if cell.cell_type == "code":
            if cell.outputs or cell.execution_count is not None:
                cell.outputs, cell.execution_count = [], None
                changed = True
        elif "attachments" in cell and not cell.attachments:
            del cell["attachments"]
            changed = True
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    dirty = []
    for path in sorted(HERE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if strip(nb):
            dirty.append(path.name)
            if not check:
                nbformat.write(nb, path)
    verb = "need stripping" if check else "stripped"
    print(f"{len(dirty)} notebook(s) {verb}" + (": " + ", ".join(dirty) if dirty else ""))
    return 1 if check and dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
