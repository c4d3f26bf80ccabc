"""Function URLs a template declares: ``FunctionUrlConfig`` and ``AWS::Lambda::Url``, made as CreateFunctionUrlConfig.

- ``FunctionUrlConfig`` on an ``AWS::Serverless::Function`` (``Globals.Function`` merged in, as SAM merges it):
  ``AuthType`` (required: ``AWS_IAM`` or ``NONE``), ``Cors``, ``InvokeMode``. As SAM's generated
  ``AWS::Lambda::Url`` (logical id ``{Function}Url``), the URL is the function's, or its ``AutoPublishAlias``'s.
- ``AWS::Lambda::Url``: ``TargetFunctionArn`` (a name, ``name:qualifier``, an ARN, ``!Ref`` / ``!GetAtt .Arn``
  of a template function), ``Qualifier`` (an alias name: a version number or ``$LATEST`` is skipped with a note,
  as botocore's ``FunctionUrlQualifier`` allows neither), ``AuthType``, ``Cors``, ``InvokeMode``.
``Cors`` is checked and applied as CreateFunctionUrlConfig's (``cors.py``); ``AuthType`` is recorded, not enforced
(as every URL's); ``InvokeMode: RESPONSE_STREAM`` answers the function's bytes as they are, with an
``awslambda.HttpResponseStream`` prelude's status and headers (``invoke_stream.url_answer``), once the function has
ended (lambdalab's Runtime API takes a streamed response whole). A URL
whose settings are wrong, whose function the template did not serve, or a second URL for one function and
qualifier is left out with a note naming its logical id.

A URL is a listener of the Lab's endpoint, and a template may load before there is one (``lambdalab serve`` loads
it, then starts the endpoint on its port). So ``add`` (the one call ``templates.load_template`` makes) keeps the
Lab's template URLs in a ``TemplateUrls`` attached to the Lab and makes them at once when the endpoint runs;
``make(lab)`` makes those still waiting (starting the endpoint, as ``fn.url()`` does, if there is none) and
returns them: ``lambdalab serve`` calls it once it serves, and prints each.

Rules: notes instead of prints; no aiohttp here (the endpoint makes the listeners on its loop).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from lambdalab.endpoint import template_globals, wire
from lambdalab.endpoint.cors import Cors
from lambdalab.endpoint.template_values import UNRESOLVED, Skip, resolve
from lambdalab.errors import LambdaLabError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

AUTH_TYPES = ("AWS_IAM", "NONE")
_URL_QUALIFIER = re.compile(r"((?!^\d+$)^[0-9a-zA-Z-_]+$)")  # botocore's FunctionUrlQualifier: an alias name
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_CORS_TYPES = {
    "AllowOrigins": list,
    "AllowMethods": list,
    "AllowHeaders": list,
    "ExposeHeaders": list,
    "MaxAge": int,
    "AllowCredentials": bool,
}


@dataclasses.dataclass(frozen=True)
class UrlSpec:
    """One function URL a template declares."""

    logical_id: str  # the AWS::Lambda::Url's (``{Function}Url`` for a FunctionUrlConfig, as SAM names it)
    name: str
    qualifier: str | None
    auth_type: str
    cors: Cors | None
    invoke_mode: str

    @property
    def target(self) -> str:
        return self.name if self.qualifier is None else f"{self.name}:{self.qualifier}"


class TemplateUrls:
    """The URLs the Lab's templates declared, made and waiting (attached to the Lab; closing it does nothing:
    the endpoint stops the listeners)."""

    def __init__(self) -> None:
        self.specs: dict[tuple[str, str | None], UrlSpec] = {}
        self.waiting: list[UrlSpec] = []

    def close(self) -> None:
        self.waiting.clear()


def add(
    lab: Lab,
    resources: dict[str, Any],
    served: dict[str, tuple[str, str | None]],
    defaults: dict[str, Any],
    context: dict[str, Any],
    notes: list[str],
) -> None:
    """Read the template's URLs (``served``: logical id -> the (name, qualifier) each function is served at;
    ``defaults``: ``Globals.Function``); make them if the Lab's endpoint runs, else keep them for ``make``."""
    found = specs(lab, resources, served, defaults, context, notes)
    if not found:
        return
    registry = registry_of(lab)
    registry.waiting.extend(found)
    for spec in found:
        registry.specs[(spec.name, spec.qualifier)] = spec
    if endpoint_of(lab) is None:
        for spec in found:
            notes.append(
                f"{spec.logical_id}: function URL for {spec.target} ({describe(spec)}), made once the Lab serves"
            )
        return
    for spec, url in make(lab):
        notes.append(f"{spec.logical_id}: function URL {url} for {spec.target} ({describe(spec)})")


