"""Lambda's management calls that boto3 users need against a local endpoint (LAMBDA-SPEC §6.5).

Each handler maps one API operation onto the Lab: reading its tables for Get/List calls,
``Lab.create_function`` / ``Function.update`` (on the endpoint's worker thread, since they block)
for CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration and the reserved
concurrency calls, and the control plane for PublishVersion, CreateAlias and provisioned
concurrency. What the Lab cannot do (DeleteFunction) answers 501 with a plain explanation.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import shapes, wire
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

LATEST = "$LATEST"


def reply(data: Any, status: int = 200) -> web.Response:
    body = b"" if data is None else json.dumps(data).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json",
                                                           "x-amzn-RequestId": wire.new_request_id()})


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise wire.ApiError(400, "InvalidRequestContentException", "Could not parse request body into json") from None
    if not isinstance(data, dict):
        raise wire.ApiError(400, "InvalidRequestContentException", "The request body must be a JSON object")
    return data


def _existing(endpoint: Endpoint, name: str) -> None:
    if name not in endpoint.lab._plane.configs:
        raise wire.not_found(endpoint.lab._plane.arn(name))


def _version(endpoint: Endpoint, name: str, qualifier: str | None) -> str:
    """The version a qualifier names ($LATEST, a number, or an alias's primary version)."""
    _existing(endpoint, name)
    entry = endpoint.lab._plane.scheduler.entry(name)
    if qualifier is None or qualifier == LATEST:
        return LATEST
    if qualifier in entry.aliases:
        return entry.aliases[qualifier].version
    if qualifier in entry.pools:
        return qualifier
    raise wire.not_found(endpoint.lab._plane.arn(name, qualifier))


def _configuration(endpoint: Endpoint, name: str, version: str = LATEST) -> dict[str, Any]:
    return shapes.function_configuration(endpoint.lab, name, version, endpoint.meta(name))


async def _call(endpoint: Endpoint, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await endpoint.blocking(fn, *args, **kwargs)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None


# -- reading -------------------------------------------------------------------------------------
async def get_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    version = _version(endpoint, name, qualifier)
    config = _configuration(endpoint, name, version)
    code_dir = endpoint.lab._plane.code[(name, endpoint.lab._plane.scheduler.entry(name).pools[version].spec.code)][1]
    out: dict[str, Any] = {"Configuration": config, "Code": {"RepositoryType": "S3", "Location": code_dir.as_uri()},
                           "Tags": {}}
    reserved = endpoint.lab._plane.scheduler.entry(name).reserved
    if reserved is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return reply(out)


async def get_function_configuration(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    return reply(_configuration(endpoint, name, _version(endpoint, name, qualifier)))


async def list_functions(endpoint: Endpoint, request: web.Request) -> web.Response:
    plane = endpoint.lab._plane
    rows = []
    for name in sorted(plane.configs):
        versions = list(plane.scheduler.entry(name).pools) if request.query.get("FunctionVersion") == "ALL" else [LATEST]
        rows += [_configuration(endpoint, name, v) for v in versions]
    return reply(_page(request, rows, "Functions"))


def _page(request: web.Request, rows: list[Any], key: str) -> dict[str, Any]:
    start = int(request.query.get("Marker") or 0)
    size = int(request.query.get("MaxItems") or 50)
    out: dict[str, Any] = {key: rows[start:start + size]}
    if start + size < len(rows):
        out["NextMarker"] = str(start + size)
    return out


async def list_versions(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    versions = list(endpoint.lab._plane.scheduler.entry(name).pools)
    return reply(_page(request, [_configuration(endpoint, name, v) for v in versions], "Versions"))


async def get_account_settings(endpoint: Endpoint, request: web.Request) -> web.Response:
    return reply(shapes.account_settings(endpoint.lab))


# -- code and configuration ----------------------------------------------------------------------
def _unzip(code: dict[str, Any]) -> Path:
    """``Code.ZipFile`` (base64 in the JSON body) into a temporary folder."""
    if "ZipFile" not in code:
        raise wire.invalid("lambdalab takes code as Code.ZipFile only (S3Bucket/S3Key and ImageUri are not supported)")
    try:
        data = base64.b64decode(code["ZipFile"], validate=True)
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (binascii.Error, zipfile.BadZipFile, TypeError, ValueError):
        raise wire.invalid("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    folder = Path(tempfile.mkdtemp(prefix="lambdalab-zip-"))
    with archive:
        archive.extractall(folder)
    return folder


def _check_runtime(runtime: Any) -> None:
    if not (isinstance(runtime, str) and runtime.startswith("python3")):
        raise wire.invalid(f"lambdalab runs Python 3 functions only (Runtime python3.x); got {runtime!r}")


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    """Function configuration fields → ``Lab.create_function`` / ``Function.update`` keywords."""
    out: dict[str, Any] = {}
    if "MemorySize" in body:
        out["memory_mb"] = body["MemorySize"]
    if "Timeout" in body:
        out["timeout_s"] = body["Timeout"]
    if "Environment" in body:
        out["env_vars"] = dict((body["Environment"] or {}).get("Variables") or {})
    if "Handler" in body:
        out["handler"] = body["Handler"]
    return out


async def create_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = await _json(request)
    name = str(body.get("FunctionName", ""))
    settings = endpoint.lab.settings
    name, _ = wire.parse_name(name, None, region=settings.region, account_id=settings.account_id)
    if name in endpoint.lab._plane.configs:
        raise wire.conflict(f"Function already exist: {name}")
    if body.get("PackageType", "Zip") != "Zip":
        raise wire.invalid("lambdalab runs .zip functions only (PackageType Image is not supported)")
    _check_runtime(body.get("Runtime"))
    if not body.get("Handler"):
        raise wire.invalid("Handler is required for .zip functions ('module.function')")
    folder = _unzip(body.get("Code") or {})
    try:
        await _call(endpoint, endpoint.lab.create_function, name, path=folder, **_settings(body))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    meta = endpoint.meta(name)
    meta.role, meta.description, meta.pending = str(body.get("Role", meta.role)), str(body.get("Description", "")), True
    version = endpoint.lab._plane.publish(name) if body.get("Publish") else LATEST
    try:
        return reply(_configuration(endpoint, name, version), 201)
    finally:
        meta.pending = False


async def update_function_code(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    body = await _json(request)
    folder = _unzip(body)
    try:
        await _call(endpoint, endpoint.lab.function(name).update, path=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    endpoint.meta(name).touch()
    version = endpoint.lab._plane.publish(name) if body.get("Publish") else LATEST
    return reply(_configuration(endpoint, name, version))


async def update_function_configuration(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    body = await _json(request)
    if "Runtime" in body:
        _check_runtime(body["Runtime"])
    changes = _settings(body)
    if changes:
        await _call(endpoint, endpoint.lab.function(name).update, **changes)
    meta = endpoint.meta(name)
    meta.role = str(body.get("Role", meta.role))
    meta.description = str(body.get("Description", meta.description))
    meta.touch()
    return reply(_configuration(endpoint, name))


async def delete_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request)
    _existing(endpoint, name)
    raise wire.not_implemented("lambdalab cannot delete a function: a Lab has no delete yet. Stop its environments "
                               "with Function.kill(), or start a new Lab")


# -- versions and aliases ------------------------------------------------------------------------
async def publish_version(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    await request.read()
    version = endpoint.lab._plane.publish(name)
    return reply(_configuration(endpoint, name, version), 201)


async def create_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    body = await _json(request)
    alias, version = str(body.get("Name", "")), str(body.get("FunctionVersion", ""))
    entry = endpoint.lab._plane.scheduler.entry(name)
    if alias in entry.aliases:
        raise wire.conflict(f"Alias already exists: {endpoint.lab._plane.arn(name, alias)}")
    weights = ((body.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
    for v in (version, *weights):
        if v not in entry.pools:
            raise wire.not_found(endpoint.lab._plane.arn(name, v))
    try:
        endpoint.lab._plane.create_alias(name, alias, version, {str(k): float(w) for k, w in weights.items()})
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    return reply(shapes.alias_configuration(endpoint.lab, name, alias, str(body.get("Description", ""))), 201)


async def get_alias(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    alias = request.match_info["alias"]
    if alias not in endpoint.lab._plane.scheduler.entry(name).aliases:
        raise wire.not_found(endpoint.lab._plane.arn(name, alias))
    return reply(shapes.alias_configuration(endpoint.lab, name, alias))


async def list_aliases(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    aliases = endpoint.lab._plane.scheduler.entry(name).aliases
    return reply(_page(request, [shapes.alias_configuration(endpoint.lab, name, a) for a in aliases], "Aliases"))


# -- concurrency ---------------------------------------------------------------------------------
async def put_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    count = (await _json(request)).get("ReservedConcurrentExecutions")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise wire.invalid(f"ReservedConcurrentExecutions must be a whole number >= 0; got {count!r}")
    await _call(endpoint, endpoint.lab.function(name).update, reserved_concurrency=count)
    return reply({"ReservedConcurrentExecutions": count})


async def delete_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    await _call(endpoint, endpoint.lab.function(name).update, reserved_concurrency=None)
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def get_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    _existing(endpoint, name)
    reserved = endpoint.lab._plane.scheduler.entry(name).reserved
    return reply({} if reserved is None else {"ReservedConcurrentExecutions": reserved})


def _provisioned_version(endpoint: Endpoint, request: web.Request) -> tuple[str, str]:
    name, qualifier = endpoint.function_name(request)
    if qualifier is None:
        raise wire.invalid("Qualifier is required: provisioned concurrency applies to a version or an alias")
    if qualifier == LATEST:
        raise wire.invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    return name, _version(endpoint, name, qualifier)


async def put_provisioned_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, version = _provisioned_version(endpoint, request)
    count = (await _json(request)).get("ProvisionedConcurrentExecutions")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise wire.invalid(f"ProvisionedConcurrentExecutions must be a whole number >= 1; got {count!r}")
    reserved = endpoint.lab._plane.scheduler.entry(name).reserved
    if reserved is not None and count > reserved:
        raise wire.invalid(f"Requested Provisioned Concurrency ({count}) exceeds the function's reserved "
                           f"concurrency ({reserved}).")
    try:
        endpoint.lab._plane.provision(name, count, version)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    status = shapes.provisioned_status(endpoint.lab, name, version)
    status.pop("RequestedProvisionedConcurrentExecutions")
    return reply({"RequestedProvisionedConcurrentExecutions": count, **status}, 202)


async def get_provisioned_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, version = _provisioned_version(endpoint, request)
    if endpoint.lab._plane.scheduler.entry(name).pools[version].provisioned_target == 0:
        raise wire.ApiError(404, "ProvisionedConcurrencyConfigNotFoundException",
                            "No Provisioned Concurrency Config found for this function")
    return reply(shapes.provisioned_status(endpoint.lab, name, version))


# -- function URLs -------------------------------------------------------------------------------
async def create_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    _version(endpoint, name, qualifier)
    body = await _json(request)
    if (name, qualifier) in endpoint.urls:
        raise wire.conflict(f"Failed to create function url config for [functionArn = "
                            f"{endpoint.lab._plane.arn(name, qualifier)}]. Error message:  FunctionUrlConfig exists "
                            "for this Lambda function")
    auth = str(body.get("AuthType", "NONE"))
    if auth not in ("NONE", "AWS_IAM"):
        raise wire.validation(auth, "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]")
    listener = await endpoint.ensure_url(name, qualifier, auth)
    return reply(listener.configuration(), 201)


async def get_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    _existing(endpoint, name)
    listener = endpoint.urls.get((name, qualifier))
    if listener is None:
        raise wire.ApiError(404, "ResourceNotFoundException", "The resource you requested does not exist.",
                            key="Message")
    return reply(listener.configuration())


async def delete_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    _existing(endpoint, name)
    listener = endpoint.urls.pop((name, qualifier), None)
    if listener is None:
        raise wire.ApiError(404, "ResourceNotFoundException", "The resource you requested does not exist.",
                            key="Message")
    await listener.stop()
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})
