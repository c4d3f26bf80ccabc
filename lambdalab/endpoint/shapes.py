"""The JSON shapes of Lambda's management API, read from a Lab (botocore's ``service-2.json`` names).

``function_configuration`` is the ``FunctionConfiguration`` that GetFunction, ListFunctions,
CreateFunction, PublishVersion... return. What lambdalab does not have (a role, a description, a
revision id) comes from ``Meta``, kept by the endpoint for functions created or changed through it.

Rules: read-only; runs on the Lab's loop thread (it reads the control plane's tables directly).
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

from lambdalab import runtime_ids
from lambdalab.config import INTERPRETER
from lambdalab.engine import package, runtime_catalog
from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab

RUNTIME = INTERPRETER  # the interpreter that really runs every Python function here (Lab.runtimes()), never relabelled
ARCHITECTURE = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
CODE_SIZE_ZIPPED = package.ZIPPED_MAX_BYTES          # Lambda's quotas [S9], enforced by engine/package.py
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
    pending: bool = False           # the next read says State "Pending" once, then "Active"
    handler: bool = True            # False: a custom runtime created without a Handler (Lambda then shows none)

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
    plane = lab._plane
    pool = plane.scheduler.entry(name).pools[version]
    config, code_dir = plane.code[(name, pool.spec.code)]
    if version == "$LATEST":
        config = plane.configs[name]
    state = "Pending" if meta.pending else "Active"
    arn = plane.arn(name, None if version == "$LATEST" else version)
    out: dict[str, Any] = {
        "FunctionName": name, "FunctionArn": arn, "Runtime": runtime_identifier(config.runtime), "Role": meta.role,
        "Handler": config.full_handler, "CodeSize": _code_size(lab, name, pool.spec.code, code_dir),
        "Description": meta.description,
        "Timeout": math.ceil(pool.spec.timeout_s), "MemorySize": pool.spec.memory_mb,
        "LastModified": meta.last_modified,
        "CodeSha256": base64.b64encode(bytes.fromhex(pool.spec.code)).decode(),
        "Version": version, "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": meta.revision,
        "State": state, "LastUpdateStatus": "Successful", "PackageType": "Zip", "Architectures": [ARCHITECTURE],
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb}, "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
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


def _code_size(lab: Lab, name: str, code: str, code_dir: Path) -> int:
    """The package's unzipped bytes (with its built dependencies for the deployed ``$LATEST``)."""
    if lab._plane.scheduler.entry(name).pools["$LATEST"].spec.code == code:
        return lab.function(name).code_size
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
    entry = lab._plane.scheduler.entry(name).aliases[alias]
    out: dict[str, Any] = {"AliasArn": lab._plane.arn(name, alias), "Name": alias,
                           "FunctionVersion": entry.version, "Description": description,
                           "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{alias}:{entry.version}"))}
    if entry.weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": dict(entry.weights)}
    return out


def account_settings(lab: Lab) -> dict[str, Any]:
    plane = lab._plane
    limits = plane.settings.limits
    reserved = sum(e.reserved or 0 for e in plane.scheduler.functions.values())
    total = sum(code_size(path) for path in lab._code_dirs.values())
    return {
        "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE, "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                         "CodeSizeZipped": CODE_SIZE_ZIPPED, "ConcurrentExecutions": limits.concurrency,
                         "UnreservedConcurrentExecutions": limits.concurrency - reserved},
        "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(plane.configs)},
    }


def provisioned_status(lab: Lab, name: str, version: str) -> dict[str, Any]:
    """``GetProvisionedConcurrencyConfig``: requested, initialised (allocated) and idle (available)."""
    from lambdalab.core.lifecycle import State

    pool = lab._plane.scheduler.entry(name).pools[version]
    ready = [e for e in pool.environments.values()
             if e.provisioned and e.state in (State.IDLE, State.INVOKING, State.FINISHING)]
    idle = sum(1 for e in ready if e.state is State.IDLE)
    requested = pool.provisioned_target
    return {"RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": idle,
            "AllocatedProvisionedConcurrentExecutions": len(ready),
            "Status": "READY" if len(ready) >= requested else "IN_PROGRESS", "LastModified": timestamp()}
