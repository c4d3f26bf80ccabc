"""The subcommands of the ``%lambda`` line magic; each is one call into the headless API.

A subcommand takes the magics object (for the namespace and the Lab) and the rest of the line,
and returns what should be displayed. Its docstring is its help and ends with its Python
equivalent; ``line_help()`` joins them into ``%lambda?``, as plain text (``logtext.plain``). The ones that
generate load (``load``, ``panel``) are ``lambdalab.jupyter.load_commands``'; which Lab holds NAME is
``targets.function``'s answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, Protocol

from IPython.core.error import UsageError

from lambdalab import runtime_ids
from lambdalab.api import Lab
from lambdalab.jupyter import session, targets
from lambdalab.jupyter._args import (
    add_logging_options,
    add_package_options,
    env_pairs,
    event_value,
    logging_options,
    new_parser,
    package_options,
    parse,
    scaling_changes,
)
from lambdalab.jupyter.load_commands import LOAD, PANEL, load, panel
from lambdalab.logtext import plain, readable


class MagicsContext(Protocol):
    """What a subcommand uses of the magics object (``LambdaMagics``)."""

    @property
    def lab(self) -> Lab: ...

    @property
    def user_ns(self) -> dict[str, Any]: ...


def add_config_options(parser: argparse.ArgumentParser, *, for_update: bool) -> None:
    """The configuration options (shared by ``%lambda config`` and the panel's defaults)."""
    parser.add_argument("--memory", "-m", type=int, help="memory in MB, 128-10240")
    parser.add_argument("--timeout", "-t", type=float, help="timeout in seconds, 1-900")
    parser.add_argument("--handler", help="'function' or 'module.function'")
    parser.add_argument(
        "--runtime",
        help="'python', 'python-ric', 'nodejs', 'nodejs-ric', 'provided', or Lambda's "
        f"identifier ({runtime_ids.INTERPRETER}, nodejs20.x, provided.al2023...) of one installed here",
    )
    parser.add_argument(
        "--env",
        "-e",
        action="append",
        metavar="KEY=VALUE",
        help="environment variable (repeatable; replaces all of them)",
    )
    parser.add_argument("--reserved", type=int, help="reserved concurrency")
    parser.add_argument("--provisioned", type=int, help="provisioned concurrency")
    parser.add_argument("--keep-alive", dest="keep_alive", type=float, help="seconds an idle environment is kept")
    if for_update:
        parser.add_argument(
            "--freeze", dest="freeze", action="store_true", default=None, help="freeze idle environments"
        )
        parser.add_argument("--no-freeze", dest="freeze", action="store_false", help="do not freeze idle environments")
        parser.add_argument(
            "--snap-start",
            dest="snap_start",
            action="store_true",
            default=None,
            help="SnapStart on published versions (NAME.publish() snapshots the init)",
        )
        parser.add_argument("--no-snap-start", dest="snap_start", action="store_false", help="SnapStart off")
        parser.add_argument(
            "--max-environments",
            dest="max_environments",
            type=_cap,
            metavar="N|none",
            help="Managed Instances: at most N environments (none: no cap); in place, environments stay warm",
        )


def _cap(text: str) -> int | None:
    """``--max-environments``' value: a whole number, or ``none`` (no cap)."""
    return None if text.strip().lower() == "none" else int(text)


def invoke(magics: MagicsContext, rest: str) -> Any:
    """``%lambda invoke NAME [JSON | $variable]``: invoke synchronously and show the result card.

    The event is the rest of the line as JSON (no quoting needed), or ``$variable`` for a value
    in the namespace; none sends ``{}``.

    Python equivalent: ``lab.function(NAME).invoke(event)``
    """
    name, _, raw = rest.partition(" ")
    if not name or name.startswith("-"):
        raise UsageError("usage: %lambda invoke NAME [JSON | $variable]")
    event = event_value(raw, magics.user_ns)
    return targets.function(magics.lab, name).invoke(event)


def list_(magics: MagicsContext, rest: str) -> Any:
    """``%lambda list``: the registered functions, one row each.

    Once a cell deployed to AWS, the AWS Lab's functions are listed too, and a ``target`` column says where each
    runs (``environments`` is empty for those: AWS does not show them).

    Python equivalent: ``[lab.function(n).config for n in lab.functions()]``
    """
    import pandas as pd

    from lambdalab.jupyter.display import code_hash

    if rest:
        raise UsageError("%lambda list takes no arguments")
    lab = magics.lab
    rows = []
    for name in lab.functions():
        fn = lab.function(name)
        rows.append(
            {
                "name": name,
                "runtime": fn.config.runtime,
                "memory_mb": fn.config.memory_mb,
                "timeout_s": fn.config.timeout_s,
                "handler": fn.config.full_handler,
                "environments": len(fn.environments()),
                "code": code_hash(fn)[:12],
                "target": session.LOCAL,
            }
        )
    remote = session.existing_aws_lab()
    rows += targets.remote_rows(remote) if remote is not None else []
    columns = ["name", "runtime", "memory_mb", "timeout_s", "handler", "environments", "code"]
    if remote is None:
        return pd.DataFrame(rows, columns=columns)
    table = pd.DataFrame(rows, columns=[*columns, "target"])
    table["environments"] = table["environments"].astype("Int64")  # <NA> where AWS does not show them
    return table


_ENVS = new_parser("lambda envs")
_ENVS.add_argument("name")


def envs(magics: MagicsContext, rest: str) -> Any:
    """``%lambda envs NAME``: the function's live environments (id, state, frozen, invocations).

    Python equivalent: ``lab.function(NAME).environments()``
    """
    import pandas as pd

    args = parse(_ENVS, rest)
    fn = targets.function(magics.lab, args.name)
    targets.local_only(fn, targets.NOT_VISIBLE, f"%lambda logs {fn.name} shows its log streams, one per environment")
    rows = [dataclasses.asdict(environment) for environment in fn.environments()]
    return pd.DataFrame(rows, columns=["environment_id", "state", "frozen", "invocations"])


_LOGS = new_parser("lambda logs")
_LOGS.add_argument("name")
_LOGS.add_argument("--env", dest="environment", metavar="ID", help="one environment (an id or its unique prefix)")
_LOGS.add_argument("--tail", type=int, metavar="N", help="only the last N lines (a record counts as one)")


def logs(magics: MagicsContext, rest: str) -> None:
    """``%lambda logs NAME [--env ID] [--tail N]``: print the log streams (Lambda's lines).

    A record of several lines (an ``[ERROR]`` and its traceback), which Lambda keeps on one line by
    separating its lines with ``\\r``, is printed one line each, indented; ``--tail`` counts records.
    On AWS Lambda the lines come from CloudWatch Logs and ``--env`` is a log stream's name, or a prefix of the
    environment's id at its end (after ``]``).

    Python equivalent: ``print(lambdalab.logtext.readable(lab.function(NAME).logs(environment_id)))``
    (``logs()`` itself returns Lambda's text byte for byte)
    """
    args = parse(_LOGS, rest)
    fn = targets.function(magics.lab, args.name)
    environment = args.environment
    if environment:
        ids = fn.log_streams() if targets.is_remote(fn) else [env.environment_id for env in fn.environments()]
        # a log stream "2026/12/07/[$LATEST]d862cb05...": its whole name or the id after "]"
        matches = [env for env in ids if env.startswith(environment) or env.partition("]")[2].startswith(environment)]
        environment = matches[0] if len(matches) == 1 else environment
    text = fn.logs(environment)
    if args.tail is not None:
        if args.tail < 0:
            raise UsageError("--tail must be 0 or more")
        lines = text.rstrip("\n").split("\n")  # not splitlines(): a record's "\r" separators stay in it
        text = "\n".join(lines[-args.tail :] if args.tail else [])
    print(readable(text.rstrip("\n")))


_KILL = new_parser("lambda kill")
_KILL.add_argument("name")


def kill(magics: MagicsContext, rest: str) -> None:
    """``%lambda kill NAME``: shut down every environment of NAME now.

    Invocations still running end with an error; the next invoke starts a new environment (a cold
    start).

    Python equivalent: ``lab.function(NAME).kill()``
    """
    args = parse(_KILL, rest)
    fn = targets.function(magics.lab, args.name)
    targets.local_only(fn, "no call ends its environments", "any %lambda config change makes the next invoke cold")
    before = len(fn.environments())
    fn.kill()
    print(f"{fn.name}: {before} environment(s) retired; the next invoke starts a new one")


_CONFIG = new_parser("lambda config")
_CONFIG.add_argument("name")
add_config_options(_CONFIG, for_update=True)
add_package_options(_CONFIG, for_update=True)
add_logging_options(_CONFIG)
_CONFIG_FIELDS = {
    "memory": "memory_mb",
    "timeout": "timeout_s",
    "handler": "handler",
    "runtime": "runtime",
    "freeze": "freeze",
    "snap_start": "snap_start",
}


def config(magics: MagicsContext, rest: str) -> Any:
    """``%lambda config NAME [--memory MB] [--timeout S] [...]``: show, or change, the configuration.

    With options, deploys the changed configuration (the code is unchanged; environments
    retire). ``--env`` replaces all environment variables, ``--layer`` all layers, ``--requirements``
    the requirements.

    ``--max-environments N`` (Managed Instances) changes the cap in place (``.set_max_environments(N)``: no redeploy).

    Python equivalent: ``lab.function(NAME).config`` / ``lab.function(NAME).update(memory_mb=...)``
    """
    args = parse(_CONFIG, rest)
    fn = targets.function(magics.lab, args.name)
    if targets.is_remote(fn):
        targets.check_remote(args)
    changes = {
        field: getattr(args, option) for option, field in _CONFIG_FIELDS.items() if getattr(args, option) is not None
    }
    if args.env is not None:
        changes["env_vars"] = env_pairs(args.env)
    changes.update(package_options(args, given_only=True))
    changes.update(logging_options(args, given_only=True))
    scaling = scaling_changes(args)
    if targets.is_remote(fn):
        changes, scaling = targets.remote_options(changes), targets.remote_options(scaling)
    if set(changes) - {"progress", "pip_args"} or scaling:
        fn.update(**changes, **scaling)
    if any(word.startswith("--max-environments") for word in rest.split()):  # Managed Instances' cap, in place
        fn.set_max_environments(args.max_environments)
    return fn


_BOARD = new_parser("lambda board")
_BOARD.add_argument("name")


def board(magics: MagicsContext, rest: str) -> Any:
    """``%lambda board NAME``: a live board of NAME's environments, one tile each, coloured by its state.

    The tiles change as the environments initialise, invoke, freeze and shut down (a load run in
    another cell, or ``--background``, shows it happening); hover a tile for its request id and age.
    ``.stop()`` ends the updates.

    Python equivalent: ``lambdalab.jupyter.board.board(lab.function(NAME))``
    """
    from lambdalab.jupyter.board import board as make_board

    args = parse(_BOARD, rest)
    return make_board(targets.function(magics.lab, args.name))


_WATCH = new_parser("lambda watch")
_WATCH.add_argument("name")
_WATCH.add_argument("path", nargs="?", help="a file or folder (default: what NAME was created from with --path)")
_WATCH.add_argument("--stop", action="store_true", help="stop watching NAME")
_WATCHERS: dict[tuple[int, str], Any] = {}  # (id of the Lab, NAME) -> its Watcher: one per function


def watch(magics: MagicsContext, rest: str) -> None:
    """``%lambda watch NAME [PATH] [--stop]``: redeploy NAME whenever PATH changes (hot reload).

    An edit of the file (or of any file in the folder) redeploys within about half a second: the
    environments retire, the next invoke is cold and its card shows the new code hash. A change that
    cannot deploy keeps the running code (``--stop`` prints why). The handler setting stays, as with
    UpdateFunctionCode: a cell's module is ``lambda_function``, so watch a ``lambda_function.py`` (or a folder
    holding it). Watching NAME again replaces the watcher;
    ``--stop`` ends it (closing the Lab does too).

    Python equivalent: ``watcher = lab.watch(NAME, PATH)`` and ``watcher.stop()``
    """
    args = parse(_WATCH, rest)
    lab = magics.lab
    key = (id(lab), args.name)
    previous = _WATCHERS.pop(key, None)
    if previous is not None:
        previous.stop()
    if args.stop:
        if previous is None:
            print(f"{args.name}: was not watched")
        else:
            failed = "".join(f"\n  not redeployed: {exc}" for exc in previous.errors)
            print(f"{args.name}: no longer watched ({previous.reloads} reload(s)){failed}")
        return
    fn = targets.function(lab, args.name)
    targets.local_only(fn, "watching files redeploys on this machine", "%%lambda NAME --on aws deploys a new version")
    watcher = lab.watch(fn, args.path)
    _WATCHERS[key] = watcher
    print(f"{args.name}: watching {', '.join(map(str, watcher.paths))} (code {fn.code_sha[:8]})")


def target(magics: MagicsContext, rest: str) -> None:
    """``%lambda target [local | aws [--region R] [--prefix P] [--role-arn ARN]]``: where cells deploy.

    ``aws`` sends later ``%%lambda`` cells to AWS Lambda through one ``lambdalab.aws.Lab`` for the kernel,
    made at the first deploy (credentials from boto3's usual chain); ``local`` back to this machine. With no
    argument, prints the target ("local", or "aws (REGION, prefix P)"). ``%%lambda NAME --on aws|local``
    picks one for one cell. Everything the AWS Lab created is deleted when the kernel's Lab closes.

    Python equivalent: ``lab = lambdalab.aws.Lab(region=R, prefix=P, role_arn=ARN)`` and its ``create_function``
    """
    targets.target(rest)


SUBCOMMANDS: dict[str, Callable[[MagicsContext, str], Any]] = {
    "invoke": invoke,
    "list": list_,
    "envs": envs,
    "logs": logs,
    "kill": kill,
    "config": config,
    "load": load,
    "panel": panel,
    "board": board,
    "target": target,
    "watch": watch,
}


def line_help() -> str:
    """``%lambda?``: every subcommand with its help and its Python equivalent, as plain text."""
    parts = ["%lambda SUBCOMMAND [ARGS]: one call into the headless API per subcommand.\n"]
    usage = {"load": LOAD, "panel": PANEL, "config": _CONFIG, "logs": _LOGS, "target": targets.TARGET, "watch": _WATCH}
    for name, command in SUBCOMMANDS.items():
        doc = plain(inspect.cleandoc(command.__doc__ or ""))
        title, _, body = doc.partition("\n")
        parts.append(title)
        if name in usage:  # the options, then the text that ends with the Python equivalent
            options = usage[name].format_help().split("options:", 1)[-1].strip("\n")
            parts.append("  options:\n" + options)
        parts.append(body.rstrip() + "\n")
    return "\n".join(parts)
