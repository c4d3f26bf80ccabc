"""A cold start's import profile: parsed from a real ``python -X importtime`` run, attributed to origins."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from lambdalab.init_profile import (
    COLUMNS,
    IMPORTTIME_FLAG,
    MODULES_MARKER,
    ImportRow,
    classify,
    collect_modules_snippet,
    import_blocks,
    origin_totals,
    parse_importtime,
    parse_modules_line,
    profile_table,
)

STDLIB = sysconfig.get_path("stdlib")


# ------------------------------------------------------------------------------ a real interpreter
@pytest.fixture(scope="module")
def cold_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The merged stdout+stderr of one interpreter that imports like an init: stdlib, then the package."""
    root = tmp_path_factory.mktemp("task")
    (root / "mymod.py").write_text(
        textwrap.dedent("""\
        import time
        print("INIT_START Runtime Version: python:3.11")  # a handler's print in the middle of the profile
        import mymod_helper
        import colorsys
        try:
            import lambdalab_missing_optional  # an optional dependency probed, as many packages do
        except ImportError:
            pass
        time.sleep(0.05)
    """)
    )
    (root / "mymod_helper.py").write_text("VALUE = 1\n")
    # wave: imported after the init, as a handler importing lazily in its first invoke would
    code = f"import json, email.parser; import mymod\n{collect_modules_snippet()}\nimport wave"
    out = subprocess.run(
        [sys.executable, *IMPORTTIME_FLAG, "-S", "-c", code],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout
    return out.stdout, root


def by_module(rows: list[ImportRow]) -> dict[str, ImportRow]:
    return {row.module: row for row in rows}


def test_a_slow_import_is_found_with_its_time_and_nesting(cold_start: tuple[str, Path]) -> None:
    text, _ = cold_start
    rows = by_module(parse_importtime(text))
    mymod = rows["mymod"]
    assert mymod.cumulative_us >= 50_000 and mymod.self_us >= 50_000
    assert (mymod.depth, mymod.parent, mymod.parent_index) == (0, None, None)
    assert (rows["mymod_helper"].parent, rows["mymod_helper"].depth) == ("mymod", 1)
    assert (rows["colorsys"].parent, rows["colorsys"].depth) == ("mymod", 1)
    assert rows["lambdalab_missing_optional"].parent == "mymod"  # a failed import is timed too
    assert rows["json.decoder"].parent == "json" and rows["json"].depth == 0
    assert rows["email.feedparser"].parent == "email.parser"


def test_each_cumulative_time_is_its_own_plus_its_childrens(cold_start: tuple[str, Path]) -> None:
    rows = parse_importtime(cold_start[0])
    assert len(rows) > 20
    for row in rows:
        children = [r for r in rows if r.parent_index == row.index]
        assert abs(row.self_us + sum(c.cumulative_us for c in children) - row.cumulative_us) <= 1 + len(children)
        assert all(c.depth == row.depth + 1 and c.parent == row.module for c in children)


def test_modules_are_attributed_to_the_package_and_the_standard_library(cold_start: tuple[str, Path]) -> None:
    text, root = cold_start
    files = parse_modules_line(text)
    assert Path(files["mymod"] or "") == root / "mymod.py"
    roots = {"package": [str(root)]}
    table = profile_table(parse_importtime(text), files, roots)
    assert list(table.columns) == list(COLUMNS)
    origin = dict(zip(table["module"], table["origin"], strict=True))
    assert origin["mymod"] == origin["mymod_helper"] == "package"
    assert {origin[m] for m in ("json", "json.decoder", "email.parser", "email.feedparser", "colorsys")} == {"stdlib"}
    assert origin["lambdalab_missing_optional"] == "not found" and origin["wave"] == "not found"  # not loaded at init
    assert table["cumulative_ms"].is_monotonic_decreasing
    mymod = table[table["module"] == "mymod"].iloc[0]
    assert mymod["cumulative_ms"] >= 50.0 and mymod["depth"] == 0
    assert table[table["module"] == "mymod_helper"].iloc[0]["parent"] == "mymod"
    totals = origin_totals(parse_importtime(text, until=MODULES_MARKER), files, roots)
    assert totals["package"] >= 50.0 and set(totals) == {"package", "stdlib", "not found"}
    assert list(totals.values()) == sorted(totals.values(), reverse=True)


def test_until_the_module_list_keeps_the_inits_imports_only(cold_start: tuple[str, Path]) -> None:
    text, _ = cold_start
    init = parse_importtime(text, until=MODULES_MARKER)
    assert "wave" in by_module(parse_importtime(text)) and "wave" not in by_module(init)
    assert len(init) == len(parse_importtime(text)) - 1
    # the list adds nothing to the profile: every import of the init is in it but the one that failed
    assert {row.module for row in init} - set(parse_modules_line(text)) == {"lambdalab_missing_optional"}


def test_the_module_list_survives_a_handler_that_replaced_stderr(tmp_path: Path) -> None:
    (tmp_path / 'odd "name"\\x').mkdir()
    (tmp_path / 'odd "name"\\x' / "oddmod.py").write_text("")
    code = (
        "import io, sys, colorsys\nsys.path.insert(0, sys.argv[1])\nimport oddmod\nsys.stderr = io.StringIO()\n"
        + collect_modules_snippet()
    )
    out = subprocess.run(
        [sys.executable, *IMPORTTIME_FLAG, "-I", "-S", "-c", code, str(tmp_path / 'odd "name"\\x')],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    files = parse_modules_line(out.stderr)
    assert files["colorsys"] == str(Path(STDLIB) / "colorsys.py") and files["sys"] is None
    assert files["oddmod"] == str(tmp_path / 'odd "name"\\x' / "oddmod.py")  # quotes and backslashes escaped
    assert "_lambdalab_init_modules" not in files and out.stdout == ""
    assert not out.stderr.split(MODULES_MARKER)[1].count("import time:")  # nothing imported to write the list


# ------------------------------------------------------------------------------------- parsing text
NOISY = """\
INIT_START Runtime Version: python:3.11.v1\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:lambdalab
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     c
hello from the handler | with | pipes
import time:       200 |        300 |   b
import time:        50 |         50 |   d
2024-01-01T00:00:00Z import time:       400 |        750 | a\r
import time:        10 |         10 | e
START RequestId: 1 Version: $LATEST
END RequestId: 1
REPORT RequestId: 1\tDuration: 1.00 ms\tInit Duration: 9.00 ms
import time: self [us] | cumulative | imported package
import time:      7000 |       7000 | slow
"""


def test_importtime_lines_are_read_among_other_log_lines() -> None:
    rows = parse_importtime(NOISY)
    assert [(r.module, r.self_us, r.cumulative_us, r.depth, r.parent) for r in rows] == [
        ("c", 100, 100, 2, "b"),
        ("b", 200, 300, 1, "a"),
        ("d", 50, 50, 1, "a"),
        ("a", 400, 750, 0, None),
        ("e", 10, 10, 0, None),
    ]
    assert [r.parent_index for r in rows] == [1, 3, 3, None, None]


def test_each_cold_start_is_a_block_of_its_own() -> None:
    assert [len(b) for b in import_blocks(NOISY)] == [5, 1]
    assert [r.module for r in parse_importtime(NOISY, block=1)] == ["slow"]
    assert parse_importtime(NOISY, block=-1) == parse_importtime(NOISY, block=1)
    with pytest.raises(IndexError, match="holds 2 import profile"):
        parse_importtime(NOISY, block=2)


def test_a_log_without_a_profile_gives_no_rows() -> None:
    assert parse_importtime("START RequestId: 1\nEND RequestId: 1\n") == []
    assert parse_importtime("") == []


def test_until_ends_each_block_at_its_marker() -> None:
    text = NOISY.replace(
        "import time:        10 |         10 | e\n",
        "import time:        10 |         10 | e\nSTOP\nimport time:        99 |         99 | lazy\n",
    )
    assert [r.module for r in parse_importtime(text)][-1] == "lazy"
    assert [r.module for r in parse_importtime(text, until="STOP")] == ["c", "b", "d", "a", "e"]
    assert [r.module for r in parse_importtime(text, block=1, until="STOP")] == ["slow"]  # a new header, a new block


def test_rows_before_the_first_header_are_a_block() -> None:
    text = "import time:        30 |         30 | cut\n" + NOISY
    assert [r.module for r in parse_importtime(text)] == ["cut"]
    assert len(import_blocks(text)) == 3


def test_a_module_imported_twice_keeps_two_rows() -> None:
    text = (
        "import time:        5 |          5 |   missing\nimport time:        5 |          5 |   missing\n"
        "import time:       20 |         30 | app\n"
    )
    rows = parse_importtime(text)
    assert [(r.index, r.parent_index) for r in rows] == [(0, 2), (1, 2), (2, None)]


def test_the_module_list_line_is_found_among_other_lines() -> None:
    text = (
        "START\n" + MODULES_MARKER + '{"a": "/var/task/a.py", "sys": null}\n'
        "noise\n" + MODULES_MARKER + '{"b": "/x/b.py"}\n'
    )
    assert parse_modules_line(text) == {"a": "/var/task/a.py", "sys": None}
    assert parse_modules_line(text, block=-1) == {"b": "/x/b.py"}
    assert parse_modules_line("nothing here\n") == {}
    with pytest.raises(IndexError):
        parse_modules_line(text, block=2)
    with pytest.raises(ValueError, match="not whole JSON"):
        parse_modules_line(MODULES_MARKER + '{"a": "/var/ta\n')


# -------------------------------------------------------------------------------------- attribution
ROOTS = {
    "package": ["/var/task"],
    "dependencies": ["/var/task/package", "/cache/deps/abc"],
    "layer": ["/opt/python", "/opt/python/lib/python3.11/site-packages"],
    "runtime": ["/var/runtime/"],
}


@pytest.mark.parametrize(
    ("module", "file", "origin"),
    [
        ("app", "/var/task/app.py", "package"),
        ("requests", "/var/task/package/requests/__init__.py", "dependencies"),  # the longer folder wins
        ("jinja2", "/cache/deps/abc/jinja2/__init__.py", "dependencies"),
        ("shared", "/opt/python/shared.py", "layer"),
        ("numpy", "/opt/python/lib/python3.11/site-packages/numpy/__init__.py", "layer"),
        ("boto3", "/var/runtime/boto3/__init__.py", "runtime"),
        ("json", f"{STDLIB}/json/__init__.py", "stdlib"),
        ("thing", "/var/task2/thing.py", "other"),  # a prefix of the name is not the folder
        ("pandas", f"{STDLIB}/site-packages/pandas/__init__.py", "other"),  # under the stdlib folder, not stdlib
        ("sys", None, "stdlib"),  # built in: no file, a standard library name
        ("_frozen_importlib", None, "stdlib"),
        ("six.moves.urllib", None, "dependencies"),  # no file: its package's origin
        ("mystery", None, "unknown"),
        ("simplejson", "<absent>", "not found"),  # not in the list taken after init: the import failed
        ("absent", "", "unknown"),
    ],
)
def test_classify_by_the_most_specific_folder(module: str, file: str | None, origin: str) -> None:
    files = {module: file, "six": "/var/task/package/six.py"}
    if file == "<absent>":
        del files[module]
    assert classify(module, files, ROOTS) == origin
    assert classify(module, files, dict(reversed(ROOTS.items()))) == origin  # whatever order the roots come in


def test_a_module_missing_from_the_file_list_falls_back_to_the_standard_library_names() -> None:
    assert classify("email.parser", {}, ROOTS) == "stdlib"
    assert classify("requests", {}, ROOTS) == "unknown"


def test_an_empty_profile_is_an_empty_table_with_the_columns() -> None:
    table = profile_table([], {}, ROOTS)
    assert list(table.columns) == list(COLUMNS) and len(table) == 0
