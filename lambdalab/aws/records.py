"""Lambda's log lines read back into lambdalab's records: REPORT lines, log tails and CloudWatch Logs events.

What the AWS backend knows of an invocation comes from Lambda's own words: the ``REPORT`` line of a synchronous
invoke's log tail (``LogType=Tail``), and the events of the function's log group, one stream per execution
environment. Both of Lambda's log formats are read: Text (``REPORT RequestId: ...\\tDuration: 1.23 ms\\t...``, as
``lambdalab.core.records.format_entry`` writes them) and JSON (``{"time": ..., "type": "platform.report",
"record": {...}}``, as ``lambdalab/engine/jsonlogs.py`` writes them).

Only what the lines say is recorded; what cannot be seen remotely is left unknown, never invented: an
environment's frozen, idle and shutdown phases (``spans_frame`` marks them in ``frame.attrs``), the init duration
of an init run inside an invoke after a reset (None), the time a client submitted an asynchronous invocation
(the invocation's own start, or its environment's ``INIT_START`` when cold, unless ``known`` says).

Rules: pure functions; no boto3, no I/O, no clock. pandas is imported only by the two frame functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from lambdalab.aws.loglines import old_style_failure, parse_report, platform_line, runtime_error_type
from lambdalab.core.outcomes import Status
from lambdalab.core.records import InvocationRecord, Phase, PhaseSpan

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "UNKNOWN_PHASES",
    "invocations_frame",
    "parse_report",
    "platform_line",
    "record_from_tail",
    "record_without_report",
    "has_report",
    "records_from_events",
    "spans_frame",
    "spans_from_events",
]

UNKNOWN_PHASES: Final = ["frozen", "idle", "shutdown"]  # phases CloudWatch Logs never shows


# -- one invocation's record from a synchronous invoke's log tail ----------------------------------------------
def _old_style(report: dict[str, Any], failure: tuple[str, str | None] | None) -> dict[str, Any]:
    """``report`` with the status an old-style line of its invocation gave (its REPORT has no ``Status``)."""
    if failure is None or report["status"] is not None:
        return report
    return {**report, "status": failure[0], "error_type": report["error_type"] or failure[1]}


def _error_type(report: Mapping[str, Any], error_type: str | None) -> str | None:
    """A failed REPORT's ``Error Type`` (``Runtime.Unknown`` of an init error) is the record's, as locally;
    otherwise what the caller or the runtime's error line said."""
    if report["status"] in ("error", "failure") and report["error_type"]:
        return str(report["error_type"])
    return error_type or report["error_type"]


def _status(report: Mapping[str, Any], error_type: str | None) -> tuple[Status, bool]:
    """(status, reset) of an invocation: a platform failure resets its environment, a handler's error does not."""
    word = report["status"]
    if word == "timeout":
        return Status.TIMEOUT, True
    if word in ("error", "failure"):
        named = report["error_type"] or error_type
        return Status.ERROR, named is None or "." in named  # Runtime.ExitError, Sandbox.Timedout: not ValueError
    return (Status.ERROR if error_type else Status.SUCCESS), False


def record_from_tail(
    log_tail: str,
    *,
    function: str,
    version: str,
    request_id: str,
    submitted: float,
    end: float,
    error_type: str | None,
) -> InvocationRecord:
    """The record of one synchronous invocation from its decoded log tail (``LogType=Tail``, the last 4 KB).

    ``error_type`` is what the caller learned from ``X-Amz-Function-Error`` and the payload (None: no error).
    ``environment_id`` is ``""`` (not yet known: the log stream names it); ``start = end - duration``. An init run
    inside the invoke (after an init error or a reset) is read from its ``INIT_REPORT ... Phase: invoke`` line, or
    an ``INIT_START`` of this invocation whose REPORT has no Init Duration, when the tail holds them (cold,
    ``init_suppressed``). Raises ``ValueError`` when the tail has no REPORT line (or a malformed one).
    """
    report, other, init_ms, init_seen, failure = None, None, None, False, None
    for line in log_tail.splitlines():
        parsed = platform_line(line)
        if parsed is None:
            failure = failure or old_style_failure(line, request_id)
            continue
        kind, facts = parsed
        if kind == "init_start":
            init_seen = True
        elif kind == "init_report" and facts["phase"] == "invoke":
            init_ms, init_seen = facts["duration_ms"], True
        elif kind == "report" and facts["request_id"] == request_id:
            report = parse_report(line)
        elif kind == "report" and report is None:  # an earlier invocation's end: what came before is not this one's
            other, init_ms, init_seen, failure = parse_report(line), None, False, None
    report = report or other
    if report is None:
        raise ValueError(f"no REPORT line in the log tail of request {request_id}: {log_tail[-200:]!r}")
    report = _old_style(report, failure)
    status, reset = _status(report, error_type)
    # an init in this invocation's lines that its REPORT does not count: it ran inside the invoke (after a reset)
    suppressed = init_seen and report["init_duration_ms"] is None and report["restore_duration_ms"] is None
    return _record(
        report,
        function=function,
        version=version,
        environment_id="",
        status=status,
        error_type=_error_type(report, error_type),
        reset=reset,
        init_ms=init_ms if suppressed else report["init_duration_ms"],
        suppressed=suppressed,
        submitted=submitted,
        end=end,
    )


