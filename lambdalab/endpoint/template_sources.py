"""What a template adds around its functions: ``AWS::Lambda::Function`` resources, ``AutoPublishAlias``, SQS queues
and their event source mappings, read as SAM and CloudFormation read them.

- ``AWS::Lambda::Function``: ``Code.ZipFile`` (inline code, as ``InlineCode``) or ``Code`` as a local path
  (the folder or .zip ``aws cloudformation package`` would upload, as ``CodeUri``); ``Handler``, ``Runtime``,
  ``MemorySize``, ``Timeout``, ``Environment``, ``FunctionName``, ``Layers``, ``ReservedConcurrentExecutions``,
  ``LoggingConfig`` as for ``AWS::Serverless::Function`` (SAM's ``Globals`` do not apply to it, as in SAM).
  Code in S3 or an image is skipped with a note.
- ``AutoPublishAlias: live``: once the function is made, its code is published as a version and the alias
  points at it, as SAM's ``AWS::Lambda::Version`` and ``AWS::Lambda::Alias`` do; its SQS events then go to the
  alias (as SAM points the mappings at it), and ``ProvisionedConcurrencyConfig`` provisions the alias.
- ``AWS::SQS::Queue``: a local queue (``lambdalab.sqs.SqsQueue``) named by ``QueueName`` (else the logical id),
  with its ``VisibilityTimeout`` and ``RedrivePolicy.maxReceiveCount``; ``Ref`` gives its URL and ``GetAtt``
  its ``Arn``, ``QueueName`` and ``QueueUrl``. A queue is made when a mapping reads it: SAM ``Events`` of
  ``Type: SQS`` or ``AWS::Lambda::EventSourceMapping`` (``BatchSize``, ``MaximumBatchingWindowInSeconds``,
  ``FunctionResponseTypes: [ReportBatchItemFailures]``, ``ScalingConfig.MaximumConcurrency``, ``Enabled``).
  An SQS ARN of a queue not in the template gets a local queue of that name, with a note. A second mapping
  on the same queue is noted and left out, ``FilterCriteria`` noted and not applied; ``Enabled: false`` makes the
  queue with its mapping paused. ``queues(lab)`` finds the queues (send with ``queue.send``). Kinesis and
  DynamoDB stream mappings: ``template_streams.py``.

Rules: notes instead of prints; one bad resource is skipped with a note naming its logical id.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lambdalab.endpoint import mapping_shapes, template_streams
from lambdalab.endpoint.declared import declare
from lambdalab.endpoint.template_values import UNRESOLVED, Skip, number, resolve
from lambdalab.errors import ConfigError, LambdaLabError
from lambdalab.sqs import SqsQueue

if TYPE_CHECKING:
    from lambdalab.api import Lab

_ALIAS = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9_-]+)\Z")  # SAM's AutoPublishAlias pattern
_QUEUE_KEYS = "::Queues"  # context key: logical id of each template queue -> its settings
MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"


# -- AWS::Lambda::Function --------------------------------------------------------------------------
def lambda_function_props(props: dict[str, Any]) -> dict[str, Any]:
    """An ``AWS::Lambda::Function``'s properties in ``AWS::Serverless::Function``'s words."""
    out = {key: value for key, value in props.items() if key != "Code"}
    code = props.get("Code")
    if isinstance(code, str):
        out["CodeUri"] = code
    elif isinstance(code, dict) and "ZipFile" in code:
        out["InlineCode"] = code["ZipFile"]
    elif isinstance(code, dict) and "ImageUri" in code:
        raise Skip("Code.ImageUri: container images are not supported")
    elif isinstance(code, dict) and "S3Bucket" in code:
        raise Skip("Code in S3 (S3Bucket, S3Key) is not reachable from lambdalab; give Code a local path")
    else:
        raise Skip("no Code (Code.ZipFile or a local path)")
    return out


# -- AutoPublishAlias ----------------------------------------------------------------------------------
def check_alias(logical_id: str, props: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The resource's ``AutoPublishAlias``, checked before anything is made (None: none)."""
    alias = resolve(props.get("AutoPublishAlias"), context)
    if alias is None:
        return None
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > 128:
        raise Skip(
            f"AutoPublishAlias {alias if alias is not UNRESOLVED else props.get('AutoPublishAlias')!r} must "
            "contain only alphanumeric characters, hyphens, or underscores (and not only digits)"
        )
    return alias


