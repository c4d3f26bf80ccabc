"""Virtual time for durable executions: ``Lab(time_scale=N)`` runs their clock N times faster than the wall's.

The durable service stamps every operation, wait and retry with this clock (the local runner's ``Clock`` protocol:
``now`` and ``arm``), so a one-hour ``context.wait`` under ``time_scale=3600`` ends after one real second and the
checkpoint log still says one hour. Only the durable service's clock is scaled: the function's own timeout, its
environments' keep-alive and every invocation's duration stay in real time. ``caption`` says so on screen.
"""

from __future__ import annotations

import datetime
import math
import threading

from lambdalab.errors import ConfigError


def check_time_scale(value: object) -> float:
    """``value`` as a time scale (``ConfigError`` unless a finite number above 0; 1 is real time)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"invalid time_scale: {value!r}; expected a number above 0 (1: real time)")
    return float(value)


def caption(scale: float) -> str:
    """What a figure or table says about the clock it shows: empty in real time."""
    if scale == 1:
        return ""
    return f"virtual time: durable waits and retries run {scale:g}× faster than real time (Lab(time_scale={scale:g}))"


class ScaledClock:
    """Virtual UTC time that starts at the wall's and runs ``scale`` times faster; thread-safe (read-only state)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = check_time_scale(scale)
        self._origin = datetime.datetime.now(datetime.UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime.datetime:
        real = datetime.datetime.now(datetime.UTC)
        if self.scale == 1:
            return real
        return self._origin + (real - self._origin) * self.scale

    def arm(self, wake: datetime.datetime) -> float:
        """Real seconds until virtual time reaches ``wake`` (0 when it has)."""
        return max((wake - self.now()).total_seconds() / self.scale, 0.0)

    def real_seconds(self, virtual_s: float) -> float:
        """How long ``virtual_s`` seconds of virtual time last in real time."""
        return virtual_s / self.scale
