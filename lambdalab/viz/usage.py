"""How the environments are used: concurrency over time (busy / frozen / idle, throttles) and reuse.

Concurrency turns the spans into step functions (``_step``) and, past ``max_points`` changes,
keeps each bin's maximum (``_binned_max``); reuse counts each environment's cold and warm
invocations, drawn as WebGL segments when there are too many bars for SVG.
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
    segment_lines,
    short_id,
    time_axis,
)
from lambdalab.viz.colours import COLD_WARM_COLOURS, PHASE_COLOURS, THROTTLE_COLOUR
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["concurrency", "reuse"]


# -------------------------------------------------------------------------------------- concurrency
def _step(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The number of open intervals, as a step function: (times, level from that time on)."""
    import numpy as np

    times = np.concatenate([start, end])
    deltas = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((deltas, times))  # at equal times, ends (-1) before starts
    times, level = times[order], np.cumsum(deltas[order])
    if len(times):
        last = np.append(times[1:] != times[:-1], True)  # keep the level after the last change at each time
        times, level = times[last], level[last]
    return times, level


def _binned_max(times: np.ndarray, level: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bin, the highest level the step function reaches inside it (its envelope)."""
    import numpy as np

    nb = len(edges) - 1
    if not len(times):
        return np.zeros(nb)
    before = np.searchsorted(times, edges[:-1], side="right") - 1
    out = np.where(before >= 0, level[np.maximum(before, 0)], 0.0)
    if len(times):
        width = edges[1] - edges[0]
        which = np.clip(((times - edges[0]) / width).astype(np.int64), 0, nb - 1)
        np.maximum.at(out, which, level)
    return out


def parts_concurrency(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    max_points: int = 2000,
    bin_s: float | None = None,
    title: str = "Concurrency over time",
) -> Parts:
    import numpy as np

    base = origin if origin is not None else 0.0
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    lines = (
        ("busy (init + invoke)", ("init", "invoke"), PHASE_COLOURS["invoke"]),
        ("frozen", ("frozen",), PHASE_COLOURS["frozen"]),
        ("idle", ("idle",), PHASE_COLOURS["idle"]),
    )
    t_max = 0.0
    phases = spans["phase"].to_numpy() if has_rows(spans) else np.empty(0, dtype=object)
    start = float_column(spans, "start") - base if has_rows(spans) else np.empty(0)
    end = float_column(spans, "end") - base if has_rows(spans) else np.empty(0)
    for name, which, _ in lines:
        mask = np.isin(phases, which)
        series[name] = _step(start[mask], end[mask])
        if len(series[name][0]):
            t_max = max(t_max, float(series[name][0][-1]))
    throttle_times = np.empty(0)
    if has_rows(invocations) and "throttled" in invocations.columns:
        mask = bool_column(invocations, "throttled")
        throttle_times = invocation_times(invocations)[mask] - base
        if len(throttle_times):
            t_max = max(t_max, float(np.nanmax(throttle_times)))
    t_min = min([0.0] + [float(s[0][0]) for s in series.values() if len(s[0])])
    width = bin_s if bin_s else max((t_max - t_min) / max_points, 1e-3)
    nb = max(1, math.ceil((t_max - t_min) / width) if t_max > t_min else 1)
    edges = t_min + width * np.arange(nb + 1)
    traces: list[dict[str, Any]] = []
    exact = bin_s is None and all(len(t) <= max_points for t, _ in series.values())
    for name, _, colour in lines:
        times, level = series[name]
        if exact:
            x = np.append(times, t_max) if len(times) else times
            y = np.append(level, level[-1]) if len(level) else level
        else:
            x, y = edges[:-1], _binned_max(times, level, edges)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": x,
                "y": y,
                "line": {"color": colour, "shape": "hv", "width": 2},
                "fill": "tozeroy" if name.startswith("busy") else "none",
                "hovertemplate": f"{name}: %{{y}}<br>t=%{{x:.3f}} s<extra></extra>",
            }
        )
    if len(throttle_times):
        tw = max(width, 1.0) if exact else width
        tb = max(1, math.ceil((t_max - t_min) / tw) or 1)
        tedges = t_min + tw * np.arange(tb + 1)
        counts = np.histogram(throttle_times, bins=tedges)[0] / tw
        tx, ty = tedges[:-1], counts
    else:
        tx, ty = np.empty(0), np.empty(0)
    traces.append(
        {
            "type": "bar",
            "name": "throttled (requests/s)",
            "x": tx,
            "y": ty,
            "yaxis": "y2",
            "offset": 0,
            "width": (tx[1] - tx[0]) if len(tx) > 1 else 1.0,
            "marker": {"color": THROTTLE_COLOUR},
            "opacity": 0.6,
            "hovertemplate": "throttled: %{y:.1f}/s<br>t=%{x:.3f} s<extra></extra>",
        }
    )
    layout = base_layout(
        title,
        "concurrency",
        origin,
        xaxis=time_axis(origin),
        yaxis={"title": {"text": "environments"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "throttled / s"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "visible": bool(len(tx)),
        },
        hovermode="x unified",
        height=360,
    )
    return traces, layout


def concurrency(
    spans_df: pd.DataFrame,
    invocations_df: pd.DataFrame | None = None,
    *,
    origin: float | None = None,
    max_points: int = 2000,
    bin_s: float | None = None,
    window_s: float | None = None,
    title: str = "Concurrency over time",
) -> Any:
    """Environments busy (init or invoke), frozen and idle over time; throttles per second (right axis).

    Exact step lines while each has at most ``max_points`` changes; beyond that (or with
    ``bin_s``), each bin shows the highest level reached in it.
    """
    return render(
        parts_concurrency,
        spans=spans_df,
        invocations=invocations_df,
        origin=origin,
        max_points=max_points,
        bin_s=bin_s,
        window_s=window_s,
        title=title,
    )


# -------------------------------------------------------------------------------------------- reuse
def parts_reuse(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    max_labels: int = 60,
    bar_limit: int = 300,
    title: str = "Invocations per environment (reuse)",
) -> Parts:
    import numpy as np

    traces: list[dict[str, Any]] = []
    xaxis: dict[str, Any] = {"title": {"text": "environment (by first use)"}}
    if not has_rows(invocations):
        x: np.ndarray = np.empty(0)
        counts: dict[str, np.ndarray] = {"cold": np.empty(0), "warm": np.empty(0)}
        labels: list[str] = []
    else:
        import pandas as pd

        invoked = invoked_mask(invocations)
        frame = invocations[invoked]
        times = invocation_times(frame)
        order = np.argsort(times, kind="stable")
        codes, uniques = pd.factorize(frame["environment_id"].to_numpy()[order])
        cold = bool_column(frame, "cold")[order]
        n = len(uniques)
        counts = {"cold": np.bincount(codes[cold], minlength=n), "warm": np.bincount(codes[~cold], minlength=n)}
        x = np.arange(1, n + 1)
        labels = [short_id(u) for u in uniques]
    if 0 < len(labels) <= max_labels:
        xaxis.update(tickmode="array", tickvals=list(x), ticktext=labels)
    else:
        xaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    if len(x) <= bar_limit:
        for name in ("cold", "warm"):
            traces.append(
                {
                    "type": "bar",
                    "name": name,
                    "x": x,
                    "y": counts[name],
                    "marker": {"color": COLD_WARM_COLOURS[name]},
                    "hovertemplate": f"environment #%{{x}}: %{{y}} {name}<extra></extra>",
                }
            )
    else:  # thousands of SVG bars redraw slowly: the same bars as WebGL vertical segments
        width = float(max(1.0, min(8.0, 900.0 / len(x))))
        bottom = {"cold": np.zeros(len(x)), "warm": counts["cold"].astype(float)}
        for name in ("cold", "warm"):
            top = bottom[name] + counts[name]
            sx, sy, sc = segment_lines(bottom[name], top, x.astype(float), counts[name].astype(float))
            traces.append(
                {
                    "type": "scattergl",
                    "mode": "lines",
                    "name": name,
                    "x": sy,
                    "y": sx,
                    "customdata": sc,
                    "line": {"color": COLD_WARM_COLOURS[name], "width": width},
                    "connectgaps": False,
                    "hovertemplate": f"environment #%{{x}}: %{{customdata}} {name}<extra></extra>",
                }
            )
    layout = base_layout(
        title,
        "reuse",
        None,
        xaxis=xaxis,
        yaxis={"title": {"text": "invocations"}, "rangemode": "tozero"},
        barmode="stack",
        height=340,
    )
    layout["legend"]["traceorder"] = "normal"
    return traces, layout


def reuse(
    invocations_df: pd.DataFrame,
    *,
    max_labels: int = 60,
    bar_limit: int = 300,
    title: str = "Invocations per environment (reuse)",
) -> Any:
    """A bar per environment (by first use): its cold start(s) and the warm invocations it served.

    Above ``bar_limit`` environments the bars are drawn as WebGL line segments (same picture).
    """
    return render(parts_reuse, invocations=invocations_df, max_labels=max_labels, bar_limit=bar_limit, title=title)
