"""The layer rules: viz imports plotly only when drawing, and never IPython or ipywidgets."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys
import lambdalab.viz, lambdalab.load
assert "plotly" not in sys.modules, "plotly imported at import time"
import pandas as pd
spans = pd.DataFrame({"environment_id": ["e"], "function": ["f"], "version": ["1"], "phase": ["init"],
                      "start": [1.0], "end": [2.0], "request_id": [None]})
fig = lambdalab.viz.timeline(spans)
fig.to_html()
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("IPython", "ipywidgets", "ipykernel"))
assert not bad, bad
print("ok")
"""


@pytest.mark.slow
def test_viz_and_load_import_no_jupyter_and_plotly_lazily():
    out = subprocess.run([sys.executable, "-c", CODE], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_load_and_viz_do_not_import_the_api_layer_or_each_other():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lambdalab"
    for package, forbidden in (
        ("load", ("lambdalab.api", "lambdalab.viz", "lambdalab.jupyter", "lambdalab.cli")),
        ("viz", ("lambdalab.api", "lambdalab.load", "lambdalab.jupyter", "lambdalab.cli", "IPython", "ipywidgets")),
    ):
        for path in (root / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                )
                for name in names:
                    assert not name.startswith(forbidden), f"{path.name} imports {name}"
