"""Aliases over the endpoint: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias (AWS Lambda API reference).

Each maps onto ``Function.create_alias`` / ``update_alias`` / ``delete_alias``, which apply Lambda's rules for
routing (one other version at most, never the alias's own, none on ``$LATEST``; their messages). The alias's
``Description`` and ``RevisionId`` (new at every change) are kept by the endpoint (``resources.py``).

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab import config
from lambdalab.endpoint import shapes, wire
from lambdalab.endpoint.management import existing, page, parse_json, reply
from lambdalab.endpoint.resources import extras
from lambdalab.errors import ConfigError, LambdaLabError

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.function import Function

NAME_PATTERN = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"


def _configuration(endpoint: Endpoint, name: str, alias: str) -> dict[str, Any]:
    kept = extras(endpoint, name)
    out = shapes.alias_configuration(endpoint.lab, name, alias, kept.alias_descriptions.get(alias, ""))
    out["RevisionId"] = kept.alias_revisions.get(alias, out["RevisionId"])
    return out


def _changed(endpoint: Endpoint, name: str, alias: str, description: Any) -> None:
    """Record what the Lab does not keep of an alias just written: its description and a new revision id."""
    kept = extras(endpoint, name)
    if description is not None:
        kept.alias_descriptions[alias] = str(description)
    kept.alias_revisions[alias] = str(uuid.uuid4())


def _weights(body: dict[str, Any]) -> dict[str, Any] | None:
    """``RoutingConfig.AdditionalVersionWeights`` (None: no ``RoutingConfig`` given)."""
    if "RoutingConfig" not in body:
        return None
    routing = body.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") if isinstance(routing, dict) else None
    return weights or {}


def _check_versions(fn: Function, version: str, weights: dict[str, Any]) -> None:
    """Weights first (shares 0-1), then every version named must exist (404), as the Lab checks."""
    try:
        config.check_alias_weights(weights)
    except ConfigError as exc:
        raise wire.from_lab(exc) from None
    versions = fn.versions()
    for v in (version, *weights):
        if v not in versions:
            raise wire.not_found(fn.arn(v))


def _alias(endpoint: Endpoint, request: web.Request) -> tuple[str, Function, str]:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    fn = existing(endpoint, name)
    alias = request.match_info["alias"]
    if alias not in fn.aliases():
        raise wire.ApiError(404, "ResourceNotFoundException", f"Alias not found: {fn.arn(alias)}", key="Message")
    return name, fn, alias


async def create_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    fn = existing(endpoint, name)
    body = parse_json(await request.read())
    alias, version = str(body.get("Name", "")), str(body.get("FunctionVersion", ""))
    try:
        config.check_alias_name(alias)
    except ConfigError:
        raise wire.validation(
            alias, "name", f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        ) from None
    if alias in fn.aliases():
        raise wire.conflict(f"Alias already exists: {fn.arn(alias)}")
    weights = _weights(body) or {}
    _check_versions(fn, version, weights)
    try:
        fn.create_alias(alias, version, dict(weights))
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    _changed(endpoint, name, alias, body.get("Description", ""))
    return reply(_configuration(endpoint, name, alias), 201)


async def get_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _, alias = _alias(endpoint, request)
    return reply(_configuration(endpoint, name, alias))


async def list_aliases(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    aliases = existing(endpoint, name).aliases()
    version = request.query.get("FunctionVersion")
    rows = [_configuration(endpoint, name, a) for a, entry in aliases.items() if version in (None, entry.version)]
    return reply(page(request, rows, "Aliases"))


async def update_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, fn, alias = _alias(endpoint, request)
    body = parse_json(await request.read())
    current = _configuration(endpoint, name, alias)
    revision = body.get("RevisionId")
    if revision is not None and revision != current["RevisionId"]:
        raise wire.ApiError(
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetAlias API to retrieve the latest Revision Id",
        )
    entry = fn.aliases()[alias]
    version = str(body.get("FunctionVersion") or entry.version)
    weights = _weights(body)
    weights = dict(entry.weights) if weights is None else weights
    _check_versions(fn, version, weights)
    try:
        fn.update_alias(alias, version, dict(weights))
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    _changed(endpoint, name, alias, body.get("Description"))
    return reply(_configuration(endpoint, name, alias))


async def delete_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, fn, alias = _alias(endpoint, request)
    try:
        fn.delete_alias(alias)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    extras(endpoint, name).forget(alias)
    listener = endpoint.urls.pop((name, alias), None)
    if listener is not None:
        await listener.stop()
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/2015-03-31/functions/{name}/aliases", create_alias),
    ("GET", "/2015-03-31/functions/{name}/aliases", list_aliases),
    ("GET", "/2015-03-31/functions/{name}/aliases/{alias}", get_alias),
    ("PUT", "/2015-03-31/functions/{name}/aliases/{alias}", update_alias),
    ("DELETE", "/2015-03-31/functions/{name}/aliases/{alias}", delete_alias),
]
