"""The load panel's parts that are not the panel itself: its sizes, a tab's empty chart, its board.

The sizes lay the panel out for a 1366×768 screen (``lambdalab.jupyter.load_panel`` re-exports them).
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["CHARTS", "FIGURE_PX", "LEFT_PX", "MARGIN_LEFT_PX", "PANEL_PX", "TITLE_Y"]

CHARTS = ("concurrency", "latency_over_time", "timeline", "cold_starts", "reuse")
PANEL_PX = 600  # the panel's height at most: with JupyterLab's bars it fits a 768 px tall screen
LEFT_PX = 390  # the controls, status and board
TITLE_Y = 0.98  # each chart's title at the top, over its subtitle and legend
FIGURE_PX = (720, 470)  # each chart (width, height); the tab bar adds about 35 px
MARGIN_LEFT_PX = 100  # every chart's plot area starts here: its time axis lines up with the other tabs'


def is_done(handle: Any) -> bool:
    done = handle.done
    return bool(done() if callable(done) else done)


def new_figure(kind: str) -> Any:
    """An empty live chart of one kind: a plotly FigureWidget made by ``lambdalab.viz``, sized for a tab."""
    from lambdalab import viz

    fig = viz.figure(kind, widget=True)
    fig.layout.width, fig.layout.height = FIGURE_PX
    # room for a title, a subtitle and a legend; one left margin wide enough for every chart's y labels, so the
    # plot areas of all the tabs line up (plotly would widen a margin per chart for its own labels)
    fig.update_layout(margin={"t": 100, "l": MARGIN_LEFT_PX, "r": 20}, title_y=TITLE_Y, title_yanchor="top")
    return fig


def rest(board: Any) -> None:
    """One last picture, then no more polling."""
    with contextlib.suppress(Exception):  # the Lab may be closing: the board keeps its last tiles
        board.refresh()
    board.stop()


def new_board(fn: Any) -> Any:
    """The live environment board (``lambdalab.jupyter.board``), or None where it cannot be made."""
    try:
        from lambdalab.jupyter.board import Board
    except ImportError:
        return None
    board = Board(fn)
    board.refresh()
    return board
