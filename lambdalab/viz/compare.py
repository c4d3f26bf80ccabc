"""Two runs side by side: this machine on the left, AWS Lambda on the right, on the same axes.

    compare(local_lab, aws_lab)                            cold, warm, throttled requests per second over time
    compare(local_fn, aws_fn, kind="latency")              each request's latency over time, cold vs warm
    compare(report.invocations, aws_lab, kind="reuse")     requests per environment

Each side is a Lab (its ``invocations()``), a Function (its own ``invocations()`` when it has them, as a remote
function does, else its Lab's frame filtered to it) or an invocations DataFrame (a Lab's, or a load report's). Each
column is the chart of that kind drawn by the same parts as the single charts (``rates.py``, ``latency.py``,
``usage.py``), each run's time measured from its own first request; the two columns share their y axis and their x
range, and a cold-start chart uses one bin width for both, so heights and times compare directly. The column titles
are "this machine" and "AWS Lambda (<region>)" (the region of the remote Lab, when a Lab or Function is given).
Colours are the charts' own (``lambdalab.viz.colours``). plotly and numpy are imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz._frames import (
    Parts,
    bool_column,
    float_column,
    has_rows,
    invocation_times,
    invoked_mask,
    restored_mask,
)
from lambdalab.viz.axes import log_axis_ms, ms_text, nice_step
from lambdalab.viz.latency import parts_latency_over_time
from lambdalab.viz.rates import parts_cold_starts
from lambdalab.viz.render import prepare
from lambdalab.viz.usage import parts_reuse

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["COMPARE_KINDS", "compare", "invocations_of"]

LOCAL_TITLE = "this machine"
REMOTE_TITLE = "AWS Lambda"
# kind -> (the chart's parts, the figure's title)
COMPARE_KINDS: dict[str, tuple[Callable[..., Parts], str]] = {
    "cold_starts": (parts_cold_starts, "Cold starts over time"),
    "latency": (parts_latency_over_time, "Latency over time, cold vs warm"),
    "reuse": (parts_reuse, "Requests per environment"),
}
TARGET_BINS = 40  # a cold-start chart's bins over the longer of the two runs


def invocations_of(source: Any) -> pd.DataFrame:
    """The invocations frame of a Lab, a Function or a DataFrame (returned as it is)."""
    if hasattr(source, "columns") and hasattr(source, "iloc"):
        return source
    if callable(getattr(source, "create_function", None)) and callable(getattr(source, "invocations", None)):
        frame: pd.DataFrame = source.invocations()  # a Lab, local or remote
        return frame
    name = getattr(source, "name", None)
    if isinstance(name, str) and callable(getattr(source, "invocations", None)):
        frame = source.invocations()  # a function that reads its own records (a remote one)
        return frame
    lab: Any = getattr(source, "lab", None)
    if isinstance(name, str) and callable(getattr(lab, "invocations", None)):
        frame = lab.invocations()
        return frame[frame["function"] == name].reset_index(drop=True)
    raise ConfigError(f"invalid compare argument: {source!r}; pass a Lab, a Function or an invocations DataFrame")


def region_of(source: Any) -> str | None:
    """The AWS region of a remote Lab or Function (None for a DataFrame or a local one)."""
    for holder in (source, getattr(source, "lab", None)):
        region = getattr(holder, "region", None)
        if isinstance(region, str) and region:
            return region
    return None


def compare(local: Any, remote: Any, kind: str = "cold_starts", **options: Any) -> Any:
    """One figure, two columns on the same axes: ``local`` ("this machine") and ``remote`` ("AWS Lambda (region)").

    ``kind``: "cold_starts" (requests per second by outcome; ``bin_s`` sets the bins, one width for both),
    "latency" (each request's latency over time; ``log_y``) or "reuse" (requests per environment). ``title``
    replaces the figure's title; other options go to the chart (as for ``cold_starts``, ``latency_over_time``,
    ``reuse``). Throttled requests never ran: the latency columns leave them out and the subtitle counts them.
    """
    from plotly.subplots import make_subplots

    if kind not in COMPARE_KINDS:
        raise ConfigError(f"invalid compare kind: {kind!r}; allowed: {', '.join(COMPARE_KINDS)}")
    make, title = COMPARE_KINDS[kind]
    title = options.pop("title", None) or title
    frames = (invocations_of(local), invocations_of(remote))
    region = region_of(remote)
    titles = (LOCAL_TITLE, f"{REMOTE_TITLE} ({region})" if region else REMOTE_TITLE)
    if kind == "cold_starts" and not options.get("bin_s"):
        longest = max(_span_s(frame) for frame in frames)
        options["bin_s"] = max(0.1, nice_step(max(longest, 1e-9) / TARGET_BINS))
    sides = [prepare(make, None, frame, dict(options)) for frame in frames]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.06)
    listed = {trace.get("name") for traces, _ in sides for trace in traces if trace.get("showlegend", True)}
    for column, (traces, _) in enumerate(sides, start=1):
        for trace in traces:
            if trace.get("yaxis") not in (None, "y"):
                continue  # the latency chart's strip of throttled requests (counted in the subtitle)
            axis = "" if column == 1 else "2"
            # the left column's legend, with what either side draws ("restored" only where SnapStart ran)
            fig.add_trace(_trace(trace, axis, show_legend=column == 1 and trace.get("name") in listed))
    layout = sides[0][1]
    fig.update_layout(
        title={"text": title, "subtitle": {"text": _summary(frames)}, "y": 0.98, "yanchor": "top"},
        template="plotly_white",
        meta={"lambdalab": f"compare:{kind}"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.08, "xanchor": "left", "x": 0},
        margin={"l": 70, "r": 20, "t": 120, "b": 50},
        height=400,
        barmode=layout.get("barmode"),
        bargap=layout.get("bargap"),
        hovermode=layout.get("hovermode", "closest"),
    )
    x_axis = {key: value for key, value in layout.get("xaxis", {}).items() if key in ("title", "tickformat")}
    y_axis = _y_axis(kind, layout, sides, frames)
    x_range = _x_range(kind, sides)
    for suffix in ("", "2"):
        fig.layout[f"xaxis{suffix}"].update(x_axis, range=x_range, autorange=x_range is None)
        fig.layout[f"yaxis{suffix}"].update(y_axis)
    fig.layout.yaxis2.title = None  # one y title, on the left
    return fig


def _trace(trace: dict[str, Any], axis: str, *, show_legend: bool) -> dict[str, Any]:
    """A chart's trace placed in one column; the legend shows the left column's, and toggles both."""
    name = trace.get("name")
    return {
        **trace,
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
        "legendgroup": name,
        "showlegend": show_legend,
    }


def _span_s(frame: pd.DataFrame) -> float:
    """Seconds from a run's first request to its last (0 when it has fewer than two)."""
    import numpy as np

    if not has_rows(frame):
        return 0.0
    times = invocation_times(frame)
    times = times[np.isfinite(times)]
    return float(times.max() - times.min()) if len(times) else 0.0


