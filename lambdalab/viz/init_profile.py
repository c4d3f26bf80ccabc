"""The import profile of one cold start: which modules an init spent its time importing, and from where.

``init_profile(table)`` draws ``lambdalab.init_profile.profile_table``'s DataFrame (module, parent,
depth, self_ms, cumulative_ms, origin, and optionally index/parent_index) either as an icicle, the
import tree with each box as wide as the module's cumulative time, or as horizontal bars of the
``top`` modules by their own time. Both colour a module by where it was loaded from
(``ORIGIN_COLOURS``): the function's package, its dependencies, a layer, the runtime, the standard
library. plotly is imported inside the function; this module imports nothing else of lambdalab's
but ``lambdalab.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError
from lambdalab.viz.colours import ORIGIN_COLOURS, UI_COLOURS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ORIGIN_COLOURS", "init_profile"]

# One colour per origin (lambdalab.init_profile.ORIGINS), from the one palette (lambdalab.viz.colours): the user's
# own code stands out, what every function pays (the standard library) recedes.
_ROOT_ID = "<init>"
_ROOT_COLOUR = UI_COLOURS["chart_root"]
_KINDS = ("icicle", "bar")
_BY = ("self_ms", "cumulative_ms")


def init_profile(
    table: pd.DataFrame,
    kind: str = "icicle",
    *,
    top: int = 30,
    by: str = "self_ms",
    maxdepth: int | None = None,
    title: str | None = None,
) -> Any:
    """A plotly Figure of an import profile.

    ``kind="icicle"``: every import as a box under what imported it, as wide as its cumulative time
    (``maxdepth`` levels shown at once; click a box to zoom). ``kind="bar"``: the ``top`` modules by
    ``by`` (their own time, ``self_ms``, or ``cumulative_ms``), slowest at the top, one trace per origin.
    """
    if kind not in _KINDS:
        raise ConfigError(f"invalid init profile kind: {kind!r}; allowed: {', '.join(_KINDS)}")
    if by not in _BY:
        raise ConfigError(f"invalid by: {by!r}; allowed: {', '.join(_BY)}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigError(f"invalid top: {top!r}; expected a whole number of modules, at least 1")
    import plotly.graph_objects as go

    rows = _rows(table)
    total_ms = sum(row["self_ms"] for row in rows)
    heading = title if title is not None else f"Import time of one cold start: {total_ms:.1f} ms in {len(rows)} imports"
    if kind == "icicle":
        traces, layout = _icicle(rows, maxdepth, total_ms)
    else:
        traces, layout = _bars(rows, top, by)
    layout.update(title={"text": heading}, template="plotly_white")
    return go.Figure(data=traces, layout=layout)


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table as plain records with a unique ``id`` and ``parent_id`` (index columns when present)."""
    import pandas

    def present(value: Any) -> bool:
        return value is not None and not bool(pandas.isna(value))

    has_index = "index" in table.columns and "parent_index" in table.columns
    rows = []
    for number, record in enumerate(table.to_dict("records")):
        parent = record.get("parent") if isinstance(record.get("parent"), str) else ""
        origin = record.get("origin")
        if has_index:
            key, parent_index = int(record["index"]), record["parent_index"]
            parent_id = f"#{int(parent_index)}" if present(parent_index) else ""
        else:
            key, parent_id = number, parent
        rows.append(
            {
                "module": str(record["module"]),
                "parent": parent,
                "origin": origin if isinstance(origin, str) else "unknown",
                "self_ms": float(record["self_ms"]) if present(record.get("self_ms")) else 0.0,
                "cumulative_ms": float(record["cumulative_ms"]) if present(record.get("cumulative_ms")) else 0.0,
                "id": f"#{key}" if has_index else str(record["module"]),
                "parent_id": parent_id,
                "order": key,
            }
        )
    return rows


def _colour(origin: str) -> str:
    return ORIGIN_COLOURS.get(origin, ORIGIN_COLOURS["other"])


def _hover(row: dict[str, Any]) -> list[Any]:
    return [row["origin"], row["self_ms"], row["cumulative_ms"], row["parent"] or "(top level)"]


