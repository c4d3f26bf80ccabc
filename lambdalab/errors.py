"""Every exception lambdalab raises, split by blame.

    LambdaLabError                    root; never raised directly
    ├── CallerError                   the caller's mistake (the notebook layer shows it without a traceback)
    │   ├── ConfigError               an invalid function or lab setting, rejected before anything starts
    │   ├── UnknownFunctionError      no function registered under that name
    │   └── LabClosedError            the Lab was closed
    ├── InvokeError                   Lambda's API-level errors (what boto3 raises as ClientError)
    │   ├── RequestTooLargeException  the event (or a code upload) is over Lambda's size limit
    │   ├── InvalidRequestContentException  the event is not JSON (NaN, Infinity, bad syntax); also a ConfigError
    │   ├── TooManyRequestsException  throttled; carries ``.reason``
    │   ├── InvalidParameterValueException  a parameter the function refuses (a tenant id); also a ConfigError
    │   └── RecursiveInvocationException  a chain of the same request went past 16 hops (recursive loop detection)
    ├── LifecycleError                lambdalab asked the core for an illegal transition (our bug)
    ├── SandboxError                  the OS refused us: spawn failed, signal failed
    └── FunctionError                 only from ``InvocationResult.raise_for_error()``

Outcomes of user code (a handler raising, a timeout, a crash) are *not* exceptions: they are
returned as results with ``error`` set, the way Lambda returns them.
"""

from __future__ import annotations

from typing import Any


class LambdaLabError(Exception):
    """Root of lambdalab's exceptions."""


class CallerError(LambdaLabError):
    """The caller asked for something that cannot be done as asked."""


class ConfigError(CallerError, ValueError):
    """An invalid setting; the message names the field, the value and what is allowed."""


class UnknownFunctionError(CallerError, KeyError):
    """No function is registered under that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class LabClosedError(CallerError, RuntimeError):
    """The Lab was closed; create a new one."""


class InvokeError(LambdaLabError):
    """An error of the Invoke API itself: the function did not run.

    ``code`` is Lambda's error code (``x-amzn-ErrorType``), ``status`` its HTTP status.
    """

    code = "ServiceException"
    status = 500

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class RequestTooLargeException(InvokeError):
    """The request payload is over Lambda's limit."""

    code = "RequestEntityTooLargeException"
    status = 413


class InvalidRequestContentException(InvokeError, ConfigError):
    """The event is not JSON as Lambda parses it (``NaN``, ``Infinity``, ``1e999``, bad syntax): 400.

    Also a ``ConfigError``, so code that catches an invalid event as a caller's mistake still does.
    """

    code = "InvalidRequestContentException"
    status = 400


class TooManyRequestsException(InvokeError):
    """The invocation was throttled; ``reason`` is Lambda's ``Reason`` field."""

    code = "TooManyRequestsException"
    status = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, Reason=reason, Type="User")
        self.reason = reason


class InvalidParameterValueException(InvokeError, ConfigError):
    """A parameter of the invoke that the function refuses (400): a tenant id missing on a tenant-isolated function,
    or given to one without tenant isolation. Also a ``ConfigError``."""

    code = "InvalidParameterValueException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, Type="User")


class RecursiveInvocationException(InvokeError):
    """Lambda stopped the invocation: it would be past the 16th hop of one request chain (a recursive loop) and the
    function's recursive loop setting is ``Terminate`` (400)."""

    code = "RecursiveInvocationException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, Type="User")


class LifecycleError(LambdaLabError):
    """An event arrived in a state where it is not legal (a bug in a driver)."""

    def __init__(self, environment_id: str, state: str, event: str, legal_in: tuple[str, ...]) -> None:
        self.environment_id = environment_id
        self.state = state
        self.event = event
        self.legal_in = legal_in
        where = ", ".join(legal_in) or "no state"
        super().__init__(f"environment {environment_id}: {event} is not legal in state {state} (legal in: {where})")


class SandboxError(LambdaLabError):
    """The operating system refused an operation on an environment's processes."""


class FunctionError(LambdaLabError):
    """Raised by ``InvocationResult.raise_for_error()`` for an invocation that ended in error."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message
        self.stack_trace = stack_trace or []
