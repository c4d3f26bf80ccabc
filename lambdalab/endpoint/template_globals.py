"""SAM's ``Globals.Function`` merged into each ``AWS::Serverless::Function``, by SAM's rules.

The rules of aws-sam-translator's Globals plugin (``samtranslator/plugins/globals/globals.py``, which
``sam local`` runs too), written out here rather than imported (docs/ENDPOINT.md says why):
- a primitive, or an intrinsic function (a one-key ``Ref`` / ``Condition`` / ``Fn::*`` mapping), or two values of
  different kinds: the resource's value wins;
- two mappings merge key by key, recursively; two lists are concatenated, global first (no de-duplication),
  except ``Architectures``, which the resource's list replaces;
- ``IgnoreGlobals: "*"`` (a resource attribute) takes no globals, ``IgnoreGlobals: [Timeout, ...]`` leaves those
  out; naming a property the globals do not set is an error of that resource (SAM's message);
- a property SAM does not accept in ``Globals.Function`` (``FunctionName``, ``Events``...) is left out with a
  note (SAM refuses the whole template).
``tests/endpoint/test_templates_more.py`` checks these against the plugin itself when it is installed.

Rules: pure; no Lab.
"""

from __future__ import annotations

from typing import Any

from lambdalab.endpoint.template_values import Skip

SUPPORTED = frozenset(
    "Handler Runtime CodeUri DeadLetterQueue Description MemorySize Timeout VpcConfig Environment Tags "
    "PropagateTags Tracing KmsKeyArn AutoPublishAlias AutoPublishAliasAllProperties Layers DeploymentPreference "
    "RolePath PermissionsBoundary ReservedConcurrentExecutions ProvisionedConcurrencyConfig AssumeRolePolicyDocument "
    "EventInvokeConfig FileSystemConfigs CodeSigningConfigArn Architectures SnapStart EphemeralStorage "
    "FunctionUrlConfig RuntimeManagementConfig LoggingConfig RecursiveLoop SourceKMSKeyArn TenancyConfig "
    "DurableConfig CapacityProviderConfig FunctionScalingConfig PublishToLatestPublished "
    "VersionDeletionPolicy".split()
)
_REPLACE = frozenset({"Architectures"})


def function_globals(template: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """``Globals.Function`` without the properties SAM does not accept there (each noted)."""
    section = template.get("Globals")
    found = section.get("Function") if isinstance(section, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict):
        notes.append("Globals.Function is not a mapping; ignored")
        return {}
    for key in found:
        if key not in SUPPORTED:
            notes.append(f"Globals: {key!r} is not a supported property of 'Function'; ignored")
    return {key: value for key, value in found.items() if key in SUPPORTED}


def merge(logical_id: str, defaults: dict[str, Any], props: dict[str, Any], ignore: Any = None) -> dict[str, Any]:
    """A function's properties with the globals merged in, as SAM merges them (``ignore``: ``IgnoreGlobals``)."""
    if ignore == "*":
        return dict(props)
    if ignore is not None:
        if not isinstance(ignore, list):
            raise Skip(f"Resource {logical_id} has invalid resource attribute 'IgnoreGlobals'")
        defaults = dict(defaults)
        for key in ignore:
            if key not in defaults:
                raise Skip(f"Resource {logical_id} has invalid resource attribute 'IgnoreGlobals' on item '{key}'")
            del defaults[key]
    merged: dict[str, Any] = _merge(defaults, props, "")
    return merged


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        # SAM's is_intrinsics: one key, Ref, Condition or Fn::*
        is_intrinsic = len(value) == 1 and any(key in ("Ref", "Condition") or key.startswith("Fn::") for key in value)
        return "primitive" if is_intrinsic else "dict"
    return "list" if isinstance(value, list) else "primitive"


def _merge(global_value: Any, local_value: Any, path: str) -> Any:
    kind = _kind(global_value)
    if kind != _kind(local_value) or kind == "primitive":
        return local_value
    if kind == "list":
        return local_value if path in _REPLACE else [*global_value, *local_value]
    out = dict(global_value)
    for key, value in local_value.items():
        out[key] = _merge(out[key], value, f"{path}.{key}".lstrip(".")) if key in out else value
    return out
