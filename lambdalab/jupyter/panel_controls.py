"""The load panel's controls: its knobs for the load and the function, the left column they sit in beside the
charts' tabs, and the function settings they ask for (``lambdalab.jupyter.load_panel``).

A function on AWS Lambda (``remote``) takes only its memory from the panel: the scaling knobs (reserved and
provisioned concurrency, keep-alive) are this machine's, shown disabled.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from lambdalab.errors import CallerError
from lambdalab.jupyter import remote_panel
from lambdalab.jupyter.panel_parts import FIGURE_PX, LEFT_PX, PANEL_PX
from lambdalab.jupyter.patterns import KNOB_PATTERNS

__all__ = ["SCALING", "changed_settings", "layout", "make_controls"]

# the scaling knobs: control key, the function's configuration field, its type
SCALING = (
    ("reserved", "reserved_concurrency", int),
    ("provisioned", "provisioned_concurrency", int),
    ("keep_alive", "keep_alive_s", float),
)


def make_controls(
    fn: Any, remote: bool, pattern: str, rate: float, duration_s: float, concurrency: int
) -> dict[str, widgets.Widget]:
    """The knobs, by key: the load's (pattern, rate, duration, concurrency) and the function's (memory, scaling)."""
    controls: dict[str, widgets.Widget] = {
        "pattern": widgets.Dropdown(options=list(KNOB_PATTERNS), value=pattern, description="pattern"),
        "rate": widgets.BoundedFloatText(value=rate, min=0.1, max=10_000, description="rate /s"),
        "duration": widgets.BoundedFloatText(value=duration_s, min=0.1, max=3600, description="duration s"),
        "concurrency": widgets.BoundedIntText(value=concurrency, min=1, max=1000, description="clients"),
        "memory": widgets.BoundedIntText(
            value=remote_panel.memory_of(fn), min=128, max=10_240, step=64, description="memory MB"
        ),
    }
    for key, field, _ in SCALING:
        value = None if remote else getattr(fn.config, field)
        controls[key] = widgets.Text(
            value="" if value is None else str(value),
            placeholder="this machine only" if remote else "default",
            description=key.replace("_", "-"),
            disabled=remote,
        )
    for control in controls.values():
        control.style.description_width = "80px"
        control.layout.width = f"{LEFT_PX // 2 - 6}px"
    return controls


def layout(controls: dict[str, widgets.Widget], below: list[widgets.Widget], board: Any, tabs: Any) -> widgets.HBox:
    """The panel: the knobs in pairs, then ``below`` (buttons, cost, status) and the board, left of the tabs."""
    pairs = (
        ("pattern", "rate"),
        ("duration", "concurrency"),
        ("memory", "reserved"),
        ("provisioned", "keep_alive"),
    )
    left_children: list[widgets.Widget] = [widgets.HBox([controls[a], controls[b]]) for a, b in pairs]
    left_children += below
    if board is not None:
        board.layout.width = "100%"
        left_children.append(board)
    left = widgets.VBox(left_children, layout=widgets.Layout(width=f"{LEFT_PX}px", flex="0 0 auto"))
    tabs.layout.width = f"{FIGURE_PX[0] + 12}px"
    box = widgets.HBox(
        [left, tabs],
        layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", max_height=f"{PANEL_PX}px"),
    )
    box.add_class("lambdalab-panel")
    return box


def changed_settings(fn: Any, controls: dict[str, widgets.Widget], remote: bool) -> dict[str, Any]:
    """The function's settings the knobs change (``fn.update``'s keywords); ``CallerError`` for a non-number."""
    changes: dict[str, Any] = {}
    if int(controls["memory"].value) != remote_panel.memory_of(fn):
        changes["memory_mb"] = int(controls["memory"].value)
    for key, field, kind in SCALING if not remote else ():
        text = controls[key].value.strip()
        try:
            value = kind(text) if text else None
        except ValueError:
            raise CallerError(f"invalid {key.replace('_', '-')}: {text!r} is not a number") from None
        if value != getattr(fn.config, field):
            changes[field] = value
    return changes
