"""One environment's log stream as CloudWatch Logs events: one event per line, with a time, an id and a stream.

What ``Lab.log_events`` returns and what the endpoint's CloudWatch Logs subset serves (``endpoint/logs_api.py``).
A platform line (START, END, REPORT, INIT_START, INIT_REPORT, or their JSON records) carries the time of its own
entry; a line of the runtime's output carries the time of the platform entry before it (lambdalab keeps output in
runs between platform entries, not line by line: docs/FIDELITY.md). Times never go backwards within a stream.
``ingestionTime`` is the event's own time (nothing is shipped anywhere). A Lambda record the runtime wrote as
several lines joined by ``\\r`` stays one event, as on Lambda.

``eventId`` is decimal digits, unique and stable: the event's time in ms, a checksum of the stream's name, the
entry's absolute index in its stream and the line's index in the entry, each of fixed width, so that ids sort as
the events do (as CloudWatch's own ids do).

Rules: reads a ``LogStream`` on the engine's loop (``LabEngine.log_events``); renders as ``LogStream.text`` does.
"""

from __future__ import annotations

import zlib
from typing import Any

from lambdalab.core.logstream import LogStream

ID_DIGITS = 13 + 10 + 10 + 6  # time (ms), stream checksum, entry index, line index


def event_id(timestamp_ms: int, stream_sum: int, index: int, line: int) -> str:
    return f"{timestamp_ms:013d}{stream_sum:010d}{index:010d}{line:06d}"


def stream_events(stream: LogStream) -> list[dict[str, Any]]:
    """The events of one stream, oldest first (on the engine's loop: entries change there)."""
    entries = list(stream.entries)
    stream_sum = zlib.crc32(stream.name.encode())
    first_at = next((entry.at for entry in entries if not isinstance(entry, bytearray)), 0.0)
    at_ms = int(first_at * 1000)
    out: list[dict[str, Any]] = []
    for offset, entry in enumerate(entries):
        index = stream.base + offset
        if isinstance(entry, bytearray):
            lines = output_lines(stream, bytes(entry))
        else:
            at_ms = max(at_ms, int(entry.at * 1000))
            line = stream.render(entry)
            lines = [line] if line else []
        for number, message in enumerate(lines):
            out.append(
                {
                    "logStreamName": stream.name,
                    "timestamp": at_ms,
                    "message": message,
                    "ingestionTime": at_ms,
                    "eventId": event_id(at_ms, stream_sum, index, number),
                }
            )
    return out


def output_lines(stream: LogStream, chunk: bytes) -> list[str]:
    """A run of the runtime's output as its non-empty lines, through the stream's filter (the JSON format's levels)."""
    text = chunk.decode("utf-8", "replace")
    if stream.filter_output is not None:
        text = stream.filter_output(text)
    return [line for line in text.split("\n") if line.strip()]
