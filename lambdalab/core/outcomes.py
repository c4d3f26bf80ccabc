"""What an invocation can end as: Lambda's error types, their caller payloads, and billing.

Pure functions and constants. The exact strings are Lambda's (docs/FIDELITY.md lists them with their
tests); billing as on https://aws.amazon.com/lambda/pricing/ (init billed since August 2025).
"""

from __future__ import annotations

import enum
import json
import signal
from typing import Final


class ErrorType(str, enum.Enum):
    """Error types lambdalab produces itself (handler exceptions keep their own class names)."""

    EXIT = "Runtime.ExitError"
    OUT_OF_MEMORY = "Runtime.OutOfMemory"
    TIMEOUT = "Sandbox.Timedout"
    SANDBOX_FAILURE = "Sandbox.Failure"
    MARSHAL = "Runtime.MarshalError"
    UNMARSHAL = "Runtime.UnmarshalError"
    IMPORT_MODULE = "Runtime.ImportModuleError"
    SYNTAX = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    MALFORMED_HANDLER = "Runtime.MalformedHandlerName"
    RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"


class Status(str, enum.Enum):
    """The ``Status`` of a REPORT line."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    THROTTLED = "throttled"  # never on a REPORT line: a throttled invocation does not run


# Go's names for signals, which the Runtime API prints ("signal: killed").
_SIGNAL_WORDS: Final = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGSYS: "bad system call",
    signal.SIGVTALRM: "virtual timer expired",
    signal.SIGPROF: "profiling timer expired",
    signal.SIGSTOP: "stopped (signal)",
    signal.SIGTSTP: "stopped",
    signal.SIGCONT: "continued",
    signal.SIGCHLD: "child exited",
    signal.SIGURG: "urgent I/O condition",
    signal.SIGWINCH: "window changed",
    signal.SIGIO: "I/O possible",
    signal.SIGTTIN: "stopped (tty input)",
    signal.SIGTTOU: "stopped (tty output)",
}


def exit_reason(returncode: int) -> str:
    """Describe a process exit as the Runtime API does: ``exit status 1``, ``signal: killed``."""
    if returncode < 0:
        number = -returncode
        try:
            word = _SIGNAL_WORDS.get(signal.Signals(number), f"signal {number}")
        except ValueError:
            word = f"signal {number}"
        return f"signal: {word}"
    return f"exit status {returncode}"


def _platform_error(error_type: str, request_id: str, message: str) -> bytes:
    body = {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    return json.dumps(body, separators=(",", ":")).encode()


def exit_error(request_id: str, returncode: int) -> bytes:
    """Caller payload when the runtime process exits (crash, ``sys.exit``, OOM kill)."""
    if returncode == 0:
        return _platform_error(ErrorType.EXIT.value, request_id, "Runtime exited without providing a reason")
    return _platform_error(ErrorType.EXIT.value, request_id, f"Runtime exited with error: {exit_reason(returncode)}")


def timeout_error(request_id: str, timeout_s: float) -> bytes:
    """Caller payload of a timeout: ``Task timed out after 3.00 seconds``."""
    return _platform_error(ErrorType.TIMEOUT.value, request_id, f"Task timed out after {timeout_s:.2f} seconds")


def sandbox_failure(request_id: str, why: str) -> bytes:
    """Caller payload when lambdalab itself ended the environment (e.g. the Lab was closed)."""
    return _platform_error(ErrorType.SANDBOX_FAILURE.value, request_id, why)


RESPONSE_TOO_LARGE: Final = (
    b'{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).",'
    b'"errorType":"Function.ResponseSizeTooLarge"}'
)


def billed_duration_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    """Billed milliseconds: ``ceil(Duration + Init Duration)``, at least 1 (AWS Lambda pricing: 1 ms increments).

    Durations are rounded to the microsecond first so that float noise (26.000000001) does not
    bill an extra millisecond. (In whole microseconds: ``round(x, 3)`` formats the float as a
    string, which costs more than the rest of a simulated invocation's bookkeeping.)
    """
    micros = int((duration_ms + (init_duration_ms or 0.0)) * 1000.0 + 0.5)  # durations are >= 0
    return max(1, -(-micros // 1000))


# -- SnapStart (the Invoke API's errors, botocore's lambda model; messages are its documentation strings) ----
SNAPSTART_ERROR: Final = "SnapStartException"  # an after-restore hook failed (HTTP 400)
SNAPSTART_TIMEOUT: Final = "SnapStartTimeoutException"  # no /next within the restore timeout (HTTP 408)
SNAPSTART_NOT_READY: Final = "SnapStartNotReadyException"  # the version's snapshot is not taken yet (HTTP 409)
SNAPSTART_MESSAGES: Final = {
    SNAPSTART_ERROR: "The afterRestore() runtime hook encountered an error. For more information, check the "
    "Amazon CloudWatch logs.",
    SNAPSTART_TIMEOUT: "Lambda couldn't restore the snapshot within the timeout limit.",
    SNAPSTART_NOT_READY: "Lambda is initializing your function. You can invoke the function when the function "
    "state becomes Active.",
}


def snapstart_error(error_type: str) -> bytes:
    """Caller payload of a failed restore: ``{"Type": "User", "Message": ...}`` (the service error's shape)."""
    body = {"Type": "User", "Message": SNAPSTART_MESSAGES[error_type]}
    return json.dumps(body, separators=(",", ":")).encode()


def extension_error(request_id: str, error_type: str, returncode: int | None) -> bytes:
    """Caller payload when an extension fails: ``Extension.Crash``, ``Extension.InitError`` or ``.ExitError``."""
    why = exit_reason(returncode) if returncode is not None else "extension failed"
    return _platform_error(error_type, request_id, f"Extension exited with error: {why}")


def billed_restore_duration_ms(restore_duration_ms: float | None) -> int:
    """``Billed Restore Duration``: the restore's milliseconds rounded up (0 when not restored)."""
    if restore_duration_ms is None:
        return 0
    micros = int(restore_duration_ms * 1000.0 + 0.5)
    return -(-micros // 1000)


# SnapStart pricing (us-east-1, x86; secondary sources, to verify against https://aws.amazon.com/lambda/pricing/)
SNAPSTART_CACHE_PER_GB_S: Final = 0.0000015046  # per GB-second a published version's snapshot is kept
SNAPSTART_RESTORE_PER_GB: Final = 0.0001397998  # per GB restored


def snapstart_cost(memory_mb: int, cached_s: float, restores: int) -> float:
    """Dollars of SnapStart's own charges: the snapshot cache while the version is active, and each restore.

    (Billed Restore Duration is billed as duration on top, like Billed Duration.)
    """
    gb = memory_mb / 1024.0
    return gb * cached_s * SNAPSTART_CACHE_PER_GB_S + gb * restores * SNAPSTART_RESTORE_PER_GB
