"""Argument handling shared by the magics: splitting, events, env pairs, error mapping."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import shlex
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from lambdalab import FunctionConfig, Lab
from lambdalab.errors import CallerError

# option -> FunctionConfig field, for the scaling fields that may not exist in this version yet
SCALING_OPTIONS = {"reserved": "reserved_concurrency", "provisioned": "provisioned_concurrency",
                   "keep_alive": "keep_alive_s"}


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


def scaling_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The scaling options that were given, as ``FunctionConfig`` field names."""
    return {field: getattr(args, option) for option, field in SCALING_OPTIONS.items()
            if getattr(args, option, None) is not None}


def check_scaling_supported(changes: dict[str, Any], lab: Lab) -> None:
    """A ``UsageError`` naming the option when this Lab does not know a scaling field yet."""
    fields = {f.name for f in dataclasses.fields(FunctionConfig)}
    accepted = set(inspect.signature(lab.create_function).parameters)
    for option, field in SCALING_OPTIONS.items():
        if field in changes and (field not in fields or field not in accepted):
            raise UsageError(f"--{option.replace('_', '-')} is not supported by this version of lambdalab "
                             f"(FunctionConfig has no {field!r} yet)")


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
    return MagicArgumentParser(prog=prog)
