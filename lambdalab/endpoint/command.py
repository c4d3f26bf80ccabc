"""The command line's ``serve`` and ``event`` subcommands (``lambdalab/cli.py`` only wires them in).

    lambdalab serve [FOLDER | --template template.yaml] [--layer-map FILE] [--port N] [--host H --allow-remote]
                    [--allow-origin O ...] [--aws-endpoint-url [SERVICE=]URL ...] [--env-vars env.json]
                    [--retry-delay-scale X] [--watch] [--api [--api-port 3000]] [--debug-port N]
    lambdalab event KIND [--option value ...]      # KIND: s3_put, sqs, apigw_http... (see --help)
    lambdalab event [--help]                       # every kind, with what it is

``serve`` registers the functions, serves them until Ctrl-C (or SIGTERM) and prints the endpoint
and each function's URL; ``--env-vars`` and ``--watch`` are ``serve_watch.py``'s; ``--api`` serves the template's
``Api`` and ``HttpApi`` routes on one more port, as ``sam local start-api`` does (``api_server.py``). ``event`` prints
the builder's event as JSON; its options come from the builder's parameters (``--bucket``,
``--key``...), JSON for mappings, repeatable for lists; an unknown kind is a usage error (exit 2)
that lists the kinds.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import inspect
import json
import signal
import sys
import threading
from typing import Any

from lambdalab import events
from lambdalab.errors import CallerError, ConfigError, InvokeError
from lambdalab.logtext import plain


# -- serve ---------------------------------------------------------------------------------------
def add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve functions over Lambda's API (boto3, aws CLI, function URLs)",
        description="Serve a folder's handlers (or a SAM template's functions) over Lambda's Invoke API until "
        "Ctrl-C: boto3 (endpoint_url=...), the aws CLI (--endpoint-url ...) and each function's URL reach them.",
    )
    serve.add_argument(
        "folder",
        nargs="?",
        default=".",
        help="a folder of handler files (or holding template.yaml), or one .py file (default: .)",
    )
    serve.add_argument("--template", help="a SAM template (AWS::Serverless::Function resources)")
    serve.add_argument(
        "--layer-map",
        metavar="FILE",
        help="a JSON or YAML file mapping layer version ARNs (a template's Layers) to local folders "
        "or .zip files: 'arn:aws:lambda:...:layer:name:3: ./layers/name'",
    )
    serve.add_argument("--port", type=int, default=3001, help="the Invoke API's port (default: 3001; 0: any free)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it can run your functions)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin (e.g. http://localhost:8888) whose pages may call the API; repeatable. "
        "Default: none, every request carrying an Origin header is refused",
    )
    serve.add_argument("--handler", default="handler", help="handler function name in folder mode (default: handler)")
    serve.add_argument("--no-urls", action="store_true", help="do not give each function a function URL")
    serve.add_argument(
        "--aws-endpoint-url",
        action="append",
        default=[],
        metavar="[SERVICE=]URL",
        help="where the handlers' AWS SDK calls go (a local stand-in such as moto or LocalStack): a URL for every "
        "service (AWS_ENDPOINT_URL), or SERVICE=URL for one (s3=http://127.0.0.1:5000; repeatable); the "
        "environments get obviously fake credentials",
    )
    serve.add_argument(
        "--env-vars",
        metavar="FILE",
        help='a JSON file of environment variables, as sam local reads it: {"Parameters": {...}} for every '
        'function, {"LogicalId": {...}} for one (it wins); only the variables the template declares are set',
    )
    serve.add_argument(
        "--retry-delay-scale",
        type=float,
        metavar="X",
        help="multiply the async retry delays (1 and 2 minutes) by X, e.g. 0.01 (default: 1)",
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="redeploy a function when its code, its requirements or the template change (its next invoke is cold)",
    )
    serve.add_argument(
        "--api",
        action="store_true",
        help="also serve the template's Api (REST, payload 1.0) and HttpApi (payload 2.0) events on one port, "
        "as sam local start-api does; each request's log and an access line are printed",
    )
    serve.add_argument(
        "--api-port", type=int, default=3000, help="the --api routes' port (default: 3000, as sam local; 0: any free)"
    )
    serve.add_argument(
        "--debug-port",
        type=_debug_port,
        metavar="N",
        help="run every Python function under debugpy (VS Code's attach): the first environment listens on "
        "127.0.0.1:N, the next ones on the next free ports (each printed); while a debugger is attached no timeout "
        "fires and the environment is not reaped",
    )


def _debug_port(text: str) -> int:
    port = int(text)
    if not 1024 <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"{port} is not a port from 1024 to 65535")
    return port


def debug_functions(lab: Any, names: list[str], port: int) -> list[str]:
    """``--debug-port``: ``names`` in debug mode from ``port`` up (``debug=port``); a note for each that cannot be."""
    notes = []
    for name in names:
        try:
            lab.function(name).update(debug=port)
        except ConfigError as exc:
            notes.append(f"{name} is not debugged: {exc}")
    return notes


def print_debug_ports(lab: Any, names: list[str], shown: set[tuple[str, int]]) -> None:
    """Each debug environment's port, once, as it appears."""
    for name in names:
        try:
            ports = lab.function(name).debug_ports()
        except CallerError:  # deleted meanwhile
            continue
        for environment_id, port in ports.items():
            if (environment_id, port) not in shown:
                shown.add((environment_id, port))
                print(f"lambdalab: {name}: debugger on 127.0.0.1:{port} (environment {environment_id})", flush=True)


