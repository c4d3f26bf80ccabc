"""Event source mappings of a Lab: its open sources (queues and streams) seen as Lambda's mappings, made, changed
and deleted from a request in Lambda's words (``mapping_shapes.py`` reads and writes those words). Used by the
endpoint (``event_sources.py``) and by templates (``template_streams.py``), on a thread that may block (the
sources' methods hop onto the Lab's loop).

Sources: an SQS queue ARN makes ``lab.sqs_queue``, a Kinesis stream ARN ``lab.kinesis_stream`` and a DynamoDB
stream ARN ``lab.dynamodb_stream``, with a template's own settings for that source when it declared one
(``declared.py``: a queue's visibility timeout, a stream's shards). A mapping's UUID is its source's ``uuid``. A
tenant-isolated function takes none (``tenancy.check_event_source``: 400 ``InvalidParameterValueException``).

Rules: no aiohttp; refusals are ``wire.ApiError`` (a template turns them into notes).
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from typing import TYPE_CHECKING, Any

from lambdalab import streams, tenancy
from lambdalab.endpoint import mapping_shapes, wire
from lambdalab.endpoint.declared import declared
from lambdalab.endpoint.mapping_shapes import DYNAMODB, KINESIS, SQS
from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab


@dataclasses.dataclass
class _Kept:
    """What a source does not keep of its mapping: when it last changed, and its filters (kept, not applied)."""

    last_modified: float
    filters: Any = None


_KEPT: weakref.WeakKeyDictionary[Any, _Kept] = weakref.WeakKeyDictionary()


def _kept(source: Any) -> _Kept:
    if source not in _KEPT:  # a source made in Python or by a template: first seen now
        _KEPT[source] = _Kept(time.time())
    return _KEPT[source]


def sources(lab: Lab) -> list[Any]:
    """Every open source of the Lab (``SqsQueue``, ``KinesisStream``, ``DynamoDBStream``), oldest first."""
    return streams.sources(lab)


def _kind(source: Any) -> str:
    return str(source.arn).split(":")[2]


def _settings(source: Any) -> dict[str, Any]:
    return dict(source.settings())


FAILED = "PROBLEM: Function call failed"


def _last_result(source: Any) -> str | None:
    """A stream mapping's ``LastProcessingResult``: ``OK`` when the last batch that finished succeeded (wholly or
    in part: ``ReportBatchItemFailures``), ``PROBLEM: Function call failed`` when it failed; None before any."""
    frame = source.batches()
    done = frame[frame["outcome"].isin(("success", "partial", "error"))]
    if done.empty:
        return None
    return FAILED if done["outcome"].iloc[-1] == "error" else "OK"


def configuration(lab: Lab, source: Any, state: str | None = None) -> dict[str, Any]:
    """``source``'s ``EventSourceMappingConfiguration``; ``state`` as given, else ``Enabled`` or ``Disabled``."""
    kind, kept = _kind(source), _kept(source)
    settings = _settings(source)
    if state is None:
        state = "Enabled" if settings.get("enabled", True) else "Disabled"
    region, account = lab.settings.region, lab.settings.account_id
    return mapping_shapes.configuration(
        kind,
        uuid=source.uuid,
        arn=source.arn,
        function_arn=lab.arn(source.function, source.qualifier),
        settings=settings,
        last_modified=kept.last_modified,
        state=state,
        mapping_arn=f"arn:aws:lambda:{region}:{account}:event-source-mapping:{source.uuid}",
        last_result=None if kind == SQS else _last_result(source),
        filters=kept.filters,
    )


def find(lab: Lab, mapping: str) -> Any:
    """The open source whose mapping is ``mapping`` (a UUID); 404 as Lambda answers otherwise."""
    for source in sources(lab):
        if source.uuid == mapping:
            return source
    raise wire.ApiError(404, "ResourceNotFoundException", "The resource you requested does not exist.", key="Message")


def _function(lab: Lab, raw: Any) -> tuple[str, str | None]:
    """(name, qualifier) of a mapping's ``FunctionName``, which must exist (404 otherwise)."""
    if not isinstance(raw, str) or not raw:
        raise wire.invalid("FunctionName is required.")
    name, qualifier = wire.parse_name(raw, None, region=lab.settings.region, account_id=lab.settings.account_id)
    if name not in lab.functions():
        raise wire.not_found(lab.arn(name))
    fn = lab.function(name)
    if qualifier not in (None, "$LATEST") and qualifier not in fn.aliases() and qualifier not in fn.versions():
        raise wire.not_found(lab.arn(name, qualifier))
    return name, qualifier


def _same_source(source: Any, arn: str) -> bool:
    """``source`` reads ``arn`` (a DynamoDB stream: the same table, whatever the stream's label)."""
    if source.arn == arn:
        return True
    if _kind(source) == DYNAMODB and arn.split(":")[2:3] == ["dynamodb"]:
        return str(source.arn).split("/stream/")[0] == arn.split("/stream/")[0]
    return False


