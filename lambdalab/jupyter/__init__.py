"""The notebook layer: ``%load_ext lambdalab`` magics, result cards, the load panel.

A thin skin over the headless API (STYLE §3.4): magics parse a line, make one call, display the
answer. Only this package imports IPython and ipywidgets; ``import lambdalab`` imports none of it.

    %load_ext lambdalab
    %%lambda hello --memory 256        # the cell body is the handler module
    %lambda invoke hello {"name": "Ada"}
    lambdalab.panel(hello)             # load controls and live charts
"""

from __future__ import annotations

from typing import Any

from lambdalab.jupyter.session import close_default_lab, default_lab

__all__ = ["close_default_lab", "default_lab", "load_ipython_extension", "panel", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the result/function cards in this shell."""
    from lambdalab.jupyter import display
    from lambdalab.jupyter.magics import LambdaMagics

    ipython.register_magics(LambdaMagics)
    display.register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and the cards (IPython has no public unregister: pop them)."""
    from lambdalab.jupyter import display

    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("lambda", None)
    display.unregister(ipython)


def panel(fn: Any, **kwargs: Any) -> Any:
    """The load panel for one function: controls, start/stop, progress, live charts.

    Python equivalent: ``lambdalab.load.start(fn, pattern, duration_s=...)`` and ``lambdalab.viz`` charts.
    """
    from lambdalab.jupyter.load_panel import Panel

    return Panel(fn, **kwargs)
