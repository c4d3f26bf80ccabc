"""Argument handling shared by the magics: splitting, events, env pairs, error mapping."""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from lambdalab.errors import CallerError

# option -> FunctionConfig field, for the scaling options
SCALING_OPTIONS = {
    "reserved": "reserved_concurrency",
    "provisioned": "provisioned_concurrency",
    "keep_alive": "keep_alive_s",
}


# the logging options (%%lambda and %lambda config): flags and argparse keywords, and the field each sets
LOGGING_ARGUMENTS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--log-format",),
        {
            "dest": "log_format",
            "type": str.upper,
            "choices": ("JSON", "TEXT"),
            "default": None,
            "help": "JSON: Lambda's JSON log format (platform.* records, logging records as JSON); default Text",
        },
    ),
    (
        ("--log-level",),
        {
            "dest": "application_log_level",
            "type": str.upper,
            "choices": ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"),
            "default": None,
            "help": "the application log level (JSON only; default INFO)",
        },
    ),
    (
        ("--system-log-level",),
        {
            "dest": "system_log_level",
            "type": str.upper,
            "choices": ("DEBUG", "INFO", "WARN"),
            "default": None,
            "help": "the level of the platform's records (JSON only; default INFO)",
        },
    ),
)


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    for flags, kwargs in LOGGING_ARGUMENTS:
        parser.add_argument(*flags, **kwargs)


def logging_options(args: argparse.Namespace, *, given_only: bool = False) -> dict[str, Any]:
    """``log_format`` and the two levels for the API: those given (all of them, Text by default, unless
    ``given_only``)."""
    out = {
        field: getattr(args, field)
        for field in ("log_format", "application_log_level", "system_log_level")
        if getattr(args, field) is not None or not given_only
    }
    if "log_format" in out:
        out["log_format"] = out["log_format"] or "Text"
    return out


@contextlib.contextmanager
def caller_errors() -> Iterator[None]:
    """Show a caller's mistake as a ``UsageError`` (one line, no traceback)."""
    try:
        yield
    except CallerError as exc:
        raise UsageError(str(exc)) from None


def parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """Split like a shell (quotes group, JSON survives) and parse; errors are ``UsageError``."""
    try:
        argv = shlex.split(line, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot split the options: {exc}") from None
    return parser.parse_args(argv)


def env_pairs(items: list[str] | None) -> dict[str, str]:
    """``["K=V", ...]`` as a dict; a missing ``=`` is a ``UsageError``."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --env {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def add_package_options(parser: argparse.ArgumentParser, *, for_update: bool = False) -> None:
    """What a function ships besides its code: dependencies, layers, the kernel's packages (opt-in)."""
    parser.add_argument(
        "--requirements",
        metavar="'REQ ...'",
        default=None,
        help='requirements built like pip install -t, e.g. "requests==2.32.3 attrs" (cached)',
    )
    parser.add_argument(
        "--layer",
        action="append",
        metavar="PATH|ARN",
        default=None,
        help="a layer: a local folder or .zip, or a layer version ARN (repeatable, up to 5; later wins)",
    )
    parser.add_argument(
        "--inherit-packages",
        dest="inherit_packages",
        action="store_true",
        default=None if for_update else False,
        help="also import from the kernel's packages (quick experiments; not as on Lambda)",
    )
    if for_update:
        parser.add_argument(
            "--no-inherit-packages",
            dest="inherit_packages",
            action="store_false",
            help="import only the package, its layers and the runtime",
        )
    parser.add_argument(
        "--pip-args",
        dest="pip_args",
        metavar="'ARGS'",
        default=None,
        help='extra pip options for --requirements, e.g. "--no-index --find-links ./wheels"',
    )


def package_options(args: argparse.Namespace, *, given_only: bool = False) -> dict[str, Any]:
    """``requirements``, ``layers``, ``inherit_packages``, ``pip_args`` (and ``progress``) for the API."""
    out: dict[str, Any] = {}
    if args.requirements is not None or not given_only:
        out["requirements"] = tuple(split_words(args.requirements or "", "--requirements"))
    if args.layer is not None or not given_only:
        out["layers"] = tuple(args.layer or ())
    if args.inherit_packages is not None:
        out["inherit_packages"] = args.inherit_packages
    if args.pip_args is not None:
        out["pip_args"] = tuple(split_words(args.pip_args, "--pip-args"))
    if out.get("requirements"):
        out["progress"] = print
    return out


def split_words(text: str, option: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"invalid {option} {text!r}: {exc}") from None


def scaling_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The scaling options that were given, as ``FunctionConfig`` field names."""
    return {
        field: getattr(args, option) for option, field in SCALING_OPTIONS.items() if getattr(args, option) is not None
    }


def managed_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--per-environment N`` (Lambda Managed Instances) and ``--max-environments N`` as API keywords.

    Managed Instances writes JSON logs and never freezes: without ``--log-format`` the cell asks for JSON (an
    explicit ``--log-format text`` is refused by the configuration), and freezing is off. Without
    ``--per-environment`` the function is a classic one (re-running the cell of a Managed Instances function without
    it is refused: the mode is fixed at creation).
    """
    per, most = getattr(args, "per_environment", None), getattr(args, "max_environments", None)
    if per is None:
        if most is not None:
            raise UsageError("--max-environments is a Managed Instances setting: give --per-environment N too")
        return {"max_concurrency_per_environment": None}
    out: dict[str, Any] = {"max_concurrency_per_environment": per, "freeze": False}
    if getattr(args, "log_format", None) is None:
        out["log_format"] = "JSON"
    if most is not None:
        out["max_environments"] = most
    return out


def event_value(text: str | None, user_ns: dict[str, Any]) -> Any:
    """An event from JSON text or ``$variable`` (the variable's value, not its str); ``None`` if empty."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("$") and text[1:].isidentifier():
        if text[1:] not in user_ns:
            raise UsageError(f"no variable named {text[1:]!r} for the event")
        return user_ns[text[1:]]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"invalid event: not JSON ({exc}); pass JSON or $variable") from None


def new_parser(prog: str) -> MagicArgumentParser:
    return MagicArgumentParser(prog=prog)  # type: ignore[no-untyped-call]  # IPython types no __init__ here
