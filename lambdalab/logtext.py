"""Text for people to read: Lambda's log records, and docstrings shown as help.

``readable(log)``: Lambda's runtimes write a multi-line record (an ``[ERROR]`` with its traceback, a
``logging`` message with newlines) as ONE line whose lines are separated by ``\\r``, so that the
record stays one log event. A terminal or JupyterLab treats ``\\r`` as "back to the start of the
line" and overwrites the record with its own last line. ``readable`` turns each such ``\\r`` into a
newline and an indent; nothing else changes. ``Function.logs()`` stays byte-exact; only what is
shown to a person goes through here.

``plain(doc)``: a docstring (reStructuredText) as plain text for ``--help`` and ``%lambda?``:
````code```` loses its backticks, and a literal block's ``::`` marker goes (a line of its own) or
becomes ``:`` (at the end of a line).
"""

from __future__ import annotations

import re

__all__ = ["CONTINUATION_INDENT", "plain", "readable"]

CONTINUATION_INDENT = "    "  # before each line of a record after its first
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_BLOCK_LINE = re.compile(r"^[ \t]*::[ \t]*\n(?:[ \t]*\n)?", re.MULTILINE)  # "::" alone, and the blank after
_BLOCK_END = re.compile(r"(?<=\S)::[ \t]*$", re.MULTILINE)  # "Usage::" ends a line
_LONE_CR = re.compile(r"\r(?!\n)")  # a separator inside a record; "\r\n" is a line ending and stays


def readable(log: str) -> str:
    """``log`` with every ``\\r`` inside a line shown as a new, indented line (``\\r\\n`` endings stay)."""
    if "\r" not in log:
        return log
    return _LONE_CR.sub("\n" + CONTINUATION_INDENT, log)


def plain(doc: str | None) -> str:
    """A docstring's text without reStructuredText's literal markup: ````x```` becomes ``x``."""
    text = _BLOCK_END.sub(":", _BLOCK_LINE.sub("", doc or ""))
    return _LITERAL.sub(r"\1", text)
