"""A function's resource-based policy: AddPermission, RemovePermission, GetPolicy (AWS Lambda API reference).

One policy per function and qualifier (unqualified, a version or an alias), kept by the endpoint
(``resources.py``) as Lambda's JSON document: ``{"Version": "2012-10-17", "Id": "default", "Statement": [...]}``,
each statement built from AddPermission's fields as Lambda writes it (``Principal`` as ``Service``, ``AWS``
or ``*``; ``SourceArn``, ``SourceAccount``, ``PrincipalOrgID``, ``EventSourceToken`` and
``FunctionUrlAuthType`` as ``Condition`` entries). Nothing is enforced: the endpoint checks no signature,
so a policy is recorded for the tools that write and read it (deploy tools, SAM, CDK).

Rules: handlers run on the loop; they raise ``wire.ApiError`` for every refusal.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.endpoint.management import existing, parse_json, reply
from lambdalab.endpoint.resources import Policy, extras

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint

_SID = re.compile(r"[a-zA-Z0-9-_.]{1,100}")
_CONDITIONS = (  # AddPermission field -> (condition operator, key), as Lambda writes them
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
)


def _target(endpoint: Endpoint, request: web.Request) -> tuple[str, str | None]:
    """(function, qualifier) of the policy; a qualifier that names nothing is a 404."""
    name, qualifier = endpoint.function_name(request)
    fn = existing(endpoint, name)
    if qualifier is not None and qualifier not in fn.aliases() and qualifier not in fn.versions():
        raise wire.not_found(fn.arn(qualifier))
    return name, qualifier


def _not_found() -> wire.ApiError:
    return wire.ApiError(404, "ResourceNotFoundException", "The resource you requested does not exist.", key="Message")


def _principal(principal: str) -> Any:
    if principal == "*":
        return "*"
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        return {"Service": principal}
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    return {"AWS": principal}


def statement(endpoint: Endpoint, name: str, qualifier: str | None, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Sid": body["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(str(body["Principal"])),
        "Action": body["Action"],
        "Resource": endpoint.lab.arn(name, qualifier),
    }
    condition: dict[str, dict[str, str]] = {}
    for field, operator, key in _CONDITIONS:
        if body.get(field) is not None:
            condition.setdefault(operator, {})[key] = str(body[field])
    if condition:
        out["Condition"] = condition
    return out


def _check_revision(policy: Policy | None, revision: str | None) -> None:
    if revision is not None and (policy is None or revision != policy.revision):
        raise wire.ApiError(
            412,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetPolicy API to retrieve the latest Revision Id",
        )


async def add_permission(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = _target(endpoint, request)
    body = parse_json(await request.read())
    for field in ("StatementId", "Action", "Principal"):
        if not isinstance(body.get(field), str):
            raise wire.invalid(f"{field} is required and must be a string")
    sid = body["StatementId"]
    if _SID.fullmatch(sid) is None:
        raise wire.validation(sid, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
    policies = extras(endpoint, name).policies
    policy = policies.get(qualifier)
    _check_revision(policy, body.get("RevisionId"))
    if policy is not None and any(s["Sid"] == sid for s in policy.statements):
        raise wire.conflict(
            "The statement id (sid) provided already exists. Please choose a new statement id, "
            "or remove the existing statement."
        )
    added = statement(endpoint, name, qualifier, body)
    statements = [*(policy.statements if policy else []), added]
    policies[qualifier] = Policy(statements, str(uuid.uuid4()))
    return reply({"Statement": json.dumps(added)}, 201)


async def remove_permission(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = _target(endpoint, request)
    sid = request.match_info["sid"]
    policies = extras(endpoint, name).policies
    policy = policies.get(qualifier)
    _check_revision(policy, request.query.get("RevisionId"))
    if policy is None or not any(s["Sid"] == sid for s in policy.statements):
        raise wire.ApiError(
            404, "ResourceNotFoundException", f"Statement {sid} is not found in resource policy.", key="Message"
        )
    statements = [s for s in policy.statements if s["Sid"] != sid]
    if statements:
        policies[qualifier] = Policy(statements, str(uuid.uuid4()))
    else:
        del policies[qualifier]
    return web.Response(status=204, headers={"x-amzn-RequestId": wire.new_request_id()})


async def get_policy(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, qualifier = _target(endpoint, request)
    policy = extras(endpoint, name).policies.get(qualifier)
    if policy is None:
        raise _not_found()
    document = {"Version": "2012-10-17", "Id": "default", "Statement": policy.statements}
    return reply({"Policy": json.dumps(document), "RevisionId": policy.revision})


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/2015-03-31/functions/{name}/policy", add_permission),
    ("GET", "/2015-03-31/functions/{name}/policy", get_policy),
    ("DELETE", "/2015-03-31/functions/{name}/policy/{sid}", remove_permission),
]
