"""Lambda's management calls that boto3 users need against a local endpoint (AWS Lambda API reference).

Each handler maps one API operation onto the Lab: reading its tables for Get/List calls,
``Lab.create_function`` / ``Function.update`` (on the endpoint's worker thread, since they block)
for CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration and the reserved
concurrency calls, and the control plane for PublishVersion, CreateAlias and provisioned
concurrency. PublishVersion returns the last version when nothing changed since it, as Lambda does;
aliases are ``aliases.py``, DeleteFunction ``deletion.py``.

Code uploads (``Code.ZipFile``, base64 in the JSON body) are read with Lambda's request cap (413 past
69,905,067 bytes), then decoded and unpacked on the endpoint's worker thread with Lambda's package
limits (``packages/zips.py``), so a big or hostile .zip never stalls the loop that answers invokes.
A function's fields (name, ``Runtime``, ``Handler``, environment, layers...) are checked and turned into
the Lab's keywords by ``function_fields.py``, with Lambda's errors.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import function_fields as fields
from lambdalab.endpoint import shapes, wire
from lambdalab.endpoint.resources import extras
from lambdalab.errors import LambdaLabError
from lambdalab.packages import zips as package
from lambdalab.packages.layers import LayerError

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint
    from lambdalab.function import Function

LATEST = "$LATEST"


def reply(data: Any, status: int = 200) -> web.Response:
    body = b"" if data is None else json.dumps(data).encode()
    return web.Response(
        status=status,
        body=body,
        headers={"Content-Type": "application/json", "x-amzn-RequestId": wire.new_request_id()},
    )


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise wire.ApiError(400, "InvalidRequestContentException", "Could not parse request body into json") from None
    if not isinstance(data, dict):
        raise wire.ApiError(400, "InvalidRequestContentException", "The request body must be a JSON object")
    return data


async def _json(request: web.Request) -> dict[str, Any]:
    return parse_json(await request.read())


async def code_request(endpoint: Endpoint, request: web.Request, operation: str) -> dict[str, Any]:
    """A request that carries a .zip: read up to Lambda's cap, parsed on the worker thread (it may be ~70 MB)."""
    too_large = wire.from_lab(package.request_too_large(operation))
    if (request.content_length or 0) > package.REQUEST_MAX_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > package.REQUEST_MAX_BYTES:
            raise too_large
        chunks.append(chunk)
    return await endpoint.blocking(parse_json, b"".join(chunks))  # type: ignore[no-any-return]


def existing(endpoint: Endpoint, name: str) -> Function:
    if name not in endpoint.lab.functions():
        raise wire.not_found(endpoint.lab.arn(name))
    return endpoint.lab.function(name)


def _version(endpoint: Endpoint, name: str, qualifier: str | None) -> str:
    """The version a qualifier names ($LATEST, a number, or an alias's primary version)."""
    fn = existing(endpoint, name)
    if qualifier is None or qualifier == LATEST:
        return LATEST
    aliases = fn.aliases()
    if qualifier in aliases:
        return aliases[qualifier].version
    if qualifier in fn.versions():
        return qualifier
    raise wire.not_found(endpoint.lab.arn(name, qualifier))


def _configuration(endpoint: Endpoint, name: str, version: str = LATEST) -> dict[str, Any]:
    return shapes.function_configuration(endpoint.lab, name, version, endpoint.meta(name))


def layer_error(exc: LayerError) -> wire.ApiError:
    """A layer refusal as Lambda sends it: its code, status and exact message (lambdalab's hint stays local)."""
    if exc.code == "ValidationException":
        return wire.ApiError(exc.status, exc.code, exc.message, user=False)
    return wire.ApiError(
        exc.status, exc.code, exc.message, key="Message" if exc.code == "ResourceNotFoundException" else "message"
    )


