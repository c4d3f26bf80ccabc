"""Recursive loop detection settings: PutFunctionRecursionConfig / GetFunctionRecursionConfig (AWS Lambda API
reference), ``/2024-08-31/functions/{FunctionName}/recursion-config``.

``RecursiveLoop`` is ``Terminate`` (Lambda's default: a function is stopped at its 17th invocation in one request
chain) or ``Allow``; it is the function's (no qualifier) and changes the Lab's setting in place
(``Function.set_recursion``: no redeploy, warm environments stay). Both answer ``{"RecursiveLoop": ...}``; an
unknown function is 404, a value outside the enum Lambda's ``ValidationException``. The stopping itself is the
control plane's (``lambdalab/lineage.py``).

``with_trace_header`` / ``message_trace``: the lineage an SQS SendMessage(Batch) to a local queue carries
(``source_apis.py``), so a handler that sends to its own queue continues its chain.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from lambdalab import lineage
from lambdalab.config import RECURSION_MODES
from lambdalab.endpoint import wire
from lambdalab.endpoint.management import call, existing, parse_json, reply

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

PATH = "/2024-08-31/functions/{name}/recursion-config"


def with_trace_header(params: dict[str, Any], header: str | None) -> dict[str, Any]:
    """An SQS SendMessage(Batch) request with the caller's ``X-Amzn-Trace-Id`` (what an AWS SDK sends from inside a
    function) as each message's ``AWSTraceHeader`` system attribute, unless the message sets its own (SQS: the
    system attribute overrides the HTTP header). ``params`` is changed in place and returned."""
    if not header:
        return params
    value = {"DataType": "String", "StringValue": unquote(header) if "%" in header else header}
    batch = params.get("Entries")
    entries: list[Any] = batch if isinstance(batch, list) else [params]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        system = entry.get("MessageSystemAttributes")
        if system is None:
            entry["MessageSystemAttributes"] = {lineage.SQS_TRACE_ATTRIBUTE: value}
        elif isinstance(system, dict):
            system.setdefault(lineage.SQS_TRACE_ATTRIBUTE, value)
    return params


def message_trace(entry: dict[str, Any]) -> str | None:
    """The ``AWSTraceHeader`` system attribute of one SendMessage request or batch entry (None when absent or not
    a string attribute)."""
    system = entry.get("MessageSystemAttributes")
    attribute = system.get(lineage.SQS_TRACE_ATTRIBUTE) if isinstance(system, dict) else None
    value = attribute.get("StringValue") if isinstance(attribute, dict) else None
    return value if isinstance(value, str) and value else None


def _function(endpoint: Endpoint, request: web.Request) -> str:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    existing(endpoint, name)
    return name


async def put_recursion_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _function(endpoint, request)
    body = parse_json(await request.read())
    mode = body.get("RecursiveLoop")
    if mode is None:
        raise wire.validation("null", "recursiveLoop", "Member must not be null")
    if mode not in RECURSION_MODES:
        allowed = ", ".join(sorted(RECURSION_MODES))
        raise wire.validation(str(mode)[:64], "recursiveLoop", f"Member must satisfy enum value set: [{allowed}]")
    fn = endpoint.lab.function(name)
    await call(endpoint, fn.set_recursion, mode)
    return reply({"RecursiveLoop": mode})


async def get_recursion_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    name = _function(endpoint, request)
    return reply({"RecursiveLoop": endpoint.lab.function(name).config.recursion})


ROUTES: list[tuple[str, str, Any]] = [
    ("PUT", PATH, put_recursion_config),
    ("GET", PATH, get_recursion_config),
]