def describe(spec: UrlSpec) -> str:
    words = [f"AuthType {spec.auth_type}" + (" recorded, not enforced" if spec.auth_type == "AWS_IAM" else "")]
    if spec.cors is not None:
        words.append("Cors")
    if spec.invoke_mode == "RESPONSE_STREAM":
        words.append("InvokeMode RESPONSE_STREAM, sent once the function ends")
    return ", ".join(words)


def make(lab: Lab) -> list[tuple[UrlSpec, str]]:
    """Make every template URL still waiting (starting the endpoint if there is none); (spec, URL) of each."""
    registry = registry_of(lab)
    waiting, registry.waiting = registry.waiting, []
    if not waiting:
        return []
    endpoint = endpoint_of(lab)
    if endpoint is None:
        lab.serve()
        endpoint = endpoint_of(lab)
    assert endpoint is not None

    async def ensure() -> list[str]:
        urls = []
        for spec in waiting:
            listener = await endpoint.ensure_url(spec.name, spec.qualifier, spec.auth_type, spec.cors)
            listener.auth_type, listener.cors = spec.auth_type, spec.cors  # one fn.url() made first: the template's
            listener.invoke_mode = spec.invoke_mode
            urls.append(listener.url)
        return urls

    urls: list[str] = lab.run_on_loop(ensure(), timeout=30)
    return list(zip(waiting, urls, strict=True))


def registry_of(lab: Lab) -> TemplateUrls:
    """The Lab's ``TemplateUrls`` (attached on first use)."""
    found = next((item for item in lab.attached if isinstance(item, TemplateUrls)), None)
    if found is None:
        found = TemplateUrls()
        lab.attach(found)
    return found


def endpoint_of(lab: Lab) -> Endpoint | None:
    from lambdalab.endpoint.server import Endpoint

    return next((item for item in lab.attached if isinstance(item, Endpoint)), None)


# -- reading -----------------------------------------------------------------------------------------
def specs(
    lab: Lab,
    resources: dict[str, Any],
    served: dict[str, tuple[str, str | None]],
    defaults: dict[str, Any],
    context: dict[str, Any],
    notes: list[str],
) -> list[UrlSpec]:
    """Every URL of the template lambdalab can make, each checked; the others noted."""
    found: list[tuple[str, Any, tuple[str, str | None] | None]] = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties")
        if resource.get("Type") == "AWS::Serverless::Function" and logical_id in served:
            config = function_url_config(logical_id, resource, defaults)
            if config is not None:
                found.append((f"{logical_id}Url", config, served[logical_id]))
        elif resource.get("Type") == "AWS::Lambda::Url":
            found.append((logical_id, props, None))
    out: list[UrlSpec] = []
    taken: set[tuple[str, str | None]] = set()
    for logical_id, props, target in found:
        try:
            spec = _spec(lab, logical_id, props, target, context)
            if (spec.name, spec.qualifier) in taken:
                raise Skip(f"{spec.target} already has a function URL in this template (one per function and alias)")
        except Skip as skip:
            notes.append(f"{logical_id}: {skip}; no function URL")
            continue
        taken.add((spec.name, spec.qualifier))
        out.append(spec)
    return out


