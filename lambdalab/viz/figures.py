"""Figures from records: pure functions from the spans / invocations DataFrames to plotly figures.

Each chart is split in two: ``_parts_<kind>(spans, invocations, options) -> (traces, layout)``
computes the trace properties with numpy (the only work that grows with the data), and
``figure``/``update`` turn them into a new ``go.Figure`` or write them into an existing figure
or ``FigureWidget`` in place. Every kind always makes the same traces in the same order (empty
ones included), so an update only assigns arrays and never adds or removes traces.

Large data: point traces are WebGL (``scattergl``) and numeric arrays stay numpy (plotly sends
them base64-encoded); the timeline draws every span of one phase as one ``scattergl`` line
trace, segments separated by NaN gaps (one trace per phase, not one shape per span); the
concurrency step lines are reduced to at most ``max_points`` bins (keeping each bin's maximum);
the histogram is binned here, so only the bins travel. ``benchmarks/bench_charts.py`` measures
all of it at 1,000 / 10,000 / 100,000 invocations.

The DataFrames are those of ``lab.spans()``, ``lab.invocations()`` and
``lambdalab.load.run(...).invocations``; times are epoch seconds, drawn as seconds since
``origin`` (default: the earliest time in the data, remembered by the figure for updates).
plotly is imported inside the functions, and nothing here imports IPython or ipywidgets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz.colours import (
    COLD_WARM_COLOURS,
    ERROR_COLOUR,
    PHASE_COLOURS,
    PHASE_ORDER,
    THROTTLE_COLOUR,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["KINDS", "concurrency", "init_durations", "latency_histogram", "latency_over_time", "reuse",
           "timeline", "update"]

Parts = tuple[list[dict[str, Any]], dict[str, Any]]
_UIREVISION = "lambdalab"  # kept constant, so a live figure keeps the user's zoom across updates
_META_KEY = "lambdalab"


# ----------------------------------------------------------------------------------------- helpers
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


def _default_origin(spans: pd.DataFrame | None, invocations: pd.DataFrame | None) -> float | None:
    np = _np()
    candidates = []
    if not _empty(spans):
        candidates.append(np.nanmin(_column(spans, "start")))
    if not _empty(invocations):
        times = _invocation_times(invocations)
        if np.isfinite(times).any():
            candidates.append(np.nanmin(times))
    candidates = [c for c in candidates if math.isfinite(c)]
    return float(min(candidates)) if candidates else None


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


def _merge_close(start: np.ndarray, end: np.ndarray, row: np.ndarray, duration: np.ndarray, gap: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join a row's segments that are less than ``gap`` apart (under a pixel): one segment each run.

    The durations of joined segments add up. Used for very large timelines, where plotly.js
    redraws several WebGL traces of 100,000s of segments slowly.
    """
    np = _np()
    if len(start) < 2:
        return start, end, row, duration
    order = np.lexsort((start, row))
    start, end, row, duration = start[order], end[order], row[order], duration[order]
    new = np.ones(len(start), dtype=bool)  # one environment's spans of one phase do not overlap
    new[1:] = (row[1:] != row[:-1]) | (start[1:] - end[:-1] > gap)
    firsts = np.flatnonzero(new)
    return (start[firsts], np.maximum.reduceat(end, firsts), row[firsts], np.add.reduceat(duration, firsts))


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


