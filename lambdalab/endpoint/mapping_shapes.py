"""Event source mappings in Lambda's words: a request's fields as a local source's keyword options, checked as
Lambda checks them, and a source as an ``EventSourceMappingConfiguration`` (botocore's service model).

Sources by ARN: ``arn:aws:sqs:REGION:ACCOUNT:NAME`` (``kind`` "sqs"), ``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME``
("kinesis") and ``arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL`` ("dynamodb"). The keyword options
are those of ``lab.sqs_queue`` and ``lab.kinesis_stream`` / ``lab.dynamodb_stream`` (``lambdalab.streams``).

Rules: pure; no aiohttp, no Lab calls beyond reading settings; every refusal is a ``wire.ApiError``.
"""

from __future__ import annotations

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
        if match.group("region") != region or match.group("account") != account:
            raise wire.invalid(
                f"lambdalab serves event sources of its own account and region ({account}, {region}) only: {arn}"
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
        raise wire.invalid(f"{field} must be a whole number")
    return value


def _flag(body: dict[str, Any], field: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise wire.invalid(f"{field} must be true or false")
    return value


def options(kind: str, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The source's keyword options a Create or Update body asks for (only what it gives)."""
    out: dict[str, Any] = {}
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
            raise wire.invalid("ScalingConfig must be an object")
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
            out["starting_position_timestamp"] = float(stamp)
    if body.get("ScalingConfig") is not None:
        raise wire.invalid("Unsupported ScalingConfig parameter for given event source mapping type.")
    for field, keyword in _STREAM_ONLY.items():
        value = _flag(body, field) if field == "BisectBatchOnFunctionError" else _whole(body, field)
        if value is not None:
            out[keyword] = value
    destinations = body.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict):
            raise wire.invalid("DestinationConfig must be an object")
        if (destinations.get("OnSuccess") or {}).get("Destination"):
            raise wire.invalid("Unsupported DestinationConfig parameter for given event source mapping type.")
        target = (destinations.get("OnFailure") or {}).get("Destination")
        out["on_failure"] = target or None


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
    processed: bool,
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
        out["LastProcessingResult"] = "OK" if processed else "No records processed"
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
