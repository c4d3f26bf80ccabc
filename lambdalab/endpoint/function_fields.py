"""The fields of CreateFunction and UpdateFunction* requests, checked as Lambda's API checks them.

First what botocore's service-2.json holds (``ValidationException``: the function name's and the
``Handler``'s patterns, environment variable names, ``Layers`` ARNs, ``EphemeralStorage.Size``), then
Lambda's own rules (``InvalidParameterValueException``: ``Runtime`` and ``Handler`` are mandatory for a
.zip function, custom runtimes included; reserved variable names; runtimes lambdalab does not run).
A ``Handler`` is checked against Lambda's pattern only (``[^\\s]+``, at most 128 characters): whether
the runtime can resolve it is the runtime's question, answered at init with its own error.

Then the request becomes ``Lab.create_function`` / ``Function.update`` keywords (``settings``,
``lab_runtime``). ``Code.ZipFile`` is base64 in the JSON body (``zip_bytes``, on the endpoint's worker
thread). Pure functions of the request: each raises ``wire.ApiError`` for a refusal.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any

from lambdalab import config, runtime_catalog, runtime_ids
from lambdalab.endpoint import wire
from lambdalab.errors import ConfigError
from lambdalab.packages import zips as package

# Lambda's answer to a CreateFunction of a .zip without one of them (a custom runtime too)
MANDATORY = "Runtime and Handler are mandatory parameters for functions created with deployment packages."
# botocore's LayerVersionArn
LAYER_VERSION_ARN = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:"
    r"\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)
_HANDLER = re.compile(r"[^\s]+")


def zip_bytes(container: Any, operation: str, missing: str) -> bytes:
    """``container["ZipFile"]`` (base64 in the JSON body) as bytes, with Lambda's zipped cap; on the worker thread.

    ``missing`` is the refusal when there is no ``ZipFile`` (an S3 location is not reachable from here).
    """
    if not isinstance(container, dict) or "ZipFile" not in container:
        raise wire.invalid(missing)
    try:
        data = base64.b64decode(container["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise wire.invalid(package.CANNOT_UNZIP) from None
    if len(data) > package.ZIPPED_MAX_BYTES:
        raise wire.from_lab(package.request_too_large(operation))
    return data


def zip_code(code: Any, operation: str) -> bytes:
    """``Code.ZipFile`` as bytes (CreateFunction, UpdateFunctionCode)."""
    return zip_bytes(
        code, operation, "lambdalab takes code as Code.ZipFile only (S3Bucket/S3Key and ImageUri are not supported)"
    )


def check_function_name(name: str) -> None:
    try:
        config.check_function_name(name)
    except ConfigError:
        raise wire.validation(
            name,
            "functionName",
            "Member must satisfy regular expression pattern: "
            r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
            r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
        ) from None


def check_names(body: dict[str, Any]) -> None:
    """What Lambda's API validates by pattern before anything else (botocore's service-2.json)."""
    handler = body.get("Handler")
    if handler is not None and (
        not isinstance(handler, str) or len(handler) > config.HANDLER_MAX_CHARS or _HANDLER.fullmatch(handler) is None
    ):
        raise wire.validation(str(handler), "handler", r"Member must satisfy regular expression pattern: [^\s]+")
    variables = ((body.get("Environment") or {}).get("Variables")) or {}
    if not isinstance(variables, dict):
        raise wire.invalid("Environment.Variables must be a map of names to strings")
    for key, value in variables.items():
        try:
            config.check_env_key(key)
        except ConfigError:
            if key in config.RESERVED_ENV_VARS and re.fullmatch(r"[a-zA-Z]([a-zA-Z0-9_])+", key):
                raise wire.invalid(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are "
                    f"currently not supported for modification. Reserved keys used in this request: "
                    f"{key}"
                ) from None
            raise wire.ApiError(
                400,
                "ValidationException",
                "1 validation error detected: Value at "
                "'environment.variables' failed to satisfy constraint: Map keys must satisfy "
                "constraint: [Member must satisfy regular expression pattern: "
                "[a-zA-Z]([a-zA-Z0-9_])+]",
                user=False,
            ) from None
        if not isinstance(value, str):
            raise wire.invalid(f"Environment variable {key} must be a string")


def check_mandatory(body: dict[str, Any]) -> None:
    """CreateFunction of a .zip: ``Runtime`` and ``Handler`` both given, whatever the runtime (as on Lambda)."""
    if body.get("Runtime") is None or body.get("Handler") is None:
        raise wire.invalid(MANDATORY)


def lab_runtime(runtime: Any, current: str | None = None) -> str:
    """A request's ``Runtime`` (Lambda's identifier) as the Lab's ``runtime=``, or Lambda's refusal.

    ``python3.x`` runs on this interpreter, as it always has here (its ``Runtime`` reads the interpreter's
    identifier); ``nodejsNN.x`` needs that Node.js major installed; ``provided.al2023``, ``provided.al2``
    and ``provided`` run the package's ``bootstrap``. lambdalab's own short names (``python-ric``,
    ``nodejs``...) are the Lab's, not Lambda's: refused here (``runtime_ids.lambda_kind``). A function
    that already runs a client of the same language and version (``python-ric``, ``nodejs-ric``) keeps
    it (``current``). May probe ``node`` once (~40 ms): call it on the worker thread.
    """
    if runtime is None:
        raise wire.invalid(MANDATORY)
    known = lambda_runtimes()
    # a name Lambda does not have at all (lambdalab's own short names get the message below, which names them)
    if isinstance(runtime, str) and known and runtime not in known and runtime not in runtime_ids.KINDS:
        raise wire.invalid(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(known)}] or be a valid ARN"
        )
    kind = runtime_ids.lambda_kind(runtime)
    if kind is None:
        raise wire.invalid(
            f"The runtime parameter of {runtime} is not supported by lambdalab: expected python3.x, "
            "nodejsNN.x (the Node.js installed here), provided.al2023, provided.al2 or provided"
        )
    if kind == "python":
        return current if current is not None and runtime_ids.language(current) == "python" else "python"
    try:
        found = runtime_catalog.resolve(runtime)
    except ConfigError as exc:
        raise wire.invalid(str(exc)) from None
    if current is not None and runtime_ids.kind(current) == f"{kind}-ric":
        try:
            if runtime_catalog.resolve(current).identifier == found.identifier:
                return current
        except ConfigError:
            pass
    return str(runtime)


@functools.cache
def lambda_runtimes() -> tuple[str, ...]:
    """Lambda's runtime identifiers: the ``Runtime`` enum of botocore's model of the Lambda API (loaded once,
    ~50 ms; empty if botocore cannot read it, and then nothing is refused for it)."""
    try:
        from botocore.loaders import Loader

        model = Loader().load_service_model("lambda", "service-2")
        return tuple(str(name) for name in model["shapes"]["Runtime"]["enum"])
    except Exception:
        return ()


def settings(body: dict[str, Any]) -> dict[str, Any]:
    """Function configuration fields → ``Lab.create_function`` / ``Function.update`` keywords."""
    out: dict[str, Any] = {}
    if "MemorySize" in body:
        out["memory_mb"] = body["MemorySize"]
    if "Timeout" in body:
        out["timeout_s"] = body["Timeout"]
    if "Environment" in body:
        out["env_vars"] = dict((body["Environment"] or {}).get("Variables") or {})
    if "Handler" in body:
        out["handler"], out["handler_as_given"] = body["Handler"], True  # the runtime judges it, as on Lambda
    if "Layers" in body:
        out["layers"] = layer_arns(body["Layers"])
    if "EphemeralStorage" in body:
        out["ephemeral_storage_mb"] = ephemeral_size(body["EphemeralStorage"])
    if "LoggingConfig" in body:
        out.update(logging_settings(body["LoggingConfig"], str(body.get("FunctionName", ""))))
    if "SnapStart" in body:
        out["snap_start"] = snap_start_setting(body["SnapStart"])
    if "CapacityProviderConfig" in body:
        out["max_concurrency_per_environment"] = per_environment_setting(
            body["CapacityProviderConfig"], body.get("MemorySize")
        )
        arn = body["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"].get("CapacityProviderArn")
        if isinstance(arn, str) and arn:  # kept to be echoed (every environment runs here whatever it names)
            out["capacity_provider_arn"] = arn
    if "TenancyConfig" in body:
        out["tenancy"] = tenancy_setting(body["TenancyConfig"])
    if "DurableConfig" in body:
        out.update(durable_settings(body["DurableConfig"]))
    return out


# Lambda's default per-environment concurrency for Python on Managed Instances: 16 per vCPU, at the default
# 2 GiB of memory per vCPU (ExecutionEnvironmentMemoryGiBPerVCpu)
PER_VCPU_DEFAULT = 16
MIB_PER_VCPU = 2048


def _whole(value: Any, field: str, low: int, high: int) -> int:
    """An integer member within botocore's range, else botocore's ``ValidationException``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise wire.invalid(f"{field} must be a whole number from {low} to {high}")
    if value < low:
        raise wire.validation(str(value), field, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise wire.validation(str(value), field, f"Member must have value less than or equal to {high}")
    return value


def per_environment_setting(capacity: Any, memory_mb: Any = None) -> int:
    """``CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig.PerExecutionEnvironmentMaxConcurrency``
    → ``max_concurrency_per_environment``. Left out: Python's default, 16 per vCPU (a vCPU per 2 GiB of
    ``MemorySize``, at least one). The capacity provider's ARN is taken as given: every environment runs here."""
    inner = capacity.get("LambdaManagedInstancesCapacityProviderConfig") if isinstance(capacity, dict) else None
    if not isinstance(inner, dict):
        raise wire.invalid(
            'CapacityProviderConfig must be {"LambdaManagedInstancesCapacityProviderConfig": '
            '{"CapacityProviderArn": ..., "PerExecutionEnvironmentMaxConcurrency": N}}'
        )
    low, high = config.PER_ENVIRONMENT_RANGE
    field = "capacityProviderConfig.lambdaManagedInstancesCapacityProviderConfig.perExecutionEnvironmentMaxConcurrency"
    if "PerExecutionEnvironmentMaxConcurrency" in inner:
        return _whole(inner["PerExecutionEnvironmentMaxConcurrency"], field, low, high)
    memory = memory_mb if isinstance(memory_mb, int) and not isinstance(memory_mb, bool) else 0
    return min(high, PER_VCPU_DEFAULT * max(1, memory // MIB_PER_VCPU))


def tenancy_setting(tenancy: Any) -> str:
    """``TenancyConfig.TenantIsolationMode`` → ``tenancy``; another value is botocore's enum refusal."""
    mode = tenancy.get("TenantIsolationMode") if isinstance(tenancy, dict) else None
    if mode not in config.TENANCY_MODES:
        raise wire.validation(
            str(mode),
            "tenancyConfig.tenantIsolationMode",
            f"Member must satisfy enum value set: [{', '.join(config.TENANCY_MODES)}]",
        )
    return str(mode)


def durable_settings(durable: Any) -> dict[str, Any]:
    """``DurableConfig`` (present: a durable function) → ``durable``, ``durable_execution_timeout_s``,
    ``durable_retention_days`` (members left out keep lambdalab's defaults); ``KMSKeyArn`` is taken and unused."""
    if not isinstance(durable, dict):
        raise wire.invalid('DurableConfig must be {"ExecutionTimeout": seconds, "RetentionPeriodInDays": days}')
    out: dict[str, Any] = {"durable": True}
    if "ExecutionTimeout" in durable:
        low, high = config.DURABLE_EXECUTION_TIMEOUT_S_RANGE
        out["durable_execution_timeout_s"] = _whole(
            durable["ExecutionTimeout"], "durableConfig.executionTimeout", low, high
        )
    if "RetentionPeriodInDays" in durable:
        low, high = config.DURABLE_RETENTION_DAYS_RANGE
        out["durable_retention_days"] = _whole(
            durable["RetentionPeriodInDays"], "durableConfig.retentionPeriodInDays", low, high
        )
    return out


def mode_configuration(fn_config: config.FunctionConfig, region: str, account_id: str) -> dict[str, Any]:
    """The ``FunctionConfiguration`` members of the execution modes a function was created with:
    ``CapacityProviderConfig`` (Managed Instances; the capacity provider's ARN as the client gave it, else
    lambdalab's one, this machine),
    ``TenancyConfig``, ``DurableConfig``. Empty for a classic function."""
    out: dict[str, Any] = {}
    if fn_config.max_concurrency_per_environment is not None:
        out["CapacityProviderConfig"] = {
            "LambdaManagedInstancesCapacityProviderConfig": {
                "CapacityProviderArn": fn_config.capacity_provider_arn
                or f"arn:aws:lambda:{region}:{account_id}:capacity-provider:lambdalab",
                "PerExecutionEnvironmentMaxConcurrency": fn_config.max_concurrency_per_environment,
            }
        }
    if fn_config.tenancy is not None:
        out["TenancyConfig"] = {"TenantIsolationMode": fn_config.tenancy}
    if fn_config.durable:
        out["DurableConfig"] = {
            "ExecutionTimeout": fn_config.durable_execution_timeout_s,
            "RetentionPeriodInDays": fn_config.durable_retention_days,
        }
    return out


SNAP_START_APPLY_ON = ("PublishedVersions", "None")  # botocore's SnapStartApplyOn


def snap_start_setting(snap_start: Any) -> bool:
    """``SnapStart: {ApplyOn: PublishedVersions|None}`` → ``snap_start``; another value is botocore's enum refusal.
    Then the configuration applies Lambda's limits (not Python: ``InvalidParameterValueException``)."""
    if not isinstance(snap_start, dict):
        raise wire.invalid('SnapStart must be {"ApplyOn": "PublishedVersions" | "None"}')
    apply_on = snap_start.get("ApplyOn", "None")
    if apply_on not in SNAP_START_APPLY_ON:
        raise wire.validation(
            str(apply_on),
            "snapStart.applyOn",
            f"Member must satisfy enum value set: [{', '.join(SNAP_START_APPLY_ON)}]",
        )
    return bool(apply_on == "PublishedVersions")


# LoggingConfig's members: botocore's enum for each, and the Lab keyword it sets
_LOGGING_FIELDS = (
    ("LogFormat", "logFormat", config.LOG_FORMATS, "log_format"),
    ("ApplicationLogLevel", "applicationLogLevel", config.APPLICATION_LOG_LEVELS, "application_log_level"),
    ("SystemLogLevel", "systemLogLevel", config.SYSTEM_LOG_LEVELS, "system_log_level"),
)


def logging_settings(logging: Any, name: str = "") -> dict[str, Any]:
    """``LoggingConfig`` → the ``log_format`` / ``*_log_level`` keywords it gives (members left out stay as
    they are). Values outside botocore's enums are its ``ValidationException``; a level with the Text format
    is Lambda's ``InvalidParameterValueException``, raised by the configuration (``config.LOG_LEVEL_NEEDS_JSON``).
    ``LogGroup`` may name the function's own group only: lambdalab keeps one group per function."""
    if not isinstance(logging, dict):
        raise wire.invalid("LoggingConfig must be an object of LogFormat, ApplicationLogLevel, SystemLogLevel")
    out: dict[str, Any] = {}
    for key, field, allowed, keyword in _LOGGING_FIELDS:
        if key not in logging:
            continue
        value = logging[key]
        if value not in allowed:
            raise wire.validation(
                str(value), f"loggingConfig.{field}", f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
        out[keyword] = value
    group = logging.get("LogGroup")
    if group is not None and group != f"/aws/lambda/{name}":
        raise wire.not_implemented(
            f"lambdalab keeps each function's logs in its own group /aws/lambda/{name}: LogGroup {group!r} "
            "cannot be chosen"
        )
    return out


def ephemeral_size(storage: Any) -> int:
    """``EphemeralStorage.Size`` (MB of /tmp), checked with Lambda's words."""
    size = storage.get("Size") if isinstance(storage, dict) else None
    if not isinstance(size, int) or isinstance(size, bool):
        raise wire.invalid('EphemeralStorage must be {"Size": <MB from 512 to 10240>}')
    low, high = config.EPHEMERAL_STORAGE_MB_RANGE
    if size < low:
        raise wire.validation(
            str(size), "ephemeralStorage.size", f"Member must have value greater than or equal to {low}"
        )
    if size > high:
        raise wire.validation(
            str(size), "ephemeralStorage.size", f"Member must have value less than or equal to {high}"
        )
    return size


def layer_arns(layers: Any) -> tuple[str, ...]:
    """A function's ``Layers``: layer version ARNs only (a caller never names a folder on this machine)."""
    if not isinstance(layers, list):
        raise wire.invalid("Layers must be a list of layer version ARNs")
    for arn in layers:
        if not isinstance(arn, str) or LAYER_VERSION_ARN.fullmatch(arn) is None:
            raise wire.validation(
                f"[{', '.join(map(str, layers))}]",
                "layers",
                "Member must satisfy constraint: "
                f"[Member must satisfy regular expression pattern: {LAYER_VERSION_ARN.pattern}]",
            )
    return tuple(layers)
