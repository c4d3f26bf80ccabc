"""The environment timeline: one row per execution environment, a coloured segment per phase span.

Every span of one phase is one ``scattergl`` line trace, segments separated by NaN gaps (one
trace per phase, not one shape per span). Above ``merge_above`` spans a row's segments that are
closer than a pixel are joined first (``_merge_close``), so plotly.js redraws one segment per
visible stretch rather than one per span.

What a reader must see: every segment is drawn at least ``MIN_SEGMENT_PX`` wide at the figure's
initial size (a sub-millisecond invoke is otherwise invisible); the hover keeps its true duration.
The figure's width is the caller's ``width`` or, unknown until the browser lays it out, assumed to
be at least ``MIN_PLOT_PX`` of plot area (narrower outputs draw such segments a little thinner). The
rests (frozen, idle) are drawn first, so a widened invoke lies on top of the frozen span after it;
``legendrank`` keeps the legend in ``TIMELINE_ORDER``, and it lists only the phases drawn. Rows are
``ROW_PX`` apart, bars ``BAR_PX`` thick, up to ``MAX_HEIGHT``.

The whole lifecycle: SnapStart's ``snapshot`` (publish) and ``restore`` spans, extensions' ``extension_init``
and ``post_runtime`` spans are drawn in their own colours. A ``shutdown`` span of an environment that ran with
extensions (it has an ``extension_init`` or ``post_runtime`` span) is drawn as ``shutdown_grace``: its
shutdown was graceful (SIGTERM to the runtime, SHUTDOWN to the extensions, SIGKILL at the deadline), so the span
is the grace period. A frame that already says ``shutdown_grace`` is drawn as it says.

Managed Instances: one environment runs several runtime workers at once (``worker`` 0..N-1 in the spans), so its
invocations overlap. Such a row is split into lanes, one a worker, each ``1/N`` of the bar's band high (the
lines thin to fit the row with the most lanes); the hover names the worker. A row whose spans all say worker 0
(every classic environment) is drawn as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import (
    Parts,
    base_layout,
    float_column,
    has_rows,
    min_segment_s,
    segment_lines,
    short_id,
    time_axis,
    widen_short,
)
from lambdalab.viz.colours import PHASE_COLOURS, TIMELINE_ORDER
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["MIN_SEGMENT_PX", "timeline"]

MIN_SEGMENT_PX = 2  # no segment is drawn narrower, at the figure's initial size
MIN_PLOT_PX = 480  # the plot area assumed when the figure has no width (a 570 px figure; outputs are wider)
ROW_PX = 26  # one environment's row
BAR_PX = 18  # a bar's thickness in a full-height row: 8 px between rows
MAX_HEIGHT = 900
LEGEND_ROW = 5  # legend entries one row holds at the narrowest assumed width; more take a second row ...
LEGEND_ROW_PX = 25  # ... this much higher, so it clears the title
LANE_BAND = 0.8  # the part of a row a Managed Instances environment's worker lanes share (rows are 1 apart)
# Drawing order: rests first, so a short active phase widened over the rest after it lies on top.
DRAW_ORDER = (
    "frozen",
    "idle",
    "snapshot",
    "extension_init",
    "init",
    "restore",
    "invoke",
    "overrun",
    "post_runtime",
    "shutdown_grace",
    "shutdown",
)
# What a segment's hover says it is (the trace's name is the phase, as ``lab.spans()`` has it).
HOVER = {
    "extension_init": "extension init (part of Init)",
    "snapshot": "snapshot (publish)",
    "restore": "restore (SnapStart)",
    "post_runtime": "post-runtime: extensions after the response (billed)",
    "shutdown_grace": "shutdown grace (SIGTERM, SHUTDOWN to extensions)",
    "overrun": "overrun: timed out, the code runs on (Managed Instances)",
}
EXTENSION_PHASES = ("extension_init", "post_runtime")  # an environment with one of these ran extensions


def _merge_close(
    start: np.ndarray, end: np.ndarray, row: np.ndarray, duration: np.ndarray, gap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join a row's segments that are less than ``gap`` apart (under a pixel): one segment each run.

    The durations of joined segments add up. Used for very large timelines, where plotly.js
    redraws several WebGL traces of 100,000s of segments slowly.
    """
    import numpy as np

    if len(start) < 2:
        return start, end, row, duration
    order = np.lexsort((start, row))
    start, end, row, duration = start[order], end[order], row[order], duration[order]
    new = np.ones(len(start), dtype=bool)  # one environment's spans of one phase do not overlap
    new[1:] = (row[1:] != row[:-1]) | (start[1:] - end[:-1] > gap)
    firsts = np.flatnonzero(new)
    return (start[firsts], np.maximum.reduceat(end, firsts), row[firsts], np.add.reduceat(duration, firsts))


