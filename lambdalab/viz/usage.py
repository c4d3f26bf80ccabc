"""How the environments are used: concurrency over time (busy / frozen / idle, throttles) and reuse.

Concurrency turns each phase's spans into a step function (``_step``) and averages it over time
bins (``_binned_mean``: 100 ms, wider past ``max_bins``); the phases and the throttled requests
per bin are stacked areas on one axis. Reuse counts each environment's cold and warm requests,
drawn as WebGL segments when there are too many bars for SVG.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz import tenants
from lambdalab.viz._frames import (
    Parts,
    base_layout,
    bool_column,
    float_column,
    has_rows,
    invocation_times,
    invoked_mask,
    restored_mask,
    segment_lines,
    short_id,
    time_axis,
)
from lambdalab.viz.axes import bin_text, bins, subtitle
from lambdalab.viz.colours import (
    COLD_COLOUR,
    PHASE_COLOURS,
    RESTORED_COLOUR,
    THROTTLE_COLOUR,
    UI_COLOURS,
    WARM_COLOUR,
)
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["concurrency", "reuse"]


# -------------------------------------------------------------------------------------- concurrency
STACK = (  # (trace name, phases, colour key): bottom to top
    # extension init is part of Lambda's Init phase, a restore stands in for it; the time extensions take after
    # the response is part of the Invoke phase (billed; the environment takes no other request meanwhile)
    ("busy: init", ("init", "extension_init", "restore"), "init"),
    ("busy: invoke", ("invoke", "post_runtime"), "invoke"),
    ("frozen", ("frozen",), "frozen"),
    ("idle", ("idle",), "idle"),
)
THROTTLED = "throttled"


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


def _binned_mean(times: np.ndarray, level: np.ndarray, edges: np.ndarray, until: float) -> np.ndarray:
    """Per bin, the step function's average level: environment-seconds in the bin over its width (the part
    of it before ``until``, the data's end, so the last bin of a live chart does not dip)."""
    import numpy as np

    if not len(times):
        return np.zeros(len(edges) - 1)
    edges = np.minimum(edges, max(until, float(edges[0]) + 1e-9))
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])  # integral up to each change
    at = np.searchsorted(times, edges, side="right") - 1
    inside = np.maximum(at, 0)
    integral = np.where(at >= 0, area[inside] + level[inside] * (edges - times[inside]), 0.0)
    widths = np.diff(edges)
    mean: np.ndarray = np.clip(
        np.divide(np.diff(integral), widths, out=np.zeros(len(widths)), where=widths > 0), 0, None
    )
    return mean


def parts_concurrency(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    bin_s: float | None = 0.1,
    max_bins: int = 600,
    limit: int | None = None,
    title: str = "Concurrency over time",
    max_points: int | None = None,
) -> Parts:
    import numpy as np

    bin_s, max_bins = _bin_options(bin_s, max_bins, max_points)

    base = origin if origin is not None else 0.0
    phases = spans["phase"].to_numpy() if has_rows(spans) else np.empty(0, dtype=object)
    start = float_column(spans, "start") - base if has_rows(spans) else np.empty(0)
    end = float_column(spans, "end") - base if has_rows(spans) else np.empty(0)
    throttle_times = np.empty(0)
    if has_rows(invocations) and "throttled" in invocations.columns:
        throttle_times = invocation_times(invocations)[bool_column(invocations, "throttled")] - base
        throttle_times = throttle_times[np.isfinite(throttle_times)]
    known = np.concatenate([start[np.isfinite(start)], end[np.isfinite(end)], throttle_times])
    t_min = min(0.0, float(known.min())) if len(known) else 0.0
    t_max = float(known.max()) if len(known) else 0.0
    edges = bins(t_min, t_max, bin_s, max_bins)
    width = float(edges[1] - edges[0])
    per = bin_text(width)
    n = len(edges) - 1 if len(known) else 0  # no data: no bins
    x = edges[: n + 1 if n else 0]  # hv steps: each bin's value holds from its left edge to the next
    traces: list[dict[str, Any]] = []
    for name, which, key in STACK:
        mask = np.isin(phases, which)
        mean = _binned_mean(*_step(start[mask], end[mask]), edges, t_max)[:n] if mask.any() else np.zeros(n)
        traces.append(_stacked(name, x, mean, PHASE_COLOURS[key], f"{name}: %{{y:.1f}} environments (mean over {per})"))
    counts = np.histogram(throttle_times, bins=edges)[0].astype(float) if len(throttle_times) else np.zeros(n)
    traces.append(_stacked(THROTTLED, x, counts, THROTTLE_COLOUR, f"throttled: %{{y:.0f}} requests in {per}"))
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    if limit is not None:
        line = {"color": THROTTLE_COLOUR, "width": 1.5, "dash": "dash"}
        shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": limit, "y1": limit, "line": line})
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "y": limit,
                "xanchor": "right",
                "bgcolor": UI_COLOURS["background"],
                "yanchor": "bottom",
                "showarrow": False,
                "text": f"reserved concurrency {limit}",
                "font": {"size": 11, "color": THROTTLE_COLOUR},
            }
        )
    layout = base_layout(
        title,
        "concurrency",
        origin,
        xaxis=time_axis(origin),
        yaxis={"title": {"text": f"environments (mean per {per})"}, "rangemode": "tozero"},
        hovermode="x unified",
        shapes=shapes,
        annotations=annotations,
        height=360,
    )
    subtitle(
        layout, f"stacked per {per} bin: busy (init, invoke), frozen and idle environments; throttled requests on top"
    )
    return traces, layout


