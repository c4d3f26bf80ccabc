"""Function configuration: frozen, validated, with Lambda's defaults and limits.

Validation happens here, before anything starts; a bad value raises ``ConfigError`` naming the
field, the value and the allowed range. Nothing mutates a config after construction: use
``dataclasses.replace``. Names follow Lambda's patterns (function, alias, layer, environment
variable, handler), anchored with ``\\Z`` so that a trailing newline never passes; ``Lab(...)``
keywords are checked here too (``check_lab_options``), before a Lab creates a thread or a folder.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

from lambdalab import runtime_ids
from lambdalab.downstream import check_endpoint_url
from lambdalab.errors import ConfigError

MEMORY_MB_RANGE = (128, 10_240)
EPHEMERAL_STORAGE_MB_RANGE = (512, 10_240)  # /tmp's size (EphemeralStorage.Size)
TIMEOUT_S_RANGE = (1.0, 900.0)
ENV_VARS_MAX_BYTES = 4 * 1024
HANDLER_MAX_CHARS = 128
KEEP_ALIVE_MAX_S = 86_400.0  # a day: Lambda recycles environments within hours anyway
DEBUG_PORT_RANGE = (1024, 65_535)  # debug=N: the first port a debug environment listens on
# Lambda's patterns (botocore's service-2.json), anchored with \Z so that a trailing newline fails
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+\Z")
_ALIAS = re.compile(r"^(?![0-9]+\Z)[a-zA-Z0-9_-]{1,128}\Z")
_LAYER = re.compile(r"^[a-zA-Z0-9_-]{1,140}\Z")
_MODULE_SEP = re.compile(r"[./]")
_MODULE_PART = re.compile(r"^[\w-]+\Z")  # a file or folder name: letters, digits, '_', '-'; never '', '.' or '..'
RESERVED_ENV_VARS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
RUNTIMES = runtime_ids.KINDS
# the interpreter that runs every function here: Lambda's identifier for it is accepted as the ``python`` runtime
INTERPRETER = runtime_ids.INTERPRETER
_PYTHON_X_Y = re.compile(r"^python\d+\.\d+\Z")
# LoggingConfig (botocore's service-2.json enums); levels filter only under JSON, as on Lambda
LOG_FORMATS = ("JSON", "Text")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
DEFAULT_LOG_LEVEL = "INFO"  # both levels under JSON when none is given (GetFunctionConfiguration says INFO)
# Lambda's refusal of a level with the Text format (CreateFunction / UpdateFunctionConfiguration)
LOG_LEVEL_NEEDS_JSON = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change '
    'the LogFormat to "Json" and try again.'
)
# SnapStart's limits (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html#snapstart-runtimes): Lambda's
# words for a runtime it refuses; the other two sentences are lambdalab's (docs/FIDELITY.md)
SNAP_START_MAX_EPHEMERAL_MB = 512
SNAP_START_PROVISIONED = (
    "invalid snap_start: SnapStart does not support provisioned concurrency; set provisioned_concurrency=0 "
    "or snap_start=False"
)
SNAP_START_EPHEMERAL = (
    "invalid snap_start: SnapStart does not support ephemeral storage greater than 512 MB; set "
    "ephemeral_storage_mb=512 or snap_start=False"
)
_JS_NAME = re.compile(r"^[A-Za-z_$][\w$]*\Z")
# Lambda Managed Instances (CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig,
# FunctionScalingConfig): botocore's ranges
PER_ENVIRONMENT_RANGE = (1, 1600)  # PerExecutionEnvironmentMaxConcurrency
MAX_ENVIRONMENTS_RANGE = (0, 15_000)  # FunctionScalingConfig.MaxExecutionEnvironments (and Min...)
# the execution environments Lambda starts when a Managed Instances version is published, before it is ACTIVE
# (AWS docs, "Scaling Lambda Managed Instances"): MinExecutionEnvironments' value when none is given
MANAGED_INSTANCES_MIN_ENVIRONMENTS = 3
TENANCY_MODES = ("PER_TENANT",)  # TenancyConfig.TenantIsolationMode
# DurableConfig: ExecutionTimeout (seconds, up to a 366-day year) and RetentionPeriodInDays (default 14)
DURABLE_EXECUTION_TIMEOUT_S_RANGE = (1, 31_622_400)
DURABLE_RETENTION_DAYS_RANGE = (1, 90)
RECURSION_MODES = ("Terminate", "Allow")  # PutFunctionRecursionConfig's RecursiveLoop
# Managed Instances writes JSON logs only; lambdalab's words (docs/FIDELITY.md)
MANAGED_INSTANCES_TEXT_LOGS = (
    "invalid log_format: 'Text'; a Lambda Managed Instances function (max_concurrency_per_environment) writes "
    "JSON logs only: set log_format='JSON' or leave it out"
)
MANAGED_INSTANCES_SNAP_START = (
    "invalid snap_start: Lambda Managed Instances (max_concurrency_per_environment) does not support SnapStart"
)
MANAGED_INSTANCES_PROVISIONED = (
    "invalid provisioned_concurrency: Lambda Managed Instances (max_concurrency_per_environment) does not support "
    "provisioned concurrency; its environments are kept by the capacity provider (max_environments)"
)
MAX_ENVIRONMENTS_NEEDS_MANAGED_INSTANCES = (
    "invalid max_environments: it is FunctionScalingConfig.MaxExecutionEnvironments of a Lambda Managed Instances "
    "function; set max_concurrency_per_environment too"
)
MIN_ENVIRONMENTS_NEEDS_MANAGED_INSTANCES = (
    "invalid min_environments: it is FunctionScalingConfig.MinExecutionEnvironments of a Lambda Managed Instances "
    "function; set max_concurrency_per_environment too"
)
CAPACITY_PROVIDER_NEEDS_MANAGED_INSTANCES = (
    "invalid capacity_provider_arn: only a Lambda Managed Instances function (max_concurrency_per_environment) "
    "runs on a capacity provider"
)
MIN_ABOVE_MAX_ENVIRONMENTS = "invalid min_environments: {least} is more than max_environments ({most})"
# tenant isolation's documented incompatibilities (lambdalab's words: docs/FIDELITY.md)
TENANCY_SNAP_START = "invalid tenancy: tenant isolation mode (PER_TENANT) does not support SnapStart"
TENANCY_PROVISIONED = (
    "invalid tenancy: tenant isolation mode (PER_TENANT) does not support provisioned concurrency; set "
    "provisioned_concurrency=0"
)
TENANCY_FUNCTION_URL = "Function URLs are not supported for functions with tenant isolation mode (PER_TENANT)."
# what is fixed when a function is created (Function.update refuses to change it, as Lambda's API does)
FIXED_AT_CREATION = (
    "max_concurrency_per_environment",
    "tenancy",
    "durable",
    "durable_execution_timeout_s",
    "durable_retention_days",
)


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
    layers: tuple[str, ...] = ()  # as given: layer version ARNs or local folders/.zip files, in order
    requirements: tuple[str, ...] = ()  # requirement lines, built like pip install -t beside the code
    inherit_packages: bool = False  # the owner's site-packages on the path too (not as on Lambda)
    ephemeral_storage_mb: int = 512  # the size of /tmp (enforced where engine/mounts.py can mount a tmpfs)
    handler_as_given: bool = False  # _HANDLER is ``handler`` verbatim (the endpoint's Handler): the runtime judges it
    log_format: str = "Text"  # "JSON": platform lines as platform.* records, the runtime's logging records as JSON
    application_log_level: str | None = None  # JSON only: TRACE..FATAL (None: INFO)
    system_log_level: str | None = None  # JSON only: DEBUG, INFO or WARN (None: INFO)
    # where the handler's AWS SDK calls go: a URL or {service: URL} (lambdalab/downstream.py); None: AWS itself
    aws_endpoint_url: str | Mapping[str, str] | None = None
    # debug mode (lambdalab/engine/debug.py): each environment's runtime runs debugpy on a loopback port; True: a free
    # port each, a port number N: the first environment on N, the next ones on the next free ports; False: off
    debug: bool | int = False
    # SnapStart (``SnapStart: {ApplyOn: PublishedVersions}``): publishing a version runs its init once and snapshots
    # it; new environments of that version are restored from the snapshot. $LATEST always starts cold, as on Lambda
    snap_start: bool = False
    # Lambda Managed Instances: N worker processes per environment, each serving one request at a time; no freeze,
    # JSON logs (None: the classic one-request-per-environment model)
    max_concurrency_per_environment: int | None = None
    max_environments: int | None = None  # Managed Instances only: FunctionScalingConfig.MaxExecutionEnvironments
    # Managed Instances only: FunctionScalingConfig.MinExecutionEnvironments, the environments started at deploy
    # (outside any invocation) and kept; None: Lambda's 3, at most max_environments (``prestarted_environments``)
    min_environments: int | None = None
    capacity_provider_arn: str | None = None  # Managed Instances: the CapacityProviderArn a client named (echoed)
    tenancy: str | None = None  # "PER_TENANT": environments never shared across tenants; every invoke names one
    durable: bool = False  # durable functions (DurableConfig): checkpointed, replayed executions
    durable_execution_timeout_s: int = 86_400  # DurableConfig.ExecutionTimeout
    durable_retention_days: int = 14  # DurableConfig.RetentionPeriodInDays
    recursion: str = "Terminate"  # recursive loop detection: "Terminate" (stop at 16 hops) or "Allow"

    def __post_init__(self) -> None:
        check_function_name(self.name)
        check_runtime(self.runtime)
        _check(
            isinstance(self.memory_mb, int)
            and not isinstance(self.memory_mb, bool)
            and MEMORY_MB_RANGE[0] <= self.memory_mb <= MEMORY_MB_RANGE[1],
            "memory_mb",
            self.memory_mb,
            "an integer from 128 to 10240 (MB)",
        )
        _check(
            isinstance(self.timeout_s, (int, float))
            and not isinstance(self.timeout_s, bool)
            and TIMEOUT_S_RANGE[0] <= self.timeout_s <= TIMEOUT_S_RANGE[1],
            "timeout_s",
            self.timeout_s,
            "a number of seconds from 1 to 900",
        )
        _check(
            isinstance(self.ephemeral_storage_mb, int)
            and not isinstance(self.ephemeral_storage_mb, bool)
            and EPHEMERAL_STORAGE_MB_RANGE[0] <= self.ephemeral_storage_mb <= EPHEMERAL_STORAGE_MB_RANGE[1],
            "ephemeral_storage_mb",
            self.ephemeral_storage_mb,
            "an integer from 512 to 10240 (MB)",
        )
        _check(isinstance(self.handler_as_given, bool), "handler_as_given", self.handler_as_given, "True or False")
        check_handler(self.handler, self.runtime, as_given=self.handler_as_given)
        _check(isinstance(self.freeze, bool), "freeze", self.freeze, "True or False")
        self._check_env_vars()
        self._check_scaling()
        self._check_packages()
        self._check_logging()
        self._check_debug()
        self._check_snap_start()
        self._check_modes()
        object.__setattr__(self, "env_vars", _frozen_map(self.env_vars))
        endpoint = check_endpoint_url(self.aws_endpoint_url)
        object.__setattr__(self, "aws_endpoint_url", _frozen_map(endpoint) if isinstance(endpoint, dict) else endpoint)

    def _check_logging(self) -> None:
        """``log_format`` and the two levels: names as Lambda spells them (any case here), levels only with JSON."""
        given: object = self.log_format
        fmt = next((f for f in LOG_FORMATS if isinstance(given, str) and given.upper() == f.upper()), None)
        _check(fmt is not None, "log_format", self.log_format, "'JSON' or 'Text'")
        object.__setattr__(self, "log_format", fmt)
        for field, allowed in (
            ("application_log_level", APPLICATION_LOG_LEVELS),
            ("system_log_level", SYSTEM_LOG_LEVELS),
        ):
            value = getattr(self, field)
            if value is None:
                continue
            level = value.upper() if isinstance(value, str) else None
            _check(level in allowed, field, value, "one of " + ", ".join(allowed))
            object.__setattr__(self, field, level)
        if fmt == "Text" and (self.application_log_level is not None or self.system_log_level is not None):
            raise ConfigError(LOG_LEVEL_NEEDS_JSON)

    def _check_debug(self) -> None:
        debug: object = self.debug
        _check(
            isinstance(debug, bool) or (_is_int(debug) and DEBUG_PORT_RANGE[0] <= debug <= DEBUG_PORT_RANGE[1]),
            "debug",
            debug,
            "True, False or the first loopback port to listen on (1024 to 65535)",
        )
        if debug is not False and runtime_ids.kind(self.runtime) != "python":
            raise ConfigError(
                f"invalid debug: {debug!r}; debug mode needs the python runtime (debugpy), not {self.runtime!r}"
            )

    def _check_snap_start(self) -> None:
        """Lambda's SnapStart limits: Python runtimes only, no provisioned concurrency, ``/tmp`` of 512 MB.

        Lambda takes SnapStart on python3.12 and later; here the host interpreter's runtime is accepted whatever
        its version (docs/FIDELITY.md).
        """
        _check(isinstance(self.snap_start, bool), "snap_start", self.snap_start, "True or False")
        if not self.snap_start:
            return
        if runtime_ids.language(self.runtime) != "python":
            raise ConfigError(snap_start_runtime_message(self.runtime))
        if self.provisioned_concurrency:
            raise ConfigError(SNAP_START_PROVISIONED)
        if self.ephemeral_storage_mb > SNAP_START_MAX_EPHEMERAL_MB:
            raise ConfigError(SNAP_START_EPHEMERAL)

    def _check_modes(self) -> None:
        """Managed Instances, tenant isolation, durable execution and recursion detection: ranges and the
        documented incompatibilities. Managed Instances turns freezing off (its environments are never frozen)."""
        per = self.max_concurrency_per_environment
        low, high = PER_ENVIRONMENT_RANGE
        _check(
            per is None or (_is_int(per) and low <= per <= high),
            "max_concurrency_per_environment",
            per,
            f"None or a whole number of concurrent requests per environment from {low} to {high}",
        )
        most = self.max_environments
        low, high = MAX_ENVIRONMENTS_RANGE
        _check(
            most is None or (_is_int(most) and low <= most <= high),
            "max_environments",
            most,
            f"None or a whole number of environments from {low} to {high}",
        )
        least = self.min_environments
        _check(
            least is None or (_is_int(least) and low <= least <= high),
            "min_environments",
            least,
            f"None or a whole number of environments from {low} to {high}",
        )
        if least is not None and most is not None and least > most:
            raise ConfigError(MIN_ABOVE_MAX_ENVIRONMENTS.format(least=least, most=most))
        arn = self.capacity_provider_arn
        _check(arn is None or (isinstance(arn, str) and arn != ""), "capacity_provider_arn", arn, "None or an ARN")
        if per is not None:
            if self.log_format != "JSON":
                raise ConfigError(MANAGED_INSTANCES_TEXT_LOGS)
            if self.snap_start:
                raise ConfigError(MANAGED_INSTANCES_SNAP_START)
            if self.provisioned_concurrency:
                raise ConfigError(MANAGED_INSTANCES_PROVISIONED)
            object.__setattr__(self, "freeze", False)
        elif most is not None:
            raise ConfigError(MAX_ENVIRONMENTS_NEEDS_MANAGED_INSTANCES)
        elif least is not None:
            raise ConfigError(MIN_ENVIRONMENTS_NEEDS_MANAGED_INSTANCES)
        elif arn is not None:
            raise ConfigError(CAPACITY_PROVIDER_NEEDS_MANAGED_INSTANCES)
        _check(
            self.tenancy is None or self.tenancy in TENANCY_MODES,
            "tenancy",
            self.tenancy,
            "None or 'PER_TENANT'",
        )
        if self.tenancy is not None:
            if self.snap_start:
                raise ConfigError(TENANCY_SNAP_START)
            if self.provisioned_concurrency:
                raise ConfigError(TENANCY_PROVISIONED)
        _check(isinstance(self.durable, bool), "durable", self.durable, "True or False")
        low, high = DURABLE_EXECUTION_TIMEOUT_S_RANGE
        _check(
            _is_int(self.durable_execution_timeout_s) and low <= self.durable_execution_timeout_s <= high,
            "durable_execution_timeout_s",
            self.durable_execution_timeout_s,
            f"a whole number of seconds from {low} to {high} (366 days)",
        )
        low, high = DURABLE_RETENTION_DAYS_RANGE
        _check(
            _is_int(self.durable_retention_days) and low <= self.durable_retention_days <= high,
            "durable_retention_days",
            self.durable_retention_days,
            f"a whole number of days from {low} to {high}",
        )
        _check(self.recursion in RECURSION_MODES, "recursion", self.recursion, "'Terminate' or 'Allow'")

    @property
    def managed_instances(self) -> bool:
        """True when the function runs in Lambda Managed Instances mode (``max_concurrency_per_environment``)."""
        return self.max_concurrency_per_environment is not None

    @property
    def prestarted_environments(self) -> int:
        """Managed Instances: the environments started at deploy and kept (``min_environments``, Lambda's 3 when
        None, never more than ``max_environments``); 0 for a classic function."""
        if self.max_concurrency_per_environment is None:
            return 0
        least = MANAGED_INSTANCES_MIN_ENVIRONMENTS if self.min_environments is None else self.min_environments
        return least if self.max_environments is None else min(least, self.max_environments)

    @property
    def log_levels(self) -> tuple[str, str] | None:
        """(application, system) levels in force: None with the Text format (nothing is filtered)."""
        if self.log_format != "JSON":
            return None
        return (self.application_log_level or DEFAULT_LOG_LEVEL, self.system_log_level or DEFAULT_LOG_LEVEL)

    def _check_packages(self) -> None:
        from pathlib import PurePath

        from lambdalab.packages.layer_rules import check_layer_refs

        layers, requirements = self.layers, self.requirements
        _check(
            isinstance(layers, (tuple, list)) and all(isinstance(r, (str, PurePath)) and str(r) for r in layers),
            "layers",
            layers,
            "a list of layer version ARNs or local folders/.zip files",
        )
        layers = tuple(str(r) for r in layers)
        check_layer_refs(layers)  # at most 5, one version of a layer: Lambda's own words (a LayerError)
        if isinstance(requirements, str):
            requirements = tuple(requirements.split())
        _check(
            isinstance(requirements, (tuple, list)) and all(isinstance(r, str) for r in requirements),
            "requirements",
            requirements,
            "a list of requirement lines such as 'requests==2.32.3'",
        )
        _check(isinstance(self.inherit_packages, bool), "inherit_packages", self.inherit_packages, "True or False")
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "requirements", tuple(r.strip() for r in requirements if r.strip()))

    def _check_scaling(self) -> None:
        _check(
            self.reserved_concurrency is None
            or (_is_int(self.reserved_concurrency) and self.reserved_concurrency >= 0),
            "reserved_concurrency",
            self.reserved_concurrency,
            "None or a whole number >= 0",
        )
        _check(
            _is_int(self.provisioned_concurrency) and self.provisioned_concurrency >= 0,
            "provisioned_concurrency",
            self.provisioned_concurrency,
            "a whole number >= 0",
        )
        if self.reserved_concurrency is not None:
            _check(
                self.provisioned_concurrency <= self.reserved_concurrency,
                "provisioned_concurrency",
                self.provisioned_concurrency,
                f"at most the reserved concurrency ({self.reserved_concurrency})",
            )
        _check(
            self.keep_alive_s is None or _in_range(self.keep_alive_s, 0, KEEP_ALIVE_MAX_S),
            "keep_alive_s",
            self.keep_alive_s,
            f"None (the Lab's default) or seconds from 0 to {KEEP_ALIVE_MAX_S:.0f}",
        )
        _check(
            _is_int(self.max_event_age_s) and 60 <= self.max_event_age_s <= 21_600,
            "max_event_age_s",
            self.max_event_age_s,
            "a whole number of seconds from 60 to 21600",
        )
        _check(
            _is_int(self.max_retry_attempts) and 0 <= self.max_retry_attempts <= 2,
            "max_retry_attempts",
            self.max_retry_attempts,
            "0, 1 or 2",
        )

    def _check_env_vars(self) -> None:
        _check(isinstance(self.env_vars, Mapping), "env_vars", self.env_vars, "a mapping of names to strings")
        for key, value in self.env_vars.items():
            check_env_key(key)
            _check(isinstance(value, str), "env_vars", f"{key}={value!r}", "string values")
            _check("\0" not in value, "env_vars", f"{key}={value!r}", "values without a NUL character")
        size = sum(len(k) + len(v) for k, v in self.env_vars.items())
        _check(size <= ENV_VARS_MAX_BYTES, "env_vars", f"{size} bytes", "at most 4 KB in total")

    @property
    def module_and_function(self) -> tuple[str, str]:
        """The handler split as Lambda does; a bare name means module ``lambda_function`` (Node.js: ``index``).

        Python's module is dotted (``pkg.mod``); Node.js keeps its path (``src/app``) and its function
        may be a path too (``index.api.get``: module ``index``, function ``api.get``); a custom
        runtime's handler is whatever its bootstrap makes of it, kept whole.
        """
        language = runtime_ids.language(self.runtime)
        if language == "provided":
            return ("", self.handler)
        if language == "nodejs":
            head, slash, tail = self.handler.rpartition("/")
            module, dot, function = tail.partition(".")
            if not dot:
                return (head + slash + runtime_ids.default_module(self.runtime), tail)
            return (head + slash + module, function)
        module, _, function = self.handler.rpartition(".")
        return (module.replace("/", ".") or "lambda_function", function)

    @property
    def full_handler(self) -> str:
        """``_HANDLER`` as the runtime gets it."""
        if self.handler_as_given:
            return self.handler
        module, function = self.module_and_function
        return f"{module}.{function}" if module else function


def check_runtime(runtime: object) -> None:
    """A name of ``runtime_ids``: lambdalab's short names or Lambda's identifiers.

    Every Python function runs on this machine's interpreter: another version is refused, never
    relabelled. Whether Node.js (of the version asked) is installed is checked at deploy time
    (``runtime_catalog.py``), where the answer names what to install.
    """
    if isinstance(runtime, str) and _PYTHON_X_Y.match(runtime) and runtime != INTERPRETER:
        raise ConfigError(
            f"invalid runtime: {runtime} is not installed here: this machine runs {INTERPRETER}; "
            f"use runtime={INTERPRETER!r} (or 'python', 'python-ric'), or run lambdalab with {runtime}"
        )
    _check(
        isinstance(runtime, str) and runtime_ids.kind(runtime) is not None, "runtime", runtime, runtime_ids.describe()
    )


def snap_start_runtime_message(runtime: str) -> str:
    """Lambda's refusal of SnapStart on a runtime it does not take (CreateFunction, InvalidParameterValueException)."""
    return f"{runtime_ids.identifier(runtime)} is not supported for SnapStart enabled functions."


