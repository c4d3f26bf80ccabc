"""Event source mappings in Lambda's words: a request's fields as a local source's keyword options, checked as
Lambda checks them, and a source as an ``EventSourceMappingConfiguration`` (botocore's service model).

Sources by ARN: ``arn:aws:sqs:REGION:ACCOUNT:NAME`` (``kind`` "sqs"), ``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME``
("kinesis") and ``arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL`` ("dynamodb"). The keyword options
are those of ``lab.sqs_queue`` and ``lab.kinesis_stream`` / ``lab.dynamodb_stream`` (``lambdalab.streams``).

Every field is checked against botocore's shapes before anything is made, so a mapping holds only what Lambda's
model allows (and ListEventSourceMappings never echoes a value botocore's parser cannot read): a field of the
wrong JSON type is Lambda's ``InvalidRequestContentException``; a number outside the model's range, a
``FilterCriteria`` pattern over 4,096 characters or a ``DestinationArn`` off its pattern (or over 350) a
``ValidationException``; more than 5 filters, a pattern that is not a JSON object, an ARN of another partition,
region or account an ``InvalidParameterValueException``. A refusal names the API's field (``BatchSize``), never a
keyword of lambdalab's Python API (``api_words``).

Rules: pure; no aiohttp, no Lab calls beyond reading settings; every refusal is a ``wire.ApiError``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from lambdalab.endpoint import wire

SQS, KINESIS, DYNAMODB = "sqs", "kinesis", "dynamodb"
POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_SQS = re.compile(r"arn:aws[a-zA-Z-]*:sqs:(?P<region>[^:]+):(?P<account>\d{12}):(?P<name>[^:/]+)")
_KINESIS = re.compile(r"arn:aws[a-zA-Z-]*:kinesis:(?P<region>[^:]+):(?P<account>\d{12}):stream/(?P<name>[^:/]+)")
_DYNAMODB = re.compile(
    r"arn:aws[a-zA-Z-]*:dynamodb:(?P<region>[^:]+):(?P<account>\d{12}):table/(?P<name>[^:/]+)/stream/(?P<label>.+)"
)
_OTHER_SERVICES = ("kafka", "mq", "rds", "docdb")  # event sources Lambda has and lambdalab does not serve
PARTITION = "aws"  # the Lab's ARNs are all arn:aws:...
# botocore's DestinationArn (min 0, max 350), matched whole as Lambda matches it
_DESTINATION = re.compile(
    r"$|kafka://([^.]([a-zA-Z0-9\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:((eusc-)?[a-z]{2}((-gov)|"
    r"(-iso([a-z]?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)"
)
DESTINATION_MAX = 350
PATTERN_MAX = 4096  # botocore's Pattern
MAX_FILTERS = 5  # Lambda's quota of filters per event source mapping
# botocore's integer ranges of CreateEventSourceMapping (field: (min, max))
_RANGES = {
    "BatchSize": (1, 10_000),
    "MaximumBatchingWindowInSeconds": (0, 300),
    "ParallelizationFactor": (1, 10),
    "MaximumRecordAgeInSeconds": (-1, 604_800),
    "MaximumRetryAttempts": (-1, 10_000),
    "TumblingWindowInSeconds": (0, 900),
    "MaximumConcurrency": (2, 1000),
}
# lambdalab's keyword -> the API's field, for a source's own refusals (``api_words``)
_FIELDS = {
    "batch_size": "BatchSize",
    "batching_window_s": "MaximumBatchingWindowInSeconds",
    "starting_position_timestamp": "StartingPositionTimestamp",
    "starting_position": "StartingPosition",
    "bisect_batch_on_function_error": "BisectBatchOnFunctionError",
    "maximum_retry_attempts": "MaximumRetryAttempts",
    "maximum_record_age_s": "MaximumRecordAgeInSeconds",
    "report_batch_item_failures": "FunctionResponseTypes",
    "parallelization_factor": "ParallelizationFactor",
    "max_concurrency": "ScalingConfig.MaximumConcurrency",
    "on_failure": "DestinationConfig.OnFailure.Destination",
}
_KEYWORD = re.compile(r"\b(" + "|".join(sorted(_FIELDS, key=len, reverse=True)) + r")\b")


def api_words(message: str) -> str:
    """A source's refusal (``invalid batch_size: 0; ...``) in the API's words (``invalid BatchSize: 0; ...``)."""
    return _KEYWORD.sub(lambda m: _FIELDS[m.group(1)], message)


def _malformed(field: str, expected: str) -> wire.ApiError:
    """A field of the wrong JSON type, as Lambda answers a body its model cannot read."""
    return wire.ApiError(
        400,
        "InvalidRequestContentException",
        f"Could not parse request body into json: Could not parse payload into json: {field} must be {expected}",
    )


def _camel(field: str) -> str:
    return field[0].lower() + field[1:]


# request field -> (keyword, the kinds that take it)
_STREAM_ONLY = {
    "BisectBatchOnFunctionError": "bisect_batch_on_function_error",
    "MaximumRetryAttempts": "maximum_retry_attempts",
    "MaximumRecordAgeInSeconds": "maximum_record_age_s",
    "ParallelizationFactor": "parallelization_factor",
}


def parse_arn(arn: Any, region: str, account: str) -> tuple[str, str, str | None]:
    """(kind, queue / stream / table name, a table stream's label) of an event source ARN of this Lab's account and
    region."""
    if not isinstance(arn, str) or not arn:
        raise wire.invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")
    for kind, pattern in ((SQS, _SQS), (KINESIS, _KINESIS), (DYNAMODB, _DYNAMODB)):
        match = pattern.fullmatch(arn)
        if match is None:
            continue
        if arn.split(":")[1] != PARTITION or match.group("region") != region or match.group("account") != account:
            raise wire.invalid(
                f"lambdalab serves event sources of its own account and region ({account}, {region}, partition "
                f"{PARTITION}) only: {arn}"
            )
        return kind, match.group("name"), match.groupdict().get("label")
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service in _OTHER_SERVICES:
        raise wire.not_implemented(f"lambdalab serves SQS, Kinesis and DynamoDB stream sources, not {service}: {arn}")
    raise wire.invalid("Unrecognized event source, must be kinesis, dynamodb stream or sqs.")


def _whole(body: dict[str, Any], field: str) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(field, "a whole number")
    low, high = _RANGES.get(field, (None, None))
    if low is not None and value < low:
        raise wire.validation(str(value), _camel(field), f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise wire.validation(str(value), _camel(field), f"Member must have value less than or equal to {high}")
    return value


def _flag(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _malformed(field, "true or false")
    return value


def filter_criteria(raw: Any) -> dict[str, Any] | None:
    """``FilterCriteria`` as botocore's shape allows it ({"Filters": [{"Pattern": str <= 4096}, ...]}, 5 at most,
    each pattern a JSON object as Lambda requires), or None for none; kept, not applied."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"Filters"}:
        raise _malformed("FilterCriteria", "an object with Filters")
    filters = raw.get("Filters")
    if filters is None:
        return {}
    if not isinstance(filters, list) or not all(isinstance(f, dict) and not set(f) - {"Pattern"} for f in filters):
        raise _malformed("FilterCriteria.Filters", "a list of objects with a Pattern")
    if len(filters) > MAX_FILTERS:
        raise wire.invalid(f"The number of filters ({len(filters)}) exceeds the maximum of {MAX_FILTERS} per event "
                           "source mapping.")  # fmt: skip
    for index, entry in enumerate(filters, 1):
        pattern = entry.get("Pattern")
        if pattern is None:
            continue
        if not isinstance(pattern, str):
            raise _malformed("FilterCriteria.Filters.Pattern", "a string")
        if len(pattern) > PATTERN_MAX:
            raise wire.validation(pattern[:64] + "...", f"filterCriteria.filters.{index}.member.pattern",
                                  f"Member must have length less than or equal to {PATTERN_MAX}")  # fmt: skip
        try:
            parsed = json.loads(pattern)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise wire.invalid("Invalid filter pattern definition.")
    return {"Filters": [dict(f) for f in filters]}


