"""Event source mappings over the endpoint: Create/Get/List/Update/DeleteEventSourceMapping (AWS Lambda API reference).

A mapping is a local source of the Lab that delivers to a function (``mappings.py``): an SQS queue ARN makes
``lab.sqs_queue``, a Kinesis stream ARN ``lab.kinesis_stream`` and a DynamoDB stream ARN ``lab.dynamodb_stream``,
with the request's settings (``mapping_shapes.py``); the mapping's UUID is the source's ``uuid``. Every open
source of the Lab is a mapping here, whoever made it (a template, Python, this API). A local source is the queue
or stream and its one mapping in one, so a source that already delivers refuses a second mapping (409
``ResourceConflictException``). Update changes the source's settings (``source.update``; ``Enabled: false`` pauses
it: State ``Disabled``); Delete closes it and answers State ``Deleting``, as Lambda does.

Rules: handlers run on the loop and hand the Lab's blocking calls to the endpoint's worker thread; every refusal
is a ``wire.ApiError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import mappings, wire
from lambdalab.endpoint.management import call, parse_json, reply

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

PATH = "/2015-03-31/event-source-mappings"
DEFAULT_PAGE = 100


async def create_mapping(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = parse_json(await request.read())
    lab = endpoint.lab
    source = await call(endpoint, mappings.create, lab, body)
    return reply(await call(endpoint, mappings.configuration, lab, source, "Creating"), 202)


async def get_mapping(endpoint: Endpoint, request: web.Request) -> web.Response:
    lab = endpoint.lab
    source = await call(endpoint, mappings.find, lab, request.match_info["uuid"])
    return reply(await call(endpoint, mappings.configuration, lab, source))


async def list_mappings(endpoint: Endpoint, request: web.Request) -> web.Response:
    query = request.query
    try:
        start = int(query.get("Marker") or 0)
        size = int(query.get("MaxItems") or DEFAULT_PAGE)
    except ValueError:
        raise wire.invalid("Marker and MaxItems must be whole numbers") from None
    if start < 0 or not 1 <= size <= 10_000:
        raise wire.invalid("Marker must be a marker this endpoint gave and MaxItems 1 to 10000")
    rows = await call(endpoint, mappings.listed, endpoint.lab, query.get("EventSourceArn"), query.get("FunctionName"))
    out: dict[str, Any] = {"EventSourceMappings": rows[start : start + size]}
    if start + size < len(rows):
        out["NextMarker"] = str(start + size)
    return reply(out)


async def update_mapping(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = parse_json(await request.read())
    lab = endpoint.lab
    source = await call(endpoint, mappings.change, lab, request.match_info["uuid"], body)
    return reply(await call(endpoint, mappings.configuration, lab, source, "Updating"), 202)


async def delete_mapping(endpoint: Endpoint, request: web.Request) -> web.Response:
    return reply(await call(endpoint, mappings.delete, endpoint.lab, request.match_info["uuid"]), 202)


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", PATH, create_mapping),
    ("POST", PATH + "/", create_mapping),
    ("GET", PATH, list_mappings),
    ("GET", PATH + "/", list_mappings),
    ("GET", PATH + "/{uuid}", get_mapping),
    ("PUT", PATH + "/{uuid}", update_mapping),
    ("DELETE", PATH + "/{uuid}", delete_mapping),
]