def check_handler(handler: object, runtime: str = "python", *, as_given: bool = False) -> None:
    """A handler as the runtime's client resolves it.

    ``as_given`` (a Handler of the Lambda API, handed to the runtime verbatim): only Lambda's own
    pattern (1 to 128 characters, no whitespace), and no path that leaves the task root; the runtime
    reports anything else at init, as Lambda's does (``Runtime.MalformedHandlerName``, ...).

    Node.js: ``path/module.function`` (the function may be ``a.b``: a property path of JavaScript
    names). A custom runtime: any string without whitespace up to 128 characters (Lambda's pattern),
    for the bootstrap to read from ``_HANDLER``. Python:
    ``module.function`` (or a bare ``function``): the module's parts are names joined by ``.`` or ``/``.

    Lambda's Python runtime imports ``module`` with ``/`` read as ``.`` (``importlib.import_module``),
    so a part is a file or folder name (letters, digits, ``_``, ``-``) and never empty: ``..``, an
    absolute path or spaces could never load there, and would name a file outside the task root
    here. The function is a Python identifier (Lambda would accept another string and fail at init).
    """
    _check(isinstance(handler, str), "handler", handler, "'module.function' or 'function' as a string")
    assert isinstance(handler, str)
    language = runtime_ids.language(runtime) if isinstance(runtime, str) else "python"
    if as_given and language != "provided":
        parts = handler.replace(".", "/").split("/")
        _check(
            0 < len(handler) <= HANDLER_MAX_CHARS
            and not any(c.isspace() for c in handler)
            and not handler.startswith("/")
            and ".." not in handler.split("/")
            and "" not in parts[:-1],
            "handler",
            handler,
            f"1 to {HANDLER_MAX_CHARS} characters without whitespace, inside the task root",
        )
        return
    if language == "provided":
        _check(
            0 < len(handler) <= HANDLER_MAX_CHARS and not any(c.isspace() for c in handler),
            "handler",
            handler,
            f"1 to {HANDLER_MAX_CHARS} characters without whitespace (the bootstrap reads it from _HANDLER)",
        )
        return
    if language == "nodejs":
        head, _, tail = handler.rpartition("/")
        module, dot, function = tail.partition(".")
        ok = (
            0 < len(handler) <= HANDLER_MAX_CHARS
            and all(_MODULE_PART.match(p) for p in head.split("/") if head)
            and (not head or all(head.split("/")))
            and (not dot or _MODULE_PART.match(module) is not None)
            and all(_JS_NAME.match(part) for part in (function if dot else tail).split("."))
        )
        _check(
            ok,
            "handler",
            handler,
            "'module.function' or 'path/module.function': the module a file name in the "
            "task root (letters, digits, '_', '-'), the function a JavaScript name (or names joined by '.'), "
            f"at most {HANDLER_MAX_CHARS} characters",
        )
        return
    module, _, function = handler.rpartition(".")
    parts = _MODULE_SEP.split(module) if "." in handler else []
    ok = (
        0 < len(handler) <= HANDLER_MAX_CHARS
        and function.isidentifier()
        and all(_MODULE_PART.match(part) for part in parts)
    )
    _check(
        ok,
        "handler",
        handler,
        "'module.function' or 'function': the module's parts are names of letters, digits, "
        f"'_' or '-' joined by '.' or '/', the function a Python identifier, at most {HANDLER_MAX_CHARS} characters",
    )


