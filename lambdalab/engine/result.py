"""What a synchronous invocation's future resolves with: ``EngineResult``.

Its own module so that the control plane and the asynchronous invocations (``engine/async_events.py``), which
both wait on such futures, share it without importing each other.
"""

from __future__ import annotations

import dataclasses

from lambdalab.core.logstream import LogStream
from lambdalab.core.records import InvocationRecord


@dataclasses.dataclass(frozen=True, slots=True)
class EngineResult:
    """What ``ControlPlane.invoke`` returns: the record, the raw answer and where its log is."""

    record: InvocationRecord
    body: bytes
    is_error: bool
    stream: LogStream | None
    log_start: int
    log_end: int