_HOVER = (
    "<b>%{label}</b><br>from %{customdata[0]}<br>self %{customdata[1]:.2f} ms"
    "<br>cumulative %{customdata[2]:.2f} ms<br>imported by %{customdata[3]}<extra></extra>"
)


def _icicle(rows: list[dict[str, Any]], maxdepth: int | None, total_ms: float) -> tuple[list[Any], dict[str, Any]]:
    """One icicle trace under a synthetic root; sizes are self times (``remainder``), so a box spans its subtree."""
    ids = {row["id"] for row in rows}
    # in import order: the tree reads left to right as the init ran
    ordered = sorted(rows, key=lambda row: row["order"])
    trace = {
        "type": "icicle",
        "branchvalues": "remainder",
        "sort": False,
        "ids": [_ROOT_ID] + [row["id"] for row in ordered],
        "labels": ["all imports"] + [row["module"] for row in ordered],
        "parents": [""] + [row["parent_id"] if row["parent_id"] in ids else _ROOT_ID for row in ordered],
        "values": [0.0] + [row["self_ms"] for row in ordered],
        "customdata": [["", 0.0, total_ms, ""]] + [_hover(row) for row in ordered],
        "marker": {"colors": [_ROOT_COLOUR] + [_colour(row["origin"]) for row in ordered]},
        "hovertemplate": _HOVER,
        "maxdepth": maxdepth if maxdepth is not None else -1,
        "tiling": {"orientation": "h"},
        "name": "imports",
    }
    layout = {
        "margin": {"l": 10, "r": 10, "t": 90, "b": 10},
        "height": 520,
        "annotations": [_legend(row["origin"] for row in rows)],
    }
    return [trace], layout


def _legend(origins: Any) -> dict[str, Any]:
    """An icicle has no legend: a line of coloured origin names above it instead."""
    present = set(origins)
    text = "   ".join(
        f"<span style='color:{colour}'>■</span> {origin}"
        for origin, colour in ORIGIN_COLOURS.items()
        if origin in present
    )
    return {
        "text": text,
        "showarrow": False,
        "xref": "paper",
        "yref": "paper",
        "x": 0,
        "y": 1.0,
        "xanchor": "left",
        "yanchor": "bottom",
        "align": "left",
    }


def _bars(rows: list[dict[str, Any]], top: int, by: str) -> tuple[list[Any], dict[str, Any]]:
    """The ``top`` rows by ``by``, one horizontal bar trace per origin, slowest at the top."""
    chosen = sorted(rows, key=lambda row: (-row[by], row["order"]))[:top]
    labels = _labels(chosen)
    traces = []
    for origin, colour in {**ORIGIN_COLOURS, **{row["origin"]: _colour(row["origin"]) for row in chosen}}.items():
        mine = [(label, row) for label, row in zip(labels, chosen, strict=True) if row["origin"] == origin]
        if mine:
            traces.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": origin,
                    "marker": {"color": colour},
                    "y": [label for label, _ in mine],
                    "x": [row[by] for _, row in mine],
                    "customdata": [_hover(row) for _, row in mine],
                    "hovertemplate": _HOVER.replace("%{label}", "%{y}"),
                }
            )
    axis_title = "own import time (ms)" if by == "self_ms" else "cumulative import time (ms)"
    layout = {
        "barmode": "stack",
        "height": max(320, 22 * len(chosen) + 140),
        "xaxis": {"title": {"text": axis_title}},
        "yaxis": {"categoryorder": "array", "categoryarray": labels[::-1], "automargin": True},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "margin": {"l": 70, "r": 20, "t": 90, "b": 50},
    }
    return traces, layout


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    """Module names, with ``(2)``, ``(3)`` ... on a module imported again (a failed import retried)."""
    seen: dict[str, int] = {}
    labels = []
    for row in rows:
        seen[row["module"]] = seen.get(row["module"], 0) + 1
        count = seen[row["module"]]
        labels.append(row["module"] if count == 1 else f"{row['module']} ({count})")
    return labels
