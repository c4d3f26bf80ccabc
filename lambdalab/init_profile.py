"""Why an init is slow: a cold start's import profile, module by module, and where each module came from.

A runtime started with ``python -X importtime`` (``IMPORTTIME_FLAG``) writes one line to stderr per
import it finishes, children before their parent, indented two spaces per level of nesting::

    import time: self [us] | cumulative | imported package
    import time:       270 |        270 |     _json
    import time:       408 |      12345 |   json.decoder
    import time:       277 |      13013 | json

The header is written once per process, so a log holding several cold starts holds several
blocks. ``parse_importtime`` reads one block into ``ImportRow``s, ignoring every other line (START,
REPORT, a handler's prints). ``collect_modules_snippet`` is Python the runtime runs right after
init to write, behind ``MODULES_MARKER``, the file of every loaded module; ``parse_modules_line``
reads it back, and ``until=MODULES_MARKER`` keeps the imports of the init apart from those a
handler makes later. ``classify`` says where a module was loaded from, given the folders of each
origin (the task root, the dependency build, the layers, the runtime's own directory) as the
environment sees them: the most specific folder wins, the interpreter's own library is
``"stdlib"``, a module missing from the list is an import that failed (``"not found"``), and a
module with no file takes its package's origin or is ``"stdlib"`` when the standard library
names it. ``profile_table`` puts it all in a DataFrame (pandas is imported on call, so
``import lambdalab`` stays light).

Pure functions over text and mappings: nothing here runs a process or reads a clock.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "IMPORTTIME_FLAG",
    "MODULES_MARKER",
    "ORIGINS",
    "ImportRow",
    "classify",
    "collect_modules_snippet",
    "import_blocks",
    "origin_totals",
    "parse_importtime",
    "parse_modules_line",
    "profile_table",
]

IMPORTTIME_FLAG: Final = ("-X", "importtime")
MODULES_MARKER: Final = "[lambdalab:init-modules] "
# where a module can come from, in the order a chart's legend lists them
ORIGINS: Final = ("package", "dependencies", "layer", "runtime", "stdlib", "other", "not found", "unknown")
COLUMNS: Final = ("module", "parent", "depth", "self_ms", "cumulative_ms", "origin", "file", "index", "parent_index")

_HEADER = "import time: self [us] | cumulative | imported package"
# "import time: %9ld | %10ld | %*s%s": the name is indented by 2 spaces per level; anything may precede the line
_ROW = re.compile(r"import time:\s*(\d+) \|\s*(\d+) \| ( *)(\S+)\s*$")
_SITE_DIRS = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One finished import: its own time, its time with what it imported, and what imported it.

    ``index`` is the row's position in its block (the order imports finished); ``parent_index``
    points at the importing row, so a module imported twice (a failed import retried) stays distinct.
    """

    module: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: str | None
    index: int
    parent_index: int | None