# ------------------------------------------------------------------------------------- (a) timeline
def _parts_timeline(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *, origin: float | None = None,
                    max_labels: int = 60, hover_limit: int = 50_000, merge_above: int = 60_000,
                    resolution: int = 4000, title: str = "Execution environments over time") -> Parts:
    np = _np()
    traces: list[dict[str, Any]] = []
    rows = 0
    tickvals: list[int] = []
    ticktext: list[str] = []
    if _empty(spans):
        per_phase = {phase: (np.empty(0), np.empty(0), np.empty(0)) for phase in PHASE_ORDER}
    else:
        import pandas as pd

        start = _column(spans, "start")
        end = _column(spans, "end")
        order = np.argsort(start, kind="stable")
        codes, uniques = pd.factorize(spans["environment_id"].to_numpy()[order])  # rows by first start
        row = np.empty(len(spans), dtype=float)
        row[order] = codes
        rows = len(uniques)
        base = origin if origin is not None else 0.0
        phases = spans["phase"].to_numpy()
        duration = (end - start) * 1000.0
        per_phase = {}
        merge_gap = (np.nanmax(end) - np.nanmin(start)) / resolution if len(spans) > merge_above else None
        for phase in PHASE_ORDER:
            mask = phases == phase
            s0, s1, r, d = start[mask] - base, end[mask] - base, row[mask], duration[mask]
            if merge_gap is not None:
                s0, s1, r, d = _merge_close(s0, s1, r, d, merge_gap)
            per_phase[phase] = _segments(s0, s1, r, d)
        if rows <= max_labels:
            functions = spans["function"].to_numpy()[order] if "function" in spans.columns else None
            first_function = {} if functions is None else dict(zip(codes[::-1], functions[::-1]))
            many = functions is not None and len(set(first_function.values())) > 1
            tickvals = list(range(rows))
            ticktext = [(f"{first_function[i]}·" if many else "") + _short(env) for i, env in enumerate(uniques)]
    height = int(min(900, max(260, 110 + 24 * max(rows, 1))))
    width = float(max(1.0, min(16.0, 0.7 * (height - 110) / max(rows, 1))))
    detail = _empty(spans) or len(spans) <= hover_limit  # above it, hover shows no duration: a third less to send
    for phase in PHASE_ORDER:
        x, y, custom = per_phase[phase]
        what = f"{phase} %{{customdata:.1f}} ms" if detail else phase
        traces.append({
            "type": "scattergl", "mode": "lines", "name": phase, "x": x, "y": y,
            "customdata": custom if detail else None,
            "line": {"color": PHASE_COLOURS[phase], "width": width}, "connectgaps": False,
            "hovertemplate": f"{what}<br>t=%{{x:.3f}} s<extra>environment #%{{y}}</extra>",
        })
    yaxis: dict[str, Any] = {"autorange": "reversed", "zeroline": False, "showgrid": False,
                             "title": {"text": "environment (by first start)"}}
    if tickvals:
        yaxis.update(tickmode="array", tickvals=tickvals, ticktext=ticktext)
    else:
        yaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    layout = _base_layout(title, "timeline", origin, xaxis=_time_axis(origin), yaxis=yaxis, height=height,
                          hovermode="closest")
    return traces, layout


def timeline(spans_df: pd.DataFrame, *, origin: float | None = None, max_labels: int = 60,
             hover_limit: int = 50_000, merge_above: int = 60_000, resolution: int = 4000,
             window_s: float | None = None, title: str = "Execution environments over time") -> Any:
    """One row per environment, a coloured segment per phase span (``PHASE_COLOURS``).

    Reuse shows as one row with many green invoke segments between frozen ones; scale-out as
    many rows starting with an init segment at the same time. Rows are ordered by first start;
    up to ``max_labels`` rows are labelled with the environment id's first 8 characters. Above
    ``hover_limit`` spans the hover text leaves out durations (a third less data to send);
    Above ``merge_above`` spans, a row's segments of one phase that are less than
    1/``resolution`` of the time range apart (under a pixel) are joined, so the figure keeps
    one segment per visible stretch rather than one per span. ``window_s`` keeps only the last
    seconds (a live view: in-place updates of 100,000s of segments are slow in the browser).
    """
    return figure("timeline", spans=spans_df, origin=origin, max_labels=max_labels, hover_limit=hover_limit,
                  merge_above=merge_above, resolution=resolution, window_s=window_s, title=title)