def destination_config(raw: Any) -> dict[str, str | None]:
    """``DestinationConfig`` as botocore's shape allows it: {"OnSuccess"|"OnFailure": {"Destination": ARN}};
    (kind -> destination ARN or None)."""
    if not isinstance(raw, dict) or set(raw) - {"OnSuccess", "OnFailure"}:
        raise _malformed("DestinationConfig", "an object with OnSuccess and OnFailure")
    out: dict[str, str | None] = {}
    for kind in ("OnSuccess", "OnFailure"):
        entry = raw.get(kind)
        if entry is None:
            continue
        if not isinstance(entry, dict) or set(entry) - {"Destination"}:
            raise _malformed(f"DestinationConfig.{kind}", "an object with a Destination")
        target = entry.get("Destination")
        if target is not None and not isinstance(target, str):
            raise _malformed(f"DestinationConfig.{kind}.Destination", "a string")
        field = f"destinationConfig.{_camel(kind)}.destination"
        if target is not None and len(target) > DESTINATION_MAX:
            raise wire.validation(target[:64] + "...", field,
                                  f"Member must have length less than or equal to {DESTINATION_MAX}")  # fmt: skip
        if target is not None and _DESTINATION.fullmatch(target) is None:
            raise wire.validation(target, field, f"Member must satisfy regular expression pattern: "
                                  f"{_DESTINATION.pattern}")  # fmt: skip
        out[kind] = target or None
    return out


