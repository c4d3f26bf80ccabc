"""Charts of what happened: pure functions from the records (DataFrames) to plotly figures.

    timeline(spans_df)                          one row per environment; init/invoke/frozen/idle/shutdown segments
    latency_over_time(invocations_df)           latency of each request over time, cold vs warm (and throttled)
    latency_histogram(invocations_df)           latency distribution, cold vs warm, log-spaced bins
    concurrency(spans_df, invocations_df=None)  environments busy / frozen / idle over time, throttles per second
    reuse(invocations_df)                       invocations per environment (cold + warm)
    init_durations(invocations_df)              init duration of each cold start
    update(fig, kind, spans=..., invocations=...)  redraw a Figure/FigureWidget in place (one batch_update)

The inputs are ``lab.spans()``, ``lab.invocations()`` or ``lambdalab.load.run(...).invocations``.
Colours come from ``PHASE_COLOURS`` and ``COLD_WARM_COLOURS`` only. plotly is imported inside
the functions; nothing here imports IPython or ipywidgets, so the CLI can write figures to HTML
(``write_html``). Layer L2: imports only ``lambdalab.errors`` besides plotly, numpy and pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lambdalab.viz.colours import (
    COLD_COLOUR,
    COLD_WARM_COLOURS,
    ERROR_COLOUR,
    PHASE_COLOURS,
    PHASE_ORDER,
    THROTTLE_COLOUR,
    WARM_COLOUR,
)
from lambdalab.viz.figures import (
    KINDS,
    concurrency,
    figure,
    init_durations,
    latency_histogram,
    latency_over_time,
    reuse,
    timeline,
    update,
)

__all__ = [
    "COLD_COLOUR", "COLD_WARM_COLOURS", "ERROR_COLOUR", "KINDS", "PHASE_COLOURS", "PHASE_ORDER", "THROTTLE_COLOUR",
    "WARM_COLOUR", "concurrency", "figure", "init_durations", "latency_histogram", "latency_over_time", "reuse",
    "timeline", "update", "write_html",
]


def write_html(figures: Any | Iterable[Any], path: str | Path, *, title: str = "lambdalab",
               include_plotlyjs: bool | str = True) -> Path:
    """Write one or more figures to one standalone HTML page (plotly.js inlined by default)."""
    figs = [figures] if hasattr(figures, "to_html") else list(figures)
    parts = []
    for i, fig in enumerate(figs):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs if i == 0 else False))
    html = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    target = Path(path)
    target.write_text(html, encoding="utf-8")
    return target
