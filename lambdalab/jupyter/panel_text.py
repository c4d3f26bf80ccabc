"""What the load panel says: its tabs' titles, its status line, the line that explains a cold-start cascade,
its style.

``status_text`` reads "running · ..." while the run sends or has requests in flight, and "done · ..."
only once it has ended with none in flight (a snapshot says both at once, so the line never mixes
a finished state with an earlier count). ``cascade_line`` finds the latest burst of cold starts
(``lambdalab.viz.rates``) and says why it happened. ``STYLE`` rides in the (hidden) cascade widget:
the board's grid kept short inside the panel, and the cascade line's look.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from lambdalab.api import Function
from lambdalab.viz.colours import COLD_COLOUR, UI_COLOURS

# each chart kind's tab
TAB_TITLES = {
    "concurrency": "Concurrency",
    "latency_over_time": "Latency",
    "timeline": "Environments",
    "cold_starts": "Cold starts",
    "reuse": "Per environment",
    "latency_histogram": "Latency histogram",
    "init_durations": "Init durations",
}
BOARD_GRID_PX = 130  # inside the panel, the board's tiles scroll past this height
# the board's grid kept short and the cascade line's look (a <style> rides in the cascade widget)
STYLE = (
    f"<style>.lambdalab-panel .lambdalab-board-grid{{max-height:{BOARD_GRID_PX}px}}"
    ".lambdalab-panel .lambdalab-cascade .widget-html-content{font-size:12px;line-height:1.35;white-space:normal;"
    f"border-left:4px solid {COLD_COLOUR};padding:3px 6px;background:{UI_COLOURS['code']};color:{UI_COLOURS['text']}}}"
    ".lambdalab-panel .lambdalab-status .widget-html-content{line-height:1.35;white-space:normal}</style>"
)
USABLE_STATES = ("idle", "invoking", "finishing")  # an environment a request could use now (warm)


def status_text(snapshot: Any, elapsed_s: float) -> str:
    """The status line after the function's name: "running · ..." while requests are being sent or are in
    flight, "done · ..." only once the run has ended with none in flight."""
    s = snapshot.summary
    if not snapshot.finished:
        state = "running"
    elif snapshot.in_flight:
        state = f"ended · {snapshot.in_flight} still in flight"
    else:
        state = "done · stopped early" if snapshot.stopped else "done"
    p50 = "-" if s.latency_p50_ms != s.latency_p50_ms else f"{s.latency_p50_ms:.1f} ms"  # NaN: none yet
    parts = [state, f"{s.requests} requests"]
    if not snapshot.finished:
        parts.append(f"{snapshot.in_flight} in flight")
    parts += [f"{s.cold_starts} cold", f"{s.throttles} throttled"]
    errors = f"{s.errors} errors"
    types = getattr(s, "error_types", None) or {}
    if s.errors and types:
        errors += " (" + ", ".join(f"{html.escape(str(k))} {v}" for k, v in list(types.items())[:2]) + ")"
    parts += [errors, f"p50 {p50}", f"{max(elapsed_s, 0.0):.1f} s"]
    return " · ".join(parts)


def cascade_line(
    invocations: Any, load_start: float, redeploys: Sequence[float], warm_at_start: int, spans: Any = None
) -> str:
    """The explanation of the run's latest cold-start cascade, or "" when there was none."""
    from lambdalab.viz.rates import explain_cascade, find_cascades

    cascades = find_cascades(invocations)
    if not cascades:
        return ""
    shutdowns: list[float] = []
    if spans is not None and len(spans):
        shutdowns = spans.loc[spans["phase"] == "shutdown", "start"].tolist()
    return explain_cascade(
        cascades[-1], load_start=load_start, redeploys=redeploys, warm_at_start=warm_at_start, shutdowns=shutdowns
    )


def warm_environments(fn: Function) -> int:
    """How many of ``fn``'s environments could take a request now."""
    try:
        return sum(1 for info in fn.environments() if info.state in USABLE_STATES)
    except Exception:  # noqa: BLE001 - only the cascade line's wording depends on it
        return 0
