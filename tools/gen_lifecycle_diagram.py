"""Render ``lambdalab.core.lifecycle.TRANSITIONS`` as a Mermaid ``stateDiagram-v2`` block.

Rules:
1. The diagram is data: every edge comes from ``TRANSITIONS``, one line per row, ordered by the
   source state's place in ``State`` and then by event name, so the output is deterministic.
2. Two readers' edges are added, both derived from the table: ``[*] --> STARTING: StartRequested``
   (a new environment is created RESET and started at once, so readers see the start there,
   while RESET keeps its own edges), and ``X --> [*]`` for each state with no way out.
3. ``--write`` replaces only the text between ``<!-- lifecycle:begin -->`` and
   ``<!-- lifecycle:end -->`` in ARCHITECTURE.md; everything else in that file belongs to others.
   Without flags the block is printed. ``tests/test_docs.py`` fails when the two differ.

Usage: ``python tools/gen_lifecycle_diagram.py [--write] [--path ARCHITECTURE.md]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lambdalab.core.events import StartRequested
from lambdalab.core.lifecycle import TRANSITIONS, Environment, EnvironmentSpec, State

BEGIN = "<!-- lifecycle:begin -->"
END = "<!-- lifecycle:end -->"
ARCHITECTURE = Path(__file__).resolve().parent.parent / "ARCHITECTURE.md"
NOTE = "<!-- generated from lambdalab.core.lifecycle.TRANSITIONS by tools/gen_lifecycle_diagram.py --write -->"


def _initial_state() -> State:
    """The state a new environment is created in (read from the code, not assumed)."""
    return Environment("0" * 32, EnvironmentSpec("f", "$LATEST", "python", 128, 1.0)).state


def edges() -> list[str]:
    """One Mermaid line per transition, plus the start and end markers."""
    order = {state: index for index, state in enumerate(State)}
    rows = sorted(TRANSITIONS.items(), key=lambda row: (order[row[0][0]], row[0][1].__name__))
    initial = _initial_state()
    lines = [
        f"[*] --> {target.name}: {event.__name__}"
        for (source, event), target in rows
        if source is initial and event is StartRequested
    ]
    lines += [f"{source.name} --> {target.name}: {event.__name__}" for (source, event), target in rows]
    sources = {source for source, _ in TRANSITIONS}
    lines += [f"{state.name} --> [*]" for state in State if state not in sources]
    return lines


def render() -> str:
    """The whole block that sits between the markers (without the markers)."""
    body = "\n".join("    " + line for line in edges())
    return f"{NOTE}\n```mermaid\nstateDiagram-v2\n{body}\n```"


def current_block(text: str) -> str | None:
    """The text between the markers, or None when the markers are missing or out of order."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        return None
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if end < start:
        return None
    return text[start:end].strip("\n")


def replace_block(text: str, block: str) -> str:
    if current_block(text) is None:
        raise ValueError(f"expected exactly one {BEGIN} followed by one {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def write(path: Path) -> bool:
    """Bring ``path``'s block up to date; returns True when the file changed."""
    if not path.exists():
        path.write_text(f"{BEGIN}\n{END}\n")  # a stub; the rest of the document is someone else's
    text = path.read_text()
    updated = replace_block(text, render())
    if updated == text:
        return False
    path.write_text(updated)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update the block in ARCHITECTURE.md")
    parser.add_argument("--path", type=Path, default=ARCHITECTURE, help="the document to update")
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write(render() + "\n")
        return 0
    try:
        changed = write(args.path)
    except ValueError as error:
        sys.stderr.write(f"{args.path}: {error}\n")
        return 1
    sys.stdout.write(f"{args.path}: {'updated' if changed else 'already up to date'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
