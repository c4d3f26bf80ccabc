"""Before and after in the same run: benchmarks of an earlier revision and of this checkout, interleaved.

A refactoring must not make a hot path slower, and on a shared machine only figures taken side by side
mean anything. This checks the earlier revision out into a git worktree, compiles its core in place (as
``setup.py`` does), then runs each named benchmark alternately from that tree and from this checkout
(``PYTHONPATH`` puts the tree's package first), ``--rounds`` times, and prints each row's figures.

    python benchmarks/compare_revisions.py REV [--rounds 3] [--tree DIR] [--write] bench_warm_invoke bench_sim ...

``--write`` puts the tables in ``benchmarks/RESULTS.md``'s "## Before and after" section (``run_all.py`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
TIMEOUT_S = 300
SECTION = "## Before and after"


def prepare(revision: str, tree: Path) -> None:
    """A worktree of ``revision`` at ``tree`` with its compiled core built in place (once)."""
    if not (tree / ".git").exists():
        subprocess.run(
            ["git", "worktree", "add", "--force", "--detach", str(tree), revision],
            cwd=CHECKOUT,
            check=True,
            timeout=120,
        )
    if not list((tree / "lambdalab" / "core").glob("*.so")):
        # the modules setup.py compiles, with its flags; mypyc's command line builds them in place
        compiled = sorted(
            str(p.relative_to(tree)) for p in (tree / "lambdalab" / "core").glob("*.py") if p.name != "__init__.py"
        )
        compiled += [f"lambdalab/sim/{name}.py" for name in ("kernel", "latency", "tally", "driver", "simulation")]
        mypyc = Path(sys.executable).parent / "mypyc"
        # mypyc's build reads pyproject.toml with the venv's setuptools, which may predate its license field
        project = tree / "pyproject.toml"
        project.rename(tree / "pyproject.toml.aside")
        try:
            subprocess.run(
                [str(mypyc), "--ignore-missing-imports", "--follow-imports=silent", *compiled],
                cwd=tree,
                check=True,
                timeout=900,
                capture_output=True,
                env={**os.environ, "MYPYC_OPT_LEVEL": "3"},
            )
        finally:
            (tree / "pyproject.toml.aside").rename(project)


def run(tree: Path, name: str) -> dict[str, str]:
    """One benchmark from ``tree``'s own scripts and package: its rows' figures by row name."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / f"{name}.py")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return {row["name"]: str(row["figure"]) for row in json.loads(line[len("RESULT ") :])["rows"]}
    raise RuntimeError(f"{name} in {tree}: exit {proc.returncode}: {proc.stderr[-1500:]}")


def number(figure: str) -> float | None:
    """The first number of a figure such as ``"0.51 ms"`` or ``"4,348/s"``."""
    token = figure.replace(",", "").split()[0].rstrip("/sx×%")
    try:
        return float(token)
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("benchmarks", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=Path("/tmp/lambdalab-compare"))
    parser.add_argument("--write", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    args = parser.parse_args()
    prepare(args.revision, args.tree)
    lines: list[str] = []
    for name in args.benchmarks:
        before: dict[str, list[str]] = {}
        after: dict[str, list[str]] = {}
        for _ in range(args.rounds):
            for tree, into in ((args.tree, before), (CHECKOUT, after)):
                for row, figure in run(tree, name).items():
                    into.setdefault(row, []).append(figure)
        table = [
            f"### {name} ({args.rounds} rounds, interleaved; after / before of the medians)",
            "",
            f"| row | {args.revision[:10]} | this checkout | after / before |",
            "|---|---|---|---|",
        ]
        for row in after:
            table.append(
                f"| {row} | {' · '.join(before.get(row, [])) or '—'} | {' · '.join(after[row])} | "
                f"{ratio(before.get(row, []), after[row])} |"
            )
        print("\n".join(table) + "\n", flush=True)
        lines += [*table, ""]
    if args.write:
        write(args.revision, args.rounds, lines)


def ratio(before: list[str], after: list[str]) -> str:
    was = [n for n in map(number, before) if n is not None]
    now = [n for n in map(number, after) if n is not None]
    if not was or not now or not statistics.median(was):
        return "—"
    return f"{statistics.median(now) / statistics.median(was):.2f}"


def write(revision: str, rounds: int, lines: list[str]) -> None:
    """Replace (or add) the "## Before and after" section of RESULTS.md."""
    path = HERE / "RESULTS.md"
    text = path.read_text().splitlines() if path.exists() else []
    kept, skipping = [], False
    for line in text:
        if line.startswith("## "):
            skipping = line.strip() == SECTION
        if not skipping:
            kept.append(line)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = git("rev-parse", "--short", "HEAD")
    section = [
        SECTION,
        "",
        f"`benchmarks/compare_revisions.py {revision[:10]} --rounds {rounds}` at {when}: the benchmarks of "
        f"{revision[:10]} (its own scripts and compiled core, in a worktree) and of this checkout ({head}), "
        "run alternately in one process tree on this machine; each cell lists every round's figure.",
        "",
        *lines,
    ]
    while kept and not kept[-1].strip():
        kept.pop()
    path.write_text("\n".join([*kept, "", *section]).rstrip() + "\n")


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=CHECKOUT, capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()


if __name__ == "__main__":
    main()
