"""Each notebook run once in JupyterLab, and what its DOM showed (the browser test's measurements).

``Browser(base_url, page, shots)("05")`` opens notebooks/05_scaling.ipynb in the page, runs every cell,
reads the cards, the card bars, the plotly figures (and for the panel: its layout at 1366x768, samples of
its status, board and charts every 100 ms through the notebook's load and a second load from Start),
takes the screenshot, shuts the kernel down, and keeps it all in a ``Shown``; a second call returns it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser import dom, harness

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {
    "00": "00_start_here.ipynb",
    "04": "04_init_invoke_freeze.ipynb",
    "05": "05_scaling.ipynb",
    "panel": "demo_panel.ipynb",
}
FIGURES = {"04": 1, "05": 1}  # static plotly figures each notebook draws (at least)
TIMELINE_TITLE = "work: 6 requests at once"  # the timeline's title in 05_scaling.ipynb
SCREENSHOTS = {"05": "timeline.png", "04": "cards.png", "panel": "panel.png"}
MAX_PNG_BYTES = 300 * 1024
MIN_SEGMENT_PX = 2.0
PANEL_MAX_HEIGHT = 600


@dataclass
class Shown:
    """What one notebook showed in the browser."""

    key: str
    name: str
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds since the run began, at each step
    failure: str | None = None  # the run itself broke (a timeout, the page): every test of it fails with this
    cell_errors: list[str] = field(default_factory=list)
    not_run: list[int] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # what could not be measured, and why

    def get(self, what: str) -> Any:
        if self.failure:
            pytest.fail(f"{self.name} did not run to the end in JupyterLab: {self.failure}")
        if what not in self.measured:
            pytest.fail(f"{self.name}: could not read {what}: {self.problems.get(what, 'not measured')}")
        return self.measured[what]

    def measure(self, what: str, probe: Callable[[], Any]) -> None:
        try:
            self.measured[what] = probe()
        except Exception as exc:  # noqa: BLE001 - recorded; the test that needs it says what went wrong
            self.problems[what] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class Browser:
    """One JupyterLab, one page; each notebook runs once, the first time it is asked for."""

    def __init__(self, base_url: str, page: Any, shots: Path) -> None:
        self.base_url, self.page, self.shots = base_url, page, shots
        self.shown: dict[str, Shown] = {}
        self.palette: dict[str, dict[str, str]] = {}

    def __call__(self, key: str) -> Shown:
        if key not in self.shown:
            self.shown[key] = self._run(key)
        return self.shown[key]

    def _run(self, key: str) -> Shown:
        shown, page = Shown(key, NOTEBOOKS[key]), self.page
        t0 = time.monotonic()
        errors_before = len(harness.page_errors(page))
        try:
            harness.shutdown_kernels(self.base_url)  # the last notebook's kernel (and its Lab) first
            harness.open_notebook(page, self.base_url, f"notebooks/{shown.name}")
            shown.timings["kernel idle"] = time.monotonic() - t0
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            if key == "panel":
                page.evaluate(dom.PANEL_SAMPLER_JS)
            shown.cell_errors = harness.run_all_cells(page, timeout_s=150)
            harness.wait_until_idle(page, timeout_s=60)
            shown.timings["cells done"] = time.monotonic() - t0
            shown.not_run = page.evaluate(harness.NOT_RUN_JS)
            page.wait_for_function(
                """n => [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')]
                    .filter(gd => gd._fullLayout && gd.querySelector('.main-svg')).length >= n""",
                arg=FIGURES.get(key, 0),
                timeout=30_000,
            )
        except Exception as exc:  # noqa: BLE001 - every test of this notebook reports it
            shown.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if not shown.failure:
            shown.measure("cards", lambda: page.evaluate(dom.CARDS_JS, None))
            shown.measure("cards at 640 px", lambda: page.evaluate(dom.CARDS_JS, 640))
            shown.measure("card bars", lambda: page.evaluate(dom.CARD_BARS_JS))
            shown.measure("figures", lambda: page.evaluate(dom.FIGURES_JS))
            shown.measure("stderr", lambda: page.evaluate(dom.STDERR_JS))
            if key == "panel":
                self._panel(shown, t0)
            shown.timings["measured"] = time.monotonic() - t0
            if key in SCREENSHOTS:
                shown.measure("screenshot", lambda: self._screenshot(key))
            if key == "panel":  # after the picture: the bar of a stopped run is yellow
                shown.measure("Stop", lambda: self._stop(page))
                shown.timings["Stop done"] = time.monotonic() - t0
        with contextlib.suppress(Exception):  # its kernel's Lab closes its environments now (graceful shutdown)
            harness.shutdown_kernels(self.base_url)
        shown.page_errors = harness.page_errors(page)[errors_before:]
        shown.seconds = time.monotonic() - t0
        return shown

    def _panel(self, shown: Shown, t0: float) -> None:
        """The notebook's own load is done: measure the layout, then a second load from the Start button."""
        page = self.page
        shown.measure("panel fit", lambda: page.evaluate(dom.PANEL_FIT_JS))
        shown.measured["samples before Start"] = len(page.evaluate(dom.PANEL_SAMPLES_JS))
        shown.measure("Start", lambda: self._start(page))
        shown.timings["Start load done"] = time.monotonic() - t0
        shown.measured["samples"] = page.evaluate(dom.PANEL_SAMPLES_JS)
        shown.measured["tile changes"] = page.evaluate(dom.TILE_CHANGES_JS)
        shown.measured["final status"] = page.evaluate(dom.STATUS_JS)

    @staticmethod
    def _start(page: Any) -> bool:
        """A second load from the Start button (the notebook's own load is over), to its end."""
        page.wait_for_function(f"() => ({dom.STATUS_JS})().includes('done ·')", timeout=60_000)
        start = page.locator(".lambdalab-panel button", has_text=re.compile(r"^\s*Start\s*$")).first
        start.click(timeout=10_000)
        page.wait_for_function(f"() => ({dom.STATUS_JS})().includes('running ·')", timeout=30_000)
        page.wait_for_function(f"() => ({dom.STATUS_JS})().includes('done ·')", timeout=90_000)
        page.wait_for_timeout(500)  # a few samples after the end
        return True

    @staticmethod
    def _stop(page: Any) -> dict[str, Any]:
        """A third load, stopped from the Stop button after about 1.5 s of its 6: what the bar and status say."""
        page.locator(".lambdalab-panel button", has_text=re.compile(r"^\s*Start\s*$")).first.click(timeout=10_000)
        page.wait_for_function(f"() => ({dom.STATUS_JS})().includes('running ·')", timeout=30_000)
        page.wait_for_timeout(1500)
        before = page.evaluate(dom.PROGRESS_JS)
        page.locator(".lambdalab-panel button", has_text=re.compile(r"^\s*Stop\s*$")).first.click(timeout=10_000)
        page.wait_for_function(f"() => !({dom.STATUS_JS})().includes('running ·')", timeout=30_000)
        page.wait_for_timeout(800)  # a few refreshes after the stop
        return {"before": before, "after": page.evaluate(dom.PROGRESS_JS), "status": page.evaluate(dom.STATUS_JS)}

    def _screenshot(self, key: str) -> dict[str, Any]:
        """One PNG clipped from the viewport (element screenshots past it redraw WebGL charts blank)."""
        page = self.page
        if key == "05":
            target = page.locator(".jp-OutputArea .js-plotly-plot", has_text=TIMELINE_TITLE).first
            target.evaluate("e => e.scrollIntoView({block: 'center'})")
        elif key == "panel":
            target = page.locator(".lambdalab-panel").first
            target.evaluate("e => e.scrollIntoView({block: 'start'})")
        else:  # every card of the notebook, from the first one down (as far as the screen reaches)
            target = page.locator(".jp-OutputArea .lambdalab-card").first
            target.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(1500)  # let plotly finish its last redraw (WebGL traces draw asynchronously)
        if key in ("05", "panel"):
            b = target.bounding_box(timeout=10_000)
        else:
            b = page.evaluate(dom.CARDS_BOX_JS)
        width, height = page.viewport_size["width"], page.viewport_size["height"]
        x, y = max(b["x"], 0), max(b["y"], 0)
        clip = {
            "x": x,
            "y": y,
            "width": min(b["x"] + b["width"], width) - x,
            "height": min(b["y"] + b["height"], height - 24) - y,
        }  # not the status bar
        path = self.shots / SCREENSHOTS[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), clip=clip, timeout=30_000)
        return {"path": str(path), "bytes": path.stat().st_size, "clip": clip}


def palette() -> dict[str, dict[str, str]]:
    """lambdalab.viz.colours as the tests compare it: phases and outcomes."""
    from lambdalab.viz import colours

    outcomes = getattr(colours, "OUTCOME_COLOURS", None) or {
        "cold": colours.COLD_COLOUR,
        "warm": colours.WARM_COLOUR,
        "throttled": colours.THROTTLE_COLOUR,
        "error": colours.ERROR_COLOUR,
    }
    return {"phase": dict(colours.PHASE_COLOURS), "outcome": dict(outcomes)}
