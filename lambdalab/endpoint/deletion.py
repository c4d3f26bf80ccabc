"""DeleteFunction over the endpoint (AWS Lambda API reference): the whole function, or one published version.

Unqualified: ``Lab.delete_function`` (its environments shut down now), then the endpoint forgets what it kept
(metadata, tags, policies, event invoke configs) and stops the function's URLs. With ``Qualifier`` a version
number: ``Function.delete_version``; ``$LATEST``, an alias, or a version an alias routes to are refused as
Lambda refuses them.

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.endpoint.management import LATEST, call, existing
from lambdalab.endpoint.resources import extras

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint


async def delete_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = endpoint.function_name(request)
    fn = existing(endpoint, name)
    if qualifier is None:
        await call(endpoint, endpoint.lab.delete_function, name)
        endpoint.metas.pop(name, None)
        endpoint.extras.pop(name, None)
        stopping = [key for key in endpoint.urls if key[0] == name]
    else:
        if qualifier == LATEST:
            raise wire.invalid("$LATEST version cannot be deleted without deleting the function.")
        aliases = fn.aliases()
        if qualifier in aliases:
            raise wire.invalid(f"Deletion of aliases is not supported by DeleteFunction: use DeleteAlias ({qualifier})")
        if qualifier not in fn.versions():
            raise wire.not_found(fn.arn(qualifier))
        users = sorted(a for a, entry in aliases.items() if qualifier == entry.version or qualifier in entry.weights)
        if users:
            raise wire.conflict(
                f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]"
            )
        await call(endpoint, fn.delete_version, qualifier)
        extras(endpoint, name).forget(qualifier)
        stopping = [(name, qualifier)] if (name, qualifier) in endpoint.urls else []
    for key in stopping:
        await endpoint.urls.pop(key).stop()
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})