# ------------------------------------------------------------------------------------------- parsing
def import_blocks(text: str, *, until: str | None = None) -> list[list[ImportRow]]:
    """Every import profile in ``text``, one per process (a new block at each header line).

    Rows before the first header (a log whose start was dropped) form a block of their own. With
    ``until``, a line containing it ends the block: pass ``MODULES_MARKER`` to keep the imports of
    the init only, not those a handler makes lazily while it runs.
    """
    raw: list[list[tuple[str, int, int, int]]] = []
    current: list[tuple[str, int, int, int]] | None = None
    ended = False  # the current block met ``until``: its later rows are not the init's
    for line in text.splitlines():
        if _HEADER in line:
            current, ended = [], False
            raw.append(current)
            continue
        if until is not None and until in line:
            current, ended = None, True
            continue
        match = _ROW.search(line)
        if match is None or ended:
            continue
        if current is None:
            current = []
            raw.append(current)
        self_us, cumulative_us, indent, module = match.groups()
        current.append((module, int(self_us), int(cumulative_us), len(indent) // 2))
    return [_link(block) for block in raw if block]


def parse_importtime(text: str, *, block: int = 0, until: str | None = None) -> list[ImportRow]:
    """The rows of one import profile in ``text`` (the first by default; ``-1`` is the last).

    Returns ``[]`` when the text holds none; raises ``IndexError`` naming how many it holds when
    ``block`` asks for one that is not there. ``until`` ends each block early (``import_blocks``).
    """
    blocks = import_blocks(text, until=until)
    if not blocks and block in (0, -1):
        return []
    try:
        return blocks[block]
    except IndexError:
        raise IndexError(f"block {block} asked for, but the text holds {len(blocks)} import profile(s)") from None


def _link(block: list[tuple[str, int, int, int]]) -> list[ImportRow]:
    """Give each row its parent: the next row one level up, since a parent finishes after its children."""
    parents: list[int | None] = [None] * len(block)
    open_at: dict[int, int] = {}  # depth -> index of the latest row seen at that depth, walking backwards
    for index in range(len(block) - 1, -1, -1):
        depth = block[index][3]
        parents[index] = open_at.get(depth - 1) if depth > 0 else None
        open_at[depth] = index
        for deeper in [d for d in open_at if d > depth]:
            del open_at[deeper]
    return [
        ImportRow(module, self_us, cumulative_us, depth, None if p is None else block[p][0], index, p)
        for index, ((module, self_us, cumulative_us, depth), p) in enumerate(zip(block, parents, strict=True))
    ]


# ---------------------------------------------------------------------------------- module files
def collect_modules_snippet(marker: str = MODULES_MARKER) -> str:
    """Python source that writes one line, ``marker`` + JSON ``{module: file or None}``, to fd 2.

    Run it in the environment right after init. It imports nothing (it writes its JSON by hand, through
    the always-loaded ``posix`` module), so it adds no line to the import profile and no module to the
    list; a namespace package is given its first folder; and it writes to the file descriptor, so a
    handler that replaced ``sys.stderr`` cannot swallow the line.
    """
    return f"""\
def _lambdalab_init_modules():
    import sys
    escape = {{i: "\\\\u%04x" % i for i in range(32)}}
    escape.update({{34: '\\\\"', 92: "\\\\\\\\"}})
    items = []
    for name, module in list(sys.modules.items()):
        try:
            where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or ()), None)
        except Exception:
            where = None
        value = '"%s"' % where.translate(escape) if isinstance(where, str) else "null"
        items.append('"%s":%s' % (str(name).translate(escape), value))
    data = ({marker!r} + "{{" + ",".join(items) + "}}\\n").encode("utf-8", "replace")
    write = sys.modules["posix"].write
    while data:
        data = data[write(2, data):]
_lambdalab_init_modules()
del _lambdalab_init_modules
"""


def parse_modules_line(text: str, *, block: int = 0, marker: str = MODULES_MARKER) -> dict[str, str | None]:
    """The ``{module: file}`` written by ``collect_modules_snippet`` (the first such line by default).

    Returns ``{}`` when the text holds none; raises ``IndexError`` when ``block`` asks for a line
    that is not there, and ``ValueError`` when the line is not whole JSON (cut or interleaved).
    """
    lines = [line[line.index(marker) + len(marker) :] for line in text.splitlines() if marker in line]
    if not lines and block in (0, -1):
        return {}
    try:
        payload = lines[block]
    except IndexError:
        raise IndexError(f"block {block} asked for, but the text holds {len(lines)} module list(s)") from None
    try:
        files = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the module list line is not whole JSON ({exc.msg} at {exc.pos} of {len(payload)})") from exc
    if not isinstance(files, dict):
        raise ValueError(f"the module list line holds a {type(files).__name__}, not an object")
    return {str(k): v if isinstance(v, str) else None for k, v in files.items()}


# -------------------------------------------------------------------------------------- attribution
def classify(module: str, files: Mapping[str, str | None], roots: Mapping[str, Iterable[str]]) -> str:
    """Where ``module`` was loaded from: a key of ``roots`` (e.g. ``"package"``, ``"layer"``), ``"stdlib"``,
    ``"other"`` (a file outside every root), ``"not found"`` (absent from ``files``: an import that
    failed, such as an optional dependency probed in a ``try``) or ``"unknown"`` (no file, not a
    standard library name).

    ``files`` maps module names to their files (``parse_modules_line``), taken after the init; empty,
    it tells nothing and the standard library's names decide. ``roots`` maps each origin to its
    folders, as the environment sees them. The longest folder containing the file wins, so a
    ``package/`` folder inside the task root can be told apart from the task root.
    """
    if files and module not in files:
        return "not found"
    path = files.get(module)
    if path:
        return _origin_of_path(path, roots)
    package, _, _ = module.rpartition(".")
    while package:  # a submodule with no file of its own (six.moves.*): its package's origin
        if files.get(package):
            return _origin_of_path(files[package] or "", roots)
        package, _, _ = package.rpartition(".")
    return "stdlib" if module.partition(".")[0] in sys.stdlib_module_names else "unknown"


def _origin_of_path(path: str, roots: Mapping[str, Iterable[str]]) -> str:
    path = os.path.normpath(path)
    best, best_len = "", -1
    for origin, folders in roots.items():
        for folder in folders:
            folder = os.path.normpath(folder)
            if (path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)) and len(folder) > best_len:
                best, best_len = origin, len(folder)
    if best:
        return best
    return "stdlib" if _in_stdlib(path) else "other"


def _in_stdlib(path: str) -> bool:
    """Under the interpreter's own library folders, and not in a site-packages folder inside them."""
    for folder in _stdlib_folders():
        if path.startswith(folder + os.sep):
            return not _SITE_DIRS & set(path[len(folder) + 1 :].split(os.sep))
    return False


@functools.cache
def _stdlib_folders() -> tuple[str, ...]:
    folders = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), os.path.dirname(os.__file__)}
    return tuple(sorted((os.path.normpath(f) for f in folders if f), key=len, reverse=True))


# ------------------------------------------------------------------------------------------- tables
def profile_table(
    rows: Sequence[ImportRow], files: Mapping[str, str | None], roots: Mapping[str, Iterable[str]]
) -> pd.DataFrame:
    """One row per import, slowest first (cumulative): module, parent, depth, self_ms, cumulative_ms,
    origin, file, index, parent_index (``index``/``parent_index`` identify rows in the tree)."""
    import pandas as pd

    frozen_roots = {origin: tuple(folders) for origin, folders in roots.items()}
    records = [
        (
            row.module,
            row.parent,
            row.depth,
            row.self_us / 1000.0,
            row.cumulative_us / 1000.0,
            classify(row.module, files, frozen_roots),
            files.get(row.module),
            row.index,
            row.parent_index,
        )
        for row in rows
    ]
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    table = table.astype(
        {"depth": "int64", "self_ms": "float64", "cumulative_ms": "float64", "index": "int64", "parent_index": "Int64"}
    )
    return table.sort_values(["cumulative_ms", "index"], ascending=[False, True], kind="stable").reset_index(drop=True)


def origin_totals(
    rows: Sequence[ImportRow], files: Mapping[str, str | None], roots: Mapping[str, Iterable[str]]
) -> dict[str, float]:
    """Milliseconds of import time (self) spent in each origin, largest first: where the init went."""
    totals: dict[str, float] = {}
    for row in rows:
        origin = classify(row.module, files, roots)
        totals[origin] = totals.get(origin, 0.0) + row.self_us / 1000.0
    return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))
