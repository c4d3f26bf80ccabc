"""Latency charts: each request's latency over time, the latency distribution, init durations.

All three read the invocations DataFrame only, and split it cold vs warm (``COLD_COLOUR``,
``WARM_COLOUR``) and restored (``RESTORED_COLOUR``: a SnapStart restore is its own outcome). Log axes
have 1-2-5 ticks with units (``axes.log_ticks``). Throttled requests never ran, so they get no
latency: the latency chart marks them on a strip of their own. The histogram is binned here
(log-spaced by default), so only the bins travel; the point charts are WebGL (``scattergl``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import (
    Parts,
    base_layout,
    bool_column,
    float_column,
    has_rows,
    invocation_times,
    invoked_mask,
    restored_mask,
    time_axis,
)
from lambdalab.viz.axes import log_axis_ms, log_ticks, ms_text, round_ticks
from lambdalab.viz.colours import (
    COLD_COLOUR,
    ERROR_COLOUR,
    PHASE_COLOURS,
    RESTORED_COLOUR,
    THROTTLE_COLOUR,
    UI_COLOURS,
    WARM_COLOUR,
)
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["init_durations", "latency_histogram", "latency_over_time"]


# -------------------------------------------------------------------------------- latency over time
STRIP = (0.9, 1.0)  # the throttled requests' strip at the top of the latency chart (paper fraction)


def parts_latency_over_time(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    log_y: bool = True,
    title: str = "Latency over time, cold vs warm",
) -> Parts:
    import numpy as np

    traces: list[dict[str, Any]] = []
    if not has_rows(invocations):
        x = latency = np.empty(0)
        cold = restored = throttled = invoked = np.zeros(0, dtype=bool)
    else:
        base = origin if origin is not None else 0.0
        x = invocation_times(invocations) - base
        latency = float_column(invocations, "latency_ms")
        invoked = invoked_mask(invocations)
        restored = restored_mask(invocations) & invoked
        cold = bool_column(invocations, "cold") & invoked & ~restored
        throttled = bool_column(invocations, "throttled")
    for name, mask, colour in (
        ("cold", cold, COLD_COLOUR),
        ("warm", invoked & ~cold & ~restored, WARM_COLOUR),
        ("restored", restored, RESTORED_COLOUR),
    ):
        marker: dict[str, Any] = {"color": colour, "size": 5, "symbol": "circle", "opacity": 0.8}
        if name == "restored":  # a light fill: an outline keeps it visible on the white plot
            marker["line"] = {"color": UI_COLOURS["muted"], "width": 0.5}
        traces.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "name": name,
                "x": x[mask],
                "y": latency[mask],
                "marker": marker,
                "showlegend": name != "restored" or bool(mask.any()),  # restored: only where SnapStart ran
                "hovertemplate": f"{name} %{{y:.2f}} ms<br>t=%{{x:.3f}} s<extra></extra>",
            }
        )
    # throttled requests never ran: no latency to plot, so a tick each on a strip of their own
    traces.append(
        {
            "type": "scattergl",
            "mode": "markers",
            "name": "throttled",
            "x": x[throttled],
            "y": np.zeros(int(throttled.sum())),
            "yaxis": "y2",
            "marker": {"color": THROTTLE_COLOUR, "size": 10, "symbol": "line-ns-open", "line": {"width": 2}},
            "hovertemplate": "throttled (refused, never ran)<br>t=%{x:.3f} s<extra></extra>",
        }
    )
    shown = latency[invoked]
    title_y = {"title": {"text": "latency"}, "domain": [0.0, STRIP[0] - 0.04]}
    yaxis = log_axis_ms(shown, **title_y) if log_y else {**title_y, "type": "linear", "ticksuffix": " ms"}
    strip = {
        "domain": list(STRIP),
        "range": [-1, 1],
        "fixedrange": True,
        "showgrid": False,
        "zeroline": False,
        "tickmode": "array",
        "tickvals": [0],
        "ticktext": ["throttled"],
        "tickfont": {"color": THROTTLE_COLOUR},
    }
    layout = base_layout(
        title,
        "latency_over_time",
        origin,
        xaxis=time_axis(origin),
        yaxis=yaxis,
        yaxis2=strip,
        hovermode="closest",
        height=380,
    )
    return traces, layout


def latency_over_time(
    invocations_df: pd.DataFrame,
    *,
    origin: float | None = None,
    log_y: bool = True,
    window_s: float | None = None,
    title: str = "Latency over time, cold vs warm",
) -> Any:
    """Each request's latency (``latency_ms``) at the time it was made, cold and warm (log axis, 1-2-5
    ticks in ms); throttled requests, which never ran, as ticks on a strip of their own at the top."""
    return render(
        parts_latency_over_time, invocations=invocations_df, origin=origin, log_y=log_y, window_s=window_s, title=title
    )


# ----------------------------------------------------------------------------- latency distribution
def parts_latency_histogram(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    bins: int = 60,
    log_x: bool = True,
    title: str = "Latency distribution, cold vs warm",
) -> Parts:
    import numpy as np

    if not has_rows(invocations):
        latency = np.empty(0)
        cold = warm = restored = np.zeros(0, dtype=bool)
    else:
        latency = float_column(invocations, "latency_ms")
        invoked = invoked_mask(invocations) & np.isfinite(latency)
        restored = restored_mask(invocations) & invoked
        cold = bool_column(invocations, "cold") & invoked & ~restored
        warm = invoked & ~cold & ~restored
    values = latency[cold | warm | restored]
    if log_x:
        values = values[values > 0]
    traces: list[dict[str, Any]] = []
    xaxis: dict[str, Any] = {"title": {"text": "latency (ms)"}}
    if len(values):
        lo, hi = float(values.min()), float(values.max())
        if log_x:
            lo_l, hi_l = math.log10(lo), math.log10(hi)
            if hi_l - lo_l < 1e-9:
                lo_l, hi_l = lo_l - 0.05, hi_l + 0.05
            edges_l = np.linspace(lo_l, hi_l, bins + 1)
            edges = 10.0**edges_l
            ticks = log_ticks(10**lo_l, 10**hi_l) or round_ticks(10**lo_l, 10**hi_l)
            xaxis.update(
                tickmode="array", tickvals=[math.log10(t) for t in ticks], ticktext=[ms_text(t) for t in ticks]
            )
        else:
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            edges_l = edges
            xaxis.update(tickmode="auto", tickvals=None, ticktext=None)
        edges[0], edges[-1] = min(edges[0], lo), max(edges[-1], hi)  # no value lost to rounding at the ends
        centres = (edges_l[:-1] + edges_l[1:]) / 2
        widths = np.diff(edges_l)
        custom = np.column_stack([edges[:-1], edges[1:]])
    else:
        edges = centres = widths = np.empty(0)
        custom = np.empty((0, 2))
        xaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    outcomes = (("cold", cold, COLD_COLOUR), ("warm", warm, WARM_COLOUR), ("restored", restored, RESTORED_COLOUR))
    for name, mask, colour in outcomes:
        data = latency[mask]
        counts = np.histogram(data[data > 0] if log_x else data, bins=edges)[0] if len(edges) else np.empty(0)
        traces.append(
            {
                "type": "bar",
                "name": f"{name} ({int(mask.sum()):,})",
                "x": centres,
                "y": counts,
                "width": widths,
                "customdata": custom,
                "marker": {"color": colour, "line": {"width": 0}},
                "showlegend": name != "restored" or bool(mask.any()),
                "opacity": 0.75,
                "hovertemplate": f"{name}: %{{y}} requests<br>"
                "%{customdata[0]:.2f}–%{customdata[1]:.2f} ms<extra></extra>",
            }
        )
    layout = base_layout(
        title,
        "latency_histogram",
        None,
        xaxis=xaxis,
        yaxis={"title": {"text": "requests"}},
        barmode="overlay",
        bargap=0,
        height=360,
    )
    return traces, layout


def latency_histogram(
    invocations_df: pd.DataFrame,
    *,
    bins: int = 60,
    log_x: bool = True,
    title: str = "Latency distribution, cold vs warm",
) -> Any:
    """Histograms of ``latency_ms`` for cold and warm requests, on shared (log-spaced) bins."""
    return render(parts_latency_histogram, invocations=invocations_df, bins=bins, log_x=log_x, title=title)


# ----------------------------------------------------------------------------------- init durations
def parts_init_durations(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    title: str = "Init duration per cold start",
) -> Parts:
    import numpy as np

    if not has_rows(invocations):
        x = init = np.empty(0)
        normal = suppressed = np.zeros(0, dtype=bool)
    else:
        base = origin if origin is not None else 0.0
        x = invocation_times(invocations) - base
        init = float_column(invocations, "init_duration_ms")
        cold = bool_column(invocations, "cold") & invoked_mask(invocations) & np.isfinite(init)
        suppressed = cold & bool_column(invocations, "init_suppressed")
        normal = cold & ~suppressed
    traces = []
    for name, mask, symbol in (
        ("init", normal, "circle"),
        ("init (suppressed, retried in invoke)", suppressed, "circle-open"),
    ):
        traces.append(
            {
                "type": "scattergl",
                "mode": "markers",
                "name": name,
                "x": x[mask],
                "y": init[mask],
                "marker": {
                    "color": PHASE_COLOURS["init"],
                    "size": 7,
                    "symbol": symbol,
                    "line": {"color": ERROR_COLOUR if symbol == "circle-open" else PHASE_COLOURS["init"], "width": 1},
                },
                "hovertemplate": "init %{y:.1f} ms<br>t=%{x:.3f} s<extra></extra>",
            }
        )
    layout = base_layout(
        title,
        "init_durations",
        origin,
        xaxis=time_axis(origin),
        yaxis={"title": {"text": "init duration (ms)"}, "rangemode": "tozero"},
        hovermode="closest",
        height=340,
        showlegend=True,
    )
    return traces, layout


def init_durations(
    invocations_df: pd.DataFrame, *, origin: float | None = None, title: str = "Init duration per cold start"
) -> Any:
    """``init_duration_ms`` of every cold start, at the time of its request."""
    return render(parts_init_durations, invocations=invocations_df, origin=origin, title=title)
