"""The JSON shapes of Lambda's management API, read from a Lab (botocore's ``service-2.json`` names).

``function_configuration`` is the ``FunctionConfiguration`` that GetFunction, ListFunctions,
CreateFunction, PublishVersion... return. What lambdalab does not have (a role, a description, a
revision id) comes from ``Meta``, kept by the endpoint for functions created or changed through it.

Rules: read-only; runs on the Lab's loop thread, where ``Lab`` and ``Function`` read their tables in place.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import platform
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab import runtime_catalog, runtime_ids
from lambdalab.config import INTERPRETER
from lambdalab.endpoint import function_fields
from lambdalab.errors import ConfigError
from lambdalab.packages import zips as package

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.config import FunctionConfig
    from lambdalab.function import Function

RUNTIME = INTERPRETER  # the interpreter that really runs every Python function here (Lab.runtimes()), never relabelled
ARCHITECTURE = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
CODE_SIZE_ZIPPED = package.ZIPPED_MAX_BYTES  # Lambda's quotas [S9], enforced by packages/zips.py
CODE_SIZE_UNZIPPED = package.UNZIPPED_MAX_BYTES
TOTAL_CODE_SIZE = 75 * 1024 * 1024 * 1024


def timestamp(at: float | None = None) -> str:
    """Lambda's ``LastModified``: ``2024-01-31T12:00:00.000+0000``."""
    at = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}+0000"


@dataclasses.dataclass
class Meta:
    """What Lambda keeps about a function that a Lab does not."""

    role: str
    description: str = ""
    last_modified: str = dataclasses.field(default_factory=timestamp)
    revision: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    pending: bool = False  # the next read says State "Pending" once, then "Active"
    handler: bool = True  # False: a custom runtime created without a Handler (Lambda then shows none)

    def touch(self) -> None:
        self.last_modified, self.revision = timestamp(), str(uuid.uuid4())


def default_meta(lab: Lab) -> Meta:
    return Meta(role=f"arn:aws:iam::{lab.settings.account_id}:role/lambdalab-execution-role")


def runtime_identifier(runtime: str) -> str:
    """``Runtime`` as Lambda names what really runs: the interpreter here, the installed Node.js major, provided.*."""
    if runtime_ids.language(runtime) == "python":
        return RUNTIME
    try:
        return runtime_catalog.resolve(runtime).identifier  # resolved at deploy time: answered from memory
    except ConfigError:
        return runtime_ids.identifier(runtime)


def code_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def function_configuration(lab: Lab, name: str, version: str, meta: Meta) -> dict[str, Any]:
    """``FunctionConfiguration`` of ``name`` at ``version`` ($LATEST or a number)."""
    fn = lab.function(name)
    info = fn.version_info(version)
    config = info.config
    state = "Pending" if meta.pending else "Active"
    arn = fn.arn(None if version == "$LATEST" else version)
    out: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": runtime_identifier(config.runtime),
        "Role": meta.role,
        "Handler": config.full_handler,
        "CodeSize": _code_size(fn, info.code_sha, info.code_folder),
        "Description": meta.description,
        "Timeout": math.ceil(info.timeout_s),
        "MemorySize": info.memory_mb,
        "LastModified": meta.last_modified,
        "CodeSha256": base64.b64encode(bytes.fromhex(info.code_sha)).decode(),
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": meta.revision,
        "State": state,
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [ARCHITECTURE],
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
        "SnapStart": info.snap_start,
        "LoggingConfig": logging_config(config, name),
    }
    out.update(function_fields.mode_configuration(config, lab.settings.region, lab.settings.account_id))
    if not meta.handler and runtime_ids.language(config.runtime) == "provided":
        del out["Handler"]
    if config.env_vars:
        out["Environment"] = {"Variables": dict(config.env_vars)}
    layers = function_layers(lab, name, config.layers)
    if layers:
        out["Layers"] = layers
    if state == "Pending":
        out.update(StateReason="The function is being created.", StateReasonCode="Creating")
    return out


def logging_config(config: FunctionConfig, name: str) -> dict[str, Any]:
    """``LoggingConfig``: the format, both levels under JSON (INFO unless set, as Lambda reports them), the group."""
    out: dict[str, Any] = {"LogFormat": config.log_format}
    levels = config.log_levels
    if levels is not None:
        out["ApplicationLogLevel"], out["SystemLogLevel"] = levels
    out["LogGroup"] = f"/aws/lambda/{name}"
    return out


def _code_size(fn: Function, code: str, code_dir: Path) -> int:
    """The package's unzipped bytes (with its built dependencies for the deployed ``$LATEST``)."""
    if fn.code_sha == code:
        return fn.code_size
    return code_size(code_dir)


def function_layers(lab: Lab, name: str, refs: tuple[str, ...]) -> list[dict[str, Any]]:
    """A function's ``Layers`` ([{Arn, CodeSize}]): those resolved at deploy time, or for an older version's
    references, the store's record of each (an ARN alone when the version was deleted since)."""
    fn = lab.function(name)
    if tuple(refs) == tuple(fn.config.layers):
        return [layer.function_layer() for layer in fn.layer_versions()]
    out = []
    for ref in refs:
        try:
            out.append(lab.layers.get(ref).function_layer())
        except ValueError:  # a LayerError: no longer published here
            out.append({"Arn": ref})
    return out


def alias_configuration(lab: Lab, name: str, alias: str, description: str = "") -> dict[str, Any]:
    entry = lab.function(name).aliases()[alias]
    out: dict[str, Any] = {
        "AliasArn": lab.arn(name, alias),
        "Name": alias,
        "FunctionVersion": entry.version,
        "Description": description,
        "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{alias}:{entry.version}")),
    }
    if entry.weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(entry.weights)}
    return out


def account_settings(lab: Lab) -> dict[str, Any]:
    limits = lab.settings.limits
    functions = [lab.function(name) for name in lab.functions()]
    reserved = sum(fn.config.reserved_concurrency or 0 for fn in functions)
    total = sum(code_size(fn.version_info().code_folder) for fn in functions)
    return {
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": limits.concurrency,
            "UnreservedConcurrentExecutions": limits.concurrency - reserved,
        },
        "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(functions)},
    }


def provisioned_status(lab: Lab, name: str, version: str) -> dict[str, Any]:
    """``GetProvisionedConcurrencyConfig``: requested, initialised (allocated) and idle (available)."""
    fn = lab.function(name)
    ready = [
        e
        for e in fn.environments()
        if e.version == version and e.provisioned and e.state in ("idle", "invoking", "finishing")
    ]
    idle = sum(1 for e in ready if e.state == "idle")
    requested = fn.version_info(version).provisioned_concurrency
    return {
        "RequestedProvisionedConcurrentExecutions": requested,
        "AvailableProvisionedConcurrentExecutions": idle,
        "AllocatedProvisionedConcurrentExecutions": len(ready),
        "Status": "READY" if len(ready) >= requested else "IN_PROGRESS",
        "LastModified": timestamp(),
    }
