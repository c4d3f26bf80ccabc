"""The minimal execution role a Lab creates for its functions, and its removal.

The role trusts ``lambda.amazonaws.com`` and carries AWS's managed ``AWSLambdaBasicExecutionRole`` (write to
CloudWatch Logs, nothing else), under IAM path ``/lambdalab/``, tagged with the Lab's id and prefix so
``lambdalab aws cleanup`` finds it. IAM is eventually consistent: a role just created may not be assumable by
Lambda for some seconds, so ``retry_new_role`` repeats a call that Lambda refuses for that reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from lambdalab.aws.clients import error_code, error_message, paginate

T = TypeVar("T")

PATH = "/lambdalab/"
BASIC_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
NOT_ASSUMABLE = "cannot be assumed by Lambda"  # in Lambda's InvalidParameterValueException for a role too new
ROLE_WAIT_S = 15.0


def role_name(prefix: str, lab_id: str) -> str:
    return f"{prefix}exec-{lab_id}"


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def create_role(iam: Any, name: str, tags: dict[str, str]) -> str:
    """Create the execution role ``name`` and attach the basic policy; returns its ARN.

    When CreateRole fails but the role exists carrying exactly ``tags`` (its reply was lost after IAM made it;
    botocore's retry then meets ``EntityAlreadyExists``), that role is this call's and is used."""
    try:
        arn = str(
            iam.create_role(
                RoleName=name,
                Path=PATH,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description="lambdalab: execution role of one Lab's functions (CloudWatch Logs only)",
                Tags=tag_list(tags),
            )["Role"]["Arn"]
        )
    except Exception:
        found = tagged_role(iam, name, tags)
        if found is None:
            raise
        arn = found
    try:
        iam.attach_role_policy(RoleName=name, PolicyArn=BASIC_POLICY)
    except Exception:
        delete_role(iam, name)  # leave nothing half made
        raise
    return arn


def tagged_role(iam: Any, name: str, tags: dict[str, str]) -> str | None:
    """The ARN of role ``name`` if it exists under ``/lambdalab/`` with every one of ``tags`` (GetRole)."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception:
        return None
    found = {t["Key"]: t["Value"] for t in role.get("Tags") or []}
    if role.get("Path") != PATH or any(found.get(k) != v for k, v in tags.items()):
        return None
    return str(role["Arn"])


def delete_role(iam: Any, name: str) -> bool:
    """Detach the role's policies, delete its inline ones, then the role; False if it was already gone."""
    try:
        for policy in paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=name):
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy_name in paginate(iam, "list_role_policies", "PolicyNames", RoleName=name):
            iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        iam.delete_role(RoleName=name)
    except Exception as exc:
        if error_code(exc) in ("NoSuchEntity", "NoSuchEntityException") or _is_unknown(exc):
            return False
        raise
    return True


def retry_new_role(call: Callable[[], T], wait_s: float = ROLE_WAIT_S, pause_s: float = 1.0) -> T:
    """``call()``, repeated while Lambda says the (new) role cannot be assumed yet, for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return call()
        except Exception as exc:
            if (
                error_code(exc) != "InvalidParameterValueException"
                or NOT_ASSUMABLE not in error_message(exc)
                or time.monotonic() + pause_s > deadline
            ):
                raise
        time.sleep(pause_s)


def _is_unknown(exc: BaseException) -> bool:
    from lambdalab.errors import UnknownFunctionError

    return isinstance(exc, UnknownFunctionError)
