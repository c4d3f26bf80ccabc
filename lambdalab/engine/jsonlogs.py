"""Lambda's JSON log format (``LoggingConfig.LogFormat=JSON``) for one environment's log stream.

Platform entries become Telemetry-API-shaped objects, one a line (AWS's "Configuring JSON and plain text log
formats" and the Telemetry API's schema reference):
``{"time": RFC 3339 ms, "type": "platform.start", "record": {"requestId": ..., "version": ...}}``,
``platform.initStart``, ``platform.initReport``, ``platform.report`` (with ``restoreDurationMs`` and
``billedRestoreDurationMs`` after a SnapStart restore), ``platform.restoreStart``, ``platform.restoreReport`` (a
failed restore's) and ``platform.extension``, filtered by the system log level.
The runtime's output is filtered by the application log level as Lambda filters it: a line that is a JSON
object has the level of its ``level`` key (``log_level`` for the runtime's unhandled-error record), any other
line is INFO. The Python runtime writes its ``logging`` records as JSON itself (``AWS_LAMBDA_LOG_FORMAT``).

Rendering happens when a stream is read (``LogStream.render`` / ``filter_output``), never on the invoke path.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any, Final

from lambdalab.config import FunctionConfig
from lambdalab.core.outcomes import Status
from lambdalab.core.records import (
    End,
    ExtensionState,
    InitReport,
    InitStart,
    LogEntry,
    Report,
    RestoreReport,
    RestoreStart,
    Start,
    runtime_version,
)

# application levels, least severe first; the names Python and other loggers use map onto Lambda's
APPLICATION_RANK: Final = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
_ALIASES: Final = {"WARNING": "WARN", "CRITICAL": "FATAL"}
SYSTEM_RANK: Final = {"DEBUG": 0, "INFO": 1, "WARN": 2}
# the system level of each record lambdalab writes (platform.runtimeDone, DEBUG on Lambda, is not written)
RECORD_LEVEL: Final = {
    "platform.initStart": "INFO",
    "platform.initReport": "INFO",
    "platform.start": "INFO",
    "platform.report": "INFO",
    "platform.restoreStart": "INFO",
    "platform.restoreReport": "INFO",
    "platform.extension": "INFO",
}


def rfc3339(at: float) -> str:
    """Epoch seconds as ``2025-01-07T19:49:07.089Z`` (the Telemetry API's ``time``)."""
    moment = datetime.datetime.fromtimestamp(at, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def report_record(entry: Report) -> dict[str, Any]:
    """``platform.report``'s record; its status follows the REPORT line's (a handler's own error is a success)."""
    record = entry.record
    metrics: dict[str, Any] = {
        "durationMs": round(record.duration_ms, 3),
        "billedDurationMs": record.billed_duration_ms,
        "memorySizeMB": record.memory_size_mb,
        "maxMemoryUsedMB": record.max_memory_used_mb,
    }
    if record.init_duration_ms is not None and not record.init_suppressed:
        metrics["initDurationMs"] = round(record.init_duration_ms, 3)
    if record.restore_duration_ms is not None:
        metrics["restoreDurationMs"] = round(record.restore_duration_ms, 3)
        metrics["billedRestoreDurationMs"] = record.billed_restore_duration_ms
    out: dict[str, Any] = {"requestId": record.request_id, "metrics": metrics, "status": "success"}
    if record.status is not Status.SUCCESS and record.reset:
        out["status"] = record.status.value
        if record.error_type and record.status is Status.ERROR:
            out["errorType"] = record.error_type
    return out


class JsonLogs:
    """The ``render`` and ``filter_output`` of one environment's ``LogStream`` under the JSON format."""

    def __init__(self, config: FunctionConfig, version: str, instance_id: str) -> None:
        levels = config.log_levels or ("INFO", "INFO")
        self.application_rank = APPLICATION_RANK[levels[0]]
        self.system_rank = SYSTEM_RANK[levels[1]]
        self.function, self.version, self.instance_id = config.name, version, instance_id
        self.memory_bytes = config.memory_mb * 1024 * 1024
        self.initialization_type = "on-demand"  # the spawner sets the environment's latest

    def __call__(self, entry: LogEntry) -> str:
        kind, record = self.record(entry)
        if not kind or SYSTEM_RANK[RECORD_LEVEL[kind]] < self.system_rank:
            return ""
        return json.dumps({"time": rfc3339(entry.at), "type": kind, "record": record}, separators=(",", ":"))

    def record(self, entry: LogEntry) -> tuple[str, dict[str, Any]]:
        """(type, record) of a platform entry; ("", {}) for END, which has no record of its own here."""
        if isinstance(entry, Start):
            return "platform.start", {"requestId": entry.request_id, "version": entry.version}
        if isinstance(entry, Report):
            return "platform.report", report_record(entry)
        if isinstance(entry, InitStart):
            return "platform.initStart", {
                "initializationType": self.initialization_type,
                "phase": "init",
                **self._runtime_fields(entry.runtime),
            }
        if isinstance(entry, RestoreStart):  # initStart's fields but the initialization type and phase
            return "platform.restoreStart", self._runtime_fields(entry.runtime)
        if isinstance(entry, InitReport):
            out: dict[str, Any] = {
                "initializationType": self.initialization_type,
                "phase": entry.phase,
                "status": entry.status.value,
                "metrics": {"durationMs": round(entry.duration_ms, 3)},
            }
            if entry.error_type:
                out["errorType"] = entry.error_type
            return "platform.initReport", out
        if isinstance(entry, RestoreReport):
            report: dict[str, Any] = {"status": entry.status.value}
            if entry.error_type:
                report["errorType"] = entry.error_type
            report["metrics"] = {"durationMs": round(entry.duration_ms, 3)}
            return "platform.restoreReport", report
        if isinstance(entry, ExtensionState):
            return "platform.extension", {"name": entry.name, "state": entry.state, "events": list(entry.events)}
        assert isinstance(entry, End)
        return "", {}

    def _runtime_fields(self, runtime: str) -> dict[str, Any]:
        """What ``platform.initStart`` and ``platform.restoreStart`` say of the runtime and the environment."""
        version = runtime_version(runtime)
        digest = hashlib.sha256(f"lambdalab:{version}:{runtime}".encode()).hexdigest()  # as INIT_START's
        return {
            "runtimeVersion": version,
            "runtimeVersionArn": f"arn:aws:lambda:us-east-1::runtime:{digest}",
            "functionName": self.function,
            "functionVersion": self.version,
            "instanceId": self.instance_id,
            "instanceMaxMemory": self.memory_bytes,
        }

    def filter_output(self, chunk: str) -> str:
        """The lines of a run of runtime output at the application level or above (TRACE keeps everything)."""
        if self.application_rank == 0:
            return chunk
        kept = [line for line in chunk.splitlines(keepends=True) if line_rank(line) >= self.application_rank]
        return "".join(kept)


def line_rank(line: str) -> int:
    """A line's application level as Lambda judges it: a JSON object's ``level`` (or ``log_level``), else INFO."""
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return APPLICATION_RANK["INFO"]
    try:
        data = json.loads(text)
    except ValueError:
        return APPLICATION_RANK["INFO"]
    level = data.get("level", data.get("log_level")) if isinstance(data, dict) else None
    name = level.upper() if isinstance(level, str) else "INFO"
    return APPLICATION_RANK.get(_ALIASES.get(name, name), APPLICATION_RANK["INFO"])