def record_without_report(
    *,
    function: str,
    version: str,
    request_id: str,
    submitted: float,
    end: float,
    error_type: str | None,
    memory_size_mb: int,
) -> InvocationRecord:
    """The record of a synchronous invocation whose log tail has no REPORT (the JSON log format with a system log
    level above INFO leaves it out): what Lambda measured is unknown, never invented: ``duration_ms`` NaN,
    ``billed_duration_ms`` and ``max_memory_used_mb`` 0, ``cold`` False with no ``init_duration_ms``; ``start``
    is ``submitted`` (the invocation ran between the two); the status is the caller's (an error or a success)."""
    return InvocationRecord(
        request_id=request_id,
        function=function,
        version=version,
        environment_id="",
        cold=False,
        init_duration_ms=None,
        init_suppressed=False,
        duration_ms=float("nan"),
        billed_duration_ms=0,
        memory_size_mb=int(memory_size_mb),
        max_memory_used_mb=0,
        status=Status.ERROR if error_type else Status.SUCCESS,
        error_type=error_type,
        start=submitted,
        end=end,
        submitted=submitted,
        reset=False,
    )


def has_report(record: InvocationRecord) -> bool:
    """False for a ``record_without_report``: its numbers are not Lambda's."""
    return record.duration_ms == record.duration_ms  # NaN is not equal to itself


def _record(
    report: Mapping[str, Any],
    *,
    function: str,
    version: str,
    environment_id: str,
    status: Status,
    error_type: str | None,
    reset: bool,
    init_ms: float | None,
    suppressed: bool,
    submitted: float,
    end: float,
) -> InvocationRecord:
    duration = float(report["duration_ms"])
    restore = report["restore_duration_ms"]
    return InvocationRecord(
        request_id=report["request_id"],
        function=function,
        version=version,
        environment_id=environment_id,
        cold=suppressed or report["init_duration_ms"] is not None or report["restore_duration_ms"] is not None,
        init_duration_ms=init_ms,
        init_suppressed=suppressed,
        duration_ms=duration,
        billed_duration_ms=int(report["billed_duration_ms"]),
        memory_size_mb=int(report["memory_size_mb"]),
        max_memory_used_mb=int(report["max_memory_used_mb"]),
        status=status,
        error_type=None if status is Status.TIMEOUT else error_type,  # as the local records: the status says it
        start=end - duration / 1000.0,
        end=end,
        submitted=submitted,
        reset=reset,
        restore_duration_ms=None if restore is None else float(restore),
        billed_restore_duration_ms=int(report["billed_restore_duration_ms"] or 0),
        # REPORT does not say how long extensions ran after the runtime (it is inside Duration): 0.0, unknown
    )


# -- records and spans from CloudWatch Logs events ------------------------------------------------------------


def _stream_version(stream: str) -> str:
    """The version in a stream name ``YYYY/MM/DD/[version]<id>``; ``$LATEST`` when it has none."""
    opened, closed = stream.find("["), stream.find("]")
    return stream[opened + 1 : closed] if 0 <= opened < closed else "$LATEST"


def _known(value: Any) -> dict[str, Any]:
    """What a caller knows of a request: a mapping, or a record (its ``submitted``, ``end``, ``status``,
    ``error_type``)."""
    keys = ("submitted", "end", "status", "error_type")
    if isinstance(value, Mapping):
        return {k: value[k] for k in keys if k in value}
    return {k: getattr(value, k) for k in keys if hasattr(value, k)}