def _values(traces: list[dict[str, Any]], key: str) -> list[np.ndarray]:
    import numpy as np

    arrays = [np.asarray(t.get(key, ()), dtype=float) for t in traces if t.get("yaxis") in (None, "y")]
    return [a for a in arrays if a.size]


def _x_range(kind: str, sides: list[Parts]) -> list[float] | None:
    """One x range for both columns: time from 0 to the later run's end, or environments 1 to the most."""
    import numpy as np

    ends: list[float] = []
    starts: list[float] = [0.0]
    for traces, _ in sides:
        for trace in traces:
            x = np.asarray(trace.get("x", ()), dtype=float)
            x = x[np.isfinite(x)]
            if not x.size or trace.get("yaxis") not in (None, "y"):
                continue
            width = float(trace.get("width", 0.0) or 0.0) if trace.get("type") == "bar" and kind != "reuse" else 0.0
            ends.append(float(x.max()) + width)
            starts.append(float(x.min()))
    if not ends:
        return None
    if kind == "reuse":
        return [0.5, max(ends) + 0.5]
    low, high = min(starts), max(ends)
    pad = max(high - low, 0.1) * 0.02
    return [low - (pad if low < 0 else 0.0), high + pad]


def _y_axis(kind: str, layout: dict[str, Any], sides: list[Parts], frames: tuple[Any, ...]) -> dict[str, Any]:
    """The shared y axis: its title, and a range that holds both columns' data."""
    import numpy as np

    axis = {key: value for key, value in layout.get("yaxis", {}).items() if key in ("title", "tickformat")}
    if kind == "latency" and layout.get("yaxis", {}).get("type") == "log":
        values = np.concatenate([np.concatenate(_values(traces, "y") or [np.empty(0)]) for traces, _ in sides])
        shown = values[np.isfinite(values) & (values > 0)]
        axis = {**log_axis_ms(shown), "title": {"text": "latency"}}
        if shown.size:
            low, high = math.log10(float(shown.min())), math.log10(float(shown.max()))
            pad = max(high - low, 0.2) * 0.08  # the markers at the ends stay whole
            axis.update(range=[low - pad, high + pad], autorange=False)
        return axis
    top = 0.0
    for traces, _ in sides:
        bars = [y for y, t in zip(_values(traces, "y"), traces, strict=False) if t.get("type") == "bar"]
        if kind != "latency" and bars and len({len(y) for y in bars}) == 1:
            top = max(top, float(np.nansum(np.vstack(bars), axis=0).max()))  # stacked bars: their tops
        for y in _values(traces, "y"):
            top = max(top, float(np.nanmax(y)))
    if kind == "latency":
        axis.update(type="linear", ticksuffix=" ms")
    if top > 0:
        axis.update(range=[0.0, top * 1.05], autorange=False)
    return axis


def _summary(frames: tuple[Any, ...]) -> str:
    """One line: each side's requests, cold starts, throttles and warm median latency."""
    parts = []
    for frame, title in zip(frames, (LOCAL_TITLE, REMOTE_TITLE), strict=True):
        parts.append(f"{title}: {_side_summary(frame)}")
    return " · ".join(parts)


def _side_summary(frame: pd.DataFrame) -> str:
    import numpy as np

    if not has_rows(frame):
        return "no requests"
    invoked = invoked_mask(frame)
    restored = restored_mask(frame) & invoked
    cold = bool_column(frame, "cold") & invoked & ~restored
    throttled = bool_column(frame, "throttled")
    latency = float_column(frame, "latency_ms")
    warm = latency[invoked & ~cold & ~restored & ~throttled]
    warm = warm[np.isfinite(warm)]
    text = f"{int(invoked.sum()):,} requests, {int(cold.sum()):,} cold"
    if restored.any():
        text += f", {int(restored.sum()):,} restored"
    if throttled.any():
        text += f", {int(throttled.sum()):,} throttled"
    if warm.size:
        text += f", warm p50 {ms_text(float(f'{np.median(warm):.3g}'))}"
    return text
