"""Recursive loop detection settings: PutFunctionRecursionConfig / GetFunctionRecursionConfig (AWS Lambda API
reference), ``/2024-08-31/functions/{FunctionName}/recursion-config``.

``RecursiveLoop`` is ``Terminate`` (Lambda's default: a request chain is stopped after 16 hops) or ``Allow``; it is
the function's (no qualifier) and changes the Lab's setting in place (``Function.set_recursion``: no redeploy, warm
environments stay). Both answer ``{"RecursiveLoop": ...}``; an unknown function is 404, a value outside the enum
Lambda's ``ValidationException``. The stopping itself is the control plane's (``lambdalab/lineage.py``).

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.config import RECURSION_MODES
from lambdalab.endpoint import wire
from lambdalab.endpoint.management import call, existing, parse_json, reply

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

PATH = "/2024-08-31/functions/{name}/recursion-config"


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
