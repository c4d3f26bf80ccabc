"""``%%lambda`` (register a cell as a function) and ``%lambda`` (invoke, list, envs, logs, ...).

Each magic parses its line, makes one call into the headless API and returns what it got for
display. Caller mistakes (``CallerError``: ``ConfigError``, ``UnknownFunctionError``, ...) become
``UsageError`` here, so the notebook shows one line and no traceback; nothing else is converted.
The cell body of ``%%lambda`` is the handler module: it is written to the function's task root
and never executed in the kernel.
"""

from __future__ import annotations

import argparse
import keyword
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from IPython.core import magic, magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class, no_var_expand
from IPython.display import display as ipython_display
from traitlets import Float, Integer

from lambdalab import runtime_ids
from lambdalab.api import Lab
from lambdalab.jupyter import session, targets
from lambdalab.jupyter._args import (
    LOGGING_ARGUMENTS,
    caller_errors,
    env_pairs,
    event_value,
    logging_options,
    managed_options,
    package_options,
    parse,
    scaling_changes,
)
from lambdalab.jupyter.commands import SUBCOMMANDS, line_help
from lambdalab.logtext import plain

_Method = TypeVar("_Method", bound=Callable[..., Any])


class _Decorator(Protocol):
    """What IPython's magic decorators do to a method: record it, and return it unchanged."""

    def __call__(self, method: _Method, /) -> _Method: ...


# IPython's decorators as they are used here: magic_arguments' are untyped, and the magic markers are
# typed as returning "a decorator or the function", a union mypy cannot resolve; given a name or
# options, each returns a _Decorator. ``display`` is untyped too.
cell_magic = cast(Callable[[str], _Decorator], magic.cell_magic)
line_magic = cast(Callable[[str], _Decorator], magic.line_magic)
with_arguments = cast(Callable[[str], _Decorator], magic_arguments.magic_arguments)
argument = cast(Callable[..., _Decorator], magic_arguments.argument)
display = cast(Callable[[object], None], ipython_display)


RUNTIME_HELP = (
    f"'python' (lambdalab's client; default), 'python-ric' (AWS's awslambdaric), 'nodejs' (JavaScript), "
    "'nodejs-ric' (AWS's aws-lambda-ric), 'provided' (a custom runtime: the cell is the bootstrap), or "
    f"Lambda's identifier ({runtime_ids.INTERPRETER}, nodejs20.x, provided.al2023...) of one installed here"
)


