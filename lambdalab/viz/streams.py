"""Iterator age of a stream mapping: how far behind its shards each batch was, one line per shard.

``iterator_age(stream_or_frame)`` takes a Kinesis or DynamoDB stream (``lambdalab.streams``; its ``batches()``
is read) or that frame, and draws each batch's iterator age (Lambda's ``IteratorAge`` metric: when the batch
was sent minus the arrival of its last record, in ms) at the time it was sent, one trace per shard. A batch
that failed (a function error, a partial batch response) is an ``x``, a throttled one a triangle, so a shard
held back by a poison record shows as a rising line of crosses. The shards take plotly's own sequence of
colours: they are not phases or outcomes, so none of ``colours.py`` applies. plotly is imported inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import base_layout, time_axis

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["iterator_age"]

SYMBOLS = {"success": "circle", "error": "x", "partial": "x", "throttled": "triangle-up", "in_flight": "circle-open"}


def iterator_age(stream_or_frame: Any, *, title: str = "Iterator age by shard") -> Any:
    """A ``go.Figure``: iterator age (ms) of each batch against the seconds since the first batch, per shard."""
    import plotly.graph_objects as go

    frame: pd.DataFrame = stream_or_frame.batches() if hasattr(stream_or_frame, "batches") else stream_or_frame
    origin = float(frame["sent_at"].min()) if len(frame) else None
    traces: list[dict[str, Any]] = []
    for shard_id, rows in frame.groupby("shard_id", sort=True) if len(frame) else ():
        x = rows["sent_at"].to_numpy(dtype=float) - (origin or 0.0)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": str(shard_id),
                "x": x,
                "y": rows["iterator_age_ms"].to_numpy(dtype=float),
                "customdata": rows[["size", "outcome", "first_sequence"]].to_numpy(dtype=object),
                "marker": {"symbol": [SYMBOLS.get(o, "circle") for o in rows["outcome"]], "size": 7},
                "hovertemplate": "%{y:.1f} ms behind: %{customdata[0]} records, %{customdata[1]}"
                + "<br>from %{customdata[2]}<br>t=%{x:.3f} s<extra>%{fullData.name}</extra>",
            }
        )
    layout = base_layout(
        title,
        "iterator_age",
        origin,
        xaxis=time_axis(origin),
        yaxis={"title": {"text": "iterator age (ms)"}, "rangemode": "tozero"},
        hovermode="closest",
        height=340,
    )
    return go.Figure({"data": traces, "layout": layout})
