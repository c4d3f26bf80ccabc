"""Lambda's wire format: error responses, function names and qualifiers (AWS API reference, "Invoke": Errors).

An ``ApiError`` is one rest-json error: HTTP status, ``x-amzn-ErrorType`` and a JSON body whose
keys follow what Lambda sends for that code (``Message`` for some, ``message`` for others, plus
``Type`` and ``Reason``). ``parse_name`` turns the ``{FunctionName}`` path segment (a bare name,
``name:qualifier``, a partial or full ARN, already percent-decoded) and the ``Qualifier`` query
parameter into (name, qualifier), rejecting what Lambda rejects.

Rules: no aiohttp and no engine here; the server turns an ``ApiError`` into a response.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from lambdalab.core import outcomes
from lambdalab.errors import InvokeError, LabClosedError, TooManyRequestsException, UnknownFunctionError

# botocore's FunctionName pattern for Invoke (service-2.json); every pattern here is used with fullmatch, so a
# trailing newline never passes. It admits '.' in the name (an unknown name is then 404, as on Lambda); CreateFunction
# also applies the function-name rule of lambdalab.config.
_NAME = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
_ARN = re.compile(r"arn:[^:]*:lambda:(?P<region>[^:]*):(?P<account>\d{12}):function:(?P<rest>.+)")
_PARTIAL = re.compile(r"(?P<account>\d{12}):function:(?P<rest>.+)")


class ApiError(Exception):
    """One Lambda API error response."""

    def __init__(
        self, status: int, code: str, message: str, *, key: str = "message", user: bool = True, **fields: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.key, self.user, self.fields = (
            status,
            code,
            message,
            key,
            user,
            fields,
        )

    def body(self) -> bytes:
        data: dict[str, Any] = dict(self.fields)
        if self.user:
            data["Type"] = "User"
        data[self.key] = self.message
        return json.dumps(data).encode()

    def headers(self, request_id: str) -> dict[str, str]:
        return {"x-amzn-ErrorType": self.code, "x-amzn-RequestId": request_id, "Content-Type": "application/json"}


def not_found(arn: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}", key="Message")


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameterValueException", message)


def forbidden(message: str) -> ApiError:
    """A request the endpoint will not take from this caller (``guard.py``)."""
    return ApiError(403, "AccessDeniedException", message, key="Message")


def conflict(message: str) -> ApiError:
    return ApiError(409, "ResourceConflictException", message)


def validation(value: str, field: str, constraint: str) -> ApiError:
    return ApiError(
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}",
        user=False,
    )


def not_implemented(what: str) -> ApiError:
    """What lambdalab does not do: 501 (botocore does not retry it), named plainly."""
    return ApiError(501, "NotImplemented", what, key="Message", user=False)


# the Invoke API's SnapStart errors (botocore's lambda model): HTTP status by code; the model gives no message, so
# ``Message`` is the shape's documentation sentence (outcomes.SNAPSTART_MESSAGES; docs/FIDELITY.md)
SNAPSTART_STATUS = {
    outcomes.SNAPSTART_ERROR: 400,
    outcomes.SNAPSTART_TIMEOUT: 408,
    outcomes.SNAPSTART_NOT_READY: 409,
}


def snapstart(code: str) -> ApiError:
    """``SnapStartException`` (400), ``SnapStartTimeoutException`` (408) or ``SnapStartNotReadyException`` (409)."""
    return ApiError(SNAPSTART_STATUS[code], code, outcomes.SNAPSTART_MESSAGES[code], key="Message")


def from_lab(exc: Exception) -> ApiError:
    """A lambdalab exception as the error Lambda would send."""
    if isinstance(exc, TooManyRequestsException):
        return ApiError(429, exc.code, "Rate Exceeded.", Reason=exc.reason)
    if isinstance(exc, InvokeError) and exc.code in SNAPSTART_STATUS:
        return snapstart(exc.code)
    if isinstance(exc, InvokeError):
        key = "Message" if exc.status == 413 else "message"
        return ApiError(exc.status, exc.code, exc.message, key=key, user=exc.status != 413)
    if isinstance(exc, UnknownFunctionError):
        return ApiError(404, "ResourceNotFoundException", str(exc), key="Message")
    if isinstance(exc, LabClosedError):
        return ApiError(500, "ServiceException", str(exc), user=False)
    if isinstance(exc, ValueError):  # ConfigError: an invalid setting
        return invalid(str(exc))
    return ApiError(500, "ServiceException", f"lambdalab: {type(exc).__name__}: {exc}", user=False)


def new_request_id() -> str:
    return str(uuid.uuid4())


def parse_name(raw: str, qualifier: str | None, *, region: str, account_id: str) -> tuple[str, str | None]:
    """(function name, qualifier) from the path segment and the ``Qualifier`` parameter."""
    limit = 256 if raw.startswith("arn:") else 140
    if len(raw) > limit:
        raise validation(raw, "functionName", f"Member must have length less than or equal to {limit}")
    if _NAME.fullmatch(raw) is None:
        raise validation(raw, "functionName", f"Member must satisfy regular expression pattern: {_NAME.pattern}")
    rest = raw
    match = _ARN.fullmatch(raw) or _PARTIAL.fullmatch(raw)
    if match is not None:
        rest = match.group("rest")
        got_region = match.groupdict().get("region") or region
        if match.group("account") != account_id or got_region != region:
            raise not_found(raw)  # another account's or region's function does not exist here
    name, _, derived = rest.partition(":")
    if len(name) > 64:
        raise validation(name, "functionName", "Member must have length less than or equal to 64")
    if derived and qualifier and derived != qualifier:
        raise invalid("The derived qualifier from the function name does not match the specified qualifier.")
    return name, (derived or qualifier or None)
