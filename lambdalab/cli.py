"""Command line: run a handler headless and print what Lambda would log; serve functions; make events.

    lambdalab invoke app.py --handler handler --event '{"x": 1}' --count 3
    lambdalab invoke index.mjs --runtime nodejs20.x
    lambdalab invoke ./bootstrap --runtime provided.al2023
    lambdalab serve [FOLDER | --template template.yaml] --port 3001
    lambdalab event s3_put --bucket photos --key cats/tom.jpg
    lambdalab aws cleanup --dry-run


Each invocation prints its log (START … REPORT; a multi-line record's lines each on their own line,
see ``lambdalab.logtext``) and its payload or error. The other front-end
(the notebook layer) calls the same ``Lab`` methods.

Exit codes: 0 done (also ``--help``, ``--version`` and a bare ``lambdalab``, which prints the help);
1 an invocation ended with a function error, or AWS refused (``aws cleanup``: no credentials, access
denied); 2 a usage error (an unknown option, kind or runtime, an event that is not JSON, a function that
cannot be created), as argparse does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lambdalab import __version__, runtime_ids
from lambdalab.api import Lab
from lambdalab.errors import CallerError, InvokeError, LambdaLabError
from lambdalab.logtext import readable

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_USAGE = 0, 1, 2

DESCRIPTION = "See how AWS Lambda runs your code: real execution environments on your own machine."
EXAMPLES = """\
examples:
  lambdalab invoke app.py --event '{"x": 1}' --count 3     run a handler, print its logs and results
  lambdalab invoke index.mjs --runtime nodejs20.x
  lambdalab serve ./functions --port 3001                  serve Lambda's API for boto3 and the aws CLI
  lambdalab event s3_put --bucket photos --key cats/tom.jpg    print a sample S3 event
  lambdalab event --help                                   list the event kinds
  lambdalab aws cleanup --dry-run                          list what lambdalab's AWS Labs left in your account

exit codes: 0 done, 1 an invocation ended with a function error (or AWS refused), 2 a usage error.
In a notebook: %load_ext lambdalab, then %%lambda and %lambda? (the same API)."""


def _runtime(name: str) -> str:
    """A name runtime_ids knows (whether it is installed is checked when the function is created)."""
    if runtime_ids.kind(name) is None:
        raise argparse.ArgumentTypeError(f"invalid runtime {name!r}; expected {runtime_ids.describe()}")
    return name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambdalab",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lambdalab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    invoke = commands.add_parser(
        "invoke",
        help="run a handler file or folder and print its logs",
        description="Run a handler in a fresh execution environment and print what Lambda would log "
        "(INIT_START, START ... REPORT) and each result: the payload, or the error as Lambda returns it.",
    )
    invoke.add_argument(
        "path",
        help="a handler file (.py, .mjs, .js), a folder or a .zip holding the handler module; "
        "for --runtime provided a folder holding bootstrap, or the bootstrap itself (script or binary)",
    )
    invoke.add_argument(
        "--handler",
        default="handler",
        help="'function' or 'module.function' (default: handler; a custom runtime's bootstrap reads it from _HANDLER)",
    )
    invoke.add_argument("--event", default="{}", help="the event as JSON (default: {})")
    invoke.add_argument("--count", type=int, default=1, help="how many sequential invokes (default: 1)")
    invoke.add_argument("--memory", type=int, default=128, help="memory in MB (default: 128)")
    invoke.add_argument("--timeout", type=float, default=3.0, help="timeout in seconds (default: 3)")
    invoke.add_argument(
        "--runtime",
        default="python",
        type=_runtime,
        metavar="RUNTIME",
        help=f"{runtime_ids.describe()} (default: python); Lab.runtimes() lists what is installed",
    )
    invoke.add_argument("--no-freeze", action="store_true", help="do not freeze environments between invokes")
    from lambdalab.endpoint.command import add_event_parser, add_serve_parser

    add_serve_parser(commands)
    add_event_parser(commands)
    _add_aws_parser(commands)
    return parser


def _add_aws_parser(commands: Any) -> None:
    aws = commands.add_parser(
        "aws",
        help="what lambdalab.aws Labs created in an AWS account (cleanup)",
        description="Manage what lambdalab.aws Labs created in your AWS account. Credentials, region and "
        "endpoints come from boto3's usual chain (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_*...).",
    )
    verbs = aws.add_subparsers(dest="aws_command", metavar="COMMAND", title="commands")
    cleanup = verbs.add_parser(
        "cleanup",
        help="list and delete the functions, layers, roles and log groups lambdalab's AWS Labs left",
        description="Find what lambdalab's AWS Labs created and left (tagged lambdalab:lab, named with the "
        "prefix): functions, layer versions, execution roles and log groups; print one line each and delete "
        "them (--dry-run: only list). A Lab closed with delete=True leaves nothing.",
    )
    cleanup.add_argument("--prefix", default="lambdalab-", help="the Labs' name prefix (default: lambdalab-)")
    cleanup.add_argument("--lab", dest="lab_id", metavar="ID", help="only what the Lab with this id created")
    cleanup.add_argument("--region", help="the region (default: boto3's, else us-east-1)")
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    cleanup.add_argument(
        "--orphan-log-groups",
        dest="orphans",
        action="store_true",
        help="also the log groups /aws/lambda/PREFIX... whose function no longer exists, whoever made them "
        "(log groups carry no tag); not with --lab",
    )
    aws.set_defaults(aws_parser=aws)


def run_aws(args: argparse.Namespace) -> int:
    """``lambdalab aws cleanup``: one line per resource (or "nothing to clean up"); AWS's refusal on one line."""
    if args.aws_command is None:
        args.aws_parser.print_help()
        return EXIT_OK
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdalab.aws.cleanup import cleanup

    try:
        lines = cleanup(
            prefix=args.prefix, lab_id=args.lab_id, region=args.region, dry_run=args.dry_run, orphans=args.orphans
        )
    except (LambdaLabError, BotoCoreError, ClientError) as exc:  # no credentials, access denied, no endpoint
        print(f"lambdalab aws cleanup: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_FUNCTION_ERROR
    for line in lines:
        print(line)  # noqa: T201
    if not lines:
        print("nothing to clean up")  # noqa: T201
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare ``lambdalab``: what it can do
        parser.print_help()
        return EXIT_OK
    if args.command in ("serve", "event"):
        from lambdalab.endpoint.command import run_event, run_serve

        return run_serve(args) if args.command == "serve" else run_event(args)
    if args.command == "aws":
        return run_aws(args)
    try:
        event = json.loads(args.event)
    except ValueError as exc:
        print(f"lambdalab: --event is not JSON: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    try:
        with Lab() as lab:
            fn = lab.create_function(
                "cli",
                path=args.path,
                handler=args.handler,
                memory_mb=args.memory,
                timeout_s=args.timeout,
                runtime=args.runtime,
                freeze=not args.no_freeze,
            )
            failed = False
            for _ in range(args.count):
                result = fn.invoke(event)
                sys.stdout.write(readable(result.log))  # a [ERROR] record's \r-separated lines on lines
                print(json.dumps(result.error if result.error else result.payload))  # noqa: T201
                failed = failed or result.error is not None
    except (CallerError, InvokeError) as exc:
        print(f"lambdalab: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    return EXIT_FUNCTION_ERROR if failed else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
