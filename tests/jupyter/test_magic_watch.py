"""``%lambda watch NAME [PATH]``: hot reload from a notebook (issue 17, item 2), on a real Lab and real files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

pytestmark = pytest.mark.slow


def _answer_changes(ip: Any, name: str, want: Any, timeout_s: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = ip.run_line_magic("lambda", f"invoke {name}")
        if result.payload == want or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def test_watch_redeploys_an_edited_file_and_stop_ends_it(ip: Any, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    handler = tmp_path / "lambda_function.py"  # a cell's handler module, as UpdateFunctionCode keeps the handler
    handler.write_text("def handler(event, context):\n    return 1\n")
    ip.run_cell_magic("lambda", "hot", "def handler(event, context):\n    return 0\n")
    assert ip.run_line_magic("lambda", "invoke hot").payload == 0
    ip.run_line_magic("lambda", f"watch hot {handler}")
    assert f"hot: watching {handler}" in capsys.readouterr().out
    handler.write_text("def handler(event, context):\n    return 2\n")
    edited = time.monotonic()
    result = _answer_changes(ip, "hot", 2)
    assert result.payload == 2 and result.cold, "the edit did not redeploy within 2 s"
    assert time.monotonic() - edited < 2.5
    ip.run_line_magic("lambda", "watch hot --stop")
    assert "hot: no longer watched (1 reload(s))" in capsys.readouterr().out
    handler.write_text("def handler(event, context):\n    return 3\n")
    time.sleep(0.6)
    assert ip.run_line_magic("lambda", "invoke hot").payload == 2  # no longer watched


def test_watch_without_a_path_for_a_cell_function_is_a_usage_error(ip: Any) -> None:
    ip.run_cell_magic("lambda", "cellfn", "def handler(event, context):\n    return 0\n")
    with pytest.raises(UsageError, match="not created from a file or folder"):
        ip.run_line_magic("lambda", "watch cellfn")
