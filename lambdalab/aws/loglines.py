"""Lambda's log lines read as data: platform lines (Text and JSON formats) and the runtimes' unhandled errors.

Text lines are Lambda's (``REPORT RequestId: ...\tDuration: 1.23 ms\t...``), as ``lambdalab.core.records`` writes
them; JSON lines are the JSON log format's ``{"time": ..., "type": "platform.report", "record": {...}}``, as
``lambdalab/engine/jsonlogs.py`` writes them. ``lambdalab.aws.records`` builds records from what these return.

Rules: pure functions of one line; no boto3, no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["old_style_failure", "parse_report", "platform_line", "runtime_error_type"]

_KEYS: Final = (
    "Billed Restore Duration|Billed Duration|Restore Duration|Init Duration|Max Memory Used|Memory Size|Duration"
    "|Status|Error Type|XRAY TraceId|SegmentId|Sampled|Phase|Runtime Version ARN|Runtime Version|RequestId|Version"
)
# a field starts where whitespace (a TAB from Lambda) precedes a known key; "Billed Duration" is one key, not two
_FIELD_SPLIT: Final = re.compile(rf"(?<!Billed)(?<!Init)(?<!Restore)(?<!Max)(?<!Runtime)\s+(?=(?:{_KEYS}):)")
_REQUIRED: Final = ("Duration", "Billed Duration", "Memory Size", "Max Memory Used")
_ERROR_LINE: Final = re.compile(r"\[ERROR\] ([A-Za-z_][\w.]*): ")  # the Python runtime's unhandled-error record


def _fields(body: str) -> dict[str, str]:
    """``Key: value`` fields of a platform line's body (after its first word)."""
    out: dict[str, str] = {}
    for chunk in body.strip().split("\t"):  # Lambda's separator; one field per chunk unless a second ": " says not
        for part in _FIELD_SPLIT.split(chunk) if chunk.count(": ") > 1 else (chunk,):
            key, sep, value = part.partition(":")
            if sep:
                out[key.strip()] = value.strip()
    return out


def _number(fields: Mapping[str, str], key: str, unit: str, line: str) -> float | None:
    raw = fields.get(key)
    if raw is None:
        return None
    text = raw.removesuffix(unit).strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"invalid REPORT line: {key} {raw!r} is not a number of {unit}: {line!r}") from None


def _text_report(line: str) -> dict[str, Any]:
    fields = _fields(line.removeprefix("REPORT"))
    missing = [key for key in ("RequestId", *_REQUIRED) if key not in fields]
    if missing:
        raise ValueError(f"invalid REPORT line: no {', '.join(missing)} in {line!r}")
    got = {key: _number(fields, key, unit, line) for key, unit in _UNITS.items()}
    return _report(fields["RequestId"], got, fields.get("Status") or None, fields.get("Error Type") or None, line)


_UNITS: Final = {
    "Duration": "ms",
    "Billed Duration": "ms",
    "Memory Size": "MB",
    "Max Memory Used": "MB",
    "Init Duration": "ms",
    "Restore Duration": "ms",
    "Billed Restore Duration": "ms",
}
_METRICS: Final = {  # platform.report's metrics under the Text line's names
    "durationMs": "Duration",
    "billedDurationMs": "Billed Duration",
    "memorySizeMB": "Memory Size",
    "maxMemoryUsedMB": "Max Memory Used",
    "initDurationMs": "Init Duration",
    "restoreDurationMs": "Restore Duration",
    "billedRestoreDurationMs": "Billed Restore Duration",
}


def _json_report(record: Mapping[str, Any], line: str) -> dict[str, Any]:
    metrics = record.get("metrics")
    if not isinstance(record.get("requestId"), str) or not isinstance(metrics, dict):
        raise ValueError(f"invalid platform.report record: no requestId or metrics in {line!r}")
    got: dict[str, float | None] = {}
    for name, key in _METRICS.items():
        value = metrics.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"invalid platform.report record: {name} {value!r} is not a number: {line!r}")
        got[key] = None if value is None else float(value)
    missing = [name for name, key in _METRICS.items() if key in _REQUIRED and got[key] is None]
    if missing:
        raise ValueError(f"invalid platform.report record: no {', '.join(missing)} in {line!r}")
    status = record.get("status")
    status = None if status in (None, "success") else str(status)
    return _report(record["requestId"], got, status, record.get("errorType") or None, line)


def _report(
    request_id: str, got: Mapping[str, float | None], status: str | None, error_type: str | None, line: str
) -> dict[str, Any]:
    def whole(key: str) -> int | None:
        value = got[key]
        return None if value is None else int(round(value))

    return {
        "request_id": request_id,
        "duration_ms": got["Duration"],
        "billed_duration_ms": whole("Billed Duration"),
        "memory_size_mb": whole("Memory Size"),
        "max_memory_used_mb": whole("Max Memory Used"),
        "init_duration_ms": got["Init Duration"],
        "restore_duration_ms": got["Restore Duration"],
        "billed_restore_duration_ms": whole("Billed Restore Duration"),
        "status": None if status in (None, "success") else status,
        "error_type": error_type,
    }


