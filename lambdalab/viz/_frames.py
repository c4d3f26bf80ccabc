"""What every chart shares: reading columns of the records as numpy arrays, and the layout.

The column readers tolerate missing columns and empty frames (a live figure starts with no
data); ``segment_lines`` lays out start→end segments as one NaN-separated line trace, the form the
timeline and the many-environment reuse chart draw in; ``min_segment_s`` and ``widen_short`` keep a
short segment a few pixels wide (its true duration stays in the hover's customdata). ``base_layout`` stamps the figure's
kind and time origin into ``layout.meta``, where ``update`` finds them again. numpy is imported
inside the functions, like plotly everywhere in ``lambdalab.viz``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Parts = tuple[list[dict[str, Any]], dict[str, Any]]
_UIREVISION = "lambdalab"  # kept constant, so a live figure keeps the user's zoom across updates
META_KEY = "lambdalab"


def has_rows(frame: pd.DataFrame | None) -> TypeGuard[pd.DataFrame]:
    """Whether ``frame`` is a table with at least one row (a live figure starts with none)."""
    return frame is not None and len(frame) > 0


def float_column(frame: pd.DataFrame, name: str, default: float = math.nan) -> np.ndarray:
    import numpy as np

    if name not in frame.columns:
        return np.full(len(frame), default, dtype=float)
    values: np.ndarray = frame[name].to_numpy(dtype=float, na_value=math.nan)  # pandas is untyped here
    return values


def bool_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    import numpy as np

    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values: np.ndarray = frame[name].fillna(False).to_numpy(dtype=bool)
    return values


def restored_mask(frame: pd.DataFrame) -> np.ndarray:
    """The requests whose environment was restored from a SnapStart snapshot (``restore_duration_ms`` set).

    The records call such a start cold (it is no warm start) but give it no init; the charts show it as an
    outcome of its own, ``restored``, in the restore's colour (docs/VISUALS.md).
    """
    import numpy as np

    if "restore_duration_ms" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values: np.ndarray = frame["restore_duration_ms"].notna().to_numpy(dtype=bool)
    return values


def invocation_times(frame: pd.DataFrame) -> np.ndarray:
    """When each request was made: ``submitted``, or ``scheduled_at`` for rows without a record."""
    import numpy as np

    times = float_column(frame, "submitted")
    if "scheduled_at" in frame.columns:
        times = np.where(np.isnan(times), float_column(frame, "scheduled_at"), times)
    return times


def invoked_mask(frame: pd.DataFrame) -> np.ndarray:
    import numpy as np

    if "request_id" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    values: np.ndarray = frame["request_id"].notna().to_numpy(dtype=bool)
    return values


def segment_lines(
    start: np.ndarray, end: np.ndarray, row: np.ndarray, duration: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, customdata for line segments start→end on ``row``, separated by NaN gaps."""
    import numpy as np

    n = len(start)
    x = np.empty(3 * n)  # float64: times keep their precision
    y = np.empty(3 * n, dtype=np.float32)  # row numbers and durations: float32 halves the payload
    c = np.empty(3 * n, dtype=np.float32)
    x[0::3], x[1::3], x[2::3] = start, end, np.nan
    y[0::3], y[1::3], y[2::3] = row, row, np.nan
    c[0::3], c[1::3], c[2::3] = duration, duration, np.nan
    return x, y, c


def widen_short(start: np.ndarray, end: np.ndarray, min_s: float) -> np.ndarray:
    """The drawn ends of segments ``start``→``end``: at least ``min_s`` after their starts (NaN stays NaN)."""
    import numpy as np

    drawn: np.ndarray = np.fmax(end, start + min_s)
    return drawn


def min_segment_s(first: float, last: float, plot_px: float, min_px: float) -> float:
    """Seconds that ``min_px`` pixels stand for on an x axis from ``first`` to ``last`` over ``plot_px``.

    Widening segments can push the axis's right end out by ``min_px``, so the plot is taken as that
    much narrower; 5% more covers the browser's rounding. NaN or equal ends count as a 1 s range.
    """
    span = last - first if math.isfinite(first) and math.isfinite(last) and last > first else 1.0
    return 1.05 * min_px * span / max(plot_px - min_px, 1.0)


def short_id(environment_id: Any) -> str:
    return str(environment_id)[:8]


def base_layout(title: str, kind: str, origin: float | None, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title},
        "template": "plotly_white",
        "uirevision": _UIREVISION,
        "meta": {META_KEY: kind, "origin": origin},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "margin": {"l": 70, "r": 20, "t": 70, "b": 50},
    }
    layout.update(extra)
    return layout


def time_axis(origin: float | None) -> dict[str, Any]:
    return {"title": {"text": "seconds since start"}, "zeroline": False}
