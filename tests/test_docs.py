"""The lifecycle diagram in ARCHITECTURE.md is the transition table, not a drawing of it (STYLE §3.14.2).

Fails, printing the regenerated block, when the document and ``TRANSITIONS`` differ.
Fix with ``python tools/gen_lifecycle_diagram.py --write``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lambdalab.core.lifecycle import TRANSITIONS

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "gen_lifecycle_diagram.py"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_lifecycle_diagram", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def test_architecture_md_diagram_matches_the_transition_table() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = tool.current_block(text)
    expected = tool.render()

    assert block is not None, f"ARCHITECTURE.md needs one {tool.BEGIN} ... {tool.END} pair"
    if block != expected:
        pytest.fail("ARCHITECTURE.md's lifecycle diagram has drifted from TRANSITIONS; run "
                    "`python tools/gen_lifecycle_diagram.py --write`, or paste:\n\n" + expected, pytrace=False)


def test_diagram_has_one_line_per_transition_plus_start_and_end() -> None:
    lines = tool.edges()

    assert lines[0] == "[*] --> STARTING: StartRequested"
    assert lines[-1] == "TERMINATED --> [*]"
    assert len(lines) == len(TRANSITIONS) + 2
    for (source, event), target in TRANSITIONS.items():
        assert f"{source.name} --> {target.name}: {event.__name__}" in lines
    assert "RESET --> STARTING: StartRequested" in lines


def test_diagram_is_deterministic() -> None:
    assert tool.render() == tool.render()
    assert tool.render().splitlines()[1:3] == ["```mermaid", "stateDiagram-v2"]


def test_write_replaces_only_the_text_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "ARCHITECTURE.md"
    doc.write_text(f"# Title\n\nbefore\n{tool.BEGIN}\nstale\n{tool.END}\nafter\n")

    assert tool.write(doc) is True
    assert tool.write(doc) is False  # second run: nothing to do

    text = doc.read_text()
    assert text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"{tool.END}\nafter\n")
    assert tool.current_block(text) == tool.render()


def test_write_creates_a_stub_with_only_the_markers_when_the_file_is_missing(tmp_path: Path) -> None:
    doc = tmp_path / "ARCHITECTURE.md"

    tool.write(doc)

    assert doc.read_text() == f"{tool.BEGIN}\n{tool.render()}\n{tool.END}\n"


@pytest.mark.parametrize("text", ["no markers", f"{tool.END}\n{tool.BEGIN}\n", f"{tool.BEGIN}{tool.BEGIN}{tool.END}"])
def test_write_refuses_a_document_without_one_ordered_marker_pair(tmp_path: Path, text: str) -> None:
    doc = tmp_path / "ARCHITECTURE.md"
    doc.write_text(text)

    with pytest.raises(ValueError, match="lifecycle:begin"):
        tool.write(doc)
    assert doc.read_text() == text


def test_tool_prints_the_block_without_flags() -> None:
    result = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout == tool.render() + "\n"


def test_no_text_a_user_reads_cites_a_document_outside_the_repository() -> None:
    """The package, the docs, the README, the map and the tutorials name AWS pages or files in the repository,
    never the project's own reference notes kept outside it."""
    places = [*(ROOT / "lambdalab").rglob("*.py"), *(ROOT / "docs").glob("*.md"), ROOT / "README.md",
              ROOT / "ARCHITECTURE.md", *(ROOT / "notebooks").glob("*.ipynb")]
    hits = [f"{path.relative_to(ROOT)}:{number}" for path in places
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if "LAMBDA-SPEC" in line or "PERF-FLOORS" in line or "/shared/" in line]
    assert not hits, hits
