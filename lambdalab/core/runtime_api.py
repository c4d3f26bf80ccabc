"""The Lambda Runtime API (2018-06-01) as data: routes, header names, limits, fixed bodies.

Pure constants shared by the engine's HTTP server and the tests. No I/O.
"""

from __future__ import annotations

import re
from typing import Final

PREFIX: Final = "/2018-06-01"
NEXT_PATH: Final = PREFIX + "/runtime/invocation/next"
INVOCATION_PREFIX: Final = PREFIX + "/runtime/invocation/"
INIT_ERROR_PATH: Final = PREFIX + "/runtime/init/error"

# Exact byte limits (AWS docs, "Lambda quotas"): request 6 MiB, response 6 MiB + 100.
MAX_REQUEST_BYTES: Final = 6 * 1024 * 1024
MAX_RESPONSE_BYTES: Final = 6 * 1024 * 1024 + 100

H_REQUEST_ID: Final = "Lambda-Runtime-Aws-Request-Id"
H_DEADLINE_MS: Final = "Lambda-Runtime-Deadline-Ms"
H_FUNCTION_ARN: Final = "Lambda-Runtime-Invoked-Function-Arn"
H_TRACE_ID: Final = "Lambda-Runtime-Trace-Id"
H_CLIENT_CONTEXT: Final = "Lambda-Runtime-Client-Context"
H_COGNITO_IDENTITY: Final = "Lambda-Runtime-Cognito-Identity"
H_TENANT_ID: Final = "Lambda-Runtime-Aws-Tenant-Id"
H_ERROR_TYPE: Final = "Lambda-Runtime-Function-Error-Type"

ACCEPTED_BODY: Final = b'{"status":"OK"}'
INVALID_REQUEST_ID_BODY: Final = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}'
PAYLOAD_TOO_LARGE_BODY: Final = (
    b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}'
)


def invalid_state_body(from_state: str, to_state: str, reason: str) -> bytes:
    """403 body naming both states, as the Runtime API does for calls in the wrong state."""
    message = f"State transition from {from_state} to {to_state} failed for runtime. Error: {reason}"
    return f'{{"errorType":"InvalidStateTransition","errorMessage":"{message}"}}'.encode()


_ERROR_TYPE: Final = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+", re.ASCII)


def normalise_error_type(header: str | None) -> str:
    """Normalise ``Lambda-Runtime-Function-Error-Type`` as the Runtime API does
    (AWS docs, "Using the Lambda runtime API")."""
    if header and _ERROR_TYPE.fullmatch(header):
        return header
    return "Function.Unknown" if header and header.startswith("Function.") else "Runtime.Unknown"
