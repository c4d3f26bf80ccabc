"""One durable execution drawn as its replays: each invocation, and which operations it skipped or ran.

``replays(history)`` takes ``fn.durable_history(execution)`` (its ``attrs["replays"]``: one row per invocation with
the operations it found completed in the checkpoint log, ``skipped``, and the ones it started or finished, ``ran``).
Left, one bar per invocation on a real-time axis (cold and warm as everywhere, red when the invocation failed): the
gaps between them are the waits, retry delays and callbacks during which nothing runs and nothing is billed. Right,
the same rows against the operations in log order: a grey square where the replay skipped an operation (the SDK
returned its checkpointed result without running it), a green one where it ran it to its end, red where it failed
there (a step whose retry comes in a later replay), sky blue where it started one and left it waiting (a wait, a
callback). A virtual clock
(``Lab(time_scale=...)``) is said under the title. plotly is imported inside the function; the input is a frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz._frames import base_layout
from lambdalab.viz.colours import OUTCOME_COLOURS, PHASE_COLOURS

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["replays"]

# what a replay did with each operation, and its colour
CELLS = {
    "skipped": PHASE_COLOURS["idle"],  # grey: passed over, its result read back from the log
    "ran: succeeded": PHASE_COLOURS["invoke"],  # green: this replay ran it to its end
    "ran: failed": OUTCOME_COLOURS["error"],  # red: it failed here (PENDING: the SDK retries it in a later replay)
    "ran: started": PHASE_COLOURS["frozen"],  # sky blue: started and left waiting (a wait, a callback, a child)
}
FAILED = frozenset({"FAILED", "PENDING", "TIMED_OUT", "CANCELLED", "STOPPED"})


def _ran_label(status: str) -> str:
    if status == "SUCCEEDED":
        return "ran: succeeded"
    return "ran: failed" if status in FAILED else "ran: started"


def _add(cell: tuple[list[str], list[str], list[str]], name: str, row: str, status: str) -> None:
    cell[0].append(name)
    cell[1].append(row)
    cell[2].append(status)


def _statuses(table: pd.DataFrame) -> list[list[str]]:
    if "ran_status" in table:
        return [list(s) for s in table["ran_status"]]
    return [["SUCCEEDED"] * len(ran) for ran in table["ran"]]


def _operations(table: pd.DataFrame) -> list[str]:
    """Every operation any replay skipped or ran, in the order they first appear."""
    seen: dict[str, None] = {}
    for column in ("ran", "skipped"):
        for names in table[column]:
            for name in names:
                seen.setdefault(name, None)
    return list(seen)


def replays(history: pd.DataFrame) -> go.Figure:
    """The replays of one durable execution (``fn.durable_history(...)``), as the module says."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    table = history.attrs.get("replays")
    if table is None:
        raise ConfigError("replays() draws fn.durable_history(execution): a frame whose attrs hold its replays")
    rows = [f"replay {n}" for n in table["replay"]]
    origin = float(table["start"].min()) if len(table) else 0.0
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        column_widths=[0.45, 0.55],
        horizontal_spacing=0.05,
        subplot_titles=("invocations (real time)", "operations: skipped (replayed) or ran"),
    )
    for kind, colour in (("cold", OUTCOME_COLOURS["cold"]), ("warm", OUTCOME_COLOURS["warm"]), ("failed", None)):
        picked = table[_kind(table) == kind]
        if not len(picked):
            continue
        fig.add_trace(
            go.Bar(
                name=f"{kind} invocation",
                orientation="h",
                y=[f"replay {n}" for n in picked["replay"]],
                x=(picked["end"] - picked["start"]).tolist(),
                base=(picked["start"] - origin).tolist(),
                marker_color=colour or OUTCOME_COLOURS["error"],
                customdata=picked[["request_id", "environment_id", "duration_ms", "billed_ms", "outcome"]].values,
                hovertemplate=(
                    "%{y}: %{customdata[4]}<br>request %{customdata[0]}<br>environment %{customdata[1]}<br>"
                    "duration %{customdata[2]:.1f} ms, billed %{customdata[3]} ms<extra></extra>"
                ),
            ),
            row=1,
            col=1,
        )
    operations = _operations(table)
    cells: dict[str, tuple[list[str], list[str], list[str]]] = {label: ([], [], []) for label in CELLS}
    for row, skipped, ran, statuses in zip(rows, table["skipped"], table["ran"], _statuses(table), strict=True):
        for name in skipped:
            _add(cells["skipped"], name, row, "SUCCEEDED before")
        for name, status in zip(ran, statuses, strict=True):
            _add(cells[_ran_label(status)], name, row, status)
    for label, (xs, ys, statuses) in cells.items():
        if not xs:
            continue
        fig.add_trace(
            go.Scatter(
                name=label,
                mode="markers",
                x=xs,
                y=ys,
                customdata=statuses,
                marker={"symbol": "square", "size": 16, "color": CELLS[label]},
                hovertemplate="%{y}: %{x} (%{customdata})<extra></extra>",
            ),
            row=1,
            col=2,
        )
    title = (
        f"{history.attrs.get('function', '')}: {len(table)} invocations of one durable execution "
        f"({history.attrs.get('status', '')})"
    )
    lines = [f"execution {history.attrs.get('execution_name', '')}", history.attrs.get("caption") or ""]
    layout = base_layout(title, "durable_replays", origin, barmode="overlay")
    fig.update_layout(**room(layout, [line for line in lines if line], [t.name for t in fig.data], operations, rows))
    fig.update_yaxes(categoryorder="array", categoryarray=rows[::-1])
    fig.update_xaxes(title_text="seconds since the first invocation", zeroline=False, row=1, col=1)
    angle = tick_angle(operations)
    fig.update_xaxes(categoryorder="array", categoryarray=operations, type="category", tickangle=angle, row=1, col=2)
    return fig