# ---------------------------------------------------------------------------- (b) latency over time
def _parts_latency_over_time(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *,
                             origin: float | None = None, log_y: bool = True,
                             title: str = "Latency over time, cold vs warm") -> Parts:
    np = _np()
    traces: list[dict[str, Any]] = []
    if _empty(invocations):
        x = latency = np.empty(0)
        cold = throttled = invoked = np.zeros(0, dtype=bool)
    else:
        base = origin if origin is not None else 0.0
        x = _invocation_times(invocations) - base
        latency = _column(invocations, "latency_ms")
        invoked = _invoked(invocations)
        cold = _bool_column(invocations, "cold") & invoked
        throttled = _bool_column(invocations, "throttled")
    for name, mask, colour, symbol in (("cold", cold, COLD_WARM_COLOURS["cold"], "circle"),
                                       ("warm", invoked & ~cold, COLD_WARM_COLOURS["warm"], "circle"),
                                       ("throttled", throttled, THROTTLE_COLOUR, "x")):
        traces.append({
            "type": "scattergl", "mode": "markers", "name": name, "x": x[mask], "y": latency[mask],
            "marker": {"color": colour, "size": 5, "symbol": symbol, "opacity": 0.8},
            "hovertemplate": f"{name} %{{y:.2f}} ms<br>t=%{{x:.3f}} s<extra></extra>",
        })
    yaxis = {"title": {"text": "latency (ms)"}, "type": "log" if log_y else "linear"}
    layout = _base_layout(title, "latency_over_time", origin, xaxis=_time_axis(origin), yaxis=yaxis,
                          hovermode="closest", height=380)
    return traces, layout


def latency_over_time(invocations_df: pd.DataFrame, *, origin: float | None = None, log_y: bool = True,
                      window_s: float | None = None, title: str = "Latency over time, cold vs warm") -> Any:
    """Each request's latency (``latency_ms``) at the time it was made; cold, warm and throttled traces."""
    return figure("latency_over_time", invocations=invocations_df, origin=origin, log_y=log_y, window_s=window_s,
                  title=title)


# ------------------------------------------------------------------------ (c) latency distribution
def _nice_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks (ms) between lo and hi, for an axis drawn in log10 space."""
    for mantissas in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = []
        for decade in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
            for m in mantissas:
                v = m * 10.0 ** decade
                if lo <= v <= hi:
                    ticks.append(v)
        if len(ticks) >= 3:
            break
    return ticks


def _ms_text(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{v:g} ms"


def _parts_latency_histogram(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *, bins: int = 60,
                             log_x: bool = True, title: str = "Latency distribution, cold vs warm") -> Parts:
    np = _np()
    if _empty(invocations):
        latency = np.empty(0)
        cold = warm = np.zeros(0, dtype=bool)
    else:
        latency = _column(invocations, "latency_ms")
        invoked = _invoked(invocations) & np.isfinite(latency)
        cold = _bool_column(invocations, "cold") & invoked
        warm = invoked & ~cold
    values = latency[cold | warm]
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
            edges = 10.0 ** edges_l
            ticks = _nice_ticks(10 ** lo_l, 10 ** hi_l) or [lo, hi]
            xaxis.update(tickmode="array", tickvals=[math.log10(t) for t in ticks], ticktext=[_ms_text(t) for t in ticks])
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
    for name, mask in (("cold", cold), ("warm", warm)):
        data = latency[mask]
        counts = np.histogram(data[data > 0] if log_x else data, bins=edges)[0] if len(edges) else np.empty(0)
        traces.append({
            "type": "bar", "name": f"{name} ({int(mask.sum()):,})", "x": centres, "y": counts, "width": widths,
            "customdata": custom, "marker": {"color": COLD_WARM_COLOURS[name], "line": {"width": 0}},
            "opacity": 0.75,
            "hovertemplate": f"{name}: %{{y}} requests<br>%{{customdata[0]:.2f}}–%{{customdata[1]:.2f}} ms<extra></extra>",
        })
    layout = _base_layout(title, "latency_histogram", None, xaxis=xaxis, yaxis={"title": {"text": "requests"}},
                          barmode="overlay", bargap=0, height=360)
    return traces, layout


def latency_histogram(invocations_df: pd.DataFrame, *, bins: int = 60, log_x: bool = True,
                      title: str = "Latency distribution, cold vs warm") -> Any:
    """Histograms of ``latency_ms`` for cold and warm requests, on shared (log-spaced) bins."""
    return figure("latency_histogram", invocations=invocations_df, bins=bins, log_x=log_x, title=title)


# ----------------------------------------------------------------------------- (d) concurrency
def _step(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The number of open intervals, as a step function: (times, level from that time on)."""
    np = _np()
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
    np = _np()
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


