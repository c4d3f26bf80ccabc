"""Keep-alive policies: how long an idle environment is kept before it is shut down.

AWS does not document Lambda's idle reclaim time; third-party measurements range from ~10 minutes
(2019) to 45-60 minutes (2017) (LAMBDA-SPEC §3.2, §9). lambdalab's default is 600 s (the most
recent published measurement), and it is a simulation parameter, settable per Lab and per function.

Two policies, both pure:
- ``FixedKeepAlive(s)``: keep each idle environment for ``s`` seconds after its last invocation;
  0 shuts it down at once (every invoke is cold).
- ``HybridHistogramKeepAlive``: the hybrid policy of Shahrad et al., "Serverless in the Wild"
  (USENIX ATC 2020). It keeps a histogram of the function's idle times (1-minute bins up to 4
  hours). Once the histogram is representative (enough samples, and the bin counts not flat),
  the pre-warm window is its 5th percentile and the keep-alive window its 99th percentile (minus
  the pre-warm), each with a 10% margin: after an invocation the environment is unloaded and a
  new one is started (pre-warmed) when the pre-warm window ends, then kept for the keep-alive
  window. Until then it falls back to a fixed keep-alive.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol

from lambdalab.core._value import Value


class Windows(Value):
    """What to do with an environment that just became idle."""

    prewarm_s: float   # 0: keep it loaded now; > 0: unload now, load a new one after this long
    keep_alive_s: float
    __slots__ = ("prewarm_s", "keep_alive_s")
    _fields: ClassVar[tuple[str, ...]] = ("prewarm_s", "keep_alive_s")

    def __init__(self, prewarm_s: float, keep_alive_s: float) -> None:
        self.prewarm_s = prewarm_s
        self.keep_alive_s = keep_alive_s


class KeepAlivePolicy(Protocol):
    def observe_idle(self, idle_s: float) -> None: ...
    def windows(self) -> Windows: ...


class FixedKeepAlive:
    """Keep an idle environment for a fixed time."""

    def __init__(self, keep_alive_s: float = 600.0) -> None:
        self._windows = Windows(0.0, keep_alive_s)  # the same every time: asked once per idle environment

    @property
    def keep_alive_s(self) -> float:
        return self._windows.keep_alive_s

    def observe_idle(self, idle_s: float) -> None:
        pass

    def windows(self) -> Windows:
        return self._windows

    def __repr__(self) -> str:
        return f"FixedKeepAlive({self.keep_alive_s:g})"


class HybridHistogramKeepAlive:
    """Pre-warm and keep-alive windows from the histogram of idle times (Shahrad et al. 2020)."""

    def __init__(self, fallback_s: float = 600.0, *, bin_s: float = 60.0, range_s: float = 4 * 3600.0,
                 head: float = 5.0, tail: float = 99.0, margin: float = 0.10, min_samples: int = 10,
                 cv_threshold: float = 2.0) -> None:
        self.fallback_s = fallback_s
        self.bin_s = bin_s
        self.bins = [0] * int(math.ceil(range_s / bin_s))
        self.out_of_range = 0
        self.head, self.tail, self.margin = head, tail, margin
        self.min_samples, self.cv_threshold = min_samples, cv_threshold

    def observe_idle(self, idle_s: float) -> None:
        index = int(idle_s // self.bin_s)
        if index < len(self.bins):
            self.bins[index] += 1
        else:
            self.out_of_range += 1

    @property
    def samples(self) -> int:
        return sum(self.bins)

    def is_representative(self) -> bool:
        """Enough in-range samples, few out of range, and a histogram that is not flat (CV of counts)."""
        n = self.samples
        if n < self.min_samples or self.out_of_range > n:
            return False
        mean = n / len(self.bins)
        variance = sum((c - mean) ** 2 for c in self.bins) / len(self.bins)
        return math.sqrt(variance) / mean >= self.cv_threshold

    def _percentile(self, p: float) -> float:
        """The upper edge of the bin holding the p-th percentile of idle times."""
        target, seen = self.samples * p / 100.0, 0
        for index, count in enumerate(self.bins):
            seen += count
            if seen >= target and count:
                return (index + 1) * self.bin_s
        return len(self.bins) * self.bin_s

    def windows(self) -> Windows:
        if not self.is_representative():
            return Windows(0.0, self.fallback_s)
        head = self._percentile(self.head) - self.bin_s  # the lower edge: pre-warm before it
        tail = self._percentile(self.tail)
        prewarm = max(0.0, head * (1.0 - self.margin))
        return Windows(prewarm, max(self.bin_s, tail * (1.0 + self.margin) - prewarm))

    def __repr__(self) -> str:
        return f"HybridHistogramKeepAlive(fallback_s={self.fallback_s:g}, samples={self.samples})"