def auto_publish(
    lab: Lab, logical_id: str, name: str, alias: str, props: dict[str, Any], context: dict[str, Any], notes: list[str]
) -> None:
    """Publish ``name``'s code as a version and point ``alias`` at it (SAM's Version and Alias resources)."""
    fn = lab.function(name)
    version = fn.publish()
    fn.create_alias(alias, version)
    arn = lab.arn(name, alias)
    context[f"{logical_id}Alias{alias}"] = context[f"{logical_id}.Alias"] = arn  # !Ref Fn.Alias, as SAM
    context[f"{logical_id}.Version"] = lab.arn(name, version)
    provisioned = resolve(props.get("ProvisionedConcurrencyConfig"), context)
    if isinstance(provisioned, dict) and provisioned.get("ProvisionedConcurrentExecutions") is not None:
        count = number(
            int, "ProvisionedConcurrentExecutions", resolve(provisioned["ProvisionedConcurrentExecutions"], context)
        )
        try:
            fn.provision(count, qualifier=alias)
        except LambdaLabError as exc:
            notes.append(f"{logical_id}: ProvisionedConcurrencyConfig not applied ({exc})")
    if props.get("DeploymentPreference") is not None:
        notes.append(f"{logical_id}: DeploymentPreference ignored (the alias points at the new version at once)")


# -- SQS queues and mappings -----------------------------------------------------------------------
def add_queues(lab: Lab, resources: dict[str, Any], context: dict[str, Any], notes: list[str]) -> None:
    """Each ``AWS::SQS::Queue``'s name, URL and ARN into ``context``; its settings kept for the mappings."""
    region, account = context["AWS::Region"], context["AWS::AccountId"]
    queues: dict[str, dict[str, Any]] = context.setdefault(_QUEUE_KEYS, {})
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::SQS::Queue":
            continue
        try:
            props = resource.get("Properties") or {}
            if not isinstance(props, dict):
                raise Skip("Properties must be a mapping")
            name = resolve(props.get("QueueName", logical_id), context)
            if not isinstance(name, str):
                raise Skip("QueueName uses an intrinsic function lambdalab cannot resolve")
            visibility = number(float, "VisibilityTimeout", resolve(props.get("VisibilityTimeout", 30), context))
            redrive = resolve(props.get("RedrivePolicy"), context)
            receives = redrive.get("maxReceiveCount") if isinstance(redrive, dict) else None
            settings = {
                "name": name,
                "visibility_timeout_s": visibility,
                "max_receive_count": None if receives is None else number(int, "maxReceiveCount", receives),
            }
        except Skip as skip:
            notes.append(f"{logical_id}: {skip}; no local queue")
            continue
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a malformed property
            notes.append(f"{logical_id}: malformed ({type(exc).__name__}: {exc}); no local queue")
            continue
        arn = f"arn:aws:sqs:{region}:{account}:{name}"
        url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        queues[arn] = settings
        own = {key: settings[key] for key in ("visibility_timeout_s", "max_receive_count")}
        declare(lab, arn, own)  # CreateEventSourceMapping on this queue later takes its settings
        context[logical_id] = context[f"{logical_id}.QueueUrl"] = url
        context[f"{logical_id}.Arn"], context[f"{logical_id}.QueueName"] = arn, name


def mappings(
    resources: dict[str, Any], functions: dict[str, tuple[str, str | None]], context: dict[str, Any]
) -> list[tuple[str, Any, tuple[str, str | None] | None]]:
    """(logical id, the event or resource, (function, qualifier)) of every SQS, Kinesis and DynamoDB event and every
    event source mapping; an ``AWS::Lambda::EventSourceMapping``'s function is read by ``wire`` (None here), so
    that a malformed one is noted there, in the caller's try, and never stops the template."""
    found: list[tuple[str, Any, tuple[str, str | None] | None]] = []
    for logical_id, (name, qualifier) in functions.items():
        props = (resources[logical_id].get("Properties") or {}) if isinstance(resources[logical_id], dict) else {}
        events = props.get("Events") if isinstance(props, dict) else None
        for event_id, event in events.items() if isinstance(events, dict) else ():
            if isinstance(event, dict) and event.get("Type") in ("SQS", "Kinesis", "DynamoDB"):
                found.append((f"{logical_id}{event_id}", event, (name, qualifier)))
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") == MAPPING_TYPE:
            found.append((logical_id, resource, None))
    return found


