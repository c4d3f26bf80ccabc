"""One environment's log stream: platform entries and the runtime's output, rendered on demand.

Entries are kept as records (formatted only when read) and raw output chunks, in arrival order.
A stream keeps at most ``max_output_bytes`` of runtime output; past that, output is dropped and a
single truncation notice is kept, so a handler printing without end cannot exhaust the owner's
memory (documented in docs/FIDELITY.md).
"""

from __future__ import annotations

from lambdalab.core.records import LogEntry, format_entry

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
_TRUNCATED = b"[lambdalab] log output over the stream's limit was dropped\n"


class LogStream:
    """The log stream ``YYYY/MM/DD/[version]<environment id>`` of one environment."""

    def __init__(self, name: str, max_output_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.name = name
        self.entries: list[LogEntry | bytearray] = []
        self._output_bytes = 0
        self._max = max_output_bytes
        self.dropped_bytes = 0

    def add(self, entry: LogEntry) -> int:
        """Append a platform entry; returns its index."""
        self.entries.append(entry)
        return len(self.entries) - 1

    def write(self, data: bytes) -> None:
        """Append runtime output (stdout and stderr)."""
        room = self._max - self._output_bytes
        if room <= 0:
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

    def text(self, start: int = 0, end: int | None = None) -> str:
        """The stream's lines from entry ``start`` to ``end`` (exclusive), newline-terminated."""
        out: list[str] = []
        for entry in self.entries[start:end]:
            if isinstance(entry, bytearray):
                out.append(entry.decode("utf-8", "replace"))
                if not out[-1].endswith("\n"):
                    out.append("\n")
            else:
                out.append(format_entry(entry) + "\n")
        return "".join(out)
