"""Arrival patterns: pure, deterministic iterators of arrival offsets in seconds.

An open-loop pattern answers one question, ``pattern.offsets(duration_s)``: at which offsets
(seconds from the start of a run, non-decreasing) do requests arrive? It reads no clock and
does no I/O, so the same pattern object drives the wall-clock runner (``load/runner.py``) and,
later, a discrete-event simulator. Randomness comes only from a seeded ``random.Random``; a
pattern made with ``seed=None`` draws its seed once, at construction (``pattern.seed``), so
calling ``offsets`` twice gives the same arrivals.

``offsets(None)`` is infinite for every pattern but ``Replay``: the runner stops it after a
count. Rate patterns whose shape depends on the run's length (``Ramp``, ``Step`` without
``step_s``) need a duration, from the run or their own ``over_s``.

Rate-shaped patterns (``Constant``, ``Ramp``, ``Step``, ``Sine``) place the k-th arrival where
the cumulative rate reaches k (k = 0, 1, ...), so arrivals are evenly spread in "rate time" and
the first is at 0; with ``poisson=True`` they are a non-homogeneous Poisson process instead
(unit-rate exponential gaps mapped through the cumulative rate).

``ClosedLoop`` is not an arrival process: N clients each send the next request when their
previous one has finished, after ``think_s``. Whoever drives it owns the clock.

>>> list(Constant(4).offsets(1.0))
[0.0, 0.25, 0.5, 0.75]
>>> [round(t, 3) for t in Ramp(0, 10).offsets(2.0)][:3]
[0.0, 0.632, 0.894]
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import itertools
import math
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from lambdalab.errors import ConfigError

__all__ = [
    "Burst",
    "ClosedLoop",
    "Constant",
    "OpenLoop",
    "Pattern",
    "Poisson",
    "Ramp",
    "Replay",
    "Sine",
    "Step",
]


def _positive(name: str, value: float, *, allow_zero: bool = True) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid {name}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        allowed = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"invalid {name}: {value!r}; it must be a finite number {allowed}")
    return number


def _fresh_seed() -> int:
    return random.SystemRandom().randrange(2**63)


class OpenLoop:
    """Base of the open-loop patterns (arrivals do not wait for responses)."""

    finite = False  # True when offsets(None) ends by itself

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def expected_count(self, duration_s: float) -> float:
        """The mean number of arrivals in ``[0, duration_s)``."""
        raise NotImplementedError  # pragma: no cover

    def _bounded(self, offsets: Iterable[float], duration_s: float | None) -> Iterator[float]:
        if duration_s is None:
            return iter(offsets)
        end = duration_s
        return itertools.takewhile(lambda t: t < end, offsets)


class _RatePattern(OpenLoop):
    """A pattern defined by a rate function r(t) ≥ 0 and its integral Λ(t)."""

    poisson: bool
    seed: int | None

    def _span(self, duration_s: float | None) -> float | None:
        """The length the pattern's shape is defined over (None when the shape needs none)."""
        return None

    def rate(self, t: float, duration_s: float | None = None) -> float:
        raise NotImplementedError  # pragma: no cover

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        raise NotImplementedError  # pragma: no cover

    def expected_count(self, duration_s: float) -> float:
        return self.cumulative(duration_s, duration_s)

    def _invert(self, target: float, after: float, duration_s: float | None) -> float | None:
        """The smallest t ≥ after with Λ(t) = target (None when the rate never gets there).

        Safeguarded Newton: a bracket [lo, hi] that always holds the answer, Newton steps on
        Λ' = r while they stay inside it, bisection otherwise.
        """
        lo = after
        f_lo = self.cumulative(lo, duration_s) - target
        if f_lo >= 0:
            return lo
        r = self.rate(lo, duration_s)
        step = max(-f_lo / r if r > 0 else 1.0, 1e-9)
        hi = lo + step
        for _ in range(200):  # bracket; a rate of 0 forever means never
            if self.cumulative(hi, duration_s) >= target:
                break
            lo, step = hi, step * 2
            hi = lo + step
        else:
            return None
        x = hi
        tolerance = 1e-12 * max(1.0, abs(target))
        for _ in range(200):
            f = self.cumulative(x, duration_s) - target
            if abs(f) <= tolerance:
                return x
            if f > 0:
                hi = x
            else:
                lo = x
            if hi - lo <= 1e-12 * max(1.0, hi):
                return hi
            r = self.rate(x, duration_s)
            nx = x - f / r if r > 0 else lo
            x = nx if lo < nx < hi else (lo + hi) / 2
        return hi

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        self._span(duration_s)  # validates that the shape has a length
        if self.poisson:
            rng = random.Random(self.seed)
            targets: Iterable[float] = itertools.accumulate(rng.expovariate(1.0) for _ in itertools.count())
        else:
            targets = itertools.count()
        return self._bounded(self._through(targets, duration_s), duration_s)

    def _through(self, targets: Iterable[float], duration_s: float | None) -> Iterator[float]:
        t = 0.0
        for target in targets:
            found = self._invert(float(target), t, duration_s)
            if found is None:
                return
            t = found
            yield t


