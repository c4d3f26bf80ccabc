"""A template's Kinesis streams and DynamoDB table streams, and the mappings that read them, as local stream sources.

- ``AWS::Kinesis::Stream``: named by ``Name`` (else the logical id), ``ShardCount`` shards (1 when not given, as
  with ``StreamModeDetails: ON_DEMAND``; at most ``KinesisStream``'s 100, where Kinesis allows up to the account's
  shard quota, 500 by default in the largest regions: a larger count is skipped with a note); ``Ref`` gives its
  name, ``GetAtt`` its ``Arn``.
- ``AWS::DynamoDB::Table`` with ``StreamSpecification.StreamViewType``: named by ``TableName`` (else the logical
  id), its ``KeySchema`` the stream's key attributes; ``Ref`` gives its name, ``GetAtt`` its ``Arn`` and
  ``StreamArn``. A table without a stream is nothing local: its ``Ref`` and ``GetAtt`` stay unresolved (noted
  where used), as before.
- SAM ``Events`` of ``Type: Kinesis`` and ``Type: DynamoDB`` (``Stream``) and ``AWS::Lambda::EventSourceMapping``
  resources on those ARNs become ``lab.kinesis_stream`` / ``lab.dynamodb_stream`` through the same code as
  CreateEventSourceMapping (``mappings.create``): ``StartingPosition``, ``StartingPositionTimestamp``,
  ``BatchSize``, ``MaximumBatchingWindowInSeconds``, ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts``,
  ``MaximumRecordAgeInSeconds``, ``FunctionResponseTypes``, ``DestinationConfig.OnFailure.Destination``,
  ``ParallelizationFactor``, ``Enabled`` (false: made, paused), and Lambda's refusals as notes. A stream ARN the
  template does not declare gets a local stream of that name (noted); ``FilterCriteria`` and
  ``TumblingWindowInSeconds`` are noted and not applied.

Rules: notes instead of prints; one bad resource is skipped with a note naming its logical id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lambdalab.endpoint import mappings, wire
from lambdalab.endpoint.declared import declare, declared
from lambdalab.endpoint.template_values import UNRESOLVED, Skip, number, resolve
from lambdalab.errors import LambdaLabError
from lambdalab.streams.kinesis import MAX_SHARDS

if TYPE_CHECKING:
    from lambdalab.api import Lab

VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_WHOLE = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
)
_FLAGS = ("BisectBatchOnFunctionError", "Enabled")
_AS_GIVEN = ("StartingPosition", "FunctionResponseTypes")
_NOT_APPLIED = ("FilterCriteria", "TumblingWindowInSeconds")
# a table stream's label (when it was first made in this process), so that reading the template again (serve --watch)
# gives the same StreamArn
_LABELS: dict[tuple[str, str, str], str] = {}


def add_streams(lab: Lab, resources: dict[str, Any], context: dict[str, Any], notes: list[str]) -> None:
    """Each Kinesis stream's and stream-enabled table's name and ARNs into ``context``; their settings declared."""
    region, account = context["AWS::Region"], context["AWS::AccountId"]
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind not in ("AWS::Kinesis::Stream", "AWS::DynamoDB::Table"):
            continue
        try:
            props = resource.get("Properties") or {}
            if not isinstance(props, dict):
                raise Skip("Properties must be a mapping")
            if kind == "AWS::Kinesis::Stream":
                name = _name(props, "Name", logical_id, context)
                shards = number(int, "ShardCount", resolve(props.get("ShardCount", 1), context))
                if not 1 <= shards <= MAX_SHARDS:
                    raise Skip(f"ShardCount {shards} is outside 1-{MAX_SHARDS} (lambdalab's bound for a local stream)")
                arn = f"arn:aws:kinesis:{region}:{account}:stream/{name}"
                declare(lab, arn, {"shards": shards})
                context[logical_id], context[f"{logical_id}.Arn"] = name, arn
                continue
            spec = resolve(props.get("StreamSpecification"), context)
            view = resolve(spec.get("StreamViewType"), context) if isinstance(spec, dict) else None
            if view is None:
                continue  # no stream, nothing local: the table's Ref and GetAtt stay unresolved (noted where used)
            if view not in VIEW_TYPES:
                raise Skip(f"StreamViewType {view!r} is not one of {', '.join(VIEW_TYPES)}")
            name = _name(props, "TableName", logical_id, context)
            label = _LABELS.setdefault((account, region, name), time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime()))
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label}"
            declare(lab, arn, {"stream_view_type": view, "key_attributes": _keys(props, context)})
            context[logical_id] = name
            context[f"{logical_id}.Arn"] = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            context[f"{logical_id}.StreamArn"] = arn
        except Skip as skip:
            notes.append(f"{logical_id}: {skip}; no local stream")
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed property
            notes.append(f"{logical_id}: malformed ({type(exc).__name__}: {exc}); no local stream")


def _keys(props: dict[str, Any], context: dict[str, Any]) -> tuple[str, ...]:
    """The table's key attributes from its ``KeySchema`` (the HASH key, then the RANGE key), else ``("id",)``."""
    schema = resolve(props.get("KeySchema"), context)
    found = {}
    for entry in schema if isinstance(schema, list) else ():
        entry = resolve(entry, context)
        if isinstance(entry, dict) and isinstance(resolve(entry.get("AttributeName"), context), str):
            kind = resolve(entry.get("KeyType"), context)
            if kind not in ("HASH", "RANGE"):
                raise Skip(f"KeySchema KeyType {kind!r} must be HASH or RANGE")
            found[kind] = resolve(entry["AttributeName"], context)
    if "HASH" not in found:
        raise Skip("KeySchema names no HASH key")
    return (found["HASH"], found["RANGE"]) if "RANGE" in found else (found["HASH"],)


