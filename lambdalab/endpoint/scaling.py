"""A Managed Instances function's scaling: Put/GetFunctionScalingConfig (AWS Lambda API reference).

``FunctionScalingConfig`` names how many execution environments a version of a Lambda Managed Instances function
may have. ``MaxExecutionEnvironments`` is the Lab's ``max_environments`` and ``MinExecutionEnvironments`` its
``min_environments`` (Lambda's 3 when left out), both changed in place (``Function.set_scaling``: live environments
stay warm, missing ones start at once, extra ones go after their keep-alive); with every worker of every allowed
environment busy, the next invoke is throttled while one more starts in the background. The applied minimum is what
runs: ``FunctionConfig.prestarted_environments``. The ``Qualifier`` is required, as botocore's model says:
``$LATEST.PUBLISHED`` or a published version's number; lambdalab keeps one setting per function, so either sets the
function's (docs/FIDELITY.md). A function of the classic model has no scaling config:
``InvalidParameterValueException``.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.config import MAX_ENVIRONMENTS_RANGE
from lambdalab.endpoint import wire
from lambdalab.endpoint.management import call, existing, parse_json, reply

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint, Handler
    from lambdalab.function import Function

PATH = "/2025-11-30/functions/{name}/function-scaling-config"
LATEST_PUBLISHED = "$LATEST.PUBLISHED"
_QUALIFIER = re.compile(r"(\$LATEST\.PUBLISHED|[0-9]+)")
_FIELDS = ("MinExecutionEnvironments", "MaxExecutionEnvironments")
NOT_MANAGED = (
    "The function {arn} does not use a capacity provider: FunctionScalingConfig applies to Lambda Managed Instances "
    "functions only (CapacityProviderConfig)."
)
MIN_ABOVE_MAX = "MinExecutionEnvironments must be less than or equal to MaxExecutionEnvironments."

# what each endpoint was asked for, by function: (the Function it was asked of, qualifier -> requested config);
# a function deleted and made again under its name is another Function, and starts with nothing requested
_REQUESTED: weakref.WeakKeyDictionary[Endpoint, dict[str, tuple[Function, dict[str, dict[str, int]]]]] = (
    weakref.WeakKeyDictionary()
)


def _target(endpoint: Endpoint, request: web.Request) -> tuple[Function, str]:
    """The Managed Instances function and the qualifier a request names (checked as Lambda checks them)."""
    name, qualifier = endpoint.function_name(request)
    fn = existing(endpoint, name)
    if qualifier is None:
        raise wire.validation("null", "qualifier", "Member must not be null")
    if _QUALIFIER.fullmatch(qualifier) is None:
        raise wire.validation(
            qualifier, "qualifier", f"Member must satisfy regular expression pattern: {_QUALIFIER.pattern}"
        )
    if qualifier != LATEST_PUBLISHED and qualifier not in fn.versions():
        raise wire.not_found(fn.arn(qualifier))
    if fn.config.max_concurrency_per_environment is None:
        raise wire.invalid(NOT_MANAGED.format(arn=fn.arn(qualifier)))
    return fn, qualifier


def _requested(endpoint: Endpoint, fn: Function) -> dict[str, dict[str, int]]:
    per_function = _REQUESTED.setdefault(endpoint, {})
    held = per_function.get(fn.name)
    if held is None or held[0] is not fn:
        held = per_function[fn.name] = (fn, {})
    return held[1]


def _checked(body: dict[str, Any]) -> dict[str, int]:
    """``FunctionScalingConfig``'s two counts, checked against botocore's model (0-15,000) and each other."""
    config = body.get("FunctionScalingConfig")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise wire.invalid("FunctionScalingConfig must be an object")
    low, high = MAX_ENVIRONMENTS_RANGE
    out: dict[str, int] = {}
    for field in _FIELDS:
        value = config.get(field)
        if value is None:
            continue
        wire_name = f"functionScalingConfig.{field[0].lower()}{field[1:]}"
        if not isinstance(value, int) or isinstance(value, bool):
            raise wire.invalid(f"{field} must be a whole number")
        if value < low:
            raise wire.validation(str(value), wire_name, f"Member must have value greater than or equal to {low}")
        if value > high:
            raise wire.validation(str(value), wire_name, f"Member must have value less than or equal to {high}")
        out[field] = value
    if out.get("MinExecutionEnvironments", 0) > out.get("MaxExecutionEnvironments", high):
        raise wire.invalid(MIN_ABOVE_MAX)
    return out


async def put_function_scaling_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    fn, qualifier = _target(endpoint, request)
    requested = _checked(parse_json(await request.read()))
    most = requested.get("MaxExecutionEnvironments")  # None: no cap (as Lambda's "no maximum specified")
    least = requested.get("MinExecutionEnvironments")  # None: Lambda's default (3)
    if (least, most) != (fn.config.min_environments, fn.config.max_environments):  # in place, no redeploy
        await call(endpoint, fn.set_scaling, least, most)
    _requested(endpoint, fn)[qualifier] = requested
    return reply({"FunctionState": "Active"}, status=202)


async def get_function_scaling_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    fn, qualifier = _target(endpoint, request)
    applied: dict[str, int] = {"MinExecutionEnvironments": fn.config.prestarted_environments}  # started, kept
    if fn.config.max_environments is not None:
        applied["MaxExecutionEnvironments"] = fn.config.max_environments
    out: dict[str, Any] = {"FunctionArn": fn.arn(qualifier), "AppliedFunctionScalingConfig": applied}
    requested = _requested(endpoint, fn).get(qualifier)
    if requested is not None:
        out["RequestedFunctionScalingConfig"] = requested
    return reply(out)


ROUTES: list[tuple[str, str, Handler]] = [
    ("PUT", PATH, put_function_scaling_config),
    ("GET", PATH, get_function_scaling_config),
]
