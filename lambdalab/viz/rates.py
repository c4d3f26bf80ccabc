"""Cold starts over time: requests per second by outcome (cold, warm, restored, throttled), and cold-start cascades.

``cold_starts`` bins the requests by the time they were made (1-2-5 widths, about 40 bins over the
data) and stacks cold, warm, restored (SnapStart) and throttled requests per second, so the share of cold starts over a
run is one picture: all cold at the start, then warm, and cold again where the load scaled out or
the function was redeployed. ``find_cascades`` finds the bursts (at least ``at_least`` cold starts
within ``within_s`` seconds) and ``explain_cascade`` says in one sentence why one happened; the
load panel shows that sentence. numpy is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
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
from lambdalab.viz.axes import bin_text, bins, ms_text, nice_step, subtitle
from lambdalab.viz.colours import COLD_COLOUR, RESTORED_COLOUR, THROTTLE_COLOUR, WARM_COLOUR
from lambdalab.viz.render import render

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["Cascade", "cold_starts", "explain_cascade", "find_cascades"]

CASCADE_AT_LEAST = 5  # cold starts ...
CASCADE_WITHIN_S = 1.0  # ... within this many seconds make a cascade


def _outcomes(invocations: pd.DataFrame | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """When each request was made, and whether it was cold, warm, restored or throttled (NaN times dropped)."""
    import numpy as np

    if not has_rows(invocations):
        empty = np.zeros(0, dtype=bool)
        return np.empty(0), {"cold": empty, "warm": empty, "restored": empty, "throttled": empty}
    times = invocation_times(invocations)
    invoked = invoked_mask(invocations)
    restored = restored_mask(invocations) & invoked
    cold = bool_column(invocations, "cold") & invoked & ~restored
    throttled = bool_column(invocations, "throttled") & ~cold & ~restored
    warm = invoked & ~cold & ~restored & ~throttled
    known = np.isfinite(times)
    masks = {"cold": cold, "warm": warm, "restored": restored, "throttled": throttled}
    return times[known], {name: mask[known] for name, mask in masks.items()}


def parts_cold_starts(
    spans: pd.DataFrame | None,
    invocations: pd.DataFrame | None,
    *,
    origin: float | None = None,
    bin_s: float | None = None,
    target_bins: int = 40,
    title: str = "Cold starts over time",
) -> Parts:
    import numpy as np

    base = origin if origin is not None else 0.0
    times, masks = _outcomes(invocations)
    times = times - base
    t_min = min(0.0, float(times.min())) if len(times) else 0.0
    t_max = float(times.max()) if len(times) else 0.0
    width = bin_s if bin_s else max(0.1, nice_step(max(t_max - t_min, 1e-9) / target_bins))
    edges = bins(t_min, t_max, width, 600)
    width = float(edges[1] - edges[0])
    per = bin_text(width)
    n = len(edges) - 1 if len(times) else 0  # no data: no bins
    counts = {name: np.histogram(times[mask], bins=edges)[0].astype(float)[:n] for name, mask in masks.items()}
    total = counts["cold"] + counts["warm"] + counts["restored"] + counts["throttled"]
    share = np.divide(counts["cold"], total, out=np.zeros(len(total)), where=total > 0) * 100.0
    words = {
        "cold": "cold starts",
        "warm": "warm requests",
        "restored": "restored starts (SnapStart)",
        "throttled": "throttled requests",
    }
    traces: list[dict[str, Any]] = []
    for name, colour in (
        ("cold", COLD_COLOUR),
        ("warm", WARM_COLOUR),
        ("restored", RESTORED_COLOUR),
        ("throttled", THROTTLE_COLOUR),
    ):
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": edges[:n],
                "y": counts[name] / width,
                "offset": 0,
                "width": width,
                "customdata": np.column_stack([counts[name], share]),
                "marker": {"color": colour, "line": {"width": 0}},
                "showlegend": name != "restored" or bool(masks["restored"].any()),  # only where SnapStart ran
                "hovertemplate": f"%{{customdata[0]:.0f}} {words[name]} in {per}: %{{y:.1f}}/s"
                + ("<br>%{customdata[1]:.0f}% of the requests were cold" if name == "cold" else "")
                + "<extra></extra>",
            }
        )
    n_cold, n_restored = int(masks["cold"].sum()), int(masks["restored"].sum())
    n_all = sum(int(mask.sum()) for mask in masks.values())
    restores = f" and {n_restored:,} restored starts" if n_restored else ""
    summary = (
        f"requests per second, in {per} bins: {n_cold:,} cold starts{restores} of {n_all:,} requests "
        f"({100.0 * n_cold / n_all:.0f}%)"
        if n_all
        else "no requests yet"
    )
    layout = base_layout(
        title,
        "cold_starts",
        origin,
        xaxis=time_axis(origin),
        yaxis={"title": {"text": "requests / s"}, "rangemode": "tozero"},
        barmode="stack",
        bargap=0,
        hovermode="x unified",
        height=340,
    )
    subtitle(layout, summary)
    return traces, layout


def cold_starts(
    invocations_df: pd.DataFrame,
    *,
    origin: float | None = None,
    bin_s: float | None = None,
    window_s: float | None = None,
    title: str = "Cold starts over time",
) -> Any:
    """Cold, warm and throttled requests per second over time, stacked (bins of ``bin_s``, or about 40 bins)."""
    return render(
        parts_cold_starts, invocations=invocations_df, origin=origin, bin_s=bin_s, window_s=window_s, title=title
    )


# ------------------------------------------------------------------------------------ cascades
@dataclass(frozen=True)
class Cascade:
    """A burst of cold starts: ``count`` of them from ``start`` to ``end`` (epoch seconds)."""

    start: float
    end: float
    count: int
    init_ms: float  # their median init duration (NaN when unknown)


def find_cascades(
    invocations: pd.DataFrame | None, *, at_least: int = CASCADE_AT_LEAST, within_s: float = CASCADE_WITHIN_S
) -> list[Cascade]:
    """Bursts in which at least ``at_least`` cold starts happen within ``within_s`` seconds, oldest first.

    A cold start belongs to a burst when some window of ``within_s`` seconds holds it and at least
    ``at_least - 1`` more; overlapping windows make one burst.
    """
    import numpy as np

    if not has_rows(invocations):
        return []
    times = invocation_times(invocations)
    cold = bool_column(invocations, "cold") & invoked_mask(invocations) & np.isfinite(times)
    if int(cold.sum()) < at_least:
        return []
    order = np.argsort(times[cold], kind="stable")
    t = times[cold][order]
    init = float_column(invocations, "init_duration_ms")[cold][order]
    ends = np.searchsorted(t, t + within_s, side="right")  # window starting at each cold start: [i, ends[i])
    starts = np.flatnonzero(ends - np.arange(len(t)) >= at_least)
    cover = np.zeros(len(t) + 1, dtype=np.int64)
    np.add.at(cover, starts, 1)
    np.add.at(cover, ends[starts], -1)
    inside = np.cumsum(cover[:-1]) > 0
    cascades: list[Cascade] = []
    i = 0
    while i < len(t):
        if not inside[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(t) and inside[j + 1] and t[j + 1] - t[j] <= within_s:
            j += 1
        chunk = init[i : j + 1]
        known = chunk[np.isfinite(chunk)]
        cascades.append(
            Cascade(float(t[i]), float(t[j]), j - i + 1, float(np.median(known)) if len(known) else math.nan)
        )
        i = j + 1
    return cascades


def explain_cascade(
    cascade: Cascade,
    *,
    load_start: float | None = None,
    redeploys: Iterable[float] = (),
    warm_at_start: int = 0,
    shutdowns: Iterable[float] = (),
    within_s: float = CASCADE_WITHIN_S,
) -> str:
    """One sentence a learner can read: how many environments started cold, how fast, and why.

    ``redeploys``: when the function was redeployed (epoch s); ``shutdowns``: when its environments
    began to shut down (a redeploy made elsewhere shows as these); ``warm_at_start``: environments that
    could take a request when the load started.
    """
    span = cascade.end - cascade.start
    head = f"{cascade.count} environments started cold within {_seconds(span)}"
    if math.isfinite(cascade.init_ms):
        head += f" (about {ms_text(float(f'{cascade.init_ms:.2g}'))} of init each)"  # two significant digits
    after_redeploy = any(r - 0.5 <= cascade.start <= r + within_s + 0.5 for r in redeploys)
    if after_redeploy:
        why = "after a redeploy no warm environment exists, so each concurrent request needs its own init"
    elif load_start is not None and cascade.start <= load_start + within_s:
        if warm_at_start <= 0:
            why = "when the load started no warm environment existed, so each concurrent request needed its own init"
        else:
            plural = "s" if warm_at_start != 1 else ""
            why = (
                f"only {warm_at_start} warm environment{plural} existed when the load started, so each "
                "further concurrent request needed its own init"
            )
    elif any(cascade.start - 2 * within_s <= t <= cascade.start for t in shutdowns):
        head += f", {cascade.start - load_start:.1f} s into the load" if load_start is not None else ""
        why = (
            "its warm environments had just shut down (a redeploy or a configuration change retires them all), "
            "so each concurrent request needed its own init"
        )
    else:
        into = f", {cascade.start - load_start:.1f} s into the load" if load_start is not None else ""
        head += into
        why = (
            "requests arrived faster than busy environments became free, so each extra concurrent request "
            "needed a new environment and its init"
        )
    return f"{head}: {why}. Provisioned concurrency keeps environments initialised ahead of time."


def _seconds(span: float) -> str:
    return ms_text(max(round(span * 1000.0), 1)) if span < 0.1 else f"{span:.1f} s"
