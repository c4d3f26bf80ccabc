"""From a chart's parts to a figure: the time origin, the window, a new ``go.Figure``.

A chart is a ``parts_<kind>(spans, invocations, **options) -> (traces, layout)`` function (in
``timeline.py``, ``latency.py``, ``usage.py``). ``prepare`` gives it its options the way every chart
takes them: a chart that draws time (its parts take an ``origin``) measures from the earliest time
in all the data unless given one, ``window_s`` keeps only the last seconds, ``x_range`` (seconds
since the origin) fixes the time axis so several charts line up, and ``origin`` and ``x_range`` are
accepted, and dropped, by the charts that draw no time. ``render`` makes the figure. Neither knows
the charts by name (``figures.KINDS`` does), so the chart modules use them without a circle.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import Parts, float_column, has_rows, invocation_times

if TYPE_CHECKING:
    import pandas as pd

PartsFunction = Callable[..., Parts]


@functools.cache
def takes_x_range(make: PartsFunction) -> bool:
    """Whether a chart lays itself out for a fixed time range (the timeline widens short segments to it)."""
    return "x_range" in inspect.signature(make).parameters


@functools.cache
def draws_time(make: PartsFunction) -> bool:
    """Whether a chart draws time since an origin (its parts take ``origin``)."""
    return "origin" in inspect.signature(make).parameters


def default_origin(spans: pd.DataFrame | None, invocations: pd.DataFrame | None) -> float | None:
    """The earliest time in the data (epoch seconds), or None when there is none."""
    import numpy as np

    candidates = []
    if has_rows(spans):
        candidates.append(np.nanmin(float_column(spans, "start")))
    if has_rows(invocations):
        times = invocation_times(invocations)
        if np.isfinite(times).any():
            candidates.append(np.nanmin(times))
    candidates = [candidate for candidate in candidates if math.isfinite(candidate)]
    return float(min(candidates)) if candidates else None


def window(
    spans: pd.DataFrame | None, invocations: pd.DataFrame | None, window_s: float
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Only what overlaps the last ``window_s`` seconds of the data."""
    import numpy as np

    ends = []
    if has_rows(spans):
        ends.append(np.nanmax(float_column(spans, "end")))
    if has_rows(invocations):
        times = np.fmax(invocation_times(invocations), float_column(invocations, "end"))
        if np.isfinite(times).any():
            ends.append(np.nanmax(times))
    if not ends:
        return spans, invocations
    since = max(ends) - window_s
    if has_rows(spans):
        spans = spans[float_column(spans, "end") >= since]
    if has_rows(invocations):
        invocations = invocations[invocation_times(invocations) >= since]
    return spans, invocations


def prepare(
    make: PartsFunction, spans: pd.DataFrame | None, invocations: pd.DataFrame | None, options: dict[str, Any]
) -> Parts:
    """``make``'s traces and layout, with the origin, window and time range every chart takes."""
    window_s = options.pop("window_s", None)
    x_range = options.pop("x_range", None)
    timed = draws_time(make)
    if not timed:
        options = {key: value for key, value in options.items() if key != "origin"}
    elif options.get("origin") is None:
        options = {**options, "origin": default_origin(spans, invocations)}  # of all the data, not the window
    if window_s is not None:
        spans, invocations = window(spans, invocations, float(window_s))
    if x_range is not None and takes_x_range(make):
        options = {**options, "x_range": (float(x_range[0]), float(x_range[1]))}
    traces, layout = make(spans, invocations, **options)
    if timed and x_range is not None:  # charts that share one time axis (a panel's) get the same range
        layout["xaxis"] = {
            **layout.get("xaxis", {}),
            "range": [float(x_range[0]), float(x_range[1])],
            "autorange": False,
        }
    return traces, layout


def render(
    make: PartsFunction,
    *,
    spans: pd.DataFrame | None = None,
    invocations: pd.DataFrame | None = None,
    widget: bool = False,
    **options: Any,
) -> Any:
    """A new ``go.Figure`` (``widget=True``: ``go.FigureWidget``, which needs anywidget) of ``make``'s chart."""
    import plotly.graph_objects as go

    traces, layout = prepare(make, spans, invocations, dict(options))
    cls = go.FigureWidget if widget else go.Figure
    return cls({"data": traces, "layout": layout})
