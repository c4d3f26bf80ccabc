"""The ``%lambda`` subcommands that generate load: ``load`` (a run, its report) and ``panel`` (the load panel).

Their options are the load's knobs (pattern, rate, duration or count, clients, seed, event), shared by both;
``load`` takes any pattern ``lambdalab.load.spec`` names (``NAME:ARGS`` too), the panel the ones its controls
build. On AWS Lambda a load shows its estimated cost first (``lambdalab.load.run``'s ``confirm``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.jupyter import targets
from lambdalab.jupyter._args import event_value, new_parser, parse
from lambdalab.jupyter.patterns import KNOB_PATTERNS, check_pattern, make_pattern
from lambdalab.load.runner import run as run_load
from lambdalab.load.runner import start as start_load
from lambdalab.load.spec import PATTERNS

if TYPE_CHECKING:
    from lambdalab.jupyter.commands import MagicsContext

__all__ = ["LOAD", "PANEL", "add_load_options", "load", "panel"]


def _pattern_option(text: str) -> str:
    try:
        return check_pattern(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(PATTERNS)})") from None


def add_load_options(parser: argparse.ArgumentParser, *, for_panel: bool = False) -> None:
    if for_panel:  # the panel's dropdown: the patterns its knobs build
        parser.add_argument(
            "--pattern",
            "-p",
            default="constant",
            choices=KNOB_PATTERNS,
            metavar="P",
            help=f"arrival pattern: {', '.join(KNOB_PATTERNS)} (default constant)",
        )
    else:
        parser.add_argument(
            "--pattern",
            "-p",
            default="constant",
            type=_pattern_option,
            metavar="P",
            help=f"arrival pattern: {', '.join(PATTERNS)} (default constant), or NAME:ARGS "
            "for every parameter, e.g. step:5/20/5,step_s=2 or replay:0/0.1/0.5",
        )
    parser.add_argument("--rate", "-r", type=float, default=10.0, help="requests per second (peak for ramp/sine)")
    parser.add_argument("--duration", "-d", type=float, default=None, help="seconds to run")
    parser.add_argument("--count", "-n", type=int, default=None, help="number of requests")
    parser.add_argument("--clients", "-c", type=int, default=4, help="concurrency for --pattern closed")
    parser.add_argument("--seed", type=int, default=None, help="random seed (poisson)")
    parser.add_argument("--event", default=None, help="the event of every request: JSON or $variable")
    if not for_panel:
        parser.add_argument("--async", dest="is_async", action="store_true", help="invocation type Event")


LOAD = new_parser("lambda load")
LOAD.add_argument("name")
add_load_options(LOAD)
LOAD.add_argument("--background", action="store_true", help="return a handle at once instead of waiting")
LOAD.add_argument(
    "--confirm",
    action="store_true",
    help="on AWS Lambda: run even when the estimated cost is above the Lab's confirm_above_usd (it is still shown)",
)


def load(magics: MagicsContext, rest: str) -> Any:
    """``%lambda load NAME [--pattern P] [--rate R] [--duration S | --count N] [...]``: generate load.

    Waits for the run and returns its report (``.invocations``, ``.summary``); with
    ``--background`` returns the running handle (``.stop()``, ``.result()``) at once. On AWS Lambda the
    estimated cost is printed first, and above the Lab's ``confirm_above_usd`` the run asks (``--confirm``: it
    does not).

    Python equivalent: ``lambdalab.load.run(fn, lambdalab.load.Constant(R), duration_s=S)``
    (``lambdalab.load.start(...)`` for ``--background``, ``confirm=True`` for ``--confirm``)
    """
    args = parse(LOAD, rest)
    fn = targets.function(magics.lab, args.name)
    if args.duration is None and args.count is None:
        args.duration = 5.0
    pattern = make_pattern(args.pattern, rate=args.rate, clients=args.clients, seed=args.seed, duration_s=args.duration)
    event = event_value(args.event, magics.user_ns)
    run = start_load if args.background else run_load
    return run(
        fn,
        pattern,
        duration_s=args.duration,
        count=args.count,
        event=event,
        invocation_type="Event" if args.is_async else "RequestResponse",
        confirm=args.confirm,
    )


PANEL = new_parser("lambda panel")
PANEL.add_argument("name")
add_load_options(PANEL, for_panel=True)


def panel(magics: MagicsContext, rest: str) -> Any:
    """``%lambda panel NAME [--pattern P] [--rate R] [--duration S]``: the load panel with live charts.

    Python equivalent: ``lambdalab.panel(lab.function(NAME), pattern=P, rate=R, duration_s=S)``
    """
    from lambdalab.jupyter.load_panel import Panel

    args = parse(PANEL, rest)
    fn = targets.function(magics.lab, args.name)
    return Panel(
        fn,
        pattern=args.pattern,
        rate=args.rate,
        duration_s=args.duration or 10.0,
        concurrency=args.clients,
        count=args.count,
        seed=args.seed,
        event=event_value(args.event, magics.user_ns),
    )
