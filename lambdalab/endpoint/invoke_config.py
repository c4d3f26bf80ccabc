"""Asynchronous invocation settings: Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s) (AWS Lambda API reference).

A config is kept per function and qualifier (``resources.py``) and answered in Lambda's shape. The unqualified
(or ``$LATEST``) one drives the Lab's event queue through ``Function.set_async_options``: its
``MaximumRetryAttempts`` (0-2) and ``MaximumEventAgeInSeconds`` (60-21,600) apply to events queued from then
on, and deleting it restores Lambda's defaults (2 retries, 6 hours). A version's or alias's config is kept and
answered but the queue takes the function's (lambdalab's queue has one setting per function; docs/ENDPOINT.md).
``DestinationConfig`` is kept as given: lambdalab keeps every outcome in ``Function.destinations`` whatever it names.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.endpoint.management import LATEST, call, existing, page, parse_json, reply
from lambdalab.endpoint.resources import extras

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

RETRIES, AGE = (0, 2), (60, 21_600)
DEFAULT_RETRIES, DEFAULT_AGE = 2, 21_600
_DESTINATION = re.compile(
    r"arn:aws[a-zA-Z-]*:(sqs|sns|lambda|events|s3):[a-z0-9-]*:\d{12}:.+|arn:aws[a-zA-Z-]*:s3:::.+"
)


def _target(endpoint: Endpoint, request: web.Request) -> tuple[str, str | None]:
    name, qualifier = endpoint.function_name(request)
    fn = existing(endpoint, name)
    if qualifier == LATEST:
        qualifier = None
    if qualifier is not None and qualifier not in fn.aliases() and qualifier not in fn.versions():
        raise wire.not_found(fn.arn(qualifier))
    return name, qualifier


def _missing(endpoint: Endpoint, name: str, qualifier: str | None) -> wire.ApiError:
    arn = endpoint.lab.arn(name, qualifier or LATEST)
    return wire.ApiError(404, "ResourceNotFoundException", f"The function {arn} doesn't have an EventInvokeConfig")


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """The settings of a Put or Update body, checked as Lambda checks them."""
    out: dict[str, Any] = {}
    for field, wire_name, (low, high) in (
        ("MaximumRetryAttempts", "maximumRetryAttempts", RETRIES),
        ("MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", AGE),
    ):
        value = body.get(field)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise wire.invalid(f"{field} must be a whole number")
        if value < low:
            raise wire.validation(str(value), wire_name, f"Member must have value greater than or equal to {low}")
        if value > high:
            raise wire.validation(str(value), wire_name, f"Member must have value less than or equal to {high}")
        out[field] = value
    if body.get("DestinationConfig") is not None:
        destinations = body["DestinationConfig"]
        if not isinstance(destinations, dict):
            raise wire.invalid("DestinationConfig must be an object")
        for kind in ("OnSuccess", "OnFailure"):
            arn = (destinations.get(kind) or {}).get("Destination")
            if arn and _DESTINATION.fullmatch(str(arn)) is None:
                raise wire.invalid(f"The destination ARN {arn} is invalid.")
        out["DestinationConfig"] = {
            kind: (
                {"Destination": destinations[kind]["Destination"]}
                if (destinations.get(kind) or {}).get("Destination")
                else {}
            )
            for kind in ("OnSuccess", "OnFailure")
        }
    return out


async def _apply(endpoint: Endpoint, name: str, qualifier: str | None, settings: dict[str, Any] | None) -> None:
    """The function's own config (unqualified) drives the queue; None: back to Lambda's defaults."""
    if qualifier is not None:
        return
    settings = settings or {}
    fn = endpoint.lab.function(name)
    await call(
        endpoint,
        fn.set_async_options,
        max_retry_attempts=settings.get("MaximumRetryAttempts", DEFAULT_RETRIES),
        max_event_age_s=settings.get("MaximumEventAgeInSeconds", DEFAULT_AGE),
    )


def _shape(endpoint: Endpoint, name: str, qualifier: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "LastModified": settings["LastModified"],
        "FunctionArn": endpoint.lab.arn(name, qualifier or LATEST),
        **{k: settings[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if k in settings},
        "DestinationConfig": settings.get("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}}),
    }


async def _store(endpoint: Endpoint, request: web.Request, *, merge: bool) -> web.Response:
    name, qualifier = _target(endpoint, request)
    configs = extras(endpoint, name).invoke_configs
    if merge and qualifier not in configs:
        raise _missing(endpoint, name, qualifier)
    changes = _checked(parse_json(await request.read()))
    if not merge and not changes:
        raise wire.invalid("You must specify at least one of error handling or destination setting.")
    settings = {**(configs[qualifier] if merge else {}), **changes, "LastModified": time.time()}
    await _apply(endpoint, name, qualifier, settings)
    configs[qualifier] = settings
    return reply(_shape(endpoint, name, qualifier, settings))


async def put_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    return await _store(endpoint, request, merge=False)


async def update_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    return await _store(endpoint, request, merge=True)


async def get_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = _target(endpoint, request)
    settings = extras(endpoint, name).invoke_configs.get(qualifier)
    if settings is None:
        raise _missing(endpoint, name, qualifier)
    return reply(_shape(endpoint, name, qualifier, settings))


async def delete_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = _target(endpoint, request)
    configs = extras(endpoint, name).invoke_configs
    if qualifier not in configs:
        raise _missing(endpoint, name, qualifier)
    await _apply(endpoint, name, qualifier, None)
    del configs[qualifier]
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def list_configs(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    configs = extras(endpoint, name).invoke_configs
    rows = [_shape(endpoint, name, q, s) for q, s in configs.items()]
    return reply(page(request, rows, "FunctionEventInvokeConfigs"))


P = "/2019-09-25/functions/{name}/event-invoke-config"
ROUTES: list[tuple[str, str, Any]] = [
    ("PUT", P, put_config),
    ("POST", P, update_config),
    ("GET", P, get_config),
    ("DELETE", P, delete_config),
    ("GET", P + "/list", list_configs),
]
