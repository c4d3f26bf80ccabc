"""The Telemetry view: per invoke, the runtime's time and the time extensions take after the response.

``lab.telemetry()`` has Lambda's Telemetry API records of every environment with extensions. Per request id,
``platform.start`` is when the invoke began, ``platform.runtimeDone`` when the runtime asked for the next
event (its response was sent), and ``platform.report`` when the invoke phase ended: when the last extension
called ``event/next`` too. The time from ``runtimeDone`` to ``report`` is what extensions add after the
response: the environment cannot freeze meanwhile, it is inside Duration, billed. ``after_response_table``
gives those numbers; ``after_response`` draws them as one stacked bar per invoke (the runtime in the invoke's
colour, the extensions' time after it in ``post_runtime``'s). Requests without a ``runtimeDone`` (functions
without extensions) are not in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.viz._frames import base_layout, short_id
from lambdalab.viz.axes import ms_text, subtitle
from lambdalab.viz.colours import PHASE_COLOURS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["after_response", "after_response_table"]

COLUMNS = (
    "request_id",
    "function",
    "version",
    "environment_id",
    "start",
    "runtime_done",
    "report",
    "runtime_ms",
    "after_response_ms",
)


def after_response_table(telemetry_df: pd.DataFrame) -> pd.DataFrame:
    """One row per invoke with both ``platform.runtimeDone`` and ``platform.report``, in the order they ran.

    ``runtime_ms``: ``platform.start`` to ``runtimeDone`` (the runtime's ``metrics.durationMs`` when there is no
    start); ``after_response_ms``: ``runtimeDone`` to ``report``, the extensions' time after the response.
    """
    import pandas as pd

    if telemetry_df is None or not len(telemetry_df) or "type" not in telemetry_df.columns:
        return pd.DataFrame(columns=list(COLUMNS))
    wanted = telemetry_df[telemetry_df["type"].isin(("platform.start", "platform.runtimeDone", "platform.report"))]
    found: dict[str, dict[str, Any]] = {}
    for time, kind, record, environment_id, function, version in zip(
        wanted["time"],
        wanted["type"],
        wanted["record"],
        wanted["environment_id"],
        wanted["function"],
        wanted["version"],
        strict=True,
    ):
        request_id = record.get("requestId") if isinstance(record, dict) else None
        if not request_id:
            continue
        row = found.setdefault(
            request_id,
            {"request_id": request_id, "function": function, "version": version, "environment_id": environment_id},
        )
        if kind == "platform.start":
            row["start"] = float(time)
        elif kind == "platform.runtimeDone":
            row["runtime_done"] = float(time)
            row["runtime_metric_ms"] = (record.get("metrics") or {}).get("durationMs")
        else:
            row["report"] = float(time)
    rows = []
    for row in found.values():
        if "runtime_done" not in row or "report" not in row:
            continue
        start = row.get("start")
        runtime_ms = (row["runtime_done"] - start) * 1000.0 if start is not None else row.get("runtime_metric_ms")
        after = max(0.0, (row["report"] - row["runtime_done"]) * 1000.0)
        rows.append(
            (
                row["request_id"],
                row["function"],
                row["version"],
                row["environment_id"],
                start,
                row["runtime_done"],
                row["report"],
                runtime_ms,
                after,
            )
        )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.sort_values("runtime_done", kind="stable").reset_index(drop=True)


def after_response(
    telemetry_df: pd.DataFrame,
    *,
    function: str | None = None,
    title: str = "After the response: what extensions add to each invoke",
) -> Any:
    """One stacked bar per invoke (numbered in order): the runtime's time, then the extensions' after it.

    ``telemetry_df`` is ``lab.telemetry()``; ``function`` keeps one function's invokes. The subtitle says the
    medians. An invoke whose extensions were idle shows (almost) no second part: they called ``event/next``
    before the runtime did.
    """
    import numpy as np
    import plotly.graph_objects as go

    table = after_response_table(telemetry_df)
    if function is not None:
        table = table[table["function"] == function].reset_index(drop=True)
    x = np.arange(1, len(table) + 1)
    ids = (
        np.column_stack(
            [
                [str(r)[:8] for r in table["request_id"]],
                [short_id(e) for e in table["environment_id"]],
                table["function"].astype(str).to_numpy(),
            ]
        )
        if len(table)
        else np.empty((0, 3))
    )
    runtime = table["runtime_ms"].astype(float).to_numpy()
    after = table["after_response_ms"].astype(float).to_numpy()
    parts = (
        ("runtime (start → runtimeDone)", runtime, PHASE_COLOURS["invoke"], "the runtime"),
        ("extensions after the response (runtimeDone → report)", after, PHASE_COLOURS["post_runtime"], "extensions"),
    )
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": values,
            "customdata": ids,
            "marker": {"color": colour, "line": {"width": 0}},
            "hovertemplate": f"{who}: %{{y:.3f}} ms<br>invoke #%{{x}} (%{{customdata[0]}}) of %{{customdata[2]}}"
            "<br>environment %{customdata[1]}<extra></extra>",
        }
        for name, values, colour, who in parts
    ]
    layout = base_layout(
        title,
        "after_response",
        None,
        xaxis={"title": {"text": "invoke, in order"}, "tickformat": "d"},
        yaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
        barmode="stack",
        bargap=0.2,
        height=340,
    )
    if len(table):
        median_after, median_runtime = float(np.median(after)), float(np.median(runtime))
        text = (
            f"{len(table)} invokes: the runtime took {ms_text(_round(median_runtime))} (median), "
            f"extensions {ms_text(_round(median_after))} more after the response, billed"
        )
    else:
        text = "no invokes with extensions yet (platform.runtimeDone comes from environments with extensions)"
    subtitle(layout, text)
    return go.Figure(data=traces, layout=layout)


def _round(ms: float) -> float:
    return float(f"{ms:.3g}")
