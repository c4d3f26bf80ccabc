"""Load patterns by name, for ``%lambda load`` and the panel: a table from names to ``lambdalab.load``.

``make_pattern("poisson", rate=20, seed=1)`` is ``lambdalab.load.Poisson(20, seed=1)``; the
parameters a pattern takes are read from its signature, so nothing here restates them.
"""

from __future__ import annotations

import inspect
from typing import Any

from lambdalab.errors import ConfigError

# pattern name -> class name in lambdalab.load
PATTERNS: dict[str, str] = {
    "constant": "Constant", "poisson": "Poisson", "ramp": "Ramp", "burst": "Burst",
    "sine": "Sine", "closed": "ClosedLoop",
}


def load_module() -> Any:
    """``lambdalab.load``, or a ``ConfigError`` saying it is not available in this install."""
    try:
        from lambdalab import load
    except ImportError as exc:
        raise ConfigError(f"load generation is not available: lambdalab.load could not be imported ({exc})") from None
    return load


def _knobs(rate: float, clients: int, seed: int | None, duration_s: float | None) -> dict[str, Any]:
    """The panel's few knobs as the parameters of ``lambdalab.load``'s patterns.

    ``rate`` is the rate (``Constant``, ``Poisson``), the end of a ``Ramp`` from 0, and the peak
    of a ``Sine`` (mean and amplitude rate/2, two periods per run); ``clients`` is the size of a
    ``Burst`` (four per run) and the clients of a ``ClosedLoop``.
    """
    length = duration_s or 10.0
    return {"rate": rate, "seed": seed, "start": 0.0, "end": rate, "mean": rate / 2, "amplitude": rate / 2,
            "period_s": max(length / 2, 0.5), "size": max(int(clients), 1), "every_s": max(length / 4, 0.25),
            "clients": int(clients), "think_s": 0.0}


def make_pattern(kind: str, *, rate: float = 10.0, clients: int = 4, seed: int | None = None,
                 duration_s: float | None = None) -> Any:
    """Build ``lambdalab.load.<Pattern>`` from the common knobs; a bad name is a ``ConfigError``."""
    cls_name = PATTERNS.get(kind.lower())
    if cls_name is None:
        raise ConfigError(f"invalid pattern: {kind!r}; expected one of {', '.join(PATTERNS)}")
    cls = getattr(load_module(), cls_name, None)
    if cls is None:
        raise ConfigError(f"invalid pattern: lambdalab.load has no {cls_name}")
    knobs = _knobs(rate, clients, seed, duration_s)
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
