"""Command line: run a handler headless and print what Lambda would log; serve functions; make events.

    lambdalab invoke app.py --handler handler --event '{"x": 1}' --count 3
    lambdalab invoke index.mjs --runtime nodejs20.x
    lambdalab invoke ./bootstrap --runtime provided.al2023
    lambdalab serve [FOLDER | --template template.yaml] --port 3001
    lambdalab event s3_put --bucket photos --key cats/tom.jpg

Each invocation prints its log (START … REPORT) and its payload or error. The other front-end
(the notebook layer) calls the same ``Lab`` methods.
"""

from __future__ import annotations

import argparse
import json
import sys

from lambdalab import runtime_ids
from lambdalab.api import Lab
from lambdalab.errors import CallerError, InvokeError


def _runtime(name: str) -> str:
    """A name ``runtime_ids`` knows (whether it is installed is checked when the function is created)."""
    if runtime_ids.kind(name) is None:
        raise argparse.ArgumentTypeError(f"invalid runtime {name!r}; expected {runtime_ids.describe()}")
    return name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdalab", description="See how AWS Lambda runs your code.")
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="run a handler file or folder and print its logs")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("serve", "event"):
        from lambdalab.endpoint.command import run_event, run_serve

        return run_serve(args) if args.command == "serve" else run_event(args)
    try:
        event = json.loads(args.event)
    except ValueError as exc:
        print(f"lambdalab: --event is not JSON: {exc}", file=sys.stderr)  # noqa: T201
        return 2
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
                sys.stdout.write(result.log)
                print(json.dumps(result.error if result.error else result.payload))  # noqa: T201
                failed = failed or result.error is not None
    except (CallerError, InvokeError) as exc:
        print(f"lambdalab: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
