"""Reading an AWS Lab's records back from CloudWatch Logs: invocations, spans, log text and streams.

Each function logs to ``/aws/lambda/{remote name}``, one stream per execution environment. ``FilterLogEvents``
(paginated, from the Lab's start) gives the events; ``lambdalab.aws.records`` turns them into the local Lab's
records and frames. What the client saw (``InvocationLog``: when it submitted each request, the record from the
invoke's log tail) is merged by request id and wins. On AWS, logs arrive seconds late: the reads wait until
every synchronous request the Lab saw has its REPORT, at most ``wait_s``; a request whose REPORT never came keeps
the record from its tail (``environment_id`` ``""``: not known).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lambdalab.aws import records
from lambdalab.aws.clients import error_code, paginate
from lambdalab.errors import UnknownFunctionError

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.core.records import InvocationRecord

POLL_S = 1.0
SKEW_S = 5.0  # read from this long before the Lab started: this machine's clock may be ahead of AWS's
Targets = Sequence[tuple[str, str]]  # (the Lab's name, the remote name) of each function
Kept = Mapping[str, list[dict[str, Any]]]  # remote name -> its events read before the Lab deleted the function


class InvocationLog:
    """What the client knows of each request it sent, by request id (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.known: dict[str, dict[str, Any]] = {}  # request id -> {"function", "submitted", "sync", "record"}

    def remember(
        self, request_id: str, name: str, *, submitted: float, sync: bool, record: InvocationRecord | None = None
    ) -> None:
        entry: dict[str, Any] = {"function": name, "submitted": submitted, "sync": sync, "record": record}
        if record is not None:  # the client timed it: its end (this machine's clock, as submitted) is kept
            entry.update(status=record.status, error_type=record.error_type, end=record.end)
            # a tail without REPORT (a system log level above INFO): the logs will not have one either
            entry["sync"] = sync and records.has_report(record)
        with self._lock:
            self.known[request_id] = entry

    def of(self, name: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {rid: dict(e) for rid, e in self.known.items() if e["function"] == name}

    def billed_durations(self, name: str) -> list[int]:
        found = [e["record"] for e in self.of(name).values() if e["record"] is not None]
        return [r.billed_duration_ms for r in found if records.has_report(r)]


def events(
    logs: Any, remote: str, since: float, stream: str | None = None, kept: Kept | None = None
) -> list[dict[str, Any]]:
    """Every event of the function's log group from ``since`` (epoch seconds); when the group does not exist, the
    events ``kept`` of it (a function the Lab deleted), else []."""
    found = _group_events(logs, remote, since, stream)
    if found is None:
        found = [e for e in (kept or {}).get(remote, []) if stream is None or e["logStreamName"] == stream]
    return found


def _group_events(logs: Any, remote: str, since: float, stream: str | None = None) -> list[dict[str, Any]] | None:
    """The group's events from ``since``; None when it does not exist."""
    params: dict[str, Any] = {"logGroupName": f"/aws/lambda/{remote}", "startTime": int((since - SKEW_S) * 1000)}
    if stream is not None:
        params["logStreamNames"] = [stream]
    try:
        return paginate(logs, "filter_log_events", "events", **params)
    except Exception as exc:
        if isinstance(exc, UnknownFunctionError) or error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def _read(
    logs: Any, targets: Targets, log: InvocationLog, since: float, wait_s: float, kept: Kept | None = None
) -> list[tuple[str, Any]]:
    """(name, events) per function, re-read until each synchronous request has its REPORT or ``wait_s`` passed.

    A deleted function's group that does not exist is not waited for: its events are the ones ``kept``."""
    deadline = time.monotonic() + wait_s
    read: dict[str, list[dict[str, Any]]] = {}
    done: set[str] = set()
    while True:
        missing = False
        for name, remote in targets:
            if name in done or (name in read and not _missing(read[name], log.of(name))):
                continue
            found = _group_events(logs, remote, since)
            if found is None and kept is not None and remote in kept:
                found = list(kept[remote])
                done.add(name)  # no group to wait for: nothing more will come
            read[name] = found or []
            missing = missing or (name not in done and bool(_missing(read[name], log.of(name))))
        if not missing or time.monotonic() >= deadline:
            return [(name, read[name]) for name, _ in targets]
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


def _missing(found: list[dict[str, Any]], known: dict[str, dict[str, Any]]) -> set[str]:
    """The synchronous request ids of ``known`` whose REPORT (Text or JSON) is not among ``found``: one pass."""
    reported = set()
    for event in found:
        message = str(event.get("message", ""))
        if message.startswith("REPORT RequestId: "):
            reported.add(message[18:].split(None, 1)[0])
        elif "platform.report" in message:  # the JSON log format's REPORT, read as records reads it
            parsed = records.platform_line(message)
            if parsed is not None and parsed[0] == "report" and parsed[1]["request_id"]:
                reported.add(parsed[1]["request_id"])
    return {rid for rid, entry in known.items() if entry["sync"] and rid not in reported}


def invocations(
    logs: Any, targets: Targets, log: InvocationLog, since: float, wait_s: float, kept: Kept | None = None
) -> pd.DataFrame:
    rows: list[InvocationRecord] = []
    for name, found in _read(logs, targets, log, since, wait_s, kept):
        known = log.of(name)
        merged = records.records_from_events(found, function=name, known=known)
        seen = {r.request_id for r in merged}
        tails = [e["record"] for rid, e in known.items() if rid not in seen and e["record"] is not None]
        rows += merged + tails
    rows.sort(key=lambda r: (r.end, r.request_id))
    return records.invocations_frame(rows)


def spans(
    logs: Any, targets: Targets, log: InvocationLog, since: float, wait_s: float, kept: Kept | None = None
) -> pd.DataFrame:
    found = []
    for name, read in _read(logs, targets, log, since, wait_s, kept):
        found += records.spans_from_events(read, function=name)
    return records.spans_frame(found)


def log_text(logs: Any, remote: str, since: float, stream: str | None = None, kept: Kept | None = None) -> str:
    """The function's log lines, stream after stream (each in time order), as Lambda's lines."""
    by_stream: dict[str, list[tuple[int, str]]] = {}
    for event in events(logs, remote, since, stream, kept):
        by_stream.setdefault(event["logStreamName"], []).append((int(event["timestamp"]), str(event["message"])))
    lines = [message.rstrip("\n") for found in by_stream.values() for _, message in sorted(found, key=lambda x: x[0])]
    return "".join(line + "\n" for line in lines)


def log_streams(logs: Any, remote: str, kept: Kept | None = None) -> list[str]:
    """The function's log streams (one per execution environment), oldest first."""
    try:
        found = paginate(logs, "describe_log_streams", "logStreams", logGroupName=f"/aws/lambda/{remote}")
    except Exception as exc:
        if isinstance(exc, UnknownFunctionError) or error_code(exc) == "ResourceNotFoundException":
            first: dict[str, int] = {}
            for event in (kept or {}).get(remote, []):
                first.setdefault(event["logStreamName"], int(event["timestamp"]))
            return sorted(first, key=lambda name: (first[name], name))
        raise
    found.sort(key=lambda s: (s.get("creationTime", 0), s["logStreamName"]))
    return [str(s["logStreamName"]) for s in found]
