"""A template's layers and a function's ``Layers`` and ``LoggingConfig``, as ``create_function`` takes them.

``publish_layer``: an ``AWS::Serverless::LayerVersion`` (``ContentUri``) or ``AWS::Lambda::LayerVersion``
(``Content``) from a local folder or .zip, published in the Lab; a ``!Ref`` to it gives its version ARN.
``function_layers``: ``Layers`` as layer version ARNs. ``logging_options``: ``LoggingConfig`` as keywords;
``snap_start_options``: ``SnapStart`` as ``snap_start``.

Rules: raise ``Skip`` for what the resource cannot be served with; notes instead of prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.endpoint.template_values import UNRESOLVED, Skip, resolve

if TYPE_CHECKING:
    from lambdalab.api import Lab

LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")


def publish_layer(lab: Lab, base: Path, logical_id: str, resource: dict[str, Any], context: dict[str, Any]) -> str:
    """Publish one layer resource from its local content; returns its version ARN."""
    props = resource.get("Properties") or {}
    key = "ContentUri" if resource.get("Type") == "AWS::Serverless::LayerVersion" else "Content"
    content = resolve(props.get(key), context)
    if not isinstance(content, str):
        raise Skip(f"{key} must be a local folder or .zip (S3 locations are not reachable from lambdalab)")
    local = (base / content).resolve()
    if not local.exists():
        raise Skip(f"{key} {content!r} does not exist")
    name = resolve(props.get("LayerName", logical_id), context)
    if not isinstance(name, str):
        raise Skip("LayerName uses an intrinsic function lambdalab cannot resolve")
    runtimes = resolve(props.get("CompatibleRuntimes") or [], context)
    license_info = resolve(props.get("LicenseInfo"), context)
    description = resolve(props.get("Description", ""), context)
    layer = lab.publish_layer_version(
        name,
        local,
        description=description if isinstance(description, str) else "",
        compatible_runtimes=tuple(r for r in runtimes if isinstance(r, str)) if isinstance(runtimes, list) else (),
        license_info=license_info if isinstance(license_info, str) else None,
    )
    return str(layer.arn)


def function_layers(raw: Any, context: dict[str, Any]) -> tuple[str, ...]:
    """A function's ``Layers``: ``!Ref`` to a template layer (its ARN), a parameter, or an ARN."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Skip("Layers must be a list of layer version ARNs or !Ref to layers")
    out = []
    for item in raw:
        resolved = resolve(item, context)
        if resolved is UNRESOLVED or not isinstance(resolved, str):
            raise Skip(
                f"layer {json.dumps(item)} cannot be resolved (a !Ref to a layer that was not published, or "
                "an intrinsic function lambdalab cannot resolve)"
            )
        if not resolved.startswith("arn:"):
            raise Skip(f"layer {resolved!r} is not a layer version ARN")
        out.append(resolved)
    return tuple(out)


LOGGING_KEYWORDS = {
    "LogFormat": "log_format",
    "ApplicationLogLevel": "application_log_level",
    "SystemLogLevel": "system_log_level",
}


def logging_options(logical_id: str, logging: Any, context: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``LoggingConfig`` as ``create_function`` keywords (a bad value skips the function: ``ConfigError``);
    ``LogGroup`` is noted and left out (each function logs to its own group here)."""
    if logging is None:
        return {}
    if not isinstance(logging, dict):
        raise Skip("LoggingConfig must be a mapping of LogFormat, ApplicationLogLevel, SystemLogLevel")
    out: dict[str, Any] = {}
    for key, keyword in LOGGING_KEYWORDS.items():
        if key in logging:
            resolved = resolve(logging[key], context)
            if resolved is UNRESOLVED:
                notes.append(f"{logical_id}: LoggingConfig.{key} cannot be resolved; ignored")
            else:
                out[keyword] = resolved
    if "LogGroup" in logging:
        notes.append(f"{logical_id}: LoggingConfig.LogGroup ignored (logs stay in the function's own group)")
    return out


def snap_start_options(logical_id: str, snap_start: Any, context: dict[str, Any]) -> dict[str, Any]:
    """``SnapStart: {ApplyOn: PublishedVersions | None}`` as the ``snap_start`` keyword (with ``AutoPublishAlias``,
    the published version is snapshotted and its new environments restore); another value skips the function."""
    if snap_start is None:
        return {}
    resolved = resolve(snap_start, context)
    apply_on = resolve(resolved.get("ApplyOn"), context) if isinstance(resolved, dict) else UNRESOLVED
    if apply_on not in ("PublishedVersions", "None"):
        raise Skip(f"SnapStart of {logical_id} must be {{ApplyOn: PublishedVersions}} or {{ApplyOn: None}}")
    return {"snap_start": True} if apply_on == "PublishedVersions" else {}