def _name(props: dict[str, Any], key: str, logical_id: str, context: dict[str, Any]) -> str:
    name = resolve(props.get(key, logical_id), context)
    if not isinstance(name, str) or not name:
        raise Skip(f"{key} uses an intrinsic function lambdalab cannot resolve")
    return name


def _body(props: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """A mapping's properties as a CreateEventSourceMapping body (intrinsics resolved, numbers and flags typed)."""
    body: dict[str, Any] = {}
    for key in (*_WHOLE, *_FLAGS, *_AS_GIVEN, "StartingPositionTimestamp", "DestinationConfig"):
        if props.get(key) is None:
            continue
        value = resolve(props[key], context)
        if value is UNRESOLVED:
            raise Skip(f"{key} uses an intrinsic function lambdalab cannot resolve")
        if key in _WHOLE:
            value = number(int, key, value)
        elif key in _FLAGS and value in ("true", "false", "True", "False"):
            value = value in ("true", "True")
        elif key == "StartingPositionTimestamp":
            value = number(float, key, value)
        elif key == "DestinationConfig":
            value = _destinations(value, context)
        body[key] = value
    return body


def _destinations(value: Any, context: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Skip("DestinationConfig must be a mapping")
    out: dict[str, Any] = {}
    for kind in ("OnSuccess", "OnFailure"):
        entry = resolve(value.get(kind), context)
        if isinstance(entry, dict) and entry.get("Destination") is not None:
            target = resolve(entry["Destination"], context)
            if not isinstance(target, str):
                raise Skip(f"DestinationConfig.{kind}.Destination uses an intrinsic function lambdalab cannot resolve")
            out[kind] = {"Destination": target}
    return out


def wire_stream(
    lab: Lab,
    logical_id: str,
    arn: str,
    props: dict[str, Any],
    target: tuple[str, str | None] | None,
    context: dict[str, Any],
) -> str:
    """Make the local stream of one Kinesis or DynamoDB mapping; returns a note saying so. Raises ``Skip``."""
    if target is None or target[0] not in lab.functions():
        raise Skip("its function is not served")
    body = _body(props, context)
    body["FunctionName"] = target[0] if target[1] is None else f"{target[0]}:{target[1]}"
    body["EventSourceArn"] = arn
    stand_in = "" if declared(lab, arn) is not None else " (not in the template: a local stream of that name stands in)"
    try:
        source = mappings.create(lab, body)
    except wire.ApiError as exc:
        raise Skip(exc.message) from None
    except LambdaLabError as exc:  # ConfigError: a setting the source refuses
        raise Skip(str(exc)) from None
    ignored = [key for key in _NOT_APPLIED if props.get(key)]
    what = "Kinesis stream" if arn.split(":")[2] == "kinesis" else "DynamoDB stream of table"
    name = arn.split("/")[1]
    paused = " (Enabled is false: paused)" if body.get("Enabled") is False else ""
    extra = f" ({', '.join(ignored)} noted, not applied)" if ignored else ""
    return (
        f"{logical_id}: local {what} {name} delivers to {body['FunctionName']} "
        f"(mapping {source.uuid}){stand_in}{paused}{extra}"
    )