def _stacked(name: str, x: np.ndarray, y: np.ndarray, colour: str, hover: str) -> dict[str, Any]:
    import numpy as np

    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": x,
        "y": np.append(y, y[-1]) if len(y) else y,  # the last bin's value, held to its right edge
        "stackgroup": "environments",
        "line": {"color": colour, "shape": "hv", "width": 0},  # the fills only: no zero line on the stack's top
        "fillcolor": colour,
        "hovertemplate": hover + "<extra></extra>",
    }


def _bin_options(bin_s: float | None, max_bins: int, max_points: int | None) -> tuple[float, int]:
    """``bin_s`` None is the default 100 ms; ``max_points`` is the older name of ``max_bins`` (still taken)."""
    if bin_s is None:
        bin_s = 0.1
    if not (isinstance(bin_s, int | float) and math.isfinite(bin_s) and bin_s > 0):
        raise ConfigError(f"invalid bin_s: {bin_s!r}; expected a positive number of seconds")
    if max_points is not None:
        max_bins = max_points
    if not (isinstance(max_bins, int) and max_bins >= 1):
        raise ConfigError(f"invalid max_bins: {max_bins!r}; expected a positive whole number")
    return float(bin_s), max_bins


def concurrency(
    spans_df: pd.DataFrame,
    invocations_df: pd.DataFrame | None = None,
    *,
    origin: float | None = None,
    bin_s: float | None = 0.1,
    max_bins: int = 600,
    limit: int | None = None,
    window_s: float | None = None,
    title: str = "Concurrency over time",
    max_points: int | None = None,
) -> Any:
    """Environments busy (init, invoke), frozen and idle, and throttled requests, stacked per time bin.

    Each bin (``bin_s``, 100 ms by default; wider, at a 1-2-5 step, past ``max_bins`` bins) shows the
    environments' mean level over the bin, so steady load reads as a level, not a barcode; throttled
    requests are counted per bin on top. ``limit`` draws the reserved concurrency as a dashed line.
    ``max_points`` is the older name of ``max_bins``.
    """
    bin_s, max_bins = _bin_options(bin_s, max_bins, max_points)
    return render(
        parts_concurrency,
        spans=spans_df,
        invocations=invocations_df,
        origin=origin,
        bin_s=bin_s,
        max_bins=max_bins,
        limit=limit,
        window_s=window_s,
        title=title,
    )


