"""Events as AWS services deliver them to Lambda: one builder per trigger, each returning a plain dict.

    >>> from lambdalab import events
    >>> events.s3_put(bucket="photos", key="cats/tom.jpg", size=2048)["Records"][0]["eventName"]
    'ObjectCreated:Put'

Written from the AWS documentation of each event shape (the Lambda developer guide's "Using
Lambda with ..." pages, API Gateway's proxy-integration formats, the function URL payload page),
not from other tools' templates. Every builder takes the fields a handler usually reads as
parameters, with sensible defaults; ids and timestamps default to fresh values (pass ``time=``,
epoch seconds, for a fixed one). ``lambdalab event KIND --help`` lists the same parameters.

Rules: pure functions of their arguments plus the clock and ``uuid`` when no value is given; no
lambdalab imports outside this package; nothing here runs a function.

Where things are: ``http.py`` (API Gateway, function URLs, ALB), ``storage.py`` (S3, DynamoDB
Streams), ``messaging.py`` (SQS, SNS, EventBridge, schedules, Kinesis, CloudWatch Logs) and
``_common.py`` (account, region, clock, time formats). ``KINDS`` names every builder for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# ``X as X``: re-exported names (the default account and region, the header type), not in ``__all__``
from lambdalab.events._common import ACCOUNT_ID as ACCOUNT_ID
from lambdalab.events._common import REGION as REGION
from lambdalab.events.http import Headers as Headers
from lambdalab.events.http import alb, apigw_http, apigw_rest, function_url
from lambdalab.events.messaging import (
    cloudwatch_logs,
    eventbridge,
    kinesis,
    schedule,
    sns,
    sqs,
    sqs_record,
)
from lambdalab.events.storage import dynamodb_stream, s3_delete, s3_put

__all__ = [
    "KINDS",
    "alb",
    "apigw_http",
    "apigw_rest",
    "cloudwatch_logs",
    "dynamodb_stream",
    "eventbridge",
    "function_url",
    "kinesis",
    "s3_delete",
    "s3_put",
    "schedule",
    "sns",
    "sqs",
    "sqs_record",
]


KINDS: dict[str, Callable[..., dict[str, Any]]] = {
    "apigw_rest": apigw_rest,
    "apigw_http": apigw_http,
    "function_url": function_url,
    "alb": alb,
    "s3_put": s3_put,
    "s3_delete": s3_delete,
    "sqs": sqs,
    "sns": sns,
    "eventbridge": eventbridge,
    "dynamodb_stream": dynamodb_stream,
    "kinesis": kinesis,
    "schedule": schedule,
    "cloudwatch_logs": cloudwatch_logs,
}
