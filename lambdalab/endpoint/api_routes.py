"""A SAM template's API routes: every ``Api`` (REST API, payload 1.0) and ``HttpApi`` (HTTP API, payload 2.0) event.

``routes(template, functions, context)`` reads each ``AWS::Serverless::Function``'s ``Events`` of type ``Api``
(``Path`` and ``Method`` required) and ``HttpApi`` (no ``Path`` and ``Method``: the API's ``$default`` route;
``PayloadFormatVersion: "1.0"`` gives a 1.0 event) into ``Route`` entries, with what the API resource they
name (``RestApiId`` / ``ApiId``, else the implicit ``ServerlessRestApi`` / ``ServerlessHttpApi``) or
``Globals.Api`` / ``Globals.HttpApi`` set: ``StageName`` (default ``Prod`` for a REST API, as ``sam local``
sends, and ``$default`` for an HTTP API), stage variables (``Variables`` / ``StageVariables``) and a REST API's
``BinaryMediaTypes``, and CORS: a REST API's ``Cors`` (SAM's quoted strings: ``"'*'"``, or ``AllowOrigin``,
``AllowMethods``, ``AllowHeaders``, ``MaxAge``, ``AllowCredentials``) and an HTTP API's ``CorsConfiguration``
(``true``, or ``AllowOrigins``... as a function URL's ``Cors``). ``Table.match`` picks the route of a request as
API Gateway does: literal path segments before ``{parameters}`` before a greedy ``{proxy+}``, and a route's own
method before ``ANY``.

Rules: pure; no Lab, no I/O; notes instead of prints.
"""

from __future__ import annotations

import fnmatch
import secrets
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from lambdalab.endpoint import wire
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.template_values import UNRESOLVED, resolve

REST, HTTP = "Api", "HttpApi"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_IMPLICIT = {REST: "ServerlessRestApi", HTTP: "ServerlessHttpApi"}
_API_TYPES = {REST: "AWS::Serverless::Api", HTTP: "AWS::Serverless::HttpApi"}


