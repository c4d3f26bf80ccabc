"""One environment's log stream: platform entries and the runtime's output, rendered on demand.

Entries are kept as records (formatted only when read) and raw output chunks, in arrival order.
A stream keeps at most ``max_output_bytes`` of runtime output; past that, output is dropped and a
single truncation notice is kept, so a handler printing without end cannot exhaust the owner's
memory. It also keeps at most ``max_entries`` entries, dropping the oldest (indices stay absolute,
so a range read after the drop returns what is left). Both are documented in docs/FIDELITY.md.

How a stream reads is its owner's choice: ``render`` turns a platform entry into its line (Lambda's text
lines by default; ``""`` leaves the entry out) and ``filter_output``, when given, rewrites runtime output
as it is read (the JSON log format's level filter, ``lambdalab/engine/jsonlogs.py``).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable

from lambdalab.core.records import LogEntry, format_entry

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 10_000
_TRUNCATED = b"[lambdalab] log output over the stream's limit was dropped\n"


class LogStream:
    """The log stream ``YYYY/MM/DD/[version]<environment id>`` of one environment."""

    def __init__(
        self,
        name: str,
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        max_entries: int = MAX_ENTRIES,
        render: Callable[[LogEntry], str] = format_entry,
        filter_output: Callable[[str], str] | None = None,
    ) -> None:
        self.name = name
        self.render = render
        self.filter_output = filter_output
        self.entries: collections.deque[LogEntry | bytearray] = collections.deque()
        self.base = 0  # absolute index of entries[0]
        self._max_entries = max_entries
        self._output_bytes = 0
        self._max = max_output_bytes
        self.dropped_bytes = 0

    @property
    def end(self) -> int:
        """The absolute index one past the last entry."""
        return self.base + len(self.entries)

    def add(self, entry: LogEntry) -> int:
        """Append a platform entry; returns its absolute index."""
        self.entries.append(entry)
        self._trim()
        return self.end - 1

    def _trim(self) -> None:
        while len(self.entries) > self._max_entries:
            self.entries.popleft()
            self.base += 1

    def write(self, data: bytes) -> None:
        """Append runtime output (stdout and stderr)."""
        room = self._max - self._output_bytes
        if room <= 0:
            if not self.dropped_bytes:  # the limit was hit exactly: the notice is still owed
                self.entries.append(bytearray(_TRUNCATED))
            self.dropped_bytes += len(data)
            return
        if len(data) > room:
            self.dropped_bytes += len(data) - room
            data = data[:room] + b"\n" + _TRUNCATED
        self._output_bytes += len(data)
        last = self.entries[-1] if self.entries else None
        if isinstance(last, bytearray):  # one run of output between two platform lines
            last += data
        else:
            self.entries.append(bytearray(data))
            self._trim()

    def text(self, start: int = 0, end: int | None = None) -> str:
        """The stream's lines from absolute entry ``start`` to ``end`` (exclusive), newline-terminated."""
        out: list[str] = []
        first = max(0, start - self.base)
        last = None if end is None else max(first, end - self.base)
        for entry in itertools.islice(self.entries, first, last):
            if isinstance(entry, bytearray):
                chunk = entry.decode("utf-8", "replace")
                if self.filter_output is not None:
                    chunk = self.filter_output(chunk)
                    if not chunk:
                        continue
                out.append(chunk)
                if not chunk.endswith("\n"):
                    out.append("\n")
            else:
                line = self.render(entry)
                if line:
                    out.append(line + "\n")
        return "".join(out)
