"""What the magics print and show as text: logs line by line, plain help, kill's help, the board subcommand;
and, in a real kernel, ``%lambda load``'s progress bar as a widget with nothing on stderr."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lambdalab.jupyter import commands
from lambdalab.logtext import CONTINUATION_INDENT

FAILING = 'def handler(event, context):\n    print("about to fail")\n    raise ValueError("nope")\n'


def register_failing(ip: Any) -> Any:
    ip.run_cell_magic("lambda", "failing", FAILING)
    return ip.user_ns["failing"]


def test_logs_show_an_error_record_line_by_line(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    fn = register_failing(ip)
    assert fn.invoke({}).error["errorType"] == "ValueError"
    raw = fn.logs()
    assert "[ERROR] ValueError: nope\rTraceback (most recent call last):\r" in raw  # byte-exact, as Lambda's
    capsys.readouterr()
    ip.run_line_magic("lambda", "logs failing")
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    start = lines.index("[ERROR] ValueError: nope")
    assert lines[start - 1] == "about to fail"
    assert lines[start + 1] == CONTINUATION_INDENT + "Traceback (most recent call last):"
    assert 'raise ValueError("nope")' in lines[start + 3] and lines[start + 4].startswith("END RequestId")

    ip.run_line_magic("lambda", "logs failing --tail 3")  # the record counts as one line of the log
    tail = capsys.readouterr().out.splitlines()
    assert tail[0] == "[ERROR] ValueError: nope" and tail[-2].startswith("END RequestId")
    assert tail[-1].startswith("REPORT RequestId")


def test_help_is_plain_text_and_kill_says_what_it_does(ip: Any) -> None:
    line_doc = ip.find_line_magic("lambda").__doc__
    cell_doc = ip.find_cell_magic("lambda").__doc__
    for doc in (line_doc, cell_doc):
        assert "``" not in doc and not re.search(r"^\s*::\s*$", doc, re.MULTILINE)
    kill = " ".join(line_doc[line_doc.index("%lambda kill NAME") :].split("Python equivalent")[0].split())
    assert "shut down every environment of NAME now" in kill and "starts a new environment (a cold start)" in kill
    assert "%lambda board NAME" in line_doc and "board" in commands.SUBCOMMANDS


def test_board_subcommand_shows_the_functions_board(ip: Any) -> None:
    board_module = pytest.importorskip("lambdalab.jupyter.board")
    fn = register_failing(ip)
    fn.invoke({})
    widget = ip.run_line_magic("lambda", "board failing")
    try:
        assert isinstance(widget, board_module.Board)
    finally:
        widget.stop()
    with pytest.raises(Exception, match="Function not found"):
        ip.run_line_magic("lambda", "board ghost")


@pytest.mark.slow
def test_load_progress_is_a_widget_in_a_real_kernel_and_nothing_goes_to_stderr() -> None:
    from tests.jupyter.test_kernel import outputs, run_notebook

    cells = run_notebook(
        [
            "%load_ext lambdalab",
            "%%lambda hi\ndef handler(event, context):\n    return 1",
            "report = %lambda load hi --rate 20 --duration 1\nprint(report.summary.requests)",
        ],
        timeout=120,
    )
    load_cell = cells[2]
    assert not [o for o in outputs(load_cell, "stream") if o.name == "stderr"], load_cell.outputs
    widgets = [o for o in outputs(load_cell, "display_data") if "application/vnd.jupyter.widget-view+json" in o.data]
    assert widgets, load_cell.outputs  # tqdm's bar (tqdm.notebook), drawn as a widget
    assert "load" in widgets[0].data["text/plain"]
