"""Load generation: arrival patterns (pure) and a wall-clock runner that drives a function.

>>> import lambdalab, lambdalab.load as load                       # doctest: +SKIP
>>> with lambdalab.Lab() as lab:
...     fn = lab.create_function("f", source="def handler(e, c):\\n    return e")
...     report = load.run(fn, load.Poisson(50, seed=1), duration_s=5)
>>> print(report.summary)                                           # count, errors, cold %, p50/p90/p99, cost
>>> report.invocations                                              # one row per request

Patterns yield arrival offsets in seconds and never read a clock, so a simulator can drive the
same objects; ``run``/``start`` (``load/runner.py``) pace them on the wall clock. Layer L2:
this package imports only ``lambdalab.core``, ``lambdalab.errors`` and pandas (lazily).
"""

from lambdalab.load.patterns import (
    Burst,
    ClosedLoop,
    Constant,
    OpenLoop,
    Pattern,
    Poisson,
    Ramp,
    Replay,
    Sine,
    Step,
)
from lambdalab.load.report import PRICES, LoadReport, LoadSummary, summarize
from lambdalab.load.runner import LoadRun, Target, run, start
from lambdalab.load.spec import parse_pattern

__all__ = [
    "PRICES",
    "Burst",
    "ClosedLoop",
    "Constant",
    "LoadReport",
    "LoadRun",
    "LoadSummary",
    "OpenLoop",
    "Pattern",
    "Poisson",
    "Ramp",
    "Replay",
    "Sine",
    "Step",
    "Target",
    "parse_pattern",
    "run",
    "start",
    "summarize",
]
