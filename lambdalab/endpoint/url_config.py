"""FunctionUrlConfig's ``Cors`` and ``InvokeMode`` part: CreateFunctionUrlConfig (management.py's, plus ``Cors`` and
``InvokeMode``) and UpdateFunctionUrlConfig (``AuthType``, ``Cors``, ``InvokeMode``). management.py creates,
reads and deletes the URL itself; ``function_urls.UrlListener`` serves it.

Rules: runs on the Lab's loop (aiohttp handlers of the endpoint).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import shapes, wire
from lambdalab.endpoint.cors import Cors

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint


async def create_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    """CreateFunctionUrlConfig: management.py's, plus the ``Cors`` of the body (checked before anything is made)."""
    from lambdalab.endpoint import management

    management.url_function(endpoint, request)  # an alias name or none, before the body is read
    body = _object(await request.read())
    cors, mode = Cors.parse(body.get("Cors")), _mode(body.get("InvokeMode", "BUFFERED"))
    response = await management.create_function_url(endpoint, request)
    if cors is None and mode == "BUFFERED":
        return response
    listener = endpoint.urls[endpoint.function_name(request)]
    listener.cors, listener.invoke_mode = cors, mode
    return _reply(listener.configuration(), 201)


async def update_config(endpoint: Endpoint, request: web.Request) -> web.Response:
    """UpdateFunctionUrlConfig: ``AuthType``, ``Cors`` and ``InvokeMode``, each kept when not given."""
    from lambdalab.endpoint import management

    name, qualifier = management.url_function(endpoint, request)
    body = management.parse_json(await request.read())  # nested too deep: a 400 too
    listener = endpoint.urls.get((name, qualifier))
    if listener is None:
        if name not in endpoint.lab.functions():
            raise wire.not_found(endpoint.lab.arn(name))
        raise wire.ApiError(
            404, "ResourceNotFoundException", "The resource you requested does not exist.", key="Message"
        )
    auth = body.get("AuthType", listener.auth_type)
    if auth not in ("NONE", "AWS_IAM"):
        raise wire.validation(str(auth), "authType", "Member must satisfy enum value set: [AWS_IAM, NONE]")
    mode = _mode(body.get("InvokeMode", listener.invoke_mode))
    cors = Cors.parse(body["Cors"]) if "Cors" in body else listener.cors
    listener.auth_type, listener.cors, listener.invoke_mode = auth, cors, mode
    listener.modified = shapes.timestamp()
    return _reply(listener.configuration(), 200)


def _mode(value: Any) -> str:
    """``InvokeMode``: ``BUFFERED``, or ``RESPONSE_STREAM`` (the function's bytes as they are, ``invoke_stream.py``)."""
    if value not in ("BUFFERED", "RESPONSE_STREAM"):
        raise wire.validation(
            str(value), "invokeMode", "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
        )
    return str(value)


def _object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or {} (the management handler then answers what is wrong)."""
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _reply(data: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "x-amzn-RequestId": wire.new_request_id()},
    )