def _parts_concurrency(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *,
                       origin: float | None = None, max_points: int = 2000, bin_s: float | None = None,
                       title: str = "Concurrency over time") -> Parts:
    np = _np()
    base = origin if origin is not None else 0.0
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    lines = (("busy (init + invoke)", ("init", "invoke"), PHASE_COLOURS["invoke"]),
             ("frozen", ("frozen",), PHASE_COLOURS["frozen"]),
             ("idle", ("idle",), PHASE_COLOURS["idle"]))
    t_max = 0.0
    phases = spans["phase"].to_numpy() if not _empty(spans) else np.empty(0, dtype=object)
    start = _column(spans, "start") - base if not _empty(spans) else np.empty(0)
    end = _column(spans, "end") - base if not _empty(spans) else np.empty(0)
    for name, which, _ in lines:
        mask = np.isin(phases, which)
        series[name] = _step(start[mask], end[mask])
        if len(series[name][0]):
            t_max = max(t_max, float(series[name][0][-1]))
    throttle_times = np.empty(0)
    if not _empty(invocations) and "throttled" in invocations.columns:
        mask = _bool_column(invocations, "throttled")
        throttle_times = _invocation_times(invocations)[mask] - base
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
        traces.append({
            "type": "scatter", "mode": "lines", "name": name, "x": x, "y": y,
            "line": {"color": colour, "shape": "hv", "width": 2},
            "fill": "tozeroy" if name.startswith("busy") else "none",
            "hovertemplate": f"{name}: %{{y}}<br>t=%{{x:.3f}} s<extra></extra>",
        })
    if len(throttle_times):
        tw = max(width, 1.0) if exact else width
        tb = max(1, math.ceil((t_max - t_min) / tw) or 1)
        tedges = t_min + tw * np.arange(tb + 1)
        counts = np.histogram(throttle_times, bins=tedges)[0] / tw
        tx, ty = tedges[:-1], counts
    else:
        tx, ty = np.empty(0), np.empty(0)
    traces.append({
        "type": "bar", "name": "throttled (requests/s)", "x": tx, "y": ty, "yaxis": "y2", "offset": 0,
        "width": (tx[1] - tx[0]) if len(tx) > 1 else 1.0, "marker": {"color": THROTTLE_COLOUR}, "opacity": 0.6,
        "hovertemplate": "throttled: %{y:.1f}/s<br>t=%{x:.3f} s<extra></extra>",
    })
    layout = _base_layout(title, "concurrency", origin, xaxis=_time_axis(origin),
                          yaxis={"title": {"text": "environments"}, "rangemode": "tozero"},
                          yaxis2={"title": {"text": "throttled / s"}, "overlaying": "y", "side": "right",
                                  "rangemode": "tozero", "showgrid": False, "visible": bool(len(tx))},
                          hovermode="x unified", height=360)
    return traces, layout


def concurrency(spans_df: pd.DataFrame, invocations_df: pd.DataFrame | None = None, *,
                origin: float | None = None, max_points: int = 2000, bin_s: float | None = None,
                window_s: float | None = None, title: str = "Concurrency over time") -> Any:
    """Environments busy (init or invoke), frozen and idle over time; throttles per second (right axis).

    Exact step lines while each has at most ``max_points`` changes; beyond that (or with
    ``bin_s``), each bin shows the highest level reached in it.
    """
    return figure("concurrency", spans=spans_df, invocations=invocations_df, origin=origin,
                  max_points=max_points, bin_s=bin_s, window_s=window_s, title=title)


