"""Where a ``%%lambda`` cell deploys: this machine (``local``, the default) or AWS Lambda (``aws``).

``%lambda target aws [--region R] [--prefix P] [--role-arn ARN]`` sends later cells to the kernel's one
``lambdalab.aws.Lab`` (``session.aws_lab()``, made at the first deploy), ``%lambda target local`` back here, and
``%%lambda NAME --on aws|local`` picks one for one cell. Later subcommands find NAME in the Lab that deployed it
last (``session.lab_for``). A remote function takes only what Lambda's API can carry (``AWS_KEYWORDS``); an
option of this machine only (``LOCAL_ONLY``: the engine's keep-alive and freezing, the kernel's packages,
provisioned concurrency) given for AWS is a ``UsageError`` naming it, never silently dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError

from lambdalab.errors import InvokeError
from lambdalab.jupyter import session
from lambdalab.jupyter._args import new_parser, parse

NOT_VISIBLE = "environments are not visible on AWS Lambda"
DEFAULT_PREFIX = "lambdalab-"  # lambdalab.aws.Lab's default
DEFAULT_REGION = "us-east-1"  # where boto3 names none
# the API keywords a remote function takes (lambdalab.aws.Lab.create_function / Function.update)
AWS_KEYWORDS = frozenset(
    {
        "handler",
        "runtime",
        "env_vars",
        "memory_mb",
        "timeout_s",
        "requirements",
        "layers",
        "pip_args",
        "progress",
        "log_format",
        "application_log_level",
        "system_log_level",
        "reserved_concurrency",
        "snap_start",
    }
)
# options of this machine only: the argparse destination -> the option as written
LOCAL_ONLY = {
    "provisioned": "--provisioned",
    "keep_alive": "--keep-alive",
    "no_freeze": "--no-freeze",
    "freeze": "--freeze/--no-freeze",
    "inherit_packages": "--inherit-packages",
    "per_environment": "--per-environment",  # Managed Instances on AWS needs a capacity provider (its EC2 instances)
    "max_environments": "--max-environments",
}

# AWS's answers that mean "not you, or not allowed": the user's credentials or policy, shown as one line
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "UnauthorizedOperation",
    }
)

TARGET = new_parser("lambda target")
TARGET.add_argument("where", nargs="?", choices=session.TARGETS, help="local (this machine) or aws (AWS Lambda)")
TARGET.add_argument("--region", default=None, help="the AWS region (default: boto3's, else us-east-1)")
TARGET.add_argument("--prefix", default=None, help=f"prefix of every remote name (default {DEFAULT_PREFIX})")
TARGET.add_argument(
    "--role-arn",
    dest="role_arn",
    default=None,
    metavar="ARN",
    help="an execution role to use (default: a minimal one, made at the first deploy and deleted at the end)",
)


def describe() -> str:
    """The current target as one line: ``local``, or ``aws (us-east-1, prefix lambdalab-)``."""
    if session.target() == session.LOCAL:
        return session.LOCAL
    lab = session.existing_aws_lab()
    settings = session.aws_settings()
    region = getattr(lab, "region", None) or settings.get("region") or _boto3_region()
    prefix = getattr(lab, "prefix", None) or settings.get("prefix") or DEFAULT_PREFIX
    return f"{session.AWS} ({region}, prefix {prefix})"


def _boto3_region() -> str:
    import boto3

    return str(boto3.Session().region_name or DEFAULT_REGION)


def target(rest: str) -> None:
    """Show or set the target (``%lambda target``); see ``commands.target`` for the help."""
    args = parse(TARGET, rest)
    settings = {"region": args.region, "prefix": args.prefix, "role_arn": args.role_arn}
    given = [f"--{key.replace('_', '-')}" for key, value in settings.items() if value is not None]
    if args.where is None:
        if given:
            raise UsageError(f"{', '.join(given)} need the target: %lambda target aws {' '.join(given)} ...")
        print(describe())  # noqa: T201
        return
    if args.where == session.LOCAL and given:
        raise UsageError(f"{', '.join(given)} are settings of the aws target, not of local")
    try:
        session.set_target(args.where, **settings)
    except ValueError as exc:
        lab = session.existing_aws_lab()
        names = ", ".join(lab.functions()) if lab is not None else ""
        raise UsageError(
            f"the kernel's AWS Lab already holds {names} with another {exc}; deploy with its settings, or delete "
            "them first with lambdalab.jupyter.session.close_aws_lab()"
        ) from None
    if args.where == session.AWS:
        print(  # noqa: T201
            f"target: {describe()}: later %%lambda cells deploy to AWS Lambda (the Lab is made at the first "
            "deploy; everything it creates is deleted when the kernel's Lab closes)"
        )
    else:
        print("target: local: later %%lambda cells deploy on this machine")  # noqa: T201


def function(lab: Any, name: str) -> Any:
    """NAME in the Lab that deployed it last: the kernel's AWS Lab, or this machine's ``lab``."""
    if not name:
        raise UsageError("a function name is required")
    if session.owner(name) == session.AWS:
        return session.lab_for(name).function(name)
    return lab.function(name)  # UnknownFunctionError -> UsageError at the boundary


def where_for(on: str | None) -> str:
    """Where one cell deploys: its ``--on``, else the kernel's target."""
    return on if on is not None else session.target()