def _conflict(lab: Lab, kind: str, arn: str, function: str) -> None:
    for source in sources(lab):
        if not _same_source(source, arn):
            continue
        mapping = source.uuid
        if source.function == function and kind == SQS:
            raise wire.conflict(
                f'An event source mapping with SQS arn (" {source.arn} ") and function (" {function} ") already '
                f"exists. Please update or delete the existing mapping with UUID {mapping}"
            )
        if source.function == function:
            raise wire.conflict(
                f'The event source arn (" {source.arn} ") and function (" {function} ") provided mapping already '
                f"exists. Please update or delete the existing mapping with UUID {mapping}"
            )
        raise wire.conflict(
            f"lambdalab: the local source {source.arn} already delivers to {source.function} (mapping {mapping}); "
            "a local queue or stream has one mapping. Delete that mapping first."
        )


def create(lab: Lab, body: dict[str, Any]) -> Any:
    """A new source for a CreateEventSourceMapping body (``FunctionName``, ``EventSourceArn``, settings)."""
    name, qualifier = _function(lab, body.get("FunctionName"))
    try:  # a tenant-isolated function: refused before the source or its settings are read
        tenancy.check_event_source(lab.function(name).config.tenancy)
    except ConfigError as exc:
        raise wire.invalid(str(exc)) from None
    arn = body.get("EventSourceArn")
    kind, source_name, label = mapping_shapes.parse_arn(arn, lab.settings.region, lab.settings.account_id)
    options = mapping_shapes.options(kind, body, create=True)
    _conflict(lab, kind, str(arn), name)
    own = declared(lab, str(arn)) or {}
    if kind == SQS:
        mapping_shapes.check_sqs_batch(options)
        timeout = lab.function(name).config.timeout_s
        own.setdefault("visibility_timeout_s", max(30.0, float(timeout)))
        make: Any = lab.sqs_queue
    elif kind == KINESIS:
        make = lab.kinesis_stream
    else:
        make = lab.dynamodb_stream
        own.setdefault("stream_label", label)  # the ARN asked for is the stream's
    try:
        source = make(source_name, name, qualifier=qualifier, **own, **options)
    except ConfigError as exc:  # a setting the source refuses: in the API's words
        raise wire.invalid(mapping_shapes.api_words(str(exc))) from None
    _KEPT[source] = _Kept(time.time(), mapping_shapes.filter_criteria(body.get("FilterCriteria")))
    return source


def listed(lab: Lab, arn: str | None, function: str | None) -> list[dict[str, Any]]:
    """ListEventSourceMappings: the configurations of the sources reading ``arn`` and delivering to ``function``
    (a name, ``name:qualifier`` or an ARN; unqualified: every qualifier), each filter when given."""
    wanted = None
    if function:
        wanted = wire.parse_name(function, None, region=lab.settings.region, account_id=lab.settings.account_id)
    rows = []
    for source in sources(lab):
        if arn and not _same_source(source, arn):
            continue
        if wanted is not None and (
            source.function != wanted[0] or (wanted[1] is not None and source.qualifier != wanted[1])
        ):
            continue
        rows.append(configuration(lab, source))
    return rows


def change(lab: Lab, mapping: str, body: dict[str, Any]) -> Any:
    """UpdateEventSourceMapping: the source, its settings changed as ``body`` asks."""
    source = find(lab, mapping)
    kind = _kind(source)
    options = mapping_shapes.options(kind, body, create=False)
    if body.get("FunctionName") is not None:
        name, qualifier = _function(lab, body["FunctionName"])
        if name != source.function or (qualifier != source.qualifier and kind == SQS):
            moved = "another function" if kind != SQS else "another function or qualifier"
            raise wire.not_implemented(f"lambdalab cannot move this mapping to {moved}; delete it and create another")
        if qualifier != source.qualifier:
            options["qualifier"] = qualifier  # a stream's mapping moves to another version or alias
    if kind == SQS:
        mapping_shapes.check_sqs_batch({**_settings(source), **options})
    if options:
        try:
            source.update(**options)
        except ConfigError as exc:
            raise wire.invalid(mapping_shapes.api_words(str(exc))) from None
    kept = _kept(source)
    if "FilterCriteria" in body:
        kept.filters = mapping_shapes.filter_criteria(body.get("FilterCriteria")) or None
    kept.last_modified = time.time()
    return source


def delete(lab: Lab, mapping: str) -> dict[str, Any]:
    """DeleteEventSourceMapping: close the source; its configuration in state ``Deleting``, as Lambda answers."""
    source = find(lab, mapping)
    answer = configuration(lab, source, "Deleting")
    source.close()
    return answer
