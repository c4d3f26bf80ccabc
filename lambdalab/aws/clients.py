"""The boto3 clients an AWS Lab uses, and AWS's errors as lambdalab's.

Clients come from the session with no ``endpoint_url``: boto3's own configuration (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_LAMBDA``, ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``, ``AWS_ENDPOINT_URL_IAM``, the config file)
decides where they go, so a stand-in needs no lambdalab switch. Credentials stay inside boto3: nothing here
reads, stores or prints them.

Invokes go through a client of their own with retries off (``max_attempts=1``): a throttle is an answer the
caller counts (``TooManyRequestsException``), never something retried out of sight. Management calls keep
botocore's standard retries. Both clients hold up to 64 pooled connections, as many as the Lab's threads.

Rules: boto3 and botocore are imported inside functions only, so ``import lambdalab.aws`` makes no call and
stays light.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

from lambdalab.errors import (
    ConfigError,
    InvalidRequestContentException,
    InvokeError,
    RequestTooLargeException,
    TooManyRequestsException,
    UnknownFunctionError,
)

POOL = 64  # threads of a Lab's executor, and connections of each client's pool
DEFAULT_REGION = "us-east-1"
# the hosts of AWS itself, IPv4 and dual-stack (``lambda.<region>.api.aws``, ``AWS_USE_DUALSTACK_ENDPOINT``);
# anything else is a stand-in or another compatible service
_AWS_HOST = re.compile(r"^https?://[^/]*\.(amazonaws\.com(\.cn)?|api\.aws|amazonwebservices\.com\.cn)(:\d+)?(/|$)")


@dataclass(frozen=True)
class Clients:
    """One Lab's clients: ``lambda_`` (management), ``invoke`` (no retries), ``logs``, ``iam``."""

    lambda_: Any
    invoke: Any
    logs: Any
    iam: Any
    region: str

    @property
    def on_aws(self) -> bool:
        """True when the Lambda client talks to AWS itself (not a stand-in on another host)."""
        return _AWS_HOST.match(str(self.lambda_.meta.endpoint_url)) is not None


def session_or_default(session: Any = None) -> Any:
    """``session``, or a new ``boto3.Session()`` (boto3's usual chain of credentials and settings)."""
    if session is not None:
        return session
    import boto3

    return boto3.Session()


def region_of(session: Any, region: str | None) -> str:
    return region or session.region_name or DEFAULT_REGION


def make_clients(session: Any, region: str) -> Clients:
    """The four clients of one Lab, from ``session`` in ``region``."""
    from botocore.config import Config

    managed = Config(max_pool_connections=POOL, retries={"mode": "standard", "max_attempts": 4})
    single = Config(max_pool_connections=POOL, retries={"mode": "standard", "max_attempts": 1}, read_timeout=960)
    return Clients(
        lambda_=session.client("lambda", region_name=region, config=managed),
        invoke=session.client("lambda", region_name=region, config=single),
        logs=session.client("logs", region_name=region, config=managed, **_logs_endpoint()),
        iam=session.client("iam", region_name=region, config=managed),
        region=region,
    )


def _logs_endpoint() -> dict[str, str]:
    """``AWS_ENDPOINT_URL_LOGS`` as the logs client's endpoint when boto3's own name for it is not set.

    boto3 reads ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` (the service id "CloudWatch Logs"); ``..._LOGS`` is the name
    users reach for, which boto3 ignores: honoured here so that a stand-in named that way is not silently bypassed."""
    legacy = os.environ.get("AWS_ENDPOINT_URL_LOGS")
    if (
        legacy
        and not os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        and os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true"
    ):
        return {"endpoint_url": legacy}
    return {}


def has_credentials(session: Any = None) -> bool:
    """Whether boto3's chain finds credentials (environment, files, SSO, a process), with no network call.

    Credentials from a container's or an instance's metadata service would need a request to find; they count
    when their environment variables are set (a container), and are not looked for otherwise.
    """
    import botocore.session

    if os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return True
    profile = getattr(session, "profile_name", None) if session is not None else None
    core = botocore.session.Session(profile=profile if profile and profile != "default" else None)
    resolver = core.get_component("credential_provider")
    for method in ("container-role", "iam-role"):  # both would ask a metadata service over the network
        resolver.remove(method)
    try:
        return resolver.load_credentials() is not None
    except Exception:  # a broken profile or a failing credential process: no usable credentials
        return False


# -- errors ------------------------------------------------------------------------------------------------------
_NOT_FOUND = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException"}
_INVALID = {
    "InvalidParameterValueException",
    "ValidationException",
    "CodeStorageExceededException",
    "ResourceConflictException",
    "InvalidParameterException",
    "MalformedPolicyDocument",
}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = (response.get("Error") or {}).get("Code")
    return str(code) if code else None


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    error = (response or {}).get("Error") or {} if isinstance(response, dict) else {}
    return str(error.get("Message") or exc)


def translate(exc: BaseException) -> BaseException:
    """A botocore ``ClientError`` as the error the local Lab raises for the same case (message kept).

    ``ResourceNotFoundException`` -> ``UnknownFunctionError``; ``TooManyRequestsException`` -> lambdalab's, with
    Lambda's ``Reason``; invalid parameters -> ``ConfigError``; other service errors -> ``InvokeError`` with
    the code. Anything that is not a ``ClientError`` comes back as it is.
    """
    code = error_code(exc)
    if code is None:
        return exc
    message = error_message(exc)
    if code in _NOT_FOUND:
        return UnknownFunctionError(message)
    if code == "TooManyRequestsException":
        response = getattr(exc, "response", {})
        reason = str(response.get("Reason") or response.get("reason") or "")
        return TooManyRequestsException(message, reason)
    if code == "RequestEntityTooLargeException":
        return RequestTooLargeException(message)
    if code == "InvalidRequestContentException":
        return InvalidRequestContentException(message)
    if code in _INVALID:
        return ConfigError(f"{code}: {message}")
    error = InvokeError(f"{code}: {message}")
    error.code = code
    return error


def call(method: Any, **params: Any) -> Any:
    """``method(**params)``, raising lambdalab's error for AWS's (``translate``)."""
    try:
        return method(**params)
    except Exception as exc:
        mapped = translate(exc)
        if mapped is exc:
            raise
        raise mapped from None


def paginate(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item under ``key`` of every page of ``operation``."""
    items: list[Any] = []
    try:
        for page in client.get_paginator(operation).paginate(**params):
            items.extend(page.get(key) or [])
    except Exception as exc:
        mapped = translate(exc)
        if mapped is exc:
            raise
        raise mapped from None
    return items


def wait_active(lam: Any, remote: str, qualifier: str | None = None, timeout_s: float = 300.0) -> dict[str, Any]:
    """GetFunctionConfiguration until the function is Active and no update is in progress; returns it."""
    params: dict[str, Any] = {"FunctionName": remote}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    deadline, pause = time.monotonic() + timeout_s, 0.05
    while True:
        found: dict[str, Any] = call(lam.get_function_configuration, **params)
        found.pop("ResponseMetadata", None)
        state, update = found.get("State", "Active"), found.get("LastUpdateStatus", "Successful")
        if state == "Failed" or update == "Failed":
            reason = found.get("LastUpdateStatusReason") or found.get("StateReason") or "no reason given"
            raise ConfigError(f"{remote}: Lambda could not make the function ready: {reason}")
        if state == "Active" and update != "InProgress":
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{remote}: not Active after {timeout_s:.0f} s (State {state}, update {update})")
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
