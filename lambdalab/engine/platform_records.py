"""The Telemetry API's ``platform.*`` records of one environment, built from its log entries and timings.

``engine/agent_plane.py`` emits them live where extensions or subscribers are; for every other environment
``stream_rows`` derives them from its log stream when ``lab.telemetry()`` is read (a successful restore's
``platform.restoreRuntimeDone`` and ``platform.restoreReport`` from the Restore Duration of its first REPORT).
Field names as the Telemetry API's schema reference (``engine/jsonlogs.py`` builds the records shared with the
JSON log format).
"""

from __future__ import annotations

from typing import Any

from lambdalab.core.records import InitReport, InitStart, LogEntry, Report, RestoreReport, RestoreStart, Start
from lambdalab.engine.environment import EngineEnvironment
from lambdalab.engine.jsonlogs import JsonLogs
from lambdalab.engine.telemetry import span

KINDS: dict[type, str] = {
    Start: "platform.start",
    Report: "platform.report",
    InitStart: "platform.initStart",
    InitReport: "platform.initReport",
    RestoreStart: "platform.restoreStart",
    RestoreReport: "platform.restoreReport",
}


def restore_done(entry: RestoreReport) -> dict[str, Any]:
    """``platform.restoreRuntimeDone`` of a failed restore."""
    done: dict[str, Any] = {"status": entry.status.value}
    if entry.error_type:
        done["errorType"] = entry.error_type
    return done


def restored_rows(start: RestoreStart, after: list[Any]) -> list[tuple[float, str, dict[str, Any]]]:
    """A successful restore's ``platform.restoreRuntimeDone`` and ``platform.restoreReport``, from the log stream of
    an environment without extensions: its Restore Duration is on the first REPORT after ``RESTORE_START``."""
    for entry in after:
        if isinstance(entry, (RestoreStart, RestoreReport)):
            return []  # failed (its RESTORE_REPORT says so), or another restore began
        if isinstance(entry, Report) and entry.record.restore_duration_ms is not None:
            duration_ms = entry.record.restore_duration_ms
            first = next((e.at for e in after if isinstance(e, Start)), entry.at)
            at = min(start.at + duration_ms / 1000.0, first)  # the restore ends before the invoke starts
            report = {"status": "success", "metrics": {"durationMs": round(duration_ms, 3)}}
            return [(at, "platform.restoreRuntimeDone", {"status": "success"}), (at, "platform.restoreReport", report)]
    return []


def runtime_done(
    request_id: str | None, status: str, start: float, answered: float, now: float, produced: int
) -> dict[str, Any]:
    """``platform.runtimeDone``: the invoke from its start to the runtime's next ``/next``."""
    return {
        "requestId": request_id,
        "status": status,
        "metrics": {"durationMs": round((now - start) * 1000.0, 3), "producedBytes": produced},
        "spans": [
            span("responseLatency", start, answered),
            span("responseDuration", answered, answered),
            span("runtimeOverhead", answered, now),
        ],
    }


def entry_record(builder: JsonLogs, entry: LogEntry, runtime_done_at: float) -> dict[str, Any]:
    """A platform entry's record; ``platform.report`` with the ``extensionOverhead`` span after ``runtimeDone``."""
    _, record = builder.record(entry)
    if type(entry) is Report and runtime_done_at:
        record["spans"] = [span("extensionOverhead", runtime_done_at, entry.at)]
    return record


def builder(environment: EngineEnvironment) -> JsonLogs:
    render = environment.stream.render
    if isinstance(render, JsonLogs):
        return render
    build = JsonLogs(environment.config, environment.pool.spec.version, environment.stream.name)
    core = environment.pool.environments.get(environment.id)
    if core is not None:  # on-demand, provisioned-concurrency or snap-start (a template), as its init ran
        build.initialization_type = core.init_type
    return build


def init_done_rows(build: JsonLogs, start: InitStart, after: list[Any]) -> list[tuple[float, str, dict[str, Any]]]:
    """``platform.initRuntimeDone`` and ``platform.initReport`` of an init the stream has no INIT_REPORT for: its
    Init Duration is on the first REPORT after ``INIT_START`` (a suppressed init reports its own)."""
    for entry in after:
        if isinstance(entry, (InitStart, InitReport, RestoreStart)):
            return []
        if isinstance(entry, Report):
            init_ms = entry.record.init_duration_ms
            if init_ms is None or entry.record.init_suppressed:
                return []
            at = start.at + init_ms / 1000.0
            kind = build.initialization_type
            done = {"initializationType": kind, "phase": "init", "status": "success"}
            report = {**done, "metrics": {"durationMs": round(init_ms, 3)}}
            return [(at, "platform.initRuntimeDone", done), (at, "platform.initReport", report)]
    return []


def runtime_done_of(entry: Report) -> dict[str, Any]:
    """``platform.runtimeDone`` read back from a REPORT (no spans: the stream keeps no response time)."""
    record = entry.record
    done: dict[str, Any] = {
        "requestId": record.request_id,
        "status": record.status.value,  # "error" when the runtime posted /error, as the live records say
        "metrics": {"durationMs": round(record.duration_ms, 3)},
    }
    if done["status"] == "error" and record.error_type:
        done["errorType"] = record.error_type
    return done


def stream_rows(environment: EngineEnvironment) -> list[tuple[float, str, Any, str, str, str]]:
    """The records of an environment whose records were not live, from its log stream: (time, type, record,
    environment id, function, version). Output lines become ``function`` records at the time of the platform entry
    before them (a stream keeps no time per line)."""
    build = builder(environment)
    key = (environment.group, environment.pool.spec.function, environment.pool.spec.version)
    rows: list[tuple[float, str, Any, str, str, str]] = []
    entries = list(environment.stream.entries)
    at = 0.0
    for index, entry in enumerate(entries):
        if isinstance(entry, (bytes, bytearray)):
            text = bytes(entry).decode("utf-8", "replace")
            rows.extend((at, "function", line, *key) for line in text.splitlines() if line)
            continue
        at = entry.at
        if isinstance(entry, (Start, Report, InitStart, InitReport, RestoreStart, RestoreReport)):
            if isinstance(entry, RestoreReport):
                rows.append((entry.at, "platform.restoreRuntimeDone", restore_done(entry), *key))
            if isinstance(entry, Report):
                rows.append((entry.at, "platform.runtimeDone", runtime_done_of(entry), *key))
            kind, record = build.record(entry)
            rows.append((entry.at, kind, record, *key))
            if isinstance(entry, RestoreStart):
                rows.extend((*row, *key) for row in restored_rows(entry, entries[index + 1 :]))
            if isinstance(entry, InitStart):
                rows.extend((*row, *key) for row in init_done_rows(build, entry, entries[index + 1 :]))
    rows.sort(key=lambda row: row[0])
    return rows
