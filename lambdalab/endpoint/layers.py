"""Lambda's layer operations over the endpoint (botocore's ``2018-10-31/layers`` URIs).

PublishLayerVersion (201), GetLayerVersion, GetLayerVersionByArn (``GET /2018-10-31/layers?find=LayerVersion``),
ListLayers, ListLayerVersions and DeleteLayerVersion (204), each mapped onto the Lab's layer store
(``Lab.publish_layer_version``, ``Lab.layers``). A layer's .zip (``Content.ZipFile``, base64 in the JSON
body) is read with Lambda's request cap and decoded and unpacked on the endpoint's worker thread with
Lambda's package limits (``packages/zips.py``), as CreateFunction's code is; the store's reads and
writes (a small index file under a lock) run there too, never on the loop.

Errors are the store's ``LayerError``: Lambda's code, status and message (``management.layer_error``).

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.endpoint.function_fields import zip_bytes
from lambdalab.endpoint.management import call, code_request, layer_error, page, reply
from lambdalab.packages.layers import LayerError, LayerVersion, validate_name

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

LICENSE_MAX_CHARS = 512
COMPATIBLE_RUNTIMES_MAX = 15


def _layer_name(request: web.Request) -> str:
    name = request.match_info["layer"]
    try:
        validate_name(name)
    except LayerError as exc:
        raise layer_error(exc) from None
    return name


def _version_number(request: web.Request) -> int:
    raw = request.match_info["version"]
    try:
        return int(raw)
    except ValueError:
        raise wire.validation(raw, "versionNumber", "Member must be a number") from None


def _with_location(layer: LayerVersion) -> dict[str, Any]:
    out = layer.describe()
    out["Content"] = {"Location": layer.content.as_uri(), **out["Content"]}
    return out


def _strings(body: dict[str, Any], key: str, limit: int) -> tuple[str, ...]:
    values = body.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise wire.invalid(f"{key} must be a list of strings")
    if len(values) > limit:
        raise wire.validation(
            str(values), key[0].lower() + key[1:], f"Member must have length less than or equal to {limit}"
        )
    return tuple(values)


def _publish(endpoint: Endpoint, name: str, body: dict[str, Any], runtimes: tuple[str, ...]) -> dict[str, Any]:
    """On the worker thread: decode, unpack (Lambda's limits) and publish."""
    data = zip_bytes(
        body.get("Content"),
        "PublishLayerVersion",
        "lambdalab takes layer content as Content.ZipFile only (S3Bucket/S3Key are not supported)",
    )
    layer = endpoint.lab.publish_layer_version(
        name,
        data,
        description=str(body.get("Description") or ""),
        compatible_runtimes=runtimes,
        license_info=body.get("LicenseInfo"),
    )
    return _with_location(layer)


# -- the operations ------------------------------------------------------------------------------
async def publish_layer_version(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _layer_name(request)
    body = await code_request(endpoint, request, "PublishLayerVersion")
    license_info = body.get("LicenseInfo")
    if license_info is not None and (not isinstance(license_info, str) or len(license_info) > LICENSE_MAX_CHARS):
        raise wire.validation(
            str(license_info)[:64], "licenseInfo", f"Member must have length less than or equal to {LICENSE_MAX_CHARS}"
        )
    runtimes = _strings(body, "CompatibleRuntimes", COMPATIBLE_RUNTIMES_MAX)
    return reply(await call(endpoint, _publish, endpoint, name, body, runtimes), 201)


async def get_layer_version(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, version = _layer_name(request), _version_number(request)
    layer = await call(endpoint, endpoint.lab.layers.get, name, version)
    return reply(_with_location(layer))


async def list_layers(endpoint: Endpoint, request: web.Request) -> web.Response:
    """ListLayers, or GetLayerVersionByArn (same path, ``?find=LayerVersion&Arn=...``)."""
    if request.query.get("find") == "LayerVersion":
        arn = request.query.get("Arn", "")
        layer = await call(endpoint, endpoint.lab.layers.get, arn)
        return reply(_with_location(layer))
    latest = await call(endpoint, endpoint.lab.layers.list_layers, request.query.get("CompatibleRuntime"))
    rows = [{"LayerName": v.name, "LayerArn": v.layer_arn, "LatestMatchingVersion": v.list_item()} for v in latest]
    return reply(page(request, rows, "Layers"))


async def list_layer_versions(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _layer_name(request)
    versions = await call(endpoint, endpoint.lab.layers.list_versions, name, request.query.get("CompatibleRuntime"))
    return reply(page(request, [v.list_item() for v in versions], "LayerVersions"))


async def delete_layer_version(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, version = _layer_name(request), _version_number(request)
    await call(endpoint, endpoint.lab.layers.delete, name, version)
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


L = "/2018-10-31/layers"
ROUTES = [
    ("GET", L, list_layers),
    ("GET", L + "/", list_layers),
    ("POST", L + "/{layer}/versions", publish_layer_version),
    ("GET", L + "/{layer}/versions", list_layer_versions),
    ("GET", L + "/{layer}/versions/{version}", get_layer_version),
    ("DELETE", L + "/{layer}/versions/{version}", delete_layer_version),
]
