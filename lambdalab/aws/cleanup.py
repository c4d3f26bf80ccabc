"""Finding and removing what AWS Labs left: ``cleanup`` (the CLI's ``lambdalab aws cleanup``).

A resource is lambdalab's when its name starts with the prefix and it carries the ``lambdalab:lab`` tag (any Lab's,
or ``lab_id``'s) and the ``lambdalab:prefix`` tag equal to the prefix (another prefix that starts the same, like
``lambdalab-team-``, is another set of Labs'): functions (ListFunctions + ListTags), execution roles (ListRoles
under ``/lambdalab/`` + ListRoleTags). Layers have no tags: theirs are the names ``{prefix}{8 hex lab id}-...``.
Log groups ``/aws/lambda/{name}`` go with a function found above. A group whose function no longer exists carries
no mark of who made it: it is listed only when asked (``orphans=True``, ``--orphan-log-groups``), and never with
``lab_id``.

One line per resource, ``function ARN``, ``layer ARN``, ``role ARN``, ``log-group NAME``, in that order;
deleted unless ``dry_run``. Nothing is deleted that was not listed.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

from lambdalab.aws import roles
from lambdalab.aws.clients import call, paginate, region_of, session_or_default, translate
from lambdalab.errors import ConfigError, UnknownFunctionError

TAG = "lambdalab:lab"
PREFIX_TAG = "lambdalab:prefix"
_LAB_ID = re.compile(r"[0-9a-f]{8}")


def cleanup(
    session: Any = None,
    *,
    prefix: str = "lambdalab-",
    lab_id: str | None = None,
    region: str | None = None,
    dry_run: bool = False,
    orphans: bool = False,
) -> list[str]:
    """List (and unless ``dry_run`` delete) what lambdalab's AWS Labs created under ``prefix`` (``lab_id``'s only,
    when given); returns one line per resource. ``orphans=True`` adds the log groups ``/aws/lambda/{prefix}...``
    whose function no longer exists, whoever made them (not with ``lab_id``: nothing says whose they are)."""
    if orphans and lab_id is not None:
        raise ConfigError("invalid options: orphan log groups carry no Lab's id; list them without lab_id")
    session = session_or_default(session)
    where = region_of(session, region)
    lam = session.client("lambda", region_name=where)
    iam = session.client("iam", region_name=where)
    logs = session.client("logs", region_name=where)

    all_functions = paginate(lam, "list_functions", "Functions")
    names = {str(f["FunctionName"]) for f in all_functions}
    functions = [
        f for f in all_functions if str(f["FunctionName"]).startswith(prefix) and _ours(lam, f, prefix, lab_id)
    ]
    layers = _layers(lam, prefix, lab_id)
    found_roles = _roles(iam, prefix, lab_id)
    ours = {str(f["FunctionName"]) for f in functions}
    groups = [
        str(g["logGroupName"])
        for g in paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=f"/aws/lambda/{prefix}")
        if (fn := str(g["logGroupName"]).removeprefix("/aws/lambda/")) in ours or (orphans and fn not in names)
    ]
    lines = (
        [f"function {f['FunctionArn']}" for f in functions]
        + [f"layer {arn}" for arn in layers]
        + [f"role {r['Arn']}" for r in found_roles]
        + [f"log-group {g}" for g in groups]
    )
    if not dry_run:
        for line in lines:
            kind, ident = line.split(" ", 1)
            delete_one(lam, logs, iam, kind, ident if kind != "function" else ident.rsplit(":", 1)[-1])
    return lines


def _ours(lam: Any, function: dict[str, Any], prefix: str, lab_id: str | None) -> bool:
    try:
        tags = call(lam.list_tags, Resource=function["FunctionArn"]).get("Tags") or {}
    except UnknownFunctionError:  # deleted meanwhile
        return False
    return _tagged(tags, prefix, lab_id)


def _tagged(tags: dict[str, str], prefix: str, lab_id: str | None) -> bool:
    return TAG in tags and tags.get(PREFIX_TAG) == prefix and (lab_id is None or tags[TAG] == lab_id)


def _layers(lam: Any, prefix: str, lab_id: str | None) -> list[str]:
    found = []
    for layer in paginate(lam, "list_layers", "Layers"):
        name = str(layer["LayerName"])
        rest = name[len(prefix) :] if name.startswith(prefix) else ""
        lab, dash = rest[:8], rest[8:9]
        if dash != "-" or not _LAB_ID.fullmatch(lab) or (lab_id is not None and lab != lab_id):
            continue
        for version in paginate(lam, "list_layer_versions", "LayerVersions", LayerName=name):
            found.append(str(version["LayerVersionArn"]))
    return found


def _roles(iam: Any, prefix: str, lab_id: str | None) -> list[dict[str, Any]]:
    found = []
    for role in paginate(iam, "list_roles", "Roles", PathPrefix=roles.PATH):
        if not str(role["RoleName"]).startswith(f"{prefix}exec-"):
            continue
        tags = {t["Key"]: t["Value"] for t in paginate(iam, "list_role_tags", "Tags", RoleName=role["RoleName"])}
        if _tagged(tags, prefix, lab_id):
            found.append(role)
    return found


def delete_one(lam: Any, logs: Any, iam: Any, kind: str, ident: str) -> None:
    """Delete one resource: a ``function`` (name or ARN), a ``layer`` version (ARN), a ``log-group`` (name) or a
    ``role`` (ARN; its policies detached first). One already gone is what was wanted."""
    try:
        if kind == "function":
            lam.delete_function(FunctionName=ident)
        elif kind == "layer":
            name, version = ident.rsplit(":", 2)[-2:]
            lam.delete_layer_version(LayerName=name, VersionNumber=int(version))
        elif kind == "log-group":
            logs.delete_log_group(logGroupName=ident)
        elif kind == "role":
            roles.delete_role(iam, ident.rsplit("/", 1)[-1])
        else:
            raise ValueError(f"unknown kind of resource: {kind!r}")
    except Exception as exc:
        if not isinstance(translate(exc), UnknownFunctionError):
            raise


def tagged_function(lam: Any, remote: str, tags: dict[str, str]) -> str | None:
    """The ARN of function ``remote`` if it exists carrying every one of ``tags`` (GetFunction, ListTags): a Lab's
    own function whose CreateFunction reply was lost."""
    try:
        arn = str(lam.get_function(FunctionName=remote)["Configuration"]["FunctionArn"])
        found = lam.list_tags(Resource=arn).get("Tags") or {}
    except Exception:  # not there, or not readable: not known to be the Lab's
        return None
    return arn if all(found.get(k) == v for k, v in tags.items()) else None


def left_behind(
    lab_id: str, prefix: str, region: str, created: list[tuple[str, str]], workdir: Path | None = None
) -> None:
    """Say what a Lab left on AWS, and remove its working folder (a Lab dropped without ``close``)."""
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)
    if created:
        print(
            f"lambdalab: AWS Lab {lab_id} left {len(created)} resources in {region}; remove them with: "
            + cleanup_command(lab_id, prefix, region),
            file=sys.stderr,
        )


def cleanup_command(lab_id: str, prefix: str, region: str) -> str:
    """The shell command that removes what Lab ``lab_id`` left."""
    return f"lambdalab aws cleanup --lab {lab_id} --prefix {prefix} --region {region}"


def layer_versions(lam: Any, layer_name: str) -> list[str]:
    """The ARNs of layer ``layer_name``'s versions, oldest first ([] if there is none or it cannot be read)."""
    try:
        found = paginate(lam, "list_layer_versions", "LayerVersions", LayerName=layer_name)
    except Exception:
        return []
    return [str(v["LayerVersionArn"]) for v in sorted(found, key=lambda v: int(v["Version"]))]