# ----------------------------------------------------------------------------------- (e) reuse
def _parts_reuse(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *, max_labels: int = 60,
                 bar_limit: int = 300, title: str = "Invocations per environment (reuse)") -> Parts:
    np = _np()
    traces: list[dict[str, Any]] = []
    xaxis: dict[str, Any] = {"title": {"text": "environment (by first use)"}}
    if _empty(invocations):
        x = np.empty(0)
        counts = {"cold": np.empty(0), "warm": np.empty(0)}
        labels: list[str] = []
    else:
        import pandas as pd

        invoked = _invoked(invocations)
        frame = invocations[invoked]
        times = _invocation_times(frame)
        order = np.argsort(times, kind="stable")
        codes, uniques = pd.factorize(frame["environment_id"].to_numpy()[order])
        cold = _bool_column(frame, "cold")[order]
        n = len(uniques)
        counts = {"cold": np.bincount(codes[cold], minlength=n), "warm": np.bincount(codes[~cold], minlength=n)}
        x = np.arange(1, n + 1)
        labels = [_short(u) for u in uniques]
    if 0 < len(labels) <= max_labels:
        xaxis.update(tickmode="array", tickvals=list(x), ticktext=labels)
    else:
        xaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    if len(x) <= bar_limit:
        for name in ("cold", "warm"):
            traces.append({
                "type": "bar", "name": name, "x": x, "y": counts[name], "marker": {"color": COLD_WARM_COLOURS[name]},
                "hovertemplate": f"environment #%{{x}}: %{{y}} {name}<extra></extra>",
            })
    else:  # thousands of SVG bars redraw slowly: the same bars as WebGL vertical segments
        width = float(max(1.0, min(8.0, 900.0 / len(x))))
        bottom = {"cold": np.zeros(len(x)), "warm": counts["cold"].astype(float)}
        for name in ("cold", "warm"):
            top = bottom[name] + counts[name]
            sx, sy, sc = _segments(bottom[name], top, x.astype(float), counts[name].astype(float))
            traces.append({
                "type": "scattergl", "mode": "lines", "name": name, "x": sy, "y": sx, "customdata": sc,
                "line": {"color": COLD_WARM_COLOURS[name], "width": width}, "connectgaps": False,
                "hovertemplate": f"environment #%{{x}}: %{{customdata}} {name}<extra></extra>",
            })
    layout = _base_layout(title, "reuse", None, xaxis=xaxis, yaxis={"title": {"text": "invocations"},
                                                                    "rangemode": "tozero"},
                          barmode="stack", height=340)
    layout["legend"]["traceorder"] = "normal"
    return traces, layout


def reuse(invocations_df: pd.DataFrame, *, max_labels: int = 60, bar_limit: int = 300,
          title: str = "Invocations per environment (reuse)") -> Any:
    """A bar per environment (by first use): its cold start(s) and the warm invocations it served.

    Above ``bar_limit`` environments the bars are drawn as WebGL line segments (same picture).
    """
    return figure("reuse", invocations=invocations_df, max_labels=max_labels, bar_limit=bar_limit, title=title)


# ------------------------------------------------------------------------- (f) init durations
def _parts_init_durations(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, *,
                          origin: float | None = None, title: str = "Init duration per cold start") -> Parts:
    np = _np()
    if _empty(invocations):
        x = init = np.empty(0)
        normal = suppressed = np.zeros(0, dtype=bool)
    else:
        base = origin if origin is not None else 0.0
        x = _invocation_times(invocations) - base
        init = _column(invocations, "init_duration_ms")
        cold = _bool_column(invocations, "cold") & _invoked(invocations) & np.isfinite(init)
        suppressed = cold & _bool_column(invocations, "init_suppressed")
        normal = cold & ~suppressed
    traces = []
    for name, mask, symbol in (("init", normal, "circle"), ("init (suppressed, retried in invoke)", suppressed,
                                                            "circle-open")):
        traces.append({
            "type": "scattergl", "mode": "markers", "name": name, "x": x[mask], "y": init[mask],
            "marker": {"color": PHASE_COLOURS["init"], "size": 7, "symbol": symbol,
                       "line": {"color": ERROR_COLOUR if symbol == "circle-open" else PHASE_COLOURS["init"],
                                "width": 1}},
            "hovertemplate": "init %{y:.1f} ms<br>t=%{x:.3f} s<extra></extra>",
        })
    layout = _base_layout(title, "init_durations", origin, xaxis=_time_axis(origin),
                          yaxis={"title": {"text": "init duration (ms)"}, "rangemode": "tozero"},
                          hovermode="closest", height=340, showlegend=True)
    return traces, layout


def init_durations(invocations_df: pd.DataFrame, *, origin: float | None = None,
                   title: str = "Init duration per cold start") -> Any:
    """``init_duration_ms`` of every cold start, at the time of its request."""
    return figure("init_durations", invocations=invocations_df, origin=origin, title=title)


