"""Figures from records: every chart kind (``KINDS``), and building, updating and saving figures.

Each chart is split in two: ``parts_<kind>(spans, invocations, options) -> (traces, layout)``
(in ``timeline.py``, ``latency.py`` and ``usage.py``) computes the trace properties with numpy
(the only work that grows with the data), and ``figure``/``update`` here turn them into a new
``go.Figure`` or write them into an existing figure or ``FigureWidget`` in place. Every kind
always makes the same traces in the same order (empty ones included), so an update only assigns
arrays and never adds or removes traces. ``write_html`` puts figures on one standalone page.

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz._frames import (
    META_KEY,
    Parts,
    float_column,
    has_rows,
    invocation_times,
)
from lambdalab.viz.latency import (
    init_durations,
    latency_histogram,
    latency_over_time,
    parts_init_durations,
    parts_latency_histogram,
    parts_latency_over_time,
)
from lambdalab.viz.timeline import parts_timeline, timeline
from lambdalab.viz.usage import concurrency, parts_concurrency, parts_reuse, reuse

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KINDS",
    "concurrency",
    "figure",
    "init_durations",
    "latency_histogram",
    "latency_over_time",
    "reuse",
    "timeline",
    "update",
    "write_html",
]


KINDS: dict[str, tuple[Callable[..., Parts], bool]] = {  # kind -> (parts, uses an origin)
    "timeline": (parts_timeline, True),
    "latency_over_time": (parts_latency_over_time, True),
    "latency_histogram": (parts_latency_histogram, False),
    "concurrency": (parts_concurrency, True),
    "reuse": (parts_reuse, False),
    "init_durations": (parts_init_durations, True),
}


def _default_origin(spans: pd.DataFrame | None, invocations: pd.DataFrame | None) -> float | None:
    import numpy as np

    candidates = []
    if has_rows(spans):
        candidates.append(np.nanmin(float_column(spans, "start")))
    if has_rows(invocations):
        times = invocation_times(invocations)
        if np.isfinite(times).any():
            candidates.append(np.nanmin(times))
    candidates = [c for c in candidates if math.isfinite(c)]
    return float(min(candidates)) if candidates else None


def _window(
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


def _parts(kind: str, spans: pd.DataFrame | None, invocations: pd.DataFrame | None, options: dict[str, Any]) -> Parts:
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


def figure(
    kind: str,
    *,
    spans: pd.DataFrame | None = None,
    invocations: pd.DataFrame | None = None,
    widget: bool = False,
    **options: Any,
) -> Any:
    """A new ``go.Figure`` (``widget=True``: ``go.FigureWidget``, which needs anywidget) of ``kind``."""
    import plotly.graph_objects as go

    traces, layout = _parts(kind, spans, invocations, dict(options))
    cls = go.FigureWidget if widget else go.Figure
    return cls({"data": traces, "layout": layout})


def update(
    fig: Any,
    kind: str | None = None,
    *,
    spans: pd.DataFrame | None = None,
    invocations: pd.DataFrame | None = None,
    **options: Any,
) -> Any:
    """Redraw ``fig`` (a Figure or FigureWidget made here) in place from new DataFrames; returns it.

    ``kind`` defaults to the one the figure was made as. The time origin stays the figure's
    (so a live chart does not shift), unless ``origin=`` is given. The traces are replaced
    property by property inside ``fig.batch_update()``, so a FigureWidget redraws once and
    keeps the user's zoom (``uirevision``).
    """
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    made_as = meta.get(META_KEY)
    kind = kind or made_as
    if kind is None:
        raise ConfigError("invalid figure: it was not made by lambdalab.viz; pass kind=")
    if made_as is not None and made_as != kind:
        raise ConfigError(f"invalid kind: {kind!r} for a figure made as {made_as!r}")
    if KINDS.get(kind, (None, False))[1] and options.get("origin") is None:
        options["origin"] = meta.get("origin")
    traces, layout = _parts(kind, spans, invocations, options)
    layout = {k: v for k, v in layout.items() if k not in ("template", "margin", "legend")}
    if len(fig.data) != len(traces) or any(t.type != new["type"] for t, new in zip(fig.data, traces, strict=True)):
        fig.data = ()
        fig.add_traces([dict(t) for t in traces])
        fig.update_layout(layout)
        return fig
    batch = getattr(fig, "batch_update", None)
    context = batch() if callable(batch) else _nullcontext()
    with context:
        for trace, new in zip(fig.data, traces, strict=True):
            trace.update({k: v for k, v in new.items() if k != "type"})
        fig.update_layout(layout)
    return fig


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def write_html(
    figures: Any | Iterable[Any], path: str | Path, *, title: str = "lambdalab", include_plotlyjs: bool | str = True
) -> Path:
    """Write one or more figures to one standalone HTML page (plotly.js inlined by default)."""
    figs = [figures] if hasattr(figures, "to_html") else list(figures)
    parts = []
    for i, fig in enumerate(figs):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs if i == 0 else False))
    html = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n<body>\n'
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
    target = Path(path)
    target.write_text(html, encoding="utf-8")
    return target