@dataclasses.dataclass(frozen=True)
class Constant(_RatePattern):
    """``rate`` requests per second, evenly spaced, the first at 0 (``poisson=True``: random gaps)."""

    rate_per_s: float
    poisson: bool = False
    seed: int | None = None

    def __init__(self, rate: float, *, poisson: bool = False, seed: int | None = None) -> None:
        object.__setattr__(self, "rate_per_s", _positive("rate", rate, allow_zero=False))
        object.__setattr__(self, "poisson", bool(poisson))
        object.__setattr__(self, "seed", seed if seed is not None or not poisson else _fresh_seed())

    def rate(self, t: float, duration_s: float | None = None) -> float:
        return self.rate_per_s

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        return self.rate_per_s * t

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        if self.poisson:
            return super().offsets(duration_s)
        rate = self.rate_per_s
        return self._bounded((k / rate for k in itertools.count()), duration_s)


@dataclasses.dataclass(frozen=True)
class Poisson(_RatePattern):
    """A Poisson process: exponential gaps with mean ``1/rate``, seeded (``seed=None`` draws one)."""

    rate_per_s: float
    seed: int | None = None
    poisson = True

    def __init__(self, rate: float, seed: int | None = None) -> None:
        object.__setattr__(self, "rate_per_s", _positive("rate", rate, allow_zero=False))
        object.__setattr__(self, "seed", _fresh_seed() if seed is None else seed)

    def rate(self, t: float, duration_s: float | None = None) -> float:
        return self.rate_per_s

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        return self.rate_per_s * t

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        gaps = itertools.chain.from_iterable(_exponential_gaps(random.Random(self.seed), self.rate_per_s))
        return self._bounded(itertools.accumulate(gaps), duration_s)


def _exponential_gaps(rng: random.Random, rate: float) -> Iterator[list[float]]:
    """``rng.expovariate(rate)`` forever, the same draws in the same order, a list at a time.

    (A simulated million arrivals would otherwise pay a Python generator step and a Python
    ``expovariate`` call each; chained lists leave one Python step per 1,024 gaps.)
    """
    random_, log = rng.random, math.log
    while True:
        yield [-log(1.0 - random_()) / rate for _ in range(1024)]


@dataclasses.dataclass(frozen=True)
class Ramp(_RatePattern):
    """The rate goes linearly from ``start`` to ``end`` requests/s over the run (or ``over_s``), then stays."""

    start: float
    end: float
    over_s: float | None = None
    poisson: bool = False
    seed: int | None = None

    def __init__(
        self, start: float, end: float, over_s: float | None = None, *, poisson: bool = False, seed: int | None = None
    ) -> None:
        object.__setattr__(self, "start", _positive("start", start))
        object.__setattr__(self, "end", _positive("end", end))
        if self.start == 0 and self.end == 0:
            raise ConfigError("invalid Ramp: start and end are both 0, so nothing would arrive")
        object.__setattr__(self, "over_s", None if over_s is None else _positive("over_s", over_s, allow_zero=False))
        object.__setattr__(self, "poisson", bool(poisson))
        object.__setattr__(self, "seed", seed if seed is not None or not poisson else _fresh_seed())

    def _span(self, duration_s: float | None) -> float:
        span = self.over_s if self.over_s is not None else duration_s
        if span is None or span <= 0:
            raise ConfigError("invalid Ramp: it needs a length; give the run a duration_s or the Ramp over_s")
        return span

    def rate(self, t: float, duration_s: float | None = None) -> float:
        span = self._span(duration_s)
        return self.start + (self.end - self.start) * min(t, span) / span

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        span = self._span(duration_s)
        u = min(t, span)
        area = self.start * u + (self.end - self.start) * u * u / (2 * span)
        return area + self.end * max(0.0, t - span)