def check_function_name(name: object) -> None:
    """Lambda's function name: 1-64 letters, digits, ``-`` or ``_``."""
    _check(isinstance(name, str) and _NAME.match(name) is not None, "name", name, "1-64 letters, digits, '-' or '_'")


def check_alias_name(name: object) -> None:
    """Lambda's alias name: 1-128 letters, digits, ``-`` or ``_``, not all digits (that is a version)."""
    _check(
        isinstance(name, str) and _ALIAS.match(name) is not None,
        "alias",
        name,
        "1-128 letters, digits, '-' or '_', not only digits",
    )


def check_alias_weights(weights: object) -> None:
    """An alias's additional version weights: None, or ``{version: share}`` with finite shares from 0 to 1."""
    _check(
        weights is None
        or (
            isinstance(weights, Mapping)
            and all(isinstance(v, str) and _in_range(w, 0.0, 1.0) for v, w in weights.items())
        ),
        "weights",
        weights,
        "{version: share from 0 to 1}",
    )


def check_layer_name(name: object) -> None:
    """Lambda's layer name: 1-140 letters, digits, ``-`` or ``_``."""
    _check(
        isinstance(name, str) and _LAYER.match(name) is not None,
        "layer name",
        name,
        "1-140 letters, digits, '-' or '_'",
    )


