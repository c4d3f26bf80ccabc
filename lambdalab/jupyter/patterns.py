"""Load patterns for ``%lambda load`` and the panel, from the one table in ``lambdalab.load.spec``.

``make_pattern("poisson", rate=20, seed=1)`` is ``lambdalab.load.Poisson(20, seed=1)``: a bare
name takes the panel's few knobs, read from the pattern's signature, so nothing here restates its
parameters; ``make_pattern("step:5/20/5,step_s=2")`` is the CLI's grammar
(``lambdalab.load.parse_pattern``), which reaches every parameter of every pattern.
"""

from __future__ import annotations

import inspect
from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.load.patterns import ClosedLoop, OpenLoop
from lambdalab.load.spec import PATTERNS, parse_pattern, pattern_class

STEPS = 4  # a bare "step" climbs to the rate in this many equal steps


def _knobs(rate: float, clients: int, seed: int | None, duration_s: float | None) -> dict[str, Any]:
    """The panel's few knobs as the parameters of ``lambdalab.load``'s patterns.

    ``rate`` is the rate (``Constant``, ``Poisson``), the end of a ``Ramp`` from 0, the top of a
    ``Step`` (``STEPS`` equal steps up to it) and the peak of a ``Sine`` (mean and amplitude
    rate/2, two periods per run); ``clients`` is the size of a ``Burst`` (four per run) and the
    clients of a ``ClosedLoop``. ``Replay`` needs arrival times, which no knob gives.
    """
    length = duration_s or 10.0
    return {
        "rate": rate,
        "seed": seed,
        "start": 0.0,
        "end": rate,
        "rates": [rate * (step + 1) / STEPS for step in range(STEPS)],
        "mean": rate / 2,
        "amplitude": rate / 2,
        "period_s": max(length / 2, 0.5),
        "size": max(int(clients), 1),
        "every_s": max(length / 4, 0.25),
        "clients": int(clients),
        "think_s": 0.0,
    }


def _required(cls: type[OpenLoop] | type[ClosedLoop]) -> list[str]:
    parameters = inspect.signature(cls).parameters.values()
    return [p.name for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def from_knobs(name: str) -> bool:
    """Whether the knobs alone build pattern ``name`` (every one but ``replay``)."""
    knobs = _knobs(1.0, 1, None, None)
    return all(parameter in knobs for parameter in _required(pattern_class(name)))


KNOB_PATTERNS: tuple[str, ...] = tuple(name for name in PATTERNS if from_knobs(name))


def check_pattern(text: str) -> str:
    """``text`` when its name (before any ``:``) is a pattern's; otherwise a ``ConfigError``."""
    pattern_class(text.partition(":")[0], text)
    return text


def make_pattern(
    kind: str, *, rate: float = 10.0, clients: int = 4, seed: int | None = None, duration_s: float | None = None
) -> OpenLoop | ClosedLoop:
    """A pattern from a name and the common knobs, or from ``NAME:ARGS``; a bad one is a ``ConfigError``."""
    if ":" in kind:
        pattern: OpenLoop | ClosedLoop = parse_pattern(kind)
        return pattern
    cls = pattern_class(kind)
    knobs = _knobs(rate, clients, seed, duration_s)
    missing = [name for name in _required(cls) if name not in knobs]
    if missing:
        raise ConfigError(
            f"invalid pattern {kind!r}: it needs {', '.join(missing)}, which no knob gives; "
            f"write it as {kind}:ARGS (e.g. replay:0/0.5/0.6,speed=2)"
        )
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if name in knobs and (knobs[name] is not None or param.default is param.empty):
            kwargs[name] = knobs[name]
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid pattern {kind!r}: {exc}") from None
