"""Patterns from short text, for the CLI: ``NAME[:ARG,ARG,KEY=VALUE,...]``.

>>> parse_pattern("poisson:50,seed=1")
Poisson(rate_per_s=50.0, seed=1)
>>> parse_pattern("closed:4,think_s=0.1")
ClosedLoop(clients=4, think_s=0.1)
>>> parse_pattern("step:5/20/5,step_s=10").rates
(5.0, 20.0, 5.0)

Names: ``constant:RATE``, ``poisson:RATE[,seed=S]``, ``ramp:START,END[,over_s=S]``,
``step:R1/R2/...[,step_s=S]``, ``burst:SIZE[,every_s=S,at_s=S,spread_s=S,base_rate=R]``,
``sine:MEAN,AMPLITUDE,PERIOD_S[,phase=P]``, ``replay:T1/T2/...[,speed=X]``,
``closed:CLIENTS[,think_s=S]``. ``poisson=true`` and ``seed=`` work on constant, ramp, step, sine.
"""

from __future__ import annotations

from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.load.patterns import (
    Burst,
    ClosedLoop,
    Constant,
    OpenLoop,
    Poisson,
    Ramp,
    Replay,
    Sine,
    Step,
)

# The one table of pattern names: the CLI, the magics and the panel read it.
PATTERNS: dict[str, type[OpenLoop] | type[ClosedLoop]] = {
    "constant": Constant,
    "poisson": Poisson,
    "ramp": Ramp,
    "step": Step,
    "burst": Burst,
    "sine": Sine,
    "replay": Replay,
    "closed": ClosedLoop,
}
ALIASES = {"closedloop": "closed"}
_INTS = {"seed", "size", "clients"}


def pattern_class(name: str, spec: str | None = None) -> type[OpenLoop] | type[ClosedLoop]:
    """The pattern class ``name`` stands for (an alias too); a ``ConfigError`` naming the allowed names."""
    key = name.strip().lower()
    cls = PATTERNS.get(ALIASES.get(key, key))
    if cls is None:
        shown = spec if spec is not None else name
        raise ConfigError(f"invalid pattern {shown!r}: unknown name {name!r}; allowed: {', '.join(PATTERNS)}")
    return cls


def _value(key: str | None, text: str) -> Any:
    text = text.strip()
    if "/" in text:
        return [float(part) for part in text.split("/") if part.strip()]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    if key in _INTS:
        return int(text)
    number = float(text)
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def parse_pattern(spec: str) -> Any:
    """Build a pattern from ``spec`` (see the module docstring); raises ``ConfigError`` when it is wrong."""
    name, _, rest = spec.strip().partition(":")
    cls = pattern_class(name, spec)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        for part in filter(None, (p.strip() for p in rest.split(","))):
            if "=" in part:
                key, _, text = part.partition("=")
                kwargs[key.strip()] = _value(key.strip(), text)
            else:
                if kwargs:
                    raise ConfigError(f"invalid pattern {spec!r}: a positional argument after key=value")
                args.append(_value(None, part))
        if cls in (Burst, ClosedLoop) and args:
            args[0] = int(args[0])
        if cls is Step and args and not isinstance(args[0], list):
            args[0] = [args[0]]
        if cls is Replay and args and not isinstance(args[0], list):
            args[0] = [args[0]]
        return cls(*args, **kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid pattern {spec!r}: {exc}") from None