def check_env_key(key: object) -> None:
    """Lambda's environment variable name: a letter then at least one letter, digit or ``_``; not reserved."""
    _check(
        isinstance(key, str) and _ENV_KEY.match(key) is not None,
        "env_vars",
        key,
        "names of at least two letters, digits and '_', starting with a letter",
    )
    _check(key not in RESERVED_ENV_VARS, "env_vars", key, "a name Lambda does not reserve")


def check_run(pattern: object, duration_s: object, count: object) -> tuple[float | None, int | None]:
    """A run's length, checked once for the wall-clock load runner and the simulator: ``(duration_s, count)``.

    ``duration_s`` is None or seconds > 0, ``count`` None or a whole number >= 1 (callers pass what
    they were given, so both are checked by value). A pattern that says it never ends by itself
    (``finite`` is False: an endless open-loop pattern, a ``ClosedLoop``; or, where a pattern does not say, one
    with ``clients``, which the simulator runs as a closed loop) needs one of them; anything
    else (a list of offsets, ``Replay``, a one-shot ``Burst``) ends with its last arrival.
    """
    length: float | None = None
    if duration_s is not None:
        if not (_is_number(duration_s) and math.isfinite(duration_s) and duration_s > 0):
            raise ConfigError(f"invalid duration_s: {duration_s!r}; expected None or seconds > 0")
        length = float(duration_s)
    limit: int | None = None
    if count is not None:
        if not (_is_int(count) and count >= 1):
            raise ConfigError(f"invalid count: {count!r}; expected None or a whole number >= 1")
        limit = count
    # a pattern that does not say: endless if it has clients (a closed loop, duck-typed), else it ends
    endless = getattr(pattern, "finite", not hasattr(pattern, "clients")) is False
    if length is None and limit is None and endless:
        raise ConfigError(f"invalid run: {pattern!r} never ends by itself; give duration_s or count")
    return length, limit


