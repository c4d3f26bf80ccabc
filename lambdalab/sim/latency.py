"""Latency models: how long an init, a warm invoke or a whole cold request takes, in seconds.

Each model is a small frozen value; ``model.sampler(rng)`` binds it to the simulation's
``random.Random`` and returns a zero-argument function that draws one duration. Binding once keeps
the simulator's hot path to one call per draw. Models never own a generator and never read the
clock: the same model and seed always give the same draws.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import random
from collections.abc import Callable, Iterable
from typing import Protocol

from lambdalab.errors import ConfigError

Sampler = Callable[[], float]


class LatencyModel(Protocol):
    """Anything that can draw durations (seconds) from a seeded generator."""

    @property
    def mean_s(self) -> float: ...

    def sampler(self, rng: random.Random) -> Sampler: ...


def _seconds(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid {name}: {value!r}; expected a number of seconds") from None
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"invalid {name}: {value!r}; expected a finite number of seconds >= 0")
    return number


@dataclasses.dataclass(frozen=True, slots=True)
class Constant:
    """Always ``seconds``."""

    seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", _seconds("Constant seconds", self.seconds))

    @property
    def mean_s(self) -> float:
        return self.seconds

    def sampler(self, rng: random.Random) -> Sampler:
        return itertools.repeat(self.seconds).__next__


@dataclasses.dataclass(frozen=True, slots=True)
class Exponential:
    """Exponentially distributed with mean ``mean_s`` (SimFaaS's service-time model)."""

    mean_s: float

    def __post_init__(self) -> None:
        mean = _seconds("Exponential mean_s", self.mean_s)
        if mean == 0:
            raise ConfigError("invalid Exponential mean_s: 0; expected seconds > 0 (use Constant(0) for none)")
        object.__setattr__(self, "mean_s", mean)

    def sampler(self, rng: random.Random) -> Sampler:
        return _ExponentialSampler(rng, 1.0 / self.mean_s)


class _ExponentialSampler:
    """``rng.expovariate(lambd)``, the same draws in the same order, without a Python-level call per draw."""

    def __init__(self, rng: random.Random, lambd: float) -> None:
        self._random = rng.random
        self._lambd = lambd

    def __call__(self) -> float:
        return -math.log(1.0 - self._random()) / self._lambd


@dataclasses.dataclass(frozen=True, slots=True)
class LogNormal:
    """Log-normally distributed with the given mean and standard deviation (seconds).

    Service times of real functions are skewed like this: most invokes near the median, a long tail.
    """

    mean_s: float
    std_s: float

    def __post_init__(self) -> None:
        mean, std = _seconds("LogNormal mean_s", self.mean_s), _seconds("LogNormal std_s", self.std_s)
        if mean == 0:
            raise ConfigError("invalid LogNormal mean_s: 0; expected seconds > 0")
        object.__setattr__(self, "mean_s", mean)
        object.__setattr__(self, "std_s", std)

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """The parameters of the underlying normal distribution."""
        sigma2 = math.log1p((self.std_s / self.mean_s) ** 2)
        return math.log(self.mean_s) - sigma2 / 2.0, math.sqrt(sigma2)

    def sampler(self, rng: random.Random) -> Sampler:
        mu, sigma = self.mu_sigma
        return functools.partial(rng.lognormvariate, mu, sigma)


@dataclasses.dataclass(frozen=True, slots=True)
class Empirical:
    """Draws uniformly from observed durations (seconds), e.g. those of a real run."""

    samples: tuple[float, ...]

    def __init__(self, samples: Iterable[float]) -> None:
        values = tuple(_seconds("Empirical sample", s) for s in samples)
        if not values:
            raise ConfigError("invalid Empirical samples: none; expected at least one duration")
        object.__setattr__(self, "samples", values)

    def __repr__(self) -> str:
        return f"Empirical({len(self.samples)} samples, mean {self.mean_s:.4g} s)"

    @property
    def mean_s(self) -> float:
        return math.fsum(self.samples) / len(self.samples)

    def sampler(self, rng: random.Random) -> Sampler:
        values, n, draw = self.samples, len(self.samples), rng.random
        if n == 1:
            return itertools.repeat(values[0]).__next__
        return lambda: values[int(draw() * n)]


def as_model(name: str, value: LatencyModel | float) -> LatencyModel:
    """A model, or a plain number of seconds taken as ``Constant``."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or callable(getattr(value, "sampler", None))):
        raise ConfigError(f"invalid {name}: {value!r}; expected Constant, Exponential, LogNormal, Empirical or seconds")
    if isinstance(value, (int, float)):
        return Constant(value)
    return value