class _Stream:
    """One log stream walked in order: the records and spans its platform lines show."""

    def __init__(self, name: str, function: str, known: Mapping[str, Any]) -> None:
        self.name, self.function, self.known = name, function, known
        self.records: list[InvocationRecord] = []
        self.spans: list[PhaseSpan] = []
        self.init_at: float | None = None  # an INIT_START whose init has not ended in a line yet
        self.cold_since: float | None = None  # the first INIT_START since the last invocation
        self.suppressed_ms: float | None = None  # INIT_REPORT Phase: invoke: an init inside the next invoke
        self.after_reset = False
        self.init_failed = False  # the init inside the next invoke failed: its handler never ran (no invoke span)
        self.current: dict[str, Any] | None = None  # the START being run

    def span(self, phase: Phase, start: float, end: float, version: str, request_id: str | None = None) -> None:
        self.spans.append(
            PhaseSpan(
                environment_id=self.name,
                function=self.function,
                version=version,
                phase=phase,
                start=start,
                end=max(start, end),
                request_id=request_id,
            )
        )

    def line(self, at: float, message: str) -> None:
        parsed = platform_line(message)
        if parsed is None:
            if self.current is not None:
                if self.current["error"] is None:
                    self.current["error"] = runtime_error_type(message, self.current["request_id"])
                if self.current["failure"] is None:
                    self.current["failure"] = old_style_failure(message, self.current["request_id"])
            return
        kind, facts = parsed
        version = facts["version"] or _stream_version(self.name)
        if kind == "init_start":
            self.init_at = at
            self.cold_since = at if self.cold_since is None else self.cold_since
        elif kind == "init_report" and facts["phase"] == "invoke":
            self.suppressed_ms = facts["duration_ms"]
            if self.suppressed_ms is not None:  # an init inside the invoke: it ended at this line
                self.span("init", at - self.suppressed_ms / 1000.0, at, version)
            self.init_failed = facts["status"] not in (None, "success")
            self.init_at = None
        elif kind == "init_report" and self.init_at is not None:
            ms = facts["duration_ms"]
            self.span("init", self.init_at, at if ms is None else self.init_at + ms / 1000.0, version)
            self.init_at = None
        elif kind == "start":
            self.current = {
                "request_id": facts["request_id"], "version": version, "at": at, "error": None, "failure": None,
            }  # fmt: skip
        elif kind == "report":
            self.report(at, message)

    def report(self, at: float, message: str) -> None:
        try:
            report = parse_report(message)
        except ValueError:
            return  # not Lambda's line: nothing is invented from it
        current = self.current if self.current and self.current["request_id"] == report["request_id"] else None
        version = current["version"] if current else _stream_version(self.name)
        seen_error = current["error"] if current else None
        report = _old_style(report, current["failure"] if current else None)
        status, reset = _status(report, seen_error)
        known = _known(self.known.get(report["request_id"], {}))
        if "status" in known:
            status = Status(getattr(known["status"], "value", known["status"]))
        error_type = _error_type(report, known.get("error_type", seen_error))
        start = at - float(report["duration_ms"]) / 1000.0
        suppressed, init_ms, since = self.cold(report, start, version)
        if not self.init_failed:  # an invoke whose init failed never ran the handler (as the local spans)
            self.span("invoke", start, at, version, report["request_id"])
        end = float(known.get("end", at))  # the client's clock for what it timed itself, as its submitted
        self.records.append(
            _record(
                report,
                function=self.function,
                version=version,
                environment_id=self.name,
                status=status,
                error_type=error_type,
                reset=reset,
                init_ms=init_ms,
                suppressed=suppressed,
                submitted=known.get("submitted", since),
                end=end,
            )
        )
        self.init_at = self.cold_since = self.suppressed_ms = self.current = None
        self.after_reset, self.init_failed = reset, False

    def cold(self, report: Mapping[str, Any], start: float, version: str) -> tuple[bool, float | None, float]:
        """(init_suppressed, init_duration_ms, when the caller began waiting) of the invocation ``report`` ends; its
        init span. An init inside the invoke (after a reset, or an ``INIT_REPORT ... Phase: invoke``) is suppressed:
        the REPORT has no Init Duration, and its duration is known only from that INIT_REPORT."""
        init_ms = report["init_duration_ms"]
        if init_ms is not None:
            init_start = self.init_at if self.init_at is not None else start - init_ms / 1000.0
            self.span("init", init_start, min(start, init_start + init_ms / 1000.0), version)
            return False, init_ms, self.cold_since if self.cold_since is not None else init_start
        if self.after_reset or self.suppressed_ms is not None:
            since = start - (self.suppressed_ms or 0.0) / 1000.0
            return True, self.suppressed_ms, self.cold_since if self.cold_since is not None else since
        return False, None, start


def _walk(events: Iterable[Mapping[str, Any]], function: str, known: Mapping[str, Any] | None) -> list[_Stream]:
    by_stream: dict[str, list[tuple[int, int, str]]] = {}
    seen: set[str] = set()
    for order, event in enumerate(events):
        event_id = event.get("eventId")
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        by_stream.setdefault(event["logStreamName"], []).append((int(event["timestamp"]), order, event["message"]))
    walked = []
    for name, lines in by_stream.items():
        stream = _Stream(name, function, known or {})
        for at_ms, _, message in sorted(lines):
            stream.line(at_ms / 1000.0, message)
        walked.append(stream)
    return walked