def function_url_config(logical_id: str, resource: dict[str, Any], defaults: dict[str, Any]) -> Any:
    """A served function's ``FunctionUrlConfig`` with ``Globals.Function``'s merged in as SAM merges it, or None."""
    props = resource.get("Properties") or {}
    if not isinstance(props, dict):
        return None
    try:
        merged = template_globals.merge(logical_id, defaults, props, resource.get("IgnoreGlobals"))
    except Skip:  # a bad IgnoreGlobals: the function itself was not served
        return None
    return merged.get("FunctionUrlConfig")


def _spec(
    lab: Lab, logical_id: str, props: Any, target: tuple[str, str | None] | None, context: dict[str, Any]
) -> UrlSpec:
    if not isinstance(props, dict):
        raise Skip("its properties must be a mapping")
    values = {key: _value(key, props.get(key), context) for key in ("AuthType", "InvokeMode", "Cors", "Qualifier")}
    if target is None:
        target = _target(_value("TargetFunctionArn", props.get("TargetFunctionArn"), context), values["Qualifier"])
    name, qualifier = target
    if name not in lab.functions():
        raise Skip(f"its function {name} is not served")
    try:
        lab.resolve(name, qualifier)
    except LambdaLabError as exc:
        raise Skip(str(exc)) from None
    auth = values["AuthType"]
    if auth not in AUTH_TYPES:
        raise Skip(
            "AuthType is required to configure a function URL; give either AWS_IAM or NONE"
            + ("" if auth is None else f" (not {auth!r})")
        )
    mode = values["InvokeMode"] or "BUFFERED"
    if mode not in INVOKE_MODES:
        raise Skip(f"InvokeMode {mode!r} must be BUFFERED or RESPONSE_STREAM")
    return UrlSpec(logical_id, name, qualifier, str(auth), _cors(values["Cors"]), str(mode))


def _value(key: str, raw: Any, context: dict[str, Any]) -> Any:
    value = resolve(raw, context)
    if value is UNRESOLVED:
        raise Skip(f"{key} uses an intrinsic function lambdalab cannot resolve")
    return value


def _target(raw: Any, qualifier: Any) -> tuple[str, str | None]:
    """``TargetFunctionArn`` (a name, ``name:qualifier``, a function or alias ARN) and ``Qualifier``."""
    if not isinstance(raw, str) or not raw:
        raise Skip("TargetFunctionArn is required (a function's name or ARN)")
    parts = raw.split(":")
    if raw.startswith("arn:"):
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise Skip(f"TargetFunctionArn {raw} is not a Lambda function's ARN")
        name, derived = parts[6], parts[7] if len(parts) > 7 else None
    else:
        name, derived = parts[0], parts[1] if len(parts) > 1 else None
    if qualifier is not None and not isinstance(qualifier, str):
        raise Skip(f"Qualifier must be an alias name; got {qualifier!r}")
    if derived and qualifier and derived != qualifier:
        raise Skip(f"TargetFunctionArn's qualifier {derived} and Qualifier {qualifier} differ")
    chosen = derived or qualifier or None
    if chosen is not None and (len(chosen) > 128 or _URL_QUALIFIER.fullmatch(chosen) is None):
        raise Skip(
            f"Qualifier {chosen!r} must be an alias name (letters, digits, '-' and '_', not only digits): a function "
            "URL is the function's or an alias's, never a version's or $LATEST's"
        )
    return name, chosen


def _cors(value: Any) -> Cors | None:
    """``Cors`` as SAM checks it (the API's key names, their types), then as CreateFunctionUrlConfig does."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Skip("Cors must be a mapping")
    for key, item in value.items():
        kind = _CORS_TYPES.get(key)
        if kind is None:
            raise Skip(f"{key} is not a valid property for configuring Cors")
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise Skip(f"Cors {key} must be of type {kind.__name__}")
    try:
        return Cors.parse(value)
    except wire.ApiError as exc:
        raise Skip(f"Cors: {exc.message}") from None