def local_only_given(args: argparse.Namespace) -> list[str]:
    """The options of this machine only that ``args`` gives (a ``%%lambda`` line's or ``%lambda config``'s)."""
    given = []
    for dest, flag in LOCAL_ONLY.items():
        value = getattr(args, dest, None)
        if dest == "freeze":
            value = value is not None  # %lambda config: --freeze or --no-freeze
        if value:
            given.append(flag)
    return given


def check_remote(args: argparse.Namespace) -> None:
    """A ``UsageError`` naming the options of this machine only, when a remote deploy is given any."""
    given = local_only_given(args)
    if given:
        raise UsageError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} not available on AWS Lambda "
            "(this machine only); drop them, or deploy with --on local"
        )


def remote_options(options: dict[str, Any]) -> dict[str, Any]:
    """The keywords a remote function takes, of those given (None values left out: the Lab's defaults)."""
    return {key: value for key, value in options.items() if key in AWS_KEYWORDS and value is not None}


def local_only(fn: Any, what: str, instead: str) -> None:
    """A ``UsageError`` for a subcommand a remote function cannot do: what it cannot, and what to do instead."""
    if is_remote(fn):
        raise UsageError(f"{fn.name} runs on AWS Lambda: {what}; {instead}")


def remote_rows(lab: Any) -> list[dict[str, Any]]:
    """``%lambda list``'s rows of an AWS Lab's functions, from their last GetFunctionConfiguration."""
    rows = []
    for name in lab.functions():
        config = lab.function(name).config
        rows.append(
            {
                "name": name,
                "runtime": config.get("Runtime"),
                "memory_mb": config.get("MemorySize"),
                "timeout_s": config.get("Timeout"),
                "handler": config.get("Handler"),
                "environments": None,  # not visible on AWS Lambda
                "code": str(config.get("CodeSha256", ""))[:12],
                "target": session.AWS,
            }
        )
    return rows


def is_remote(fn: Any) -> bool:
    """Whether ``fn`` runs on AWS (a ``lambdalab.aws.Function``: it has a ``remote_name``)."""
    return hasattr(fn, "remote_name")


@contextlib.contextmanager
def remote_errors() -> Iterator[None]:
    """Show AWS's refusals (no credentials, no endpoint, access denied) as a ``UsageError``: one line, no traceback."""
    try:
        yield
    except InvokeError as exc:
        if getattr(exc, "code", None) in ACCESS_CODES:
            raise UsageError(f"AWS Lambda: {exc}") from None
        raise
    except Exception as exc:
        botocore = sys.modules.get("botocore.exceptions")  # only loaded once something talked to AWS
        if botocore is not None and isinstance(exc, botocore.BotoCoreError):
            raise UsageError(f"AWS: {exc}") from None
        raise