def records_from_events(
    events: Iterable[Mapping[str, Any]], *, function: str, known: Mapping[str, Any] | None = None
) -> list[InvocationRecord]:
    """Invocation records from CloudWatch Logs events (``logStreamName``, ``timestamp`` in ms, ``message``).

    One record per REPORT line: ``environment_id`` is the stream's name, ``version`` START's ``Version`` (or the
    stream name's), ``end`` the REPORT's time, ``start = end - duration``. ``known`` maps a request id to what the
    client knows (a mapping with ``submitted``, ``status``, ``error_type``, or an ``InvocationRecord``): it wins.
    Otherwise ``submitted`` is the environment's ``INIT_START`` for a cold invocation (``start`` less the init
    duration without one) and ``start`` for a warm one. Sorted by ``end``.
    """
    records = [r for stream in _walk(events, function, known) for r in stream.records]
    return sorted(records, key=lambda r: (r.end, r.environment_id))


def spans_from_events(events: Iterable[Mapping[str, Any]], *, function: str) -> list[PhaseSpan]:
    """``init`` and ``invoke`` spans from CloudWatch Logs events; nothing else can be seen remotely.

    ``init`` runs from ``INIT_START`` for the REPORT's ``Init Duration`` (or to its ``INIT_REPORT``), ``invoke``
    from the REPORT's time less its ``Duration`` to the REPORT. An init never reported is left out.
    """
    spans = [s for stream in _walk(events, function, None) for s in stream.spans]
    return sorted(spans, key=lambda s: (s.start, s.environment_id))


# -- tables --------------------------------------------------------------------------------------------------
_STR, _FLOAT, _INT, _BOOL = "str", "float64", "int64", "bool"
_RECORD_TYPES: Final = {
    "request_id": _STR, "function": _STR, "version": _STR, "environment_id": _STR, "cold": _BOOL,
    "init_duration_ms": _FLOAT, "init_suppressed": _BOOL, "duration_ms": _FLOAT, "billed_duration_ms": _INT,
    "memory_size_mb": _INT, "max_memory_used_mb": _INT, "status": _STR, "error_type": "object", "start": _FLOAT,
    "end": _FLOAT, "submitted": _FLOAT, "reset": _BOOL, "restore_duration_ms": _FLOAT,
    "billed_restore_duration_ms": _INT, "extension_overhead_ms": _FLOAT, "tenant_id": "object", "worker": _INT,
    "latency_ms": _FLOAT,
    "event_source_arn": "object", "shard_id": "object", "batch_size": _INT,
}  # fmt: skip
_SPAN_TYPES: Final = {
    "environment_id": _STR, "function": _STR, "version": _STR, "phase": _STR, "start": _FLOAT, "end": _FLOAT,
    "request_id": "object", "worker": _INT, "duration_ms": _FLOAT,
}  # fmt: skip


def _rows(items: Iterable[Any], fields: tuple[str, ...]) -> list[list[Any]]:
    return [[getattr(item, name) for name in fields] for item in items]


def invocations_frame(records: Iterable[InvocationRecord]) -> pd.DataFrame:
    """The records as the local ``Lab.invocations()`` table: the same columns, dtypes and ``latency_ms``; the event
    source columns (``event_source_arn``, ``shard_id``, ``batch_size``) are None, None and 0."""
    import pandas as pd

    columns = list(InvocationRecord._fields)
    rows = _rows(records, InvocationRecord._fields)
    if not rows:
        frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in _RECORD_TYPES.items()})
    else:
        frame = pd.DataFrame(rows, columns=columns)
        frame["status"] = frame["status"].map(lambda s: s.value)
        frame["latency_ms"] = (frame["end"] - frame["submitted"]) * 1000.0
        # the local table's event source columns: AWS's logs do not say which batch an invocation carried
        frame["event_source_arn"] = pd.Series([None] * len(frame), dtype=object)
        frame["shard_id"] = pd.Series([None] * len(frame), dtype=object)
        frame["batch_size"] = pd.Series([0] * len(frame), dtype="int64")
    frame.attrs["source"] = "aws"
    return frame


def spans_frame(spans: Iterable[PhaseSpan]) -> pd.DataFrame:
    """The spans as the local ``Lab.spans()`` table; ``attrs["unknown_phases"]`` names what logs cannot show."""
    import pandas as pd

    rows = _rows(spans, PhaseSpan._fields)
    if not rows:
        frame = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in _SPAN_TYPES.items()})
    else:
        frame = pd.DataFrame(rows, columns=list(PhaseSpan._fields))
        frame["duration_ms"] = (frame["end"] - frame["start"]) * 1000.0
        frame = frame.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)
    frame.attrs["source"] = "aws"
    frame.attrs["unknown_phases"] = list(UNKNOWN_PHASES)
    return frame