# -------------------------------------------------------------------------------------------- reuse
def parts_reuse(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    bar_limit: int = 300,
    title: str = "Requests per environment",
) -> Parts:
    import numpy as np

    traces: list[dict[str, Any]] = []
    split = None  # tenant isolation: (drawing order, each bar's tenant, environments shared by tenants)
    if not has_rows(invocations):
        x: np.ndarray = np.empty(0)
        counts: dict[str, np.ndarray] = {"cold": np.empty(0), "restored": np.empty(0), "warm": np.empty(0)}
        ids: np.ndarray = np.empty(0, dtype=object)
    else:
        import pandas as pd

        frame = invocations[invoked_mask(invocations)]
        order = np.argsort(invocation_times(frame), kind="stable")
        codes, uniques = pd.factorize(frame["environment_id"].to_numpy()[order])
        restored = restored_mask(frame)[order]
        cold = bool_column(frame, "cold")[order] & ~restored
        n = len(uniques)
        counts = {
            "cold": np.bincount(codes[cold], minlength=n),
            "restored": np.bincount(codes[restored], minlength=n),
            "warm": np.bincount(codes[~cold & ~restored], minlength=n),
        }
        x = np.arange(1, n + 1)
        ids = np.array([short_id(u) for u in uniques], dtype=object)
        split = tenants.order(frame.iloc[order], codes, n)
        if split is not None:  # each tenant's environments side by side
            counts = {name: values[split[0]] for name, values in counts.items()}
            ids = np.array([f"{i}, tenant {t}" for i, t in zip(ids[split[0]], split[1], strict=True)], dtype=object)
    colours = {"cold": COLD_COLOUR, "restored": RESTORED_COLOUR, "warm": WARM_COLOUR}
    words = {"cold": "cold start", "restored": "restored start (SnapStart)", "warm": "warm requests"}
    shown = {name: name != "restored" or bool(counts["restored"].sum()) for name in colours}
    if len(x) <= bar_limit:
        for name in ("cold", "restored", "warm"):
            traces.append(
                {
                    "type": "bar",
                    "name": name,
                    "x": x,
                    "y": counts[name],
                    "customdata": ids,
                    "marker": {"color": colours[name], "line": {"width": 0}},
                    "showlegend": shown[name],
                    "hovertemplate": f"environment #%{{x}} (%{{customdata}}): %{{y}} {words[name]}<extra></extra>",
                }
            )
    else:  # thousands of SVG bars redraw slowly: the same bars as WebGL vertical segments
        width = float(max(1.0, min(8.0, 900.0 / len(x))))
        bottom = {
            "cold": np.zeros(len(x)),
            "restored": counts["cold"].astype(float),
            "warm": (counts["cold"] + counts["restored"]).astype(float),
        }
        for name in ("cold", "restored", "warm"):
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
                    "line": {"color": colours[name], "width": width},
                    "showlegend": shown[name],
                    "connectgaps": False,
                    "hovertemplate": f"environment #%{{x}}: %{{customdata}} {words[name]}<extra></extra>",
                }
            )
    layout = base_layout(
        title,
        "reuse",
        None,
        xaxis={
            "title": {"text": "environment, numbered in order of first use"},
            "tickformat": "d",
            "rangemode": "tozero",
        },
        yaxis={"title": {"text": "requests served"}, "rangemode": "tozero", "tickformat": "d"},
        barmode="stack",
        bargap=0.15,
        height=340,
    )
    summary = _reuse_summary(counts)
    if split is not None:
        layout["shapes"], layout["annotations"] = tenants.marks(split[1])
        summary += "; " + tenants.sentence(split[1], split[2])
    subtitle(layout, summary)
    return traces, layout


def _reuse_summary(counts: dict[str, np.ndarray]) -> str:
    """One sentence: how many environments served how many requests, cold and warm."""
    environments = len(counts["cold"])
    if not environments:
        return "no requests yet"
    cold, warm = int(counts["cold"].sum()), int(counts["warm"].sum())
    restored = int(counts["restored"].sum()) if "restored" in counts else 0
    total = cold + restored + warm
    plural = "s" if environments != 1 else ""
    restores = f"{restored:,} restored, " if restored else ""
    paid = "each cold start paid for one init" + ("; each restore for a restore, not an init" if restored else "")
    return (
        f"{environments} environment{plural} served {total:,} requests: {cold:,} cold, {restores}{warm:,} warm "
        f"({total / environments:.1f} per environment; {paid})"
    )


def reuse(
    invocations_df: pd.DataFrame,
    *,
    bar_limit: int = 300,
    title: str = "Requests per environment",
    max_labels: int | None = None,
) -> Any:
    """A bar per environment (numbered by first use): the cold start that made it and the warm requests it served.

    A tenant-isolated function's environments (``tenant_id`` set in the table) are grouped by tenant, each group
    named above its bars, and the subtitle says whether any environment served more than one tenant.

    Above ``bar_limit`` environments the bars are drawn as WebGL line segments (same picture). ``max_labels``
    is still taken but does nothing: the environments are numbered, and each one's id is in its hover.
    """
    return render(parts_reuse, invocations=invocations_df, bar_limit=bar_limit, title=title)