@magics_class
class LambdaMagics(Magics):
    """The lambdalab magics. Defaults are configurable: ``%config LambdaMagics.default_memory_mb = 256``."""

    default_memory_mb = Integer(128, help="--memory when a %%lambda cell gives none").tag(config=True)
    default_timeout_s = Float(3.0, help="--timeout when a %%lambda cell gives none").tag(config=True)

    @property
    def lab(self) -> Lab:
        return session.default_lab()

    @property
    def user_ns(self) -> dict[str, Any]:
        """The namespace of the shell these magics are registered in."""
        if self.shell is None:
            raise UsageError("the lambdalab magics are not registered in an IPython shell")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    @with_arguments("%lambda")  # the help formatter adds one more %: "%%lambda"
    @argument("name", help="the function's name (1-64 letters, digits, '-' or '_'); also bound in the namespace")
    @argument("--memory", "-m", type=int, default=None, help="memory in MB, 128-10240 (default 128)")
    @argument("--timeout", "-t", type=float, default=None, help="timeout in seconds, 1-900 (default 3)")
    @argument(
        "--handler",
        default="handler",
        help="'function' (default 'handler': in module lambda_function for Python, index for Node.js) or "
        "'module.function'; a custom runtime's bootstrap reads it from _HANDLER",
    )
    @argument("--runtime", default="python", help=RUNTIME_HELP)
    @argument(
        "--path",
        default=None,
        metavar="PATH",
        help="the code from a folder, a .zip or a file instead of the cell (for --runtime provided a script or "
        "a compiled binary, which becomes the bootstrap); the cell then holds only comments",
    )
    @argument("--env", "-e", action="append", metavar="KEY=VALUE", help="an environment variable (repeatable)")
    @argument("--reserved", type=int, default=None, help="reserved concurrency (only passed when given)")
    @argument("--provisioned", type=int, default=None, help="provisioned concurrency (only passed when given)")
    @argument(
        "--keep-alive",
        dest="keep_alive",
        type=float,
        default=None,
        help="seconds an idle environment is kept before it shuts down (only passed when given)",
    )
    @argument("--no-freeze", action="store_true", help="do not freeze (SIGSTOP) idle environments")
    @argument(
        "--per-environment",
        dest="per_environment",
        type=int,
        default=None,
        metavar="N",
        help="Lambda Managed Instances: N runtime workers per environment serve N requests at once (1-1600; "
        "JSON logs, no freeze; fixed at creation)",
    )
    @argument(
        "--max-environments",
        dest="max_environments",
        type=int,
        default=None,
        metavar="N",
        help="Managed Instances only: at most N environments; with every worker busy a new request is throttled",
    )
    @argument(
        "--snap-start",
        dest="snap_start",
        action="store_true",
        help="SnapStart on published versions: NAME.publish() snapshots the init; its new environments restore it",
    )
    @argument(*LOGGING_ARGUMENTS[0][0], **LOGGING_ARGUMENTS[0][1])
    @argument(*LOGGING_ARGUMENTS[1][0], **LOGGING_ARGUMENTS[1][1])
    @argument(*LOGGING_ARGUMENTS[2][0], **LOGGING_ARGUMENTS[2][1])
    @argument(
        "--requirements",
        metavar="'REQ ...'",
        default=None,
        help='requirements built like pip install -t, e.g. "requests==2.32.3 attrs" (cached)',
    )
    @argument(
        "--layer",
        action="append",
        metavar="PATH|ARN",
        default=None,
        help="a layer: a local folder or .zip, or a layer version ARN (repeatable, up to 5; later wins)",
    )
    @argument(
        "--inherit-packages",
        dest="inherit_packages",
        action="store_true",
        default=False,
        help="also import from the kernel's packages (quick experiments; not as on Lambda)",
    )
    @argument(
        "--pip-args",
        dest="pip_args",
        metavar="'ARGS'",
        default=None,
        help='extra pip options for --requirements, e.g. "--no-index --find-links ./wheels"',
    )
    @argument(
        "--invoke",
        metavar="JSON",
        default=None,
        help="invoke right after registering, with this event (JSON or $variable)",
    )
    @argument(
        "--on",
        choices=session.TARGETS,
        default=None,
        help="deploy this cell on this machine (local) or to AWS Lambda (aws); default: %%lambda target's",
    )
    @no_var_expand
    @cell_magic("lambda")
    def lambda_cell(self, line: str, cell: str) -> Any:
        """Register the cell as function NAME; the cell body is the handler module (not run here).

        The cell is Python (``--runtime python``, the default), JavaScript (``--runtime nodejs``: an ES
        module when it uses ``export``/``import``, else CommonJS; ``index.handler`` by default) or, for
        ``--runtime provided``, the ``bootstrap`` itself, a script starting with a ``#!`` line that speaks
        the Runtime API (``$AWS_LAMBDA_RUNTIME_API``). ``--path`` takes the code from a folder, a .zip or
        a file instead (a compiled ``bootstrap`` binary for ``provided``); the cell then holds only comments.

        Binds NAME in the namespace to the ``Function`` and shows its card. Running the cell
        again deploys the cell's code and the line's configuration as a new version: the old
        environments retire and the next invoke is cold. Options left out take their defaults,
        except --reserved/--provisioned/--keep-alive, which are only passed when given. A bad
        option or value is a UsageError and registers nothing.

        The handler imports only its cell, its ``--requirements`` (built with pip, progress printed),
        its ``--layer``s and the runtime (the standard library and boto3), as on Lambda;
        ``--inherit-packages`` opts into the kernel's packages.

        ``--on aws`` (or ``%lambda target aws`` for every later cell) deploys to AWS Lambda through the kernel's
        ``lambdalab.aws.Lab``; an option of this machine only (--provisioned, --keep-alive, --no-freeze,
        --inherit-packages) is then a UsageError. Later ``%lambda`` subcommands find NAME in the
        Lab that deployed it last.

        Python equivalent: ``fn = lab.create_function(NAME, source=cell, memory_mb=..., ...)``,
        or ``fn.update(source=cell, memory_mb=..., ...)`` when NAME exists (``path=PATH`` for ``--path``;
        ``lab = lambdalab.aws.Lab()`` for ``--on aws``).
        """
        args = parse(_CELL_PARSER, line)
        if args.path is not None and any(
            not line.lstrip().startswith(("#", "//")) for line in cell.splitlines() if line.strip()
        ):
            raise UsageError(
                "--path takes the code from PATH: the cell may hold only comments ('# code in PATH'); "
                "drop --path to deploy the cell"
            )
        code = {"path": args.path} if args.path is not None else {"source": cell}
        event = event_value(args.invoke, self.user_ns) if args.invoke is not None else None
        options = {
            "handler": args.handler,
            "runtime": args.runtime,
            "env_vars": env_pairs(args.env),
            "memory_mb": args.memory if args.memory is not None else self.default_memory_mb,
            "timeout_s": args.timeout if args.timeout is not None else self.default_timeout_s,
            "freeze": not args.no_freeze,
            "snap_start": args.snap_start,
            **package_options(args),
            **logging_options(args),
        }
        options.update(managed_options(args))
        where = targets.where_for(args.on)
        if where == session.AWS:
            targets.check_remote(args)
            with caller_errors(), targets.remote_errors():
                given = {**options, **scaling_changes(args)}
                if not given["snap_start"]:  # SnapStart is sent to Lambda only when asked for
                    del given["snap_start"]
                remote = targets.remote_options(given)
                fn = self._register(session.aws_lab(), args.name, code, remote)
        else:
            with caller_errors():
                fn = self._register(self.lab, args.name, code, {**options, **scaling_changes(args)})
        session.note_deployed(args.name, where)
        if args.name.isidentifier() and not keyword.iskeyword(args.name):
            self.user_ns[args.name] = fn
        if args.invoke is None:
            return fn
        display(fn)
        with caller_errors(), targets.remote_errors():
            return fn.invoke(event)

    @staticmethod
    def _register(lab: Any, name: str, code: dict[str, Any], options: dict[str, Any]) -> Any:
        """Create NAME in ``lab`` (this machine's or AWS's), or update it when it exists there."""
        if name in lab.functions():
            return lab.function(name).update(**code, **options)
        return lab.create_function(name, **code, **options)

    @no_var_expand
    @line_magic("lambda")
    def lambda_line(self, line: str) -> Any:
        """(help is built from the subcommands; see commands.py)"""
        sub, _, rest = line.strip().partition(" ")
        command = SUBCOMMANDS.get(sub)
        if command is None:
            if sub in ("", "help", "-h", "--help"):
                print(line_help())
                return None
            raise UsageError(f"unknown subcommand {sub!r}; expected one of {', '.join(SUBCOMMANDS)} (see %lambda?)")
        with caller_errors(), targets.remote_errors():
            return command(self, rest.strip())

    lambda_line.__doc__ = line_help()


# the parser magic_arguments built from the options above (it also wrote them into the cell magic's help)
_CELL_PARSER: argparse.ArgumentParser = vars(LambdaMagics.lambda_cell)["parser"]
# ``%%lambda?`` and ``%lambda?`` show plain text: no reStructuredText markup (``x``, a "::" line) from the docstrings
_CELL_PARSER.description = plain(_CELL_PARSER.description)
LambdaMagics.lambda_cell.__doc__ = plain(LambdaMagics.lambda_cell.__doc__)
