"""Axes every chart shares: 1-2-5 ticks with units on log axes, nice bin widths, time bins.

plotly's own log ticks label only the mantissa between decades ("2, 5, 2, 5"), which reads as
nonsense on a latency axis; ``log_ticks`` gives explicit 1-2-5 ticks with their unit
("500 µs, 1 ms, 2 ms, 5 ms"). ``nice_step`` rounds a bin width up to 1, 2 or 5 times a power of
ten, so bins fall on round times (100 ms, 200 ms, 500 ms, 1 s). numpy is imported inside the
functions, like plotly everywhere in ``lambdalab.viz``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MANTISSAS = (1, 2, 5)


def ms_text(value_ms: float) -> str:
    """A duration in ms as people write it: "500 µs", "2 ms", "1.5 s"."""
    if value_ms >= 1000:
        return f"{value_ms / 1000:g} s"
    if value_ms < 1:
        return f"{value_ms * 1000:.3g} µs"
    return f"{value_ms:g} ms"


def log_ticks(lo: float, hi: float, *, most: int = 12) -> list[float]:
    """Tick values between ``lo`` and ``hi`` (> 0) for a log axis: 1-2-5 per decade; only the decades when
    that makes more than ``most``; every 1..9 when 1-2-5 gives fewer than three; [] for a range too narrow
    for any (plotly's own ticks then)."""
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)

    def within(mantissas: tuple[int, ...]) -> list[float]:
        values = (m * 10.0**d for d in decades for m in mantissas)
        return [round_sig(v) for v in values if lo * 0.999 <= v <= hi * 1.001]

    ticks = within(MANTISSAS)
    if len(ticks) > most:
        return within((1,))
    if len(ticks) >= 3:
        return ticks
    every = within(tuple(range(1, 10)))
    return every if len(every) >= 2 else ticks if len(ticks) >= 2 else []


def round_ticks(lo: float, hi: float, *, count: int = 4) -> list[float]:
    """About ``count`` round ticks (multiples of a 1-2-5 step) from ``lo`` to ``hi``: for a range too narrow for
    ``log_ticks`` (100.7-168.8 ms gives 120, 140, 160), never the raw ends."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [round_sig(lo)] if math.isfinite(lo) else []
    step = nice_step((hi - lo) / max(count, 1))
    first = math.ceil(lo / step - 1e-9)
    ticks = [round_sig(k * step) for k in range(first, math.floor(hi / step + 1e-9) + 1)]
    return ticks if ticks else [round_sig((lo + hi) / 2)]


def round_sig(value: float) -> float:
    """``value`` without float noise (2 * 10**-1 is 0.2, not 0.20000000000000004)."""
    return float(f"{value:.6g}")


def log_axis_ms(values: np.ndarray, **extra: Any) -> dict[str, Any]:
    """A log axis in ms whose ticks read "1 ms, 2 ms, 5 ms, 10 ms" for ``values`` (NaN and <= 0 ignored)."""
    import numpy as np

    axis: dict[str, Any] = {"type": "log", **extra}
    shown = values[np.isfinite(values) & (values > 0)] if len(values) else values
    ticks = log_ticks(float(shown.min()), float(shown.max())) if len(shown) else []
    if ticks:
        axis.update(tickmode="array", tickvals=ticks, ticktext=[ms_text(t) for t in ticks], ticksuffix=None)
    else:  # a range too narrow for round ticks: plotly's, with the unit
        axis.update(tickmode="auto", tickvals=None, ticktext=None, ticksuffix=" ms")
    return axis


def nice_step(width: float) -> float:
    """``width`` rounded up to 1, 2 or 5 times a power of ten (0.13 -> 0.2, 0.6 -> 1)."""
    if not (width > 0 and math.isfinite(width)):
        return 1.0
    decade = 10.0 ** math.floor(math.log10(width))
    for m in (*MANTISSAS, 10):
        if m * decade >= width * (1 - 1e-9):
            return round_sig(m * decade)
    return round_sig(10 * decade)  # pragma: no cover - the loop always returns


def bins(t_min: float, t_max: float, bin_s: float, max_bins: int) -> np.ndarray:
    """Bin edges from ``t_min`` (a multiple of the width) to ``t_max`` or just past it: width ``bin_s``,
    or wider (a 1-2-5 step) so that there are at most ``max_bins``. The last bin holds ``t_max``."""
    import numpy as np

    span = max(t_max - t_min, 0.0)
    width = bin_s if span / bin_s <= max_bins else nice_step(span / max_bins)
    start = math.floor(t_min / width) * width
    count = max(1, math.ceil((t_max - start) / width - 1e-9))
    edges: np.ndarray = start + width * np.arange(count + 1)
    edges[-1] = max(edges[-1], t_max)  # no time lost to rounding at the end
    return edges


def bin_text(width_s: float) -> str:
    """A bin width as text: "100 ms", "1 s"."""
    return ms_text(round_sig(width_s * 1000))


def subtitle(layout: dict[str, Any], text: str) -> dict[str, Any]:
    """``layout`` with a one-line subtitle under its title, and room for both above the legend."""
    layout["title"] = {**layout.get("title", {}), "subtitle": {"text": text}, "y": 0.98, "yanchor": "top"}
    layout["margin"] = {**layout.get("margin", {}), "t": 100}
    layout["legend"] = {**layout.get("legend", {}), "traceorder": "normal"}
    return layout