async def call(endpoint: Endpoint, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn`` on the endpoint's worker thread; lambdalab's errors as Lambda's."""
    try:
        return await endpoint.blocking(fn, *args, **kwargs)
    except LayerError as exc:
        raise layer_error(exc) from None
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None


# -- reading -------------------------------------------------------------------------------------
async def get_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    version = _version(endpoint, name, qualifier)
    config = _configuration(endpoint, name, version)
    fn = endpoint.lab.function(name)
    code_dir = fn.version_info(version).code_folder
    out: dict[str, Any] = {
        "Configuration": config,
        "Code": {"RepositoryType": "S3", "Location": code_dir.as_uri()},
        "Tags": dict(extras(endpoint, name).tags),
    }
    reserved = fn.config.reserved_concurrency
    if reserved is not None:
        out["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
    return reply(out)


async def get_function_configuration(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    return reply(_configuration(endpoint, name, _version(endpoint, name, qualifier)))


async def list_functions(endpoint: Endpoint, request: web.Request) -> web.Response:
    lab = endpoint.lab
    rows = []
    for name in sorted(lab.functions()):
        versions = lab.function(name).versions() if request.query.get("FunctionVersion") == "ALL" else [LATEST]
        rows += [_configuration(endpoint, name, v) for v in versions]
    return reply(page(request, rows, "Functions"))


def page(request: web.Request, rows: list[Any], key: str) -> dict[str, Any]:
    try:
        start = int(request.query.get("Marker") or 0)
        size = int(request.query.get("MaxItems") or 50)
    except ValueError:
        raise wire.invalid("Marker and MaxItems must be whole numbers") from None
    out: dict[str, Any] = {key: rows[start : start + size]}
    if start + size < len(rows):
        out["NextMarker"] = str(start + size)
    return out


async def list_versions(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    versions = existing(endpoint, name).versions()
    return reply(page(request, [_configuration(endpoint, name, v) for v in versions], "Versions"))


async def get_account_settings(endpoint: Endpoint, request: web.Request) -> web.Response:
    return reply(shapes.account_settings(endpoint.lab))


# -- code and configuration ----------------------------------------------------------------------
def _create(endpoint: Endpoint, name: str, code: dict[str, Any], settings: dict[str, Any]) -> None:
    """On the worker thread: decode, unpack (Lambda's limits) and register."""
    endpoint.lab.create_function(name, zip_file=fields.zip_code(code, "CreateFunction"), **settings)


def _update_code(endpoint: Endpoint, name: str, body: dict[str, Any]) -> None:
    endpoint.lab.function(name).update(zip_file=fields.zip_code(body, "UpdateFunctionCode"))


async def create_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = await code_request(endpoint, request, "CreateFunction")
    name = str(body.get("FunctionName", ""))
    settings = endpoint.lab.settings
    name, _ = wire.parse_name(name, None, region=settings.region, account_id=settings.account_id)
    fields.check_function_name(name)
    if name in endpoint.lab.functions():
        raise wire.conflict(f"Function already exist: {name}")
    if body.get("PackageType", "Zip") != "Zip":
        raise wire.invalid("lambdalab runs .zip functions only (PackageType Image is not supported)")
    fields.check_names(body)
    fields.check_mandatory(body)  # a custom runtime's Handler too: its bootstrap reads it from _HANDLER
    runtime = await endpoint.blocking(fields.lab_runtime, body["Runtime"])  # may probe node once (~40 ms)
    await call(endpoint, _create, endpoint, name, body.get("Code") or {}, {**fields.settings(body), "runtime": runtime})
    meta = endpoint.meta(name)
    meta.role, meta.description, meta.pending = str(body.get("Role", meta.role)), str(body.get("Description", "")), True
    extras(endpoint, name).tags.update(body.get("Tags") or {})
    version = publish(endpoint, endpoint.lab.function(name)) if body.get("Publish") else LATEST
    try:
        return reply(_configuration(endpoint, name, version), 201)
    finally:
        meta.pending = False


async def update_function_code(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    body = await code_request(endpoint, request, "UpdateFunctionCode")
    await call(endpoint, _update_code, endpoint, name, body)
    endpoint.meta(name).touch()
    version = publish(endpoint, endpoint.lab.function(name)) if body.get("Publish") else LATEST
    return reply(_configuration(endpoint, name, version))


async def update_function_configuration(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    body = await _json(request)
    fields.check_names(body)
    current = endpoint.lab.function(name).config.runtime
    runtime = await endpoint.blocking(fields.lab_runtime, body["Runtime"], current) if "Runtime" in body else current
    changes = fields.settings(body)
    if runtime != current:
        changes["runtime"] = runtime
    if changes:
        await call(endpoint, endpoint.lab.function(name).update, **changes)
    meta = endpoint.meta(name)
    meta.role = str(body.get("Role", meta.role))
    meta.description = str(body.get("Description", meta.description))
    meta.touch()
    return reply(_configuration(endpoint, name))


# -- versions and aliases ------------------------------------------------------------------------
def _snapshot(endpoint: Endpoint, fn: Function) -> tuple[Any, ...]:
    """What a version would freeze of ``$LATEST`` now: code, settings, role, description (not the function-wide
    concurrency and asynchronous settings, which Lambda does not version)."""
    info, meta = fn.version_info(), endpoint.meta(fn.name)
    unversioned: dict[str, Any] = {"reserved_concurrency": None, "provisioned_concurrency": 0, "max_retry_attempts": 2}
    config = dataclasses.replace(info.config, **unversioned, max_event_age_s=21_600)
    return info.code_sha, info.memory_mb, info.timeout_s, config, meta.role, meta.description


async def publish_version(endpoint: Endpoint, request: web.Request) -> web.Response:
    """A new version, unless code and configuration are unchanged since the last one: that one (as Lambda)."""
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    fn = existing(endpoint, name)
    body = await _json(request)
    meta, sha = endpoint.meta(name), _configuration(endpoint, name)["CodeSha256"]
    if body.get("RevisionId") not in (None, meta.revision):
        raise wire.ApiError(
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the "
            "latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
    if body.get("CodeSha256") not in (None, sha):
        raise wire.invalid(
            f"CodeSHA256 ({body['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
            f"({sha}). Please try again with the CodeSHA256 in $LATEST."
        )
    # a SnapStart version's publish takes the snapshot and waits for it: on the worker thread
    version = await call(endpoint, publish, endpoint, fn) if fn.config.snap_start else publish(endpoint, fn)
    return reply(_configuration(endpoint, name, version), 201)


def publish(endpoint: Endpoint, fn: Function) -> str:
    """Publish ``$LATEST``, or return the last version if nothing changed since it was published here."""
    kept, snapshot = extras(endpoint, fn.name).published, _snapshot(endpoint, fn)
    last = max((v for v in fn.versions() if v != LATEST), key=int, default=None)
    version = last if last is not None and kept.get(last) == snapshot else fn.publish()
    kept[version] = snapshot
    return version


# -- concurrency ---------------------------------------------------------------------------------
async def put_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    count = (await _json(request)).get("ReservedConcurrentExecutions")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise wire.invalid(f"ReservedConcurrentExecutions must be a whole number >= 0; got {count!r}")
    await call(endpoint, endpoint.lab.function(name).update, reserved_concurrency=count)
    return reply({"ReservedConcurrentExecutions": count})


async def delete_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    await call(endpoint, endpoint.lab.function(name).update, reserved_concurrency=None)
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def get_function_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    reserved = existing(endpoint, name).config.reserved_concurrency
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
    fn = endpoint.lab.function(name)
    reserved = fn.config.reserved_concurrency
    if reserved is not None and count > reserved:
        raise wire.invalid(
            f"Requested Provisioned Concurrency ({count}) exceeds the function's reserved concurrency ({reserved})."
        )
    try:
        fn.provision(count, version)
    except LambdaLabError as exc:
        raise wire.from_lab(exc) from None
    status = shapes.provisioned_status(endpoint.lab, name, version)
    status.pop("RequestedProvisionedConcurrentExecutions")
    return reply({"RequestedProvisionedConcurrentExecutions": count, **status}, 202)


async def get_provisioned_concurrency(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, version = _provisioned_version(endpoint, request)
    if endpoint.lab.function(name).version_info(version).provisioned_concurrency == 0:
        raise wire.ApiError(
            404,
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )
    return reply(shapes.provisioned_status(endpoint.lab, name, version))


# -- function URLs -------------------------------------------------------------------------------
# botocore's FunctionUrlQualifier (min 1, max 128): an alias name, never a version number or $LATEST
URL_QUALIFIER = re.compile(r"((?!^\d+$)^[0-9a-zA-Z-_]+$)")


def url_function(endpoint: Endpoint, request: web.Request) -> tuple[str, str | None]:
    """(name, qualifier) of a FunctionUrlConfig call: the qualifier, if any, is an alias name (Lambda's 400 else)."""
    name, qualifier = endpoint.function_name(request)
    if qualifier is not None:
        if len(qualifier) > 128:
            raise wire.validation(qualifier, "qualifier", "Member must have length less than or equal to 128")
        if URL_QUALIFIER.fullmatch(qualifier) is None:
            raise wire.validation(
                qualifier, "qualifier", f"Member must satisfy regular expression pattern: {URL_QUALIFIER.pattern}"
            )
    return name, qualifier


async def create_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = url_function(endpoint, request)
    _version(endpoint, name, qualifier)
    body = await _json(request)
    if (name, qualifier) in endpoint.urls:
        raise wire.conflict(
            f"Failed to create function url config for [functionArn = "
            f"{endpoint.lab.arn(name, qualifier)}]. Error message:  FunctionUrlConfig exists "
            "for this Lambda function"
        )
    auth = str(body.get("AuthType", "NONE"))
    if auth not in ("NONE", "AWS_IAM"):
        raise wire.validation(auth, "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]")
    listener = await endpoint.ensure_url(name, qualifier, auth)
    return reply(listener.configuration(), 201)


async def get_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = url_function(endpoint, request)
    existing(endpoint, name)
    listener = endpoint.urls.get((name, qualifier))
    if listener is None:
        raise wire.ApiError(
            404, "ResourceNotFoundException", "The resource you requested does not exist.", key="Message"
        )
    return reply(listener.configuration())


async def delete_function_url(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = url_function(endpoint, request)
    existing(endpoint, name)
    listener = endpoint.urls.pop((name, qualifier), None)
    if listener is None:
        raise wire.ApiError(
            404, "ResourceNotFoundException", "The resource you requested does not exist.", key="Message"
        )
    await listener.stop()
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})
