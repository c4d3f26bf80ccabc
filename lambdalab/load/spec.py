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
    Poisson,
    Ramp,
    Replay,
    Sine,
    Step,
)

_NAMES: dict[str, Any] = {
    "constant": Constant, "poisson": Poisson, "ramp": Ramp, "step": Step, "burst": Burst, "sine": Sine,
    "replay": Replay, "closed": ClosedLoop, "closedloop": ClosedLoop,
}
_INTS = {"seed", "size", "clients"}


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
    cls = _NAMES.get(name.strip().lower())
    if cls is None:
        raise ConfigError(f"invalid pattern {spec!r}: unknown name {name!r}; allowed: {', '.join(sorted(_NAMES))}")
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
