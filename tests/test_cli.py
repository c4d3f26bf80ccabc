"""The command line as a user runs it: real subprocesses, their output and exit codes.

Exit codes (lambdalab/cli.py): 0 done (help, --version, a bare ``lambdalab``), 1 an invocation ended
with a function error, 2 a usage error (argparse's convention).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lambdalab import __version__, events

MODULE = [sys.executable, "-m", "lambdalab"]
RST = re.compile(r"``|^\s*::\s*$", re.MULTILINE)  # reStructuredText markup that help must not show


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MODULE, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


SCRIPT = Path(sys.executable).with_name("lambdalab")  # the console script pip installed beside the interpreter


@pytest.mark.parametrize("command", [MODULE, [str(SCRIPT)]], ids=["python -m", "script"])
def test_bare_command_prints_help_and_exits_0(command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip("the lambdalab script is not installed")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lambdalab") and result.stderr == ""
    for name in ("invoke", "serve", "event", "--version", "exit codes"):
        assert name in result.stdout, name


def test_version() -> None:
    result = run("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"lambdalab {__version__}")


@pytest.mark.parametrize("args", [["--help"], ["invoke", "--help"], ["serve", "--help"], ["event", "--help"]])
def test_help_of_every_command_exits_0_and_is_plain_text(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: lambdalab") and not RST.search(result.stdout), result.stdout


def test_event_help_lists_every_kind_with_what_it_is() -> None:
    result = run("event", "--help")
    assert result.returncode == 0, result.stderr
    for kind in events.KINDS:
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(kind + " "))
        assert len(line.split(None, 1)[1]) > 10, line  # a description follows the name
    assert "S3 ObjectCreated:Put notification" in result.stdout  # the builder's docstring, without backticks
    bare = run("event")  # no kind: the same help
    assert bare.returncode == 0 and bare.stdout == result.stdout


def test_a_kinds_help_is_its_builders_docstring_as_plain_text() -> None:
    result = run("event", "s3_put", "--help")
    assert result.returncode == 0, result.stderr
    assert "--bucket" in result.stdout and "ObjectCreated:Put" in result.stdout
    assert not RST.search(result.stdout), result.stdout


def test_unknown_event_kind_is_a_usage_error_that_lists_the_kinds() -> None:
    result = run("event", "nosuch")
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown event kind 'nosuch'" in result.stderr
    assert all(kind in result.stderr for kind in events.KINDS)
    assert "did you mean s3_put?" in run("event", "s3-pt").stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "invalid choice: 'nosuch'"),
        (["--nope"], "unrecognized arguments: --nope"),
        (["invoke"], "the following arguments are required: path"),
        (["invoke", "x.py", "--runtime", "cobol"], "invalid runtime 'cobol'"),
        (["event", "s3_put", "--nope"], "unrecognized arguments: --nope"),
        (["invoke", "x.py", "--event", "{not json"], "--event is not JSON"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr


def test_event_prints_json_and_exits_0() -> None:
    result = run("event", "s3_put", "--bucket", "photos", "--key", "cats/tom.jpg")
    assert result.returncode == 0, result.stderr
    assert '"name": "photos"' in result.stdout and "ObjectCreated:Put" in result.stdout


def test_invoke_prints_a_failing_handlers_error_record_line_by_line_and_exits_1(tmp_path: Path) -> None:
    handler = tmp_path / "app.py"
    handler.write_text('def handler(event, context):\n    raise ValueError("boom " + str(event["x"]))\n')
    result = subprocess.run(
        [*MODULE, "invoke", str(handler), "--event", '{"x": 7}'],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 1, result.stderr
    assert "\r" not in result.stdout  # Lambda's \r separators shown as lines: a terminal overwrites nothing
    lines = result.stdout.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("[ERROR] ValueError: boom 7"))
    assert lines[error + 1] == "    Traceback (most recent call last):"
    assert 'raise ValueError("boom " + str(event["x"]))' in lines[error + 3]
    assert lines[error + 4].startswith("END RequestId:") and "REPORT RequestId" in result.stdout
    assert '"errorType": "ValueError"' in lines[-1]


def test_invoke_success_exits_0(tmp_path: Path) -> None:
    handler = tmp_path / "app.py"
    handler.write_text("def handler(event, context):\n    return {'double': event['x'] * 2}\n")
    result = subprocess.run(
        [*MODULE, "invoke", str(handler), "--event", '{"x": 21}'], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == '{"double": 42}'