def options(kind: str, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The source's keyword options a Create or Update body asks for (only what it gives)."""
    out: dict[str, Any] = {}
    filter_criteria(body.get("FilterCriteria"))
    _whole(body, "TumblingWindowInSeconds")
    batch = _whole(body, "BatchSize")
    if batch is not None:
        out["batch_size"] = batch
    window = _whole(body, "MaximumBatchingWindowInSeconds")
    if window is not None:
        out["batching_window_s"] = window
    enabled = _flag(body, "Enabled")
    if enabled is not None:
        out["enabled"] = enabled
    types = body.get("FunctionResponseTypes")
    if types is not None:
        if not isinstance(types, list) or any(t != "ReportBatchItemFailures" for t in types):
            raise wire.validation(
                str(types), "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]"
            )
        out["report_batch_item_failures"] = bool(types)
    if kind == SQS:
        _sqs_options(body, out, create=create)
    else:
        _stream_options(kind, body, out, create=create)
    return out


def _sqs_options(body: dict[str, Any], out: dict[str, Any], *, create: bool) -> None:
    if create and body.get("StartingPosition") is not None:
        raise wire.invalid("StartingPosition is not valid for SQS event sources.")
    for field in (*_STREAM_ONLY, "DestinationConfig", "TumblingWindowInSeconds"):
        if body.get(field) is not None:
            raise wire.invalid(f"Unsupported {field} parameter for given event source mapping type.")
    scaling = body.get("ScalingConfig")
    if scaling is not None:
        if not isinstance(scaling, dict):
            raise _malformed("ScalingConfig", "an object")
        concurrency = _whole(scaling, "MaximumConcurrency")
        if concurrency is not None:
            out["max_concurrency"] = concurrency
        elif not create:
            out["max_concurrency"] = 5  # ScalingConfig {} removes the cap: lambdalab's default again


def _stream_options(kind: str, body: dict[str, Any], out: dict[str, Any], *, create: bool) -> None:
    if create:
        position = body.get("StartingPosition")
        if position is None:
            raise wire.invalid(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
                "Member must not be null."
            )
        if position not in POSITIONS:
            raise wire.validation(
                str(position),
                "startingPosition",
                "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
            )
        if kind == DYNAMODB and position == "AT_TIMESTAMP":
            raise wire.invalid(f"Unsupported starting position for arn type: {body.get('EventSourceArn')}")
        out["starting_position"] = position
        if position == "AT_TIMESTAMP":
            stamp = body.get("StartingPositionTimestamp")
            if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
                raise wire.invalid("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP.")
            try:
                seconds = float(stamp)  # a JSON integer of 4,000 digits does not fit a float
            except OverflowError:
                seconds = math.inf
            if not math.isfinite(seconds) or seconds < 0:
                raise wire.invalid(f"StartingPositionTimestamp {str(stamp)[:32]} is not a time.")
            out["starting_position_timestamp"] = seconds
    if body.get("ScalingConfig") is not None:
        raise wire.invalid("Unsupported ScalingConfig parameter for given event source mapping type.")
    for field, keyword in _STREAM_ONLY.items():
        value = _flag(body, field) if field == "BisectBatchOnFunctionError" else _whole(body, field)
        if value is not None:
            out[keyword] = value
    destinations = body.get("DestinationConfig")
    if destinations is not None:
        targets = destination_config(destinations)
        if targets.get("OnSuccess"):
            raise wire.invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
        out["on_failure"] = targets.get("OnFailure")


def check_sqs_batch(settings: dict[str, Any]) -> None:
    """Lambda's rule for an SQS mapping's batch (on the settings it would have)."""
    if settings.get("batch_size", 10) > 10 and not settings.get("batching_window_s"):
        raise wire.invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )


