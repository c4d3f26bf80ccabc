"""What every chart shares: reading columns of the records as numpy arrays, and the layout.

The column readers tolerate missing columns and empty frames (a live figure starts with no
data); ``_segments`` lays out start→end segments as one NaN-separated line trace, the form the
timeline and the many-environment reuse chart draw in. ``_base_layout`` stamps the figure's
kind and time origin into ``layout.meta``, where ``update`` finds them again. numpy is imported
inside the functions, like plotly everywhere in ``lambdalab.viz``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Parts = tuple[list[dict[str, Any]], dict[str, Any]]
_UIREVISION = "lambdalab"  # kept constant, so a live figure keeps the user's zoom across updates
_META_KEY = "lambdalab"


def _np() -> Any:
    import numpy

    return numpy


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or len(frame) == 0


def _column(frame: pd.DataFrame, name: str, default: float = math.nan) -> np.ndarray:
    np = _np()
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=float)
    return frame[name].to_numpy(dtype=float, na_value=math.nan)


def _bool_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    np = _np()
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[name].fillna(False).to_numpy(dtype=bool)


def _invocation_times(frame: pd.DataFrame) -> np.ndarray:
    """When each request was made: ``submitted``, or ``scheduled_at`` for rows without a record."""
    np = _np()
    times = _column(frame, "submitted")
    if "scheduled_at" in frame.columns:
        times = np.where(np.isnan(times), _column(frame, "scheduled_at"), times)
    return times


def _invoked(frame: pd.DataFrame) -> np.ndarray:
    np = _np()
    if "request_id" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    return frame["request_id"].notna().to_numpy(dtype=bool)


def _segments(start: np.ndarray, end: np.ndarray, row: np.ndarray, duration: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, customdata for line segments start→end on ``row``, separated by NaN gaps."""
    np = _np()
    n = len(start)
    x = np.empty(3 * n)                    # float64: times keep their precision
    y = np.empty(3 * n, dtype=np.float32)  # row numbers and durations: float32 halves the payload
    c = np.empty(3 * n, dtype=np.float32)
    x[0::3], x[1::3], x[2::3] = start, end, np.nan
    y[0::3], y[1::3], y[2::3] = row, row, np.nan
    c[0::3], c[1::3], c[2::3] = duration, duration, np.nan
    return x, y, c


def _short(environment_id: Any) -> str:
    return str(environment_id)[:8]


def _base_layout(title: str, kind: str, origin: float | None, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title},
        "template": "plotly_white",
        "uirevision": _UIREVISION,
        "meta": {_META_KEY: kind, "origin": origin},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "margin": {"l": 70, "r": 20, "t": 70, "b": 50},
    }
    layout.update(extra)
    return layout


def _time_axis(origin: float | None) -> dict[str, Any]:
    return {"title": {"text": "seconds since start"}, "zeroline": False}


def _figure(kind: str, **kwargs: Any) -> Any:
    """``figures.figure(kind, ...)`` for the chart functions.

    Imported when called: ``figures`` imports the chart modules to list them in ``KINDS``.
    """
    from lambdalab.viz.figures import figure

    return figure(kind, **kwargs)