def run_serve(args: argparse.Namespace) -> int:
    from lambdalab.api import Lab
    from lambdalab.downstream import read_env_vars_file
    from lambdalab.endpoint import serve
    from lambdalab.endpoint.api_server import print_routes, start_api
    from lambdalab.endpoint.serve_watch import apply_env_vars, serve_watcher, template_of
    from lambdalab.endpoint.server import is_loopback
    from lambdalab.endpoint.template_urls import make as make_template_urls
    from lambdalab.endpoint.templates import load_folder, load_template
    from lambdalab.endpoint.url_paths import path_url

    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"lambdalab: refusing to serve on {args.host}: not a loopback address, and the endpoint accepts any "
            "signature. Add --allow-remote if you mean it.",
            file=sys.stderr,
        )
        return 2
    if not is_loopback(args.host):
        print(
            f"lambdalab: WARNING: serving on {args.host}; any host that can reach it can invoke these functions",
            file=sys.stderr,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        endpoint = endpoint_option(args.aws_endpoint_url)
        env_file = read_env_vars_file(args.env_vars) if args.env_vars else None
        options = {} if args.retry_delay_scale is None else {"retry_delay_scale": args.retry_delay_scale}
        with Lab(aws_endpoint_url=endpoint, **options) as lab:
            if args.layer_map:
                lab.map_layers(args.layer_map)
            names, notes = (
                load_template(lab, args.template) if args.template else load_folder(lab, args.folder, args.handler)
            )
            template = template_of(args.folder, args.template)
            if env_file is not None and names:
                notes += apply_env_vars(lab, names, env_file, template)
            if args.debug_port is not None:
                notes += debug_functions(lab, names, args.debug_port)
            for note in notes:
                print(f"lambdalab: {note}", file=sys.stderr)
            if not names:
                print("lambdalab: no functions to serve", file=sys.stderr)
                return 2
            url = serve(
                lab, port=args.port, host=args.host, allow_remote=args.allow_remote, allow_origins=args.allow_origin
            )
            template_made = make_template_urls(lab)  # the template's FunctionUrlConfig and AWS::Lambda::Url
            print(f"Lambda API at {url}  (boto3: endpoint_url='{url}'; aws CLI: --endpoint-url {url})")
            for name in names:
                line = f"  {name}"
                if not args.no_urls:
                    line += f"  function URL {lab.function(name).url()}  (by path: {path_url(lab, name)})"
                print(line)
            for spec, made in template_made:
                print(f"  {spec.target}  function URL {made}  (the template's {spec.logical_id})")
            if args.api:
                if template is None:
                    print("lambdalab: --api needs a SAM template (--template, or one in the folder)", file=sys.stderr)
                    return 2
                server, api_notes = start_api(
                    lab,
                    template,
                    args.api_port,
                    args.host,
                    args.allow_remote,
                    out=lambda line: print(line, flush=True),
                )
                for note in api_notes:
                    print(f"lambdalab: {note}", file=sys.stderr)
                print_routes(server, print)
            if args.watch:
                say = functools.partial(print, flush=True)
                routes = None if not args.api else lambda path: [say(f"lambdalab: {n}") for n in server.reload(path)]
                watcher = serve_watcher(lab, names, template, env_file, say, on_template=routes)
                print(f"Watching {', '.join(map(str, watcher.paths))}", flush=True)
            if args.debug_port is not None:
                print(f"Debugging: environments listen from 127.0.0.1:{args.debug_port} (printed as they start)")
            print("Ctrl-C to stop.", flush=True)
            shown: set[tuple[str, int]] = set()
            try:
                while not stop.wait(0.5):
                    if args.debug_port is not None:
                        print_debug_ports(lab, names, shown)
            except KeyboardInterrupt:
                pass
    except (CallerError, InvokeError) as exc:
        print(f"lambdalab: {exc}", file=sys.stderr)
        return 2
    return 0


def endpoint_option(values: list[str]) -> str | dict[str, str] | None:
    """``--aws-endpoint-url`` as ``Lab(aws_endpoint_url=...)`` takes it: one URL, or SERVICE=URL entries."""
    if not values:
        return None
    services = dict(v.split("=", 1) for v in values if "=" in v.split("://", 1)[0])
    if not services and len(values) == 1:
        return values[0]
    if len(services) != len(values):
        raise ConfigError(
            f"invalid --aws-endpoint-url: {' '.join(values)}; give one URL for every service, or SERVICE=URL ones"
        )
    return services


# -- event ---------------------------------------------------------------------------------------
def _summary(builder: Any) -> str:
    """The first sentence of a builder's docstring, as plain text."""
    first = plain(inspect.getdoc(builder)).split("\n\n", 1)[0].replace("\n", " ")
    return first.split(". ", 1)[0].rstrip(".")


def kinds_text() -> str:
    """Every event kind with what it is, one a line (``lambdalab event --help`` shows it)."""
    width = max(map(len, events.KINDS))
    lines = [f"  {kind:<{width}}  {_summary(builder)}" for kind, builder in events.KINDS.items()]
    return "kinds:\n" + "\n".join(lines)


def add_event_parser(commands: Any) -> None:
    event = commands.add_parser(
        "event",
        help="print a sample event of a trigger (like sam local generate-event)",
        description="Print the event a trigger sends to Lambda, as JSON. Options set its fields:\n"
        "'lambdalab event KIND --help' lists a kind's options.",
        epilog=kinds_text() + "\n\nexample: lambdalab event s3_put --bucket photos --key cats/tom.jpg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    event.add_argument("kind", nargs="?", metavar="KIND", help="the trigger; see kinds below")
    event.add_argument(
        "options", nargs=argparse.REMAINDER, metavar="...", help="the kind's options (KIND --help lists them)"
    )
    event.set_defaults(event_parser=event)


def run_event(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.event_parser
    if args.kind is None:  # ``lambdalab event``: what it can make
        parser.print_help()
        return 0
    kind = args.kind.replace("-", "_")
    if kind not in events.KINDS:
        close = difflib.get_close_matches(kind, events.KINDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        parser.error(f"unknown event kind {args.kind!r}{hint}; the kinds are {', '.join(events.KINDS)}")  # exit 2
    builder = events.KINDS[kind]
    options = vars(builder_parser(kind, builder).parse_args(args.options))
    try:
        event = builder(**{k: v for k, v in options.items() if v is not None})
    except (TypeError, ValueError) as exc:
        print(f"lambdalab: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(event, indent=2))
    return 0


def builder_parser(kind: str, builder: Any) -> argparse.ArgumentParser:
    """Options from the builder's signature: ``--name value``; JSON for mappings; repeatable lists."""
    parser = argparse.ArgumentParser(
        prog=f"lambdalab event {kind}",
        description=plain(inspect.getdoc(builder)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name, param in inspect.signature(builder).parameters.items():
        flag = "--" + name.replace("_", "-")
        annotation = str(param.annotation)
        default = param.default
        if isinstance(default, bool):
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None)
        elif "Mapping" in annotation:
            parser.add_argument(flag, dest=name, type=json.loads, metavar="JSON")
        elif annotation.startswith("Iterable"):
            parser.add_argument(
                flag,
                dest=name,
                action="append",
                metavar="VALUE",
                help=f"repeat for several (default: {list(default or ())!r})",
            )
        elif isinstance(default, int):
            parser.add_argument(flag, dest=name, type=int, help=f"default: {default}")
        elif "float" in annotation:
            parser.add_argument(flag, dest=name, type=float)
        else:
            parser.add_argument(flag, dest=name, help=f"default: {default!r}" if default is not None else None)
    return parser