# ------------------------------------------------------------------------------ build / update
KINDS: dict[str, tuple[Callable[..., Parts], bool]] = {  # kind -> (parts, uses an origin)
    "timeline": (_parts_timeline, True),
    "latency_over_time": (_parts_latency_over_time, True),
    "latency_histogram": (_parts_latency_histogram, False),
    "concurrency": (_parts_concurrency, True),
    "reuse": (_parts_reuse, False),
    "init_durations": (_parts_init_durations, True),
}


def _window(spans: pd.DataFrame | None, invocations: pd.DataFrame | None, window_s: float
            ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Only what overlaps the last ``window_s`` seconds of the data."""
    np = _np()
    ends = []
    if not _empty(spans):
        ends.append(np.nanmax(_column(spans, "end")))
    if not _empty(invocations):
        times = np.fmax(_invocation_times(invocations), _column(invocations, "end"))
        if np.isfinite(times).any():
            ends.append(np.nanmax(times))
    if not ends:
        return spans, invocations
    since = max(ends) - window_s
    if not _empty(spans):
        spans = spans[_column(spans, "end") >= since]
    if not _empty(invocations):
        invocations = invocations[_invocation_times(invocations) >= since]
    return spans, invocations


def _parts(kind: str, spans: pd.DataFrame | None, invocations: pd.DataFrame | None, options: dict[str, Any]
           ) -> Parts:
    try:
        make, timed = KINDS[kind]
    except KeyError:
        raise ConfigError(f"invalid chart kind: {kind!r}; allowed: {', '.join(KINDS)}") from None
    window_s = options.pop("window_s", None)
    if not timed:
        options = {k: v for k, v in options.items() if k != "origin"}  # accepted everywhere, used where timed
    elif options.get("origin") is None:
        options = {**options, "origin": _default_origin(spans, invocations)}  # of all the data, not the window
    if window_s is not None:
        spans, invocations = _window(spans, invocations, float(window_s))
    return make(spans, invocations, **options)


def figure(kind: str, *, spans: pd.DataFrame | None = None, invocations: pd.DataFrame | None = None,
           widget: bool = False, **options: Any) -> Any:
    """A new ``go.Figure`` (``widget=True``: ``go.FigureWidget``, which needs anywidget) of ``kind``."""
    import plotly.graph_objects as go

    traces, layout = _parts(kind, spans, invocations, dict(options))
    cls = go.FigureWidget if widget else go.Figure
    return cls({"data": traces, "layout": layout})


def update(fig: Any, kind: str | None = None, *, spans: pd.DataFrame | None = None,
           invocations: pd.DataFrame | None = None, **options: Any) -> Any:
    """Redraw ``fig`` (a Figure or FigureWidget made here) in place from new DataFrames; returns it.

    ``kind`` defaults to the one the figure was made as. The time origin stays the figure's
    (so a live chart does not shift), unless ``origin=`` is given. The traces are replaced
    property by property inside ``fig.batch_update()``, so a FigureWidget redraws once and
    keeps the user's zoom (``uirevision``).
    """
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    made_as = meta.get(_META_KEY)
    kind = kind or made_as
    if kind is None:
        raise ConfigError("invalid figure: it was not made by lambdalab.viz; pass kind=")
    if made_as is not None and made_as != kind:
        raise ConfigError(f"invalid kind: {kind!r} for a figure made as {made_as!r}")
    if KINDS.get(kind, (None, False))[1] and options.get("origin") is None:
        options["origin"] = meta.get("origin")
    traces, layout = _parts(kind, spans, invocations, options)
    layout = {k: v for k, v in layout.items() if k not in ("template", "margin", "legend")}
    if len(fig.data) != len(traces) or any(t.type != new["type"] for t, new in zip(fig.data, traces)):
        fig.data = ()
        fig.add_traces([dict(t) for t in traces])
        fig.update_layout(layout)
        return fig
    batch = getattr(fig, "batch_update", None)
    context = batch() if callable(batch) else _nullcontext()
    with context:
        for trace, new in zip(fig.data, traces):
            trace.update({k: v for k, v in new.items() if k != "type"})
        fig.update_layout(layout)
    return fig


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
