"""The environment timeline: one row per execution environment, a coloured segment per phase span.

Every span of one phase is one ``scattergl`` line trace, segments separated by NaN gaps (one
trace per phase, not one shape per span). Above ``merge_above`` spans a row's segments that are
closer than a pixel are joined first (``_merge_close``), so plotly.js redraws one segment per
visible stretch rather than one per span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import (
    Parts,
    base_layout,
    float_column,
    has_rows,
    segment_lines,
    short_id,
    time_axis,
)
from lambdalab.viz.colours import PHASE_COLOURS, PHASE_ORDER
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["timeline"]


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
    title: str = "Execution environments over time",
) -> Parts:
    import numpy as np

    traces: list[dict[str, Any]] = []
    rows = 0
    tickvals: list[int] = []
    ticktext: list[str] = []
    if not has_rows(spans):
        per_phase = {phase: (np.empty(0), np.empty(0), np.empty(0)) for phase in PHASE_ORDER}
    else:
        import pandas as pd

        start = float_column(spans, "start")
        end = float_column(spans, "end")
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
            per_phase[phase] = segment_lines(s0, s1, r, d)
        if rows <= max_labels:
            functions = spans["function"].to_numpy()[order] if "function" in spans.columns else None
            first_function = {} if functions is None else dict(zip(codes[::-1], functions[::-1], strict=True))
            many = functions is not None and len(set(first_function.values())) > 1
            tickvals = list(range(rows))
            ticktext = [(f"{first_function[i]}·" if many else "") + short_id(env) for i, env in enumerate(uniques)]
    height = int(min(900, max(260, 110 + 24 * max(rows, 1))))
    width = float(max(1.0, min(16.0, 0.7 * (height - 110) / max(rows, 1))))
    detail = not has_rows(spans) or len(spans) <= hover_limit  # above it, hover shows no duration: a third less to send
    for phase in PHASE_ORDER:
        x, y, custom = per_phase[phase]
        what = f"{phase} %{{customdata:.1f}} ms" if detail else phase
        traces.append(
            {
                "type": "scattergl",
                "mode": "lines",
                "name": phase,
                "x": x,
                "y": y,
                "customdata": custom if detail else None,
                "line": {"color": PHASE_COLOURS[phase], "width": width},
                "connectgaps": False,
                "hovertemplate": f"{what}<br>t=%{{x:.3f}} s<extra>environment #%{{y}}</extra>",
            }
        )
    yaxis: dict[str, Any] = {
        "autorange": "reversed",
        "zeroline": False,
        "showgrid": False,
        "title": {"text": "environment (by first start)"},
    }
    if tickvals:
        yaxis.update(tickmode="array", tickvals=tickvals, ticktext=ticktext)
    else:
        yaxis.update(tickmode="auto", tickvals=None, ticktext=None)
    layout = base_layout(
        title, "timeline", origin, xaxis=time_axis(origin), yaxis=yaxis, height=height, hovermode="closest"
    )
    return traces, layout


def timeline(
    spans_df: pd.DataFrame,
    *,
    origin: float | None = None,
    max_labels: int = 60,
    hover_limit: int = 50_000,
    merge_above: int = 60_000,
    resolution: int = 4000,
    window_s: float | None = None,
    title: str = "Execution environments over time",
) -> Any:
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
    return render(
        parts_timeline,
        spans=spans_df,
        origin=origin,
        max_labels=max_labels,
        hover_limit=hover_limit,
        merge_above=merge_above,
        resolution=resolution,
        window_s=window_s,
        title=title,
    )