def parse_report(line: str) -> dict[str, Any]:
    """The numbers of one REPORT line (Text) or ``platform.report`` record (JSON).

    Keys: ``request_id``, ``duration_ms``, ``billed_duration_ms``, ``memory_size_mb``, ``max_memory_used_mb``,
    ``init_duration_ms``, ``restore_duration_ms``, ``billed_restore_duration_ms`` (None when the line has none),
    ``status`` (None for a success, else Lambda's word: ``"timeout"``, ``"error"``, ...) and ``error_type``
    (None unless the line names one). Raises ``ValueError`` naming what is missing or malformed.

    >>> parse_report("REPORT RequestId: 1\\tDuration: 1.5 ms\\tBilled Duration: 2 ms\\t"
    ...              "Memory Size: 128 MB\\tMax Memory Used: 40 MB\\t")["billed_duration_ms"]
    2
    """
    text = line.strip()
    parsed = platform_line(text)
    if parsed is None or parsed[0] != "report":
        raise ValueError(f"not a REPORT line or platform.report record: {text[:200]!r}")
    if text.startswith("{"):
        return _json_report(parsed[1]["record"], text)
    return _text_report(text)


def platform_line(message: str) -> tuple[str, dict[str, Any]] | None:
    """(kind, facts) of a platform line, Text or JSON, or None for the runtime's own output.

    kind is ``init_start``, ``init_report``, ``start``, ``end`` or ``report``; facts holds what the line says of
    ``request_id``, ``version``, ``duration_ms`` (an INIT_REPORT's), ``phase``, ``status`` and ``error_type``.
    """
    text = message.strip()
    if text.startswith("{"):
        return _json_platform(text)
    word = text.split(" ", 1)[0]
    kind = _TEXT_KINDS.get(word)
    if kind is None:
        return None
    fields = _fields(text[len(word) :])
    if kind in ("start", "end", "report") and not fields.get("RequestId"):
        return None  # a handler printing "START something" is output, not a platform line
    facts: dict[str, Any] = {
        "request_id": fields.get("RequestId"),
        "version": fields.get("Version"),
        "phase": fields.get("Phase"),
        "status": fields.get("Status"),
        "error_type": fields.get("Error Type"),
        "duration_ms": None,
    }
    if kind == "init_report" and "Init Duration" in fields:
        facts["duration_ms"] = _number(fields, "Init Duration", "ms", text)
    return kind, facts


_TEXT_KINDS: Final = {
    "INIT_START": "init_start",
    "INIT_REPORT": "init_report",
    "START": "start",
    "END": "end",
    "REPORT": "report",
}
_JSON_KINDS: Final = {
    "platform.initStart": "init_start",
    "platform.initReport": "init_report",
    "platform.start": "start",
    "platform.runtimeDone": "end",
    "platform.report": "report",
}


def _json_platform(text: str) -> tuple[str, dict[str, Any]] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    record = data.get("record") if isinstance(data, dict) else None
    kind = _JSON_KINDS.get(str(data.get("type"))) if isinstance(record, dict) else None
    if kind is None or not isinstance(record, dict):
        return None
    metrics = record.get("metrics")
    duration = metrics.get("durationMs") if isinstance(metrics, dict) and kind == "init_report" else None
    return kind, {
        "request_id": record.get("requestId"),
        "version": record.get("version") or record.get("functionVersion"),
        "phase": record.get("phase"),
        "status": record.get("status"),
        "error_type": record.get("errorType"),
        "duration_ms": float(duration) if isinstance(duration, (int, float)) else None,
        "record": record,
    }


_NODE_ERROR: Final = re.compile(r"\tERROR\tInvoke Error \t(\{.*\})\s*$")


def runtime_error_type(message: str, request_id: str) -> str | None:
    """The error type of a runtime's unhandled-error record for ``request_id`` (Python's Text and JSON, Node's)."""
    text = message.strip()
    match = _ERROR_LINE.match(text)
    if match:
        return match.group(1)
    found = _NODE_ERROR.search(message)
    if text.startswith("{") or found:
        try:
            data = json.loads(found.group(1) if found else text)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("errorType"), str) and "stackTrace" in data:
            if data.get("requestId") in (None, "", request_id):
                return str(data["errorType"])
    return None


_TIMED_OUT: Final = re.compile(r"Task timed out after \d+(?:\.\d+)? seconds")
_EXITED: Final = re.compile(r"Runtime exited with(?:out providing a reason| error)")


def old_style_failure(message: str, request_id: str) -> tuple[str, str | None] | None:
    """(status, error type) that an older log line of Lambda's says of ``request_id``, or None.

    Regions that still write the old style end a timed-out invocation with ``<time> <request id> Task timed out
    after 3.00 seconds`` and a crash with ``RequestId: <id> Error: Runtime exited with error: ...``, and their
    REPORT has no ``Status``: ``("timeout", None)`` and ``("error", "Runtime.ExitError")``."""
    if request_id not in message:
        return None
    if _TIMED_OUT.search(message):
        return "timeout", None
    if _EXITED.search(message):
        return "error", "Runtime.ExitError"
    return None