def _in_range(value: object, low: float, high: float) -> bool:
    return _is_number(value) and math.isfinite(value) and low <= value <= high


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {field}: {value!r}; expected {allowed}")


# -- a Lab's own settings --------------------------------------------------------------------------
INIT_TIMEOUT_MAX_S = 900.0  # Lambda's on-demand init limit is 10 s; provisioned inits run up to 15 min
RETRY_DELAY_SCALE_MAX = 100.0
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d\Z")
_ACCOUNT = re.compile(r"^\d{12}\Z")
_PASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


def _names(value: object) -> bool:
    return isinstance(value, (tuple, list, frozenset, set)) and all(
        isinstance(n, str) and _PASS_NAME.match(n) is not None for n in value
    )


_LAB_CHECKS: dict[str, tuple[Any, str]] = {
    "account_concurrency": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "unreserved_floor": (lambda v: v is None or (_is_int(v) and v >= 0), "None or a whole number >= 0"),
    "scale_limit": (lambda v: _is_int(v) and v >= 1, "a whole number of environments >= 1"),
    "scale_period_s": (lambda v: _in_range(v, 1e-3, 86_400.0), "seconds from 0.001 to 86400"),
    "keep_alive_s": (lambda v: _in_range(v, 0.0, KEEP_ALIVE_MAX_S), f"seconds from 0 to {KEEP_ALIVE_MAX_S:.0f}"),
    "keep_alive_policy": (lambda v: v in ("fixed", "hybrid"), "'fixed' or 'hybrid'"),
    "retry_delay_scale": (
        lambda v: _in_range(v, 1e-6, RETRY_DELAY_SCALE_MAX),
        f"a factor > 0 and at most {RETRY_DELAY_SCALE_MAX:.0f}",
    ),
    "region": (lambda v: isinstance(v, str) and _REGION.match(v) is not None, "a region name such as 'us-east-1'"),
    "account_id": (lambda v: isinstance(v, str) and _ACCOUNT.match(v) is not None, "12 digits, as a string"),
    "init_timeout_s": (
        lambda v: _in_range(v, 0.01, INIT_TIMEOUT_MAX_S),
        f"seconds > 0 and at most {INIT_TIMEOUT_MAX_S:.0f} (Lambda's on-demand limit is 10)",
    ),
    "pass_env": (_names, "a tuple of environment variable names"),
    "role_credentials": (
        lambda v: (
            v is None
            or (
                isinstance(v, Mapping)
                and "AccessKeyId" in v
                and "SecretAccessKey" in v
                and all(
                    k in ("AccessKeyId", "SecretAccessKey", "SessionToken")
                    and isinstance(x, str)
                    and x
                    and "\0" not in x
                    for k, x in v.items()
                )
            )
        ),
        "None or a mapping of aws_access_key_id and aws_secret_access_key, with aws_session_token optional (or STS's "
        "AccessKeyId, SecretAccessKey, SessionToken), to strings",
    ),
    "use_cgroups": (lambda v: isinstance(v, bool), "True or False"),
    "max_records": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "max_log_entries": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
}


def check_lab_options(options: Mapping[str, object]) -> None:
    """Validate ``Lab(...)`` keywords; raises ``ConfigError`` before the Lab creates anything."""
    for field, value in options.items():
        ok, allowed = _LAB_CHECKS[field]
        _check(bool(ok(value)), field, value, allowed)