def parts_timeline(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    max_labels: int = 60,
    hover_limit: int = 50_000,
    merge_above: int = 60_000,
    resolution: int = 4000,
    since: float | None = None,
    width: int | None = None,
    x_range: tuple[float, float] | None = None,
    height: int | None = None,
    title: str = "Execution environments over time",
) -> Parts:
    spans = _inside(spans, since)
    rows, row, labels = _rows(spans, max_labels)
    row, lanes = _lanes(spans, row)
    per_phase = _segments(spans, row, origin, merge_above, resolution, _plot_px(width), x_range, lanes > 1)
    fixed_height = height is not None
    height, thickness = _row_geometry(rows, height)
    thickness = max(1.0, thickness / lanes) if lanes > 1 else thickness  # each worker's lane in its row
    detail = not has_rows(spans) or len(spans) <= hover_limit  # above it, hover shows no duration: a third less to send
    where = "environment #%{y}"
    traces = []
    for phase in DRAW_ORDER:
        x, y, custom = per_phase[phase]
        label = HOVER.get(phase, phase)
        what = f"{label} %{{customdata:.3~r}} ms" if detail else label
        if lanes > 1:  # customdata: (duration ms, worker)
            what = f"{label} %{{customdata[0]:.3~r}} ms" if detail else label
            where = "worker %{customdata[1]:.0f}"
        traces.append(
            {
                "type": "scattergl",
                "mode": "lines",
                "name": phase,
                "x": x,
                "y": y,
                "customdata": custom if detail or lanes > 1 else None,
                "line": {"color": PHASE_COLOURS[phase], "width": thickness},
                "connectgaps": False,
                "showlegend": len(x) > 0,  # the legend lists the phases drawn, and only those
                "legendrank": 1000 + TIMELINE_ORDER.index(phase),  # in TIMELINE_ORDER, whatever the drawing order
                "hovertemplate": f"{what}<br>t=%{{x:.3f}} s<extra>{where}</extra>",
            }
        )
    yaxis: dict[str, Any] = {
        "range": [max(rows, 1) - 0.5, -0.5],  # reversed: the first environment on top; no padding rows
        "autorange": False,
        "zeroline": False,
        "showgrid": False,
        "title": {"text": "environment"},  # rows by first start; a longer title outgrows a few rows
    }
    if labels:
        yaxis.update(tickmode="array", tickvals=list(range(rows)), ticktext=labels)
    else:
        yaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    extra: dict[str, Any] = {"width": width} if width is not None else {}
    layout = base_layout(
        title, "timeline", origin, xaxis=time_axis(origin), yaxis=yaxis, height=height, hovermode="closest", **extra
    )
    if sum(bool(trace["showlegend"]) for trace in traces) > LEGEND_ROW:  # the legend takes a second row
        layout["margin"] = {**layout["margin"], "t": layout["margin"]["t"] + LEGEND_ROW_PX}
        layout["title"] = {**layout["title"], "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}}
        if not fixed_height:
            layout["height"] = min(height + LEGEND_ROW_PX, max(height, MAX_HEIGHT))  # the rows keep their room
    return traces, layout


def _inside(spans: pd.DataFrame | None, since: float | None) -> pd.DataFrame | None:
    """The spans inside the window that starts at ``since`` (epoch s), cut to start there; all without it."""
    if since is None or not has_rows(spans):
        return spans
    start, end = float_column(spans, "start"), float_column(spans, "end")
    keep = (end > since) | (start >= since)  # a span that ended at ``since`` or before is outside
    inside = spans[keep].copy()
    inside["start"] = inside["start"].clip(lower=since)
    return inside


def _rows(spans: pd.DataFrame | None, max_labels: int) -> tuple[int, np.ndarray, list[str]]:
    """How many rows, each span's row (environments by first start), the rows' labels (none above ``max_labels``)."""
    import numpy as np

    if not has_rows(spans):
        return 0, np.empty(0), []
    import pandas as pd

    order = np.argsort(float_column(spans, "start"), kind="stable")
    codes, uniques = pd.factorize(spans["environment_id"].to_numpy()[order])  # rows by first start
    row = np.empty(len(spans), dtype=float)
    row[order] = codes
    rows = len(uniques)
    if rows > max_labels:
        return rows, row, []
    functions = spans["function"].to_numpy()[order] if "function" in spans.columns else None
    first_function = {} if functions is None else dict(zip(codes[::-1], functions[::-1], strict=True))
    many = functions is not None and len(set(first_function.values())) > 1
    labels = [(f"{first_function[i]}·" if many else "") + short_id(env) for i, env in enumerate(uniques)]
    return rows, row, labels


def _lanes(spans: pd.DataFrame | None, row: np.ndarray) -> tuple[np.ndarray, int]:
    """Each span's y with its worker's lane, and the most lanes any row has (1: no row has more than one worker).

    A row's lanes are its workers 0..N-1 (N: its highest worker + 1), top to bottom inside ``LANE_BAND``.
    """
    import numpy as np

    if not has_rows(spans) or "worker" not in spans.columns:
        return row, 1
    worker = float_column(spans, "worker", 0.0)
    worker = np.where(np.isfinite(worker), worker, 0.0)
    if not worker.any():
        return row, 1
    import pandas as pd

    per_row = pd.Series(worker).groupby(row).transform("max").to_numpy() + 1.0  # lanes of each span's row
    y: np.ndarray = row + ((worker + 0.5) / per_row - 0.5) * LANE_BAND
    return y, int(per_row.max())


def _plot_px(width: int | None) -> float:
    """The plot area's width in pixels: of ``width`` if the figure has one, else the narrowest assumed."""
    if width is None:
        return float(MIN_PLOT_PX)
    margin = base_layout("", "", None)["margin"]
    return float(max(width - margin["l"] - margin["r"], 1))


def _segments(
    spans: pd.DataFrame | None,
    row: np.ndarray,
    origin: float | None,
    merge_above: int,
    resolution: int,
    plot_px: float,
    x_range: tuple[float, float] | None = None,
    lanes: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per phase: x, y, customdata of its segments, each drawn at least ``MIN_SEGMENT_PX`` wide.

    The time range (the data's, or ``x_range`` when the axis is fixed) and ``plot_px`` give the
    seconds per pixel (``min_segment_s``); a shorter segment's drawn end moves right (its
    customdata keeps the true duration in ms). With ``lanes`` (``row`` holds worker lanes) customdata is
    (duration ms, worker) a point.
    """
    import numpy as np

    if not has_rows(spans):
        return {phase: (np.empty(0), np.empty(0), np.empty(0)) for phase in TIMELINE_ORDER}
    start, end = float_column(spans, "start"), float_column(spans, "end")
    first, last = float(np.nanmin(start)), float(np.nanmax(end))
    if x_range is not None:  # a fixed axis (seconds since the origin): it does not grow with the widened ends
        first, last = float(x_range[0]), float(x_range[1])
    min_s = min_segment_s(first, last, plot_px, MIN_SEGMENT_PX)
    span_s = last - first if np.isfinite(last - first) and last > first else 1.0  # the axis: merging joins under 1 px
    base = origin if origin is not None else 0.0
    codes, index = _phase_codes(spans)
    duration = (end - start) * 1000.0
    merge_gap = span_s / resolution if len(spans) > merge_above else None
    worker = float_column(spans, "worker", 0.0) if lanes else None
    per_phase = {}
    for phase in TIMELINE_ORDER:
        code = index.get(phase)
        mask = codes == code if code is not None else np.zeros(len(codes), dtype=bool)
        s0, s1, r, d = start[mask] - base, end[mask] - base, row[mask], duration[mask]
        if merge_gap is not None:
            s0, s1, r, d = _merge_close(s0, s1, r, d, merge_gap)
        x, y, custom = segment_lines(s0, widen_short(s0, s1, min_s), r, d)
        if worker is not None:  # a lane's worker, recovered from its y: (duration, worker) a point
            _, _, w = segment_lines(s0, s1, r, _lane_workers(r, worker[mask], row[mask]))
            custom = np.column_stack([custom, w])
        per_phase[phase] = (x, y, custom)
    return per_phase


def _lane_workers(lane_y: np.ndarray, worker: np.ndarray, span_y: np.ndarray) -> np.ndarray:
    """The worker of each (possibly merged) segment on ``lane_y``: the worker of the spans on that lane."""
    import numpy as np

    if len(span_y) == 0:
        return np.empty(0)
    keys, first = np.unique(span_y, return_index=True)
    found = np.searchsorted(keys, lane_y)
    return worker[first[np.clip(found, 0, len(keys) - 1)]]


def _phase_codes(spans: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
    """Each span's phase as a small integer, and the codes by phase (one pass over the strings, not one a phase).

    A ``shutdown`` span of an environment that ran with extensions gets ``shutdown_grace``'s code.
    """
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(spans["phase"].to_numpy())
    index = {str(phase): i for i, phase in enumerate(uniques)}
    shutdown = index.get("shutdown")
    extension_codes = [index[phase] for phase in EXTENSION_PHASES if phase in index]
    if shutdown is None or not extension_codes:
        return codes, index
    environments = spans["environment_id"].to_numpy()
    extended = np.unique(environments[np.isin(codes, extension_codes)])
    ends = np.flatnonzero(codes == shutdown)  # a few rows: one an environment
    graceful = ends[np.isin(environments[ends], extended)]
    if len(graceful):
        codes = codes.copy()
        codes[graceful] = index.setdefault("shutdown_grace", len(uniques))
    return codes, index


def _row_geometry(rows: int, height: int | None = None) -> tuple[int, float]:
    """The figure's height and the bars' thickness (px): rows of ``ROW_PX`` up to ``MAX_HEIGHT``, then thinner.

    Given a ``height`` (a panel's fixed one), the rows share it and the bars fit the rows it gives.
    """
    margin = base_layout("", "", None)["margin"]
    chrome = margin["t"] + margin["b"]
    if height is not None:
        row_px = max(height - chrome, 1) / max(rows, 2)
    else:
        row_px = min(float(ROW_PX), (MAX_HEIGHT - chrome) / max(rows, 1))
        height = int(chrome + row_px * max(rows, 2))  # one row gets the room of two: a strip, not a sliver
    return height, float(max(1.0, min(BAR_PX, 0.7 * row_px)))


def timeline(
    spans_df: pd.DataFrame,
    *,
    origin: float | None = None,
    max_labels: int = 60,
    hover_limit: int = 50_000,
    merge_above: int = 60_000,
    resolution: int = 4000,
    window_s: float | None = None,
    since: float | None = None,
    width: int | None = None,
    height: int | None = None,
    title: str = "Execution environments over time",
) -> Any:
    """One row per environment, a coloured segment per phase span (``PHASE_COLOURS``, legend in ``TIMELINE_ORDER``).

    Reuse shows as one row with many green invoke segments between frozen ones; scale-out as
    many rows starting with an init segment at the same time. Rows are ordered by first start;
    up to ``max_labels`` rows are labelled with the environment id's first 8 characters. Above
    ``hover_limit`` spans the hover text leaves out durations (a third less data to send);
    Above ``merge_above`` spans, a row's segments of one phase that are less than
    1/``resolution`` of the time range apart (under a pixel) are joined, so the figure keeps
    one segment per visible stretch rather than one per span. ``window_s`` keeps only the last
    seconds (a live view: in-place updates of 100,000s of segments are slow in the browser);
    ``since`` (epoch seconds) cuts the spans to start there and gives rows only to environments
    with a span after it. ``width`` fixes the figure's width in pixels (and so the minimum
    segment width exactly); without it the figure fills its output. ``height`` fixes the height (the
    rows share it); without it the figure grows ``ROW_PX`` a row, up to ``MAX_HEIGHT``.
    """
    return render(
        parts_timeline,
        spans=spans_df,
        origin=origin,
        max_labels=max_labels,
        hover_limit=hover_limit,
        merge_above=merge_above,
        resolution=resolution,
        window_s=window_s,
        since=since,
        width=width,
        height=height,
        title=title,
    )
