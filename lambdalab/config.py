"""Function configuration: frozen, validated, with Lambda's defaults and limits.

Validation happens here, before anything starts; a bad value raises ``ConfigError`` naming the
field, the value and the allowed range. Nothing mutates a config after construction: use
``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType

from lambdalab.errors import ConfigError

MEMORY_MB_RANGE = (128, 10_240)
TIMEOUT_S_RANGE = (1.0, 900.0)
ENV_VARS_MAX_BYTES = 4 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED_ENV_VARS = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)
RUNTIMES = ("python", "python-ric")


def _frozen_map(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FunctionConfig:
    """How one function runs. Defaults are Lambda's."""

    name: str
    handler: str = "lambda_function.handler"
    runtime: str = "python"
    memory_mb: int = 128
    timeout_s: float = 3.0
    env_vars: Mapping[str, str] = dataclasses.field(default_factory=dict)
    freeze: bool = True
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    keep_alive_s: float | None = None  # None: the Lab's default
    max_event_age_s: int = 21_600
    max_retry_attempts: int = 2

    def __post_init__(self) -> None:
        _check(_NAME.match(self.name) is not None, "name", self.name,
               "1-64 letters, digits, '-' or '_'")
        _check(self.runtime in RUNTIMES, "runtime", self.runtime, f"one of {', '.join(RUNTIMES)}")
        _check(isinstance(self.memory_mb, int) and not isinstance(self.memory_mb, bool)
               and MEMORY_MB_RANGE[0] <= self.memory_mb <= MEMORY_MB_RANGE[1],
               "memory_mb", self.memory_mb, "an integer from 128 to 10240 (MB)")
        _check(isinstance(self.timeout_s, (int, float)) and not isinstance(self.timeout_s, bool)
               and TIMEOUT_S_RANGE[0] <= self.timeout_s <= TIMEOUT_S_RANGE[1],
               "timeout_s", self.timeout_s, "a number of seconds from 1 to 900")
        _check(isinstance(self.handler, str) and bool(self.handler.strip()), "handler", self.handler,
               "'module.function' or 'function'")
        self._check_env_vars()
        self._check_scaling()
        object.__setattr__(self, "env_vars", _frozen_map(self.env_vars))

    def _check_scaling(self) -> None:
        _check(self.reserved_concurrency is None or (_is_int(self.reserved_concurrency) and self.reserved_concurrency >= 0),
               "reserved_concurrency", self.reserved_concurrency, "None or a whole number >= 0")
        _check(_is_int(self.provisioned_concurrency) and self.provisioned_concurrency >= 0,
               "provisioned_concurrency", self.provisioned_concurrency, "a whole number >= 0")
        if self.reserved_concurrency is not None:
            _check(self.provisioned_concurrency <= self.reserved_concurrency, "provisioned_concurrency",
                   self.provisioned_concurrency, f"at most the reserved concurrency ({self.reserved_concurrency})")
        _check(self.keep_alive_s is None or (_is_number(self.keep_alive_s) and self.keep_alive_s >= 0),
               "keep_alive_s", self.keep_alive_s, "None (the Lab's default) or seconds >= 0")
        _check(_is_int(self.max_event_age_s) and 60 <= self.max_event_age_s <= 21_600,
               "max_event_age_s", self.max_event_age_s, "a whole number of seconds from 60 to 21600")
        _check(_is_int(self.max_retry_attempts) and 0 <= self.max_retry_attempts <= 2,
               "max_retry_attempts", self.max_retry_attempts, "0, 1 or 2")

    def _check_env_vars(self) -> None:
        for key, value in self.env_vars.items():
            _check(isinstance(key, str) and _ENV_KEY.match(key) is not None, "env_vars", key,
                   "names of letters, digits and '_', starting with a letter")
            _check(key not in RESERVED_ENV_VARS, "env_vars", key, "a name Lambda does not reserve")
            _check(isinstance(value, str), "env_vars", f"{key}={value!r}", "string values")
        size = sum(len(k) + len(v) for k, v in self.env_vars.items())
        _check(size <= ENV_VARS_MAX_BYTES, "env_vars", f"{size} bytes", "at most 4 KB in total")

    @property
    def module_and_function(self) -> tuple[str, str]:
        """The handler split as Lambda does; a bare name means module ``lambda_function``."""
        module, _, function = self.handler.rpartition(".")
        return (module.replace("/", ".") or "lambda_function", function)

    @property
    def full_handler(self) -> str:
        module, function = self.module_and_function
        return f"{module}.{function}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {field}: {value!r}; expected {allowed}")