# The layout in pixels, from plotly's default fonts (nothing is measured): the title starts under plotly's toolbar
# (the modebar, top right), so a long title never runs under it; its subtitle lines follow, then the subplot titles
# just above the plot area; the legend is at the figure's foot, under the axes' tick labels and titles.
TOOLBAR_PX = 34
TITLE_FONT, SUBTITLE_FONT, LEGEND_FONT, TICK_FONT = 15, 12, 12, 12
SUBPLOT_TITLE_PX = 24  # make_subplots' titles (16 px) sit on the plot area's top edge
LINE = 1.35  # a text line's height per font pixel
CHAR = 0.6  # a character's width per font pixel (about, for plotly's default sans-serif)
LEGEND_ROW_PX = 24
FIGURE_WIDTH = 700  # plotly's default width: the narrowest a notebook shows it, where the legend wraps most
OPERATIONS_PX = 0.55 * (FIGURE_WIDTH - 70 - 20)  # the right subplot's share of the plot area
AXIS_PX = 50  # the time axis' tick labels and title
ROW_PX, MIN_PLOT_PX = 45, 120


def title_bottom_px(subtitle_lines: int) -> float:
    """Where the title and its subtitle lines end, from the figure's top."""
    return TOOLBAR_PX + TITLE_FONT * LINE + subtitle_lines * SUBTITLE_FONT * LINE


def legend_rows(names: list[str]) -> int:
    """How many rows the horizontal legend takes at ``FIGURE_WIDTH`` (an entry: its symbol, a gap, its name)."""
    rows, used = 1, 0.0
    for name in names:
        width = 40 + len(name) * LEGEND_FONT * CHAR
        if used and used + width > FIGURE_WIDTH - 20:
            rows, used = rows + 1, 0.0
        used += width
    return rows


def tick_angle(operations: list[str]) -> int:
    """The operations' names side by side when they fit the right subplot's width, else slanted (a known height)."""
    width = sum(len(name) * TICK_FONT * CHAR + 12 for name in operations)
    return 0 if width <= OPERATIONS_PX else -45


def axes_px(operations: list[str]) -> int:
    """How far the x axes' labels reach under the plot area: the time axis', or the slanted operation names'."""
    if not tick_angle(operations):
        return AXIS_PX
    longest = max(len(name) for name in operations)
    return int(max(AXIS_PX, 10 + longest * TICK_FONT * CHAR * 0.71 + TICK_FONT))


def room(
    layout: dict[str, Any], lines: list[str], legend: list[str], operations: list[str], rows: list[str]
) -> dict[str, Any]:
    """``layout`` with its title, subtitle ``lines``, subplot titles, ``legend`` entries and axes each in their own
    band (see above), and the height that leaves ``ROW_PX`` for each replay."""
    layout["title"] = {
        **layout["title"],
        "font": {"size": TITLE_FONT},
        "x": 0,
        "xref": "paper",
        "xanchor": "left",
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "pad": {"t": TOOLBAR_PX},
    }
    if lines:
        layout["title"]["subtitle"] = {"text": "<br>".join(lines), "font": {"size": SUBTITLE_FONT}}
    layout["legend"] = {
        "orientation": "h",
        "x": 0,
        "xanchor": "left",
        "y": 0,
        "yref": "container",
        "yanchor": "bottom",
        "font": {"size": LEGEND_FONT},
        "traceorder": "normal",
    }
    top = int(title_bottom_px(len(lines)) + 8 + SUBPLOT_TITLE_PX)
    bottom = axes_px(operations) + 8 + LEGEND_ROW_PX * legend_rows(legend)
    layout["margin"] = {**layout["margin"], "t": top, "b": bottom}
    layout["height"] = top + bottom + max(MIN_PLOT_PX, ROW_PX * len(rows))
    return layout


def _kind(table: pd.DataFrame) -> pd.Series:
    failed = table["outcome"].astype(str).str.startswith("error")
    return failed.map({True: "failed", False: ""}).where(failed, table["cold"].map({True: "cold", False: "warm"}))
