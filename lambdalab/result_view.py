"""``RecordView``: what a result says through its ``InvocationRecord`` (the REPORT line's numbers), shared by the local
``lambdalab.results.InvocationResult`` and ``lambdalab.aws.results.RemoteResult``, so a cell, a card or a load run
reads either the same way."""

from __future__ import annotations

from typing import Any, TypeVar

from lambdalab.core.records import InvocationRecord, format_report
from lambdalab.errors import FunctionError

_View = TypeVar("_View", bound="RecordView")


class RecordView:
    """The record's numbers as attributes; a subclass (a frozen dataclass) has ``record`` and ``error`` fields."""

    record: InvocationRecord
    error: dict[str, Any] | None

    request_id = property(lambda self: self.record.request_id)
    environment_id = property(lambda self: self.record.environment_id)
    cold = property(lambda self: self.record.cold)
    duration_ms = property(lambda self: self.record.duration_ms)
    billed_duration_ms = property(lambda self: self.record.billed_duration_ms)
    init_duration_ms = property(lambda self: self.record.init_duration_ms)
    restore_duration_ms = property(lambda self: self.record.restore_duration_ms)  # SnapStart restores only
    billed_restore_duration_ms = property(lambda self: self.record.billed_restore_duration_ms)
    max_memory_used_mb = property(lambda self: self.record.max_memory_used_mb)
    memory_size_mb = property(lambda self: self.record.memory_size_mb)
    version = property(lambda self: self.record.version)

    @property
    def status(self) -> str:
        """``"success"``, ``"error"``, ``"timeout"``... (the record's status as its word)."""
        status = self.record.status
        return str(getattr(status, "value", status))

    @property
    def report(self) -> str:
        """The REPORT line, as Lambda writes it."""
        return format_report(self.record)

    def raise_for_error(self: _View) -> _View:
        """Raise ``FunctionError`` if the invocation ended in error; return self otherwise."""
        if self.error is not None:
            raise FunctionError(
                str(self.error.get("errorType", "Unknown")),
                str(self.error.get("errorMessage", "")),
                self.error.get("stackTrace"),
            )
        return self