@dataclasses.dataclass(frozen=True)
class Step(_RatePattern):
    """Piecewise-constant rates: ``rates[i]`` requests/s during the i-th step (the last one stays).

    ``step_s`` is each step's length; without it the run's duration is split into equal steps.
    """

    rates: tuple[float, ...]
    step_s: float | None = None
    poisson: bool = False
    seed: int | None = None

    def __init__(
        self, rates: Sequence[float], step_s: float | None = None, *, poisson: bool = False, seed: int | None = None
    ) -> None:
        values = tuple(_positive("rate", r) for r in rates)
        if not values or not any(values):
            raise ConfigError("invalid Step: rates must hold at least one rate > 0")
        object.__setattr__(self, "rates", values)
        object.__setattr__(self, "step_s", None if step_s is None else _positive("step_s", step_s, allow_zero=False))
        object.__setattr__(self, "poisson", bool(poisson))
        object.__setattr__(self, "seed", seed if seed is not None or not poisson else _fresh_seed())

    def _span(self, duration_s: float | None) -> float:
        if self.step_s is not None:
            return self.step_s
        if duration_s is None or duration_s <= 0:
            raise ConfigError("invalid Step: it needs a length; give the run a duration_s or the Step step_s")
        return duration_s / len(self.rates)

    def rate(self, t: float, duration_s: float | None = None) -> float:
        i = min(int(t // self._span(duration_s)), len(self.rates) - 1)
        return self.rates[max(i, 0)]

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        step = self._span(duration_s)
        total, i = 0.0, 0
        while t > 0:
            length = t if i >= len(self.rates) - 1 else min(t, step)
            total += self.rates[min(i, len(self.rates) - 1)] * length
            t -= length
            i += 1
        return total


@dataclasses.dataclass(frozen=True)
class Sine(_RatePattern):
    """A diurnal-style rate: ``mean + amplitude·sin(2π·t/period_s + phase)`` requests/s (never below 0)."""

    mean: float
    amplitude: float
    period_s: float
    phase: float = 0.0
    poisson: bool = False
    seed: int | None = None

    def __init__(
        self,
        mean: float,
        amplitude: float,
        period_s: float,
        phase: float = 0.0,
        *,
        poisson: bool = False,
        seed: int | None = None,
    ) -> None:
        object.__setattr__(self, "mean", _positive("mean", mean, allow_zero=False))
        object.__setattr__(self, "amplitude", _positive("amplitude", amplitude))
        if self.amplitude > self.mean:
            raise ConfigError(
                f"invalid Sine: amplitude {amplitude!r} is above mean {mean!r}; the rate would go below 0"
            )
        object.__setattr__(self, "period_s", _positive("period_s", period_s, allow_zero=False))
        object.__setattr__(self, "phase", float(phase))
        object.__setattr__(self, "poisson", bool(poisson))
        object.__setattr__(self, "seed", seed if seed is not None or not poisson else _fresh_seed())

    def rate(self, t: float, duration_s: float | None = None) -> float:
        return self.mean + self.amplitude * math.sin(2 * math.pi * t / self.period_s + self.phase)

    def cumulative(self, t: float, duration_s: float | None = None) -> float:
        w = 2 * math.pi / self.period_s
        return self.mean * t + self.amplitude / w * (math.cos(self.phase) - math.cos(w * t + self.phase))


@dataclasses.dataclass(frozen=True)
class Burst(OpenLoop):
    """``size`` requests at once at ``at_s`` (spread evenly over ``spread_s``), again every ``every_s``.

    ``base_rate`` adds evenly spaced background traffic (requests/s) between bursts. A burst
    of simultaneous requests is how scale-out (one new environment per request) shows.
    """

    size: int
    every_s: float | None = None
    at_s: float = 0.0
    spread_s: float = 0.0
    base_rate: float = 0.0

    def __init__(
        self,
        size: int,
        every_s: float | None = None,
        *,
        at_s: float = 0.0,
        spread_s: float = 0.0,
        base_rate: float = 0.0,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"invalid Burst size: {size!r}; it must be an int ≥ 1")
        object.__setattr__(self, "size", size)
        object.__setattr__(
            self, "every_s", None if every_s is None else _positive("every_s", every_s, allow_zero=False)
        )
        object.__setattr__(self, "at_s", _positive("at_s", at_s))
        object.__setattr__(self, "spread_s", _positive("spread_s", spread_s))
        object.__setattr__(self, "base_rate", _positive("base_rate", base_rate))
        if self.every_s is not None and self.spread_s >= self.every_s:
            raise ConfigError(f"invalid Burst: spread_s {spread_s!r} must be shorter than every_s {every_s!r}")

    @property
    def finite(self) -> bool:  # type: ignore[override]
        return self.every_s is None and self.base_rate == 0

    def expected_count(self, duration_s: float) -> float:
        bursts = (
            0
            if duration_s <= self.at_s
            else (1 if self.every_s is None else math.ceil((duration_s - self.at_s) / self.every_s))
        )
        per = sum(1 for i in range(self.size) if self._within(i) < duration_s - self.at_s) if bursts else 0
        return (bursts - 1) * self.size + per + self.base_rate * duration_s if bursts else self.base_rate * duration_s

    def _within(self, i: int) -> float:
        return self.spread_s * i / self.size

    def _bursts(self) -> Iterator[float]:
        starts = itertools.count() if self.every_s is not None else range(1)
        for n in starts:
            start = self.at_s + n * (self.every_s or 0.0)
            for i in range(self.size):
                yield start + self._within(i)

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        streams: list[Iterator[float]] = [self._bursts()]
        if self.base_rate > 0:
            streams.append(Constant(self.base_rate).offsets())
        return self._bounded(heapq.merge(*streams), duration_s)


@dataclasses.dataclass(frozen=True)
class Replay(OpenLoop):
    """Replay given arrival times: numbers (seconds) or datetimes, relative to the first (or ``origin``).

    ``speed`` > 1 replays faster. A previous run's ``invocations["submitted"]`` column replays it.
    """

    times: tuple[float, ...]
    speed: float = 1.0
    finite = True

    def __init__(self, timestamps: Iterable[Any], *, speed: float = 1.0, origin: Any = None) -> None:
        values = sorted(_seconds(t) for t in timestamps)
        if any(not math.isfinite(v) for v in values):
            raise ConfigError("invalid Replay: timestamps must be finite")
        base = values[0] if origin is None and values else (_seconds(origin) if origin is not None else 0.0)
        if values and values[0] < base:
            raise ConfigError("invalid Replay: a timestamp is before origin")
        object.__setattr__(self, "speed", _positive("speed", speed, allow_zero=False))
        object.__setattr__(self, "times", tuple((v - base) / self.speed for v in values))

    def __len__(self) -> int:
        return len(self.times)

    def expected_count(self, duration_s: float) -> float:
        return float(bisect.bisect_left(self.times, duration_s))

    def offsets(self, duration_s: float | None = None) -> Iterator[float]:
        return self._bounded(iter(self.times), duration_s)


def _seconds(value: Any) -> float:
    if hasattr(value, "timestamp"):  # datetime, pandas.Timestamp
        return float(value.timestamp())
    if hasattr(value, "astype") and "datetime64" in str(getattr(value, "dtype", "")):  # numpy datetime64
        return float(value.astype("datetime64[ns]").astype("int64")) / 1e9
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid Replay timestamp: {value!r}") from None


@dataclasses.dataclass(frozen=True)
class ClosedLoop:
    """``clients`` callers, each sending its next request ``think_s`` after its previous one finished."""

    clients: int
    think_s: float = 0.0
    finite = False

    def __init__(self, clients: int, think_s: float = 0.0) -> None:
        if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
            raise ConfigError(f"invalid ClosedLoop clients: {clients!r}; it must be an int ≥ 1")
        object.__setattr__(self, "clients", clients)
        object.__setattr__(self, "think_s", _positive("think_s", think_s))


Pattern = OpenLoop | ClosedLoop
