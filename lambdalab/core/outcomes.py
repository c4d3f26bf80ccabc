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
