"""Figures from records: every chart kind (``KINDS``), and building, updating and saving figures.

Each chart is split in two: ``parts_<kind>(spans, invocations, options) -> (traces, layout)``
(in ``timeline.py``, ``latency.py``, ``usage.py`` and ``rates.py``) computes the trace properties with numpy
(the only work that grows with the data), and ``figure``/``update`` here turn them into a new
``go.Figure`` or write them into an existing figure or ``FigureWidget`` in place. Every kind
always makes the same traces in the same order (empty ones included), so an update only assigns
arrays and never adds or removes traces. ``write_html`` puts figures on one standalone page.

Large data: point traces are WebGL (``scattergl``) and numeric arrays stay numpy (plotly sends
them base64-encoded); the timeline draws every span of one phase as one ``scattergl`` line
trace, segments separated by NaN gaps (one trace per phase, not one shape per span); the
concurrency chart is averaged over 100 ms bins (at most ``max_bins``), the cold-start rate binned
too, and the histogram is binned here, so only the bins travel. ``benchmarks/bench_charts.py`` measures
all of it at 1,000 / 10,000 / 100,000 invocations.

The DataFrames are those of ``lab.spans()``, ``lab.invocations()`` and
``lambdalab.load.run(...).invocations``; times are epoch seconds, drawn as seconds since
``origin`` (default: the earliest time in the data, remembered by the figure for updates).
plotly is imported inside the functions, and nothing here imports IPython or ipywidgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz._frames import META_KEY
from lambdalab.viz.latency import (
    init_durations,
    latency_histogram,
    latency_over_time,
    parts_init_durations,
    parts_latency_histogram,
    parts_latency_over_time,
)
from lambdalab.viz.rates import cold_starts, parts_cold_starts
from lambdalab.viz.render import PartsFunction, draws_time, prepare, render
from lambdalab.viz.timeline import parts_timeline, timeline
from lambdalab.viz.usage import concurrency, parts_concurrency, parts_reuse, reuse

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KINDS",
    "cold_starts",
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


_CHARTS: dict[str, PartsFunction] = {
    "timeline": parts_timeline,
    "latency_over_time": parts_latency_over_time,
    "latency_histogram": parts_latency_histogram,
    "concurrency": parts_concurrency,
    "reuse": parts_reuse,
    "init_durations": parts_init_durations,
    "cold_starts": parts_cold_starts,
}
# kind -> (its parts, whether it draws time since an origin)
KINDS: dict[str, tuple[PartsFunction, bool]] = {kind: (make, draws_time(make)) for kind, make in _CHARTS.items()}


def _parts_function(kind: str) -> PartsFunction:
    try:
        return KINDS[kind][0]
    except KeyError:
        raise ConfigError(f"invalid chart kind: {kind!r}; allowed: {', '.join(KINDS)}") from None


def figure(
    kind: str,
    *,
    spans: pd.DataFrame | None = None,
    invocations: pd.DataFrame | None = None,
    widget: bool = False,
    **options: Any,
) -> Any:
    """A new ``go.Figure`` (``widget=True``: ``go.FigureWidget``, which needs anywidget) of ``kind``."""
    return render(_parts_function(kind), spans=spans, invocations=invocations, widget=widget, **options)


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
    traces, layout = prepare(_parts_function(kind), spans, invocations, options)
    layout = {k: v for k, v in layout.items() if k not in _KEPT}
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


_KEPT = ("template", "margin", "legend", "height", "width")  # an update keeps the figure's own (a panel sizes it)


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