def _target(props: Any, context: dict[str, Any]) -> tuple[str, str | None] | None:
    """An event source mapping's ``FunctionName`` (a name, ``name:qualifier`` or an ARN) as (name, qualifier)."""
    raw = resolve(props.get("FunctionName"), context) if isinstance(props, dict) else None
    if not isinstance(raw, str) or not raw:
        return None
    parts = raw.split(":")
    if raw.startswith("arn:") and len(parts) >= 7:
        return parts[6], parts[7] if len(parts) > 7 else None
    return parts[0], parts[1] if len(parts) > 1 else None


def _properties(entry: Any, target: tuple[str, str | None] | None, context: dict[str, Any]) -> tuple[Any, Any]:
    """(a mapping's properties in ``AWS::Lambda::EventSourceMapping``'s words, its (function, qualifier)) from a SAM
    event (``Queue`` / ``Stream``) or a mapping resource. Raises ``Skip`` for properties that are not a mapping."""
    raw = entry.get("Properties")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise Skip("Properties must be a mapping")
    if entry.get("Type") == MAPPING_TYPE:
        return raw, _target(raw, context)
    props = dict(raw)
    props["EventSourceArn"] = props.pop("Queue", props.pop("Stream", None))
    return props, target


def wire(lab: Lab, logical_id: str, entry: Any, target: tuple[str, str | None] | None, context: dict[str, Any]) -> str:
    """Make the local queue or stream of one event or mapping resource (``entry``, from ``mappings``), delivering to
    its function; returns a note saying so. Raises ``Skip``."""
    props, target = _properties(entry, target, context)
    arn = resolve(props.get("EventSourceArn"), context)
    if not isinstance(arn, str):
        raise Skip("its queue or stream cannot be resolved (EventSourceArn / Queue)")
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service in ("kinesis", "dynamodb"):
        return template_streams.wire_stream(lab, logical_id, arn, props, target, context)
    if service != "sqs":
        raise Skip(f"event source {arn} is not an SQS queue")
    if target is None or target[0] not in lab.functions():
        raise Skip("its function is not served")
    disabled = resolve(props.get("Enabled", True), context) in (False, "false", "False")
    queues: dict[str, dict[str, Any]] = context.setdefault(_QUEUE_KEYS, {})
    settings = queues.get(arn)
    note = ""
    if settings is None:
        settings = queues[arn] = {
            "name": arn.rsplit(":", 1)[1],
            "visibility_timeout_s": 30.0,
            "max_receive_count": None,
        }
        note = " (not in the template: a local queue of that name stands in)"
    if settings.get("taken"):
        raise Skip(f"queue {settings['name']} already delivers to {settings['taken']} (one mapping per local queue)")
    window = resolve(props.get("MaximumBatchingWindowInSeconds", 0), context)
    types = resolve(props.get("FunctionResponseTypes") or [], context)
    scaling = resolve(props.get("ScalingConfig") or {}, context)
    options: dict[str, Any] = {
        "qualifier": target[1],
        "batch_size": number(int, "BatchSize", resolve(props.get("BatchSize", 10), context)),
        "batching_window_s": number(float, "MaximumBatchingWindowInSeconds", window),
        "visibility_timeout_s": settings["visibility_timeout_s"],
        "max_receive_count": settings["max_receive_count"],
        "report_batch_item_failures": isinstance(types, list) and "ReportBatchItemFailures" in types,
        "enabled": not disabled,
    }
    if isinstance(scaling, dict) and scaling.get("MaximumConcurrency") is not None:
        options["max_concurrency"] = number(int, "MaximumConcurrency", scaling["MaximumConcurrency"])
    try:
        lab.sqs_queue(settings["name"], target[0], **options)
    except ConfigError as exc:
        raise Skip(mapping_shapes.api_words(str(exc))) from None
    shown = target[0] if target[1] is None else f"{target[0]}:{target[1]}"
    settings["taken"] = shown
    filters = " (FilterCriteria ignored: every message is delivered)" if props.get("FilterCriteria") else ""
    paused = " (Enabled is false: paused)" if disabled else ""
    return f"{logical_id}: local SQS queue {settings['name']} delivers to {shown}{note}{paused}{filters}"


def queues(lab: Lab) -> dict[str, SqsQueue]:
    """The Lab's local SQS queues by name (a template's, and any made with ``lab.sqs_queue``)."""
    return {item.name: item for item in lab.attached if isinstance(item, SqsQueue) and not item.closed}