def configuration(
    kind: str,
    *,
    uuid: str,
    arn: str,
    function_arn: str,
    settings: dict[str, Any],
    last_modified: float,
    state: str,
    mapping_arn: str,
    last_result: str | None,
    filters: Any = None,
) -> dict[str, Any]:
    """An ``EventSourceMappingConfiguration`` as Lambda answers it for that kind of source."""
    out: dict[str, Any] = {"UUID": uuid}
    if kind != SQS:
        out["StartingPosition"] = settings.get("starting_position", "TRIM_HORIZON")
        if settings.get("starting_position_timestamp") is not None:
            out["StartingPositionTimestamp"] = settings["starting_position_timestamp"]
    out["BatchSize"] = settings.get("batch_size", 10 if kind == SQS else 100)
    out["MaximumBatchingWindowInSeconds"] = int(settings.get("batching_window_s") or 0)
    if kind != SQS:
        out["ParallelizationFactor"] = settings.get("parallelization_factor", 1)
    out["EventSourceArn"] = arn
    if filters:
        out["FilterCriteria"] = filters
    out["FunctionArn"] = function_arn
    out["LastModified"] = last_modified
    if kind != SQS:
        out["LastProcessingResult"] = last_result or "No records processed"
    out["State"] = state
    out["StateTransitionReason"] = "USER_INITIATED" if kind == SQS else "User action"
    if kind == SQS:
        concurrency = settings.get("max_concurrency")
        if concurrency is not None and concurrency != 5:
            out["ScalingConfig"] = {"MaximumConcurrency": concurrency}
    else:
        failure = settings.get("on_failure")
        out["DestinationConfig"] = {"OnFailure": {"Destination": failure} if failure else {}}
        out["MaximumRecordAgeInSeconds"] = settings.get("maximum_record_age_s", -1)
        out["BisectBatchOnFunctionError"] = bool(settings.get("bisect_batch_on_function_error"))
        out["MaximumRetryAttempts"] = settings.get("maximum_retry_attempts", -1)
        out["TumblingWindowInSeconds"] = 0
    out["FunctionResponseTypes"] = ["ReportBatchItemFailures"] if settings.get("report_batch_item_failures") else []
    out["EventSourceMappingArn"] = mapping_arn
    return out