class Route:
    """One route: ``METHOD /path`` of one API, to one function (and qualifier), with its payload format."""

    def __init__(
        self,
        kind: str,
        method: str,
        path: str,
        function: str,
        qualifier: str | None,
        *,
        version: str,
        api: Api,
    ) -> None:
        self.kind, self.method, self.path, self.function, self.qualifier = kind, method, path, function, qualifier
        self.version, self.api = version, api
        self.segments = [] if path == "$default" else path.strip("/").split("/")

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"

    def match(self, method: str, parts: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(how specific the match is, the path parameters) when this route takes the request, else None."""
        if self.method not in (method, "ANY"):
            return None
        if self.path == "$default":
            return (-1,), {}
        params: dict[str, str] = {}
        rank: list[int] = []
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest or not all(rest):
                    return None
                params[segment[1:-2]] = "/".join(rest)
                return (*rank, 0, int(self.method != "ANY")), params
            if index >= len(parts):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                if not parts[index]:
                    return None
                params[segment[1:-1]] = parts[index]
                rank.append(1)
            elif segment != parts[index]:
                return None
            else:
                rank.append(2)
        if len(parts) != len(self.segments):
            return None
        return (*rank, 3, int(self.method != "ANY")), params


class Api:
    """One API (a REST API or an HTTP API): its id, stage, stage variables, binary media types and CORS."""

    def __init__(
        self,
        kind: str,
        logical_id: str,
        stage: str,
        variables: Mapping[str, str],
        binary: list[str],
        cors: Cors | dict[str, str] | None = None,
    ) -> None:
        self.kind, self.logical_id, self.stage = kind, logical_id, stage
        self.variables, self.binary = dict(variables), binary
        self.cors = cors  # an HTTP API's ``Cors``; a REST API's preflight headers (SAM's Cors, unquoted)
        self.api_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))

    def is_binary(self, content_type: str) -> bool:
        """Whether a REST API passes a body of ``content_type`` base64-encoded (its ``BinaryMediaTypes``)."""
        kind = content_type.split(";", 1)[0].strip().lower()
        return any(fnmatch.fnmatchcase(kind, pattern.replace("~1", "/").lower()) for pattern in self.binary)


class Table:
    """Every route of a template, matched as API Gateway matches them."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    @property
    def kind(self) -> str:
        """``HttpApi`` when every route is an HTTP API's (an unknown route answers 404), else ``Api`` (403)."""
        return HTTP if self.routes and all(r.kind == HTTP for r in self.routes) else REST

    def methods(self, route: Route) -> list[str]:
        """The methods of ``route``'s path on its API, and ``OPTIONS`` (a REST API's CORS answer names them)."""
        found = {r.method for r in self.routes if r.api is route.api and r.path == route.path}
        if "ANY" in found:
            found = {"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"}
        return sorted(found | {"OPTIONS"})

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        parts = [unquote(part) for part in raw_path.strip("/").split("/")] if raw_path.strip("/") else [""]
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        for route in self.routes:
            found = route.match(method, parts)
            if found is not None and (best is None or found[0] > best[0]):
                best = (found[0], route, found[1])
        return None if best is None else (best[1], best[2])


def routes(
    template: Mapping[str, Any], functions: Mapping[str, tuple[str, str | None]], context: dict[str, Any]
) -> tuple[Table, list[str]]:
    """The routes of ``template``'s functions that were served (``functions``: logical id -> (name, qualifier))."""
    notes: list[str] = []
    resources = template.get("Resources") or {}
    found_globals = template.get("Globals")
    globals_: Mapping[str, Any] = found_globals if isinstance(found_globals, dict) else {}
    apis: dict[tuple[str, str], Api] = {}
    found: list[Route] = []
    for logical_id, (name, qualifier) in functions.items():
        resource = resources.get(logical_id)
        props = resource.get("Properties") if isinstance(resource, dict) else None
        events = props.get("Events") if isinstance(props, dict) else None
        for event_id, event in events.items() if isinstance(events, dict) else ():
            if not isinstance(event, dict) or event.get("Type") not in (REST, HTTP):
                continue
            kind = event["Type"]
            where = f"{logical_id}.Events.{event_id}"
            source = resolve(event.get("Properties") or {}, context)
            if not isinstance(source, dict):
                notes.append(f"{where}: Properties must be a mapping; not routed")
                continue
            path, method = resolve(source.get("Path"), context), resolve(source.get("Method"), context)
            if kind == HTTP and path is None and method is None:
                path, method = "$default", "ANY"
            if not isinstance(path, str) or not isinstance(method, str) or method.upper() not in METHODS:
                notes.append(f"{where}: Path and Method must be given (Method one of {sorted(METHODS)}); not routed")
                continue
            if path != "$default" and not path.startswith("/"):
                notes.append(f"{where}: Path {path!r} must start with '/'; not routed")
                continue
            version = "1.0" if kind == REST else str(resolve(source.get("PayloadFormatVersion", "2.0"), context))
            if version not in ("1.0", "2.0"):
                notes.append(f"{where}: PayloadFormatVersion {version!r} is neither 1.0 nor 2.0; not routed")
                continue
            api = _api(kind, source, resources, globals_, context, apis, notes)
            found.append(Route(kind, method.upper(), path, name, qualifier, version=version, api=api))
    return Table(found), notes


def _api(
    kind: str,
    source: dict[str, Any],
    resources: Mapping[str, Any],
    globals_: Mapping[str, Any],
    context: dict[str, Any],
    apis: dict[tuple[str, str], Api],
    notes: list[str],
) -> Api:
    """The API an event belongs to (its ``RestApiId`` / ``ApiId`` resource, or the implicit one), made once."""
    ref = source.get("RestApiId" if kind == REST else "ApiId")
    logical_id = ref.get("Ref") if isinstance(ref, dict) else ref
    if not isinstance(logical_id, str) or _type(resources.get(logical_id)) != _API_TYPES[kind]:
        logical_id = _IMPLICIT[kind]
    if (kind, logical_id) in apis:
        return apis[(kind, logical_id)]
    settings: dict[str, Any] = {}
    section = globals_.get(kind)
    if isinstance(section, dict):
        settings.update(section)
    resource = resources.get(logical_id)
    own = resource.get("Properties") if isinstance(resource, dict) else None
    if isinstance(own, dict):
        settings.update(own)
    stage = resolve(settings.get("StageName"), context)
    if not isinstance(stage, str) or stage is UNRESOLVED:
        stage = "Prod" if kind == REST else "$default"
    raw = resolve(settings.get("Variables" if kind == REST else "StageVariables"), context)
    variables = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    binary = resolve(settings.get("BinaryMediaTypes"), context)
    types = [str(t) for t in binary] if isinstance(binary, list) else []
    raw_cors = resolve(settings.get("Cors" if kind == REST else "CorsConfiguration"), context)
    try:
        cors = _rest_cors(raw_cors) if kind == REST else _http_cors(raw_cors)
    except (ValueError, wire.ApiError) as exc:
        notes.append(f"{logical_id}: {'Cors' if kind == REST else 'CorsConfiguration'} ignored ({exc})")
        cors = None
    apis[(kind, logical_id)] = Api(kind, logical_id, stage, variables, types, cors)
    return apis[(kind, logical_id)]


def _unquote(value: Any, key: str) -> str:
    """SAM's ``Cors`` values are quoted strings (``"'*'"``): the header value inside the quotes."""
    if not isinstance(value, str) or len(value) < 2 or value[0] != "'" or value[-1] != "'":
        raise ValueError(f"{key} must be a quoted string such as \"'*'\", got {value!r}")
    return value[1:-1]


def _rest_cors(raw: Any) -> dict[str, str] | None:
    """A REST API's ``Cors`` as the headers of the ``OPTIONS`` answers SAM adds to each path."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"AllowOrigin": raw}
    if not isinstance(raw, dict) or "AllowOrigin" not in raw:
        raise ValueError("Cors must be a quoted origin or a mapping with AllowOrigin")
    headers = {"Access-Control-Allow-Origin": _unquote(raw["AllowOrigin"], "AllowOrigin")}
    for key, header in (
        ("AllowMethods", "Access-Control-Allow-Methods"),
        ("AllowHeaders", "Access-Control-Allow-Headers"),
        ("MaxAge", "Access-Control-Max-Age"),
    ):
        if raw.get(key) is not None:
            headers[header] = _unquote(raw[key], key)
    if raw.get("AllowCredentials") is True:
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


def _http_cors(raw: Any) -> Cors | None:
    """An HTTP API's ``CorsConfiguration`` (``true``: any origin, method and header)."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return Cors(("*",), ("*",), ("*",))
    return Cors.parse(raw)


def _type(resource: Any) -> Any:
    return resource.get("Type") if isinstance(resource, dict) else None
