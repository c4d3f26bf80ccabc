"""Log and help text for people: Lambda's ``\\r``-separated records shown line by line; docstrings as plain text.

The record under test is a real one: a handler that raises, run by the engine, its log read back with
``fn.logs()`` (which stays byte-exact)."""

from __future__ import annotations

from lambdalab.logtext import CONTINUATION_INDENT, plain, readable

FAILING = """def handler(event, context):
    print("before the error")
    raise ValueError("boom " + str(event["n"]))
"""


def test_a_real_error_record_is_shown_line_by_line_and_logs_stay_byte_exact(lab, runtime: str) -> None:
    fn = lab.create_function("fails", FAILING, runtime=runtime)  # lambdalab's client and AWS's awslambdaric
    result = fn.invoke({"n": 3})
    assert result.error is not None and result.error["errorType"] == "ValueError"
    log = fn.logs()
    record = next(line for line in log.split("\n") if line.startswith("[ERROR] ValueError: boom 3"))
    assert "\rTraceback (most recent call last):\r" in record  # Lambda's form, kept by logs()
    assert log == result.log or result.log in log  # the same bytes the result carries

    shown = readable(log)
    assert "\r" not in shown
    lines = shown.split("\n")
    start = lines.index("[ERROR] ValueError: boom 3")
    assert lines[start + 1] == CONTINUATION_INDENT + "Traceback (most recent call last):"
    parts = record.split("\r")
    assert lines[start : start + len(parts)] == [parts[0]] + [CONTINUATION_INDENT + p for p in parts[1:]]
    assert 'raise ValueError("boom " + str(event["n"]))' in lines[start + len(parts) - 1]
    assert lines[start + len(parts)].startswith("END RequestId: ")  # the next record starts a line of its own
    assert lines[start - 1] == "before the error"
    # nothing else changed: every other line is as Lambda wrote it, and the count adds up
    assert len(lines) == len(log.split("\n")) + log.count("\r")
    assert "\n" + CONTINUATION_INDENT not in log  # so the round trip below is exact
    assert shown.replace("\n" + CONTINUATION_INDENT, "\r") == log


def test_readable_leaves_text_without_separators_alone() -> None:
    text = "START RequestId: 1 Version: $LATEST\nhello\r\nEND RequestId: 1\n"
    assert readable(text) == text  # CRLF endings stay as they are
    assert readable("") == ""
    assert readable("a\rb\rc\n") == f"a\n{CONTINUATION_INDENT}b\n{CONTINUATION_INDENT}c\n"


def test_plain_drops_restructuredtext_markup() -> None:
    doc = "Run ``fn.invoke(event)``; see ``Lab``.\n\nUsage::\n\n    lambdalab event\n\n::\n\n  %lambda x\n"
    assert plain(doc) == "Run fn.invoke(event); see Lab.\n\nUsage:\n\n    lambdalab event\n\n  %lambda x\n"
    assert plain(None) == ""
    assert plain("AWS::Serverless::Function resources") == "AWS::Serverless::Function resources"
