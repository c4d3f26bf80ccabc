"""Tags over the endpoint: TagResource, UntagResource, ListTags on a function's ARN (AWS Lambda API reference).

Tags are kept by the endpoint per function (``resources.py``; CreateFunction's ``Tags`` too) and shown by
GetFunction; they change nothing else. Lambda's limits: 50 tags, keys 1-128 characters, values up to 256,
no ``aws:`` prefix.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.endpoint.management import existing, parse_json, reply
from lambdalab.endpoint.resources import extras

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

MAX_TAGS = 50
_FUNCTION_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[^:]+):(?P<account>\d{12}):function:(?P<rest>.+)")


def _function(endpoint: Endpoint, request: web.Request) -> str:
    """The function a resource ARN names (this Lab's region and account, unqualified)."""
    arn = request.match_info["arn"]
    match = _FUNCTION_ARN.fullmatch(arn)
    if match is None:
        raise wire.invalid(f"The resource {arn} is not a Lambda function ARN; lambdalab tags functions only")
    settings = endpoint.lab.settings
    if (match["region"], match["account"]) != (settings.region, settings.account_id):
        raise wire.not_found(arn)
    name, _, qualifier = match["rest"].partition(":")
    if qualifier:
        raise wire.invalid("Tags are not supported on a function version or alias: give the unqualified function ARN")
    existing(endpoint, name)
    return name


def _check(tags: Any) -> dict[str, str]:
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise wire.invalid("Tags must be a map of strings to strings")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise wire.invalid(f"Tag key {key!r} must be 1-128 characters and its value at most 256")
        if key.lower().startswith("aws:"):
            raise wire.invalid(f"Tag key {key!r}: the aws: prefix is reserved for AWS use")
    return tags


async def tag_resource(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _function(endpoint, request)
    tags = _check(parse_json(await request.read()).get("Tags"))
    kept = extras(endpoint, name).tags
    if len({**kept, **tags}) > MAX_TAGS:
        raise wire.invalid(f"A function may have at most {MAX_TAGS} tags")
    kept.update(tags)
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def untag_resource(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _function(endpoint, request)
    kept = extras(endpoint, name).tags
    for key in request.query.getall("tagKeys", []):
        kept.pop(key, None)
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def list_tags(endpoint: Endpoint, request: web.Request) -> web.Response:
    return reply({"Tags": dict(extras(endpoint, _function(endpoint, request)).tags)})


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/2017-03-31/tags/{arn}", tag_resource),
    ("DELETE", "/2017-03-31/tags/{arn}", untag_resource),
    ("GET", "/2017-03-31/tags/{arn}", list_tags),
]
