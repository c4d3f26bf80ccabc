"""A real browser: JupyterLab runs the tutorials in headless Chromium.

Starts one ``jupyter lab`` for the module and drives Debian's /usr/bin/chromium with Playwright's
Python API (tests/browser/harness.py). ``05_scaling.ipynb``: every cell runs without an error and the
environment timeline renders, one row per environment; its screenshot is docs/images/timeline.png
(the README shows it; written there only with LAMBDALAB_WRITE_SCREENSHOT=1). ``demo_panel.ipynb``: the result card, the panel and its live plotly
charts, which must change while the load runs. Sessions are deleted through the REST API, so
kernels shut down gracefully and close their Labs; only the server we started is stopped.
Skipped when Chromium or Playwright is missing, unless CI is set: then it fails.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "demo_panel.ipynb"
SCALING = ROOT / "notebooks" / "05_scaling.ipynb"
TIMELINE_TITLE = "work: 6 requests at once"  # the timeline's title in 05_scaling.ipynb
# the README's picture is rewritten only on request (LAMBDALAB_WRITE_SCREENSHOT=1): a test run changes no tracked file
SCREENSHOT = (ROOT / "docs" / "images" / "timeline.png" if os.environ.get("LAMBDALAB_WRITE_SCREENSHOT") == "1"
              else Path(tempfile.gettempdir()) / f"lambdalab-timeline-{os.getpid()}.png")
MAX_PNG_BYTES = 300 * 1024
# sum of the x values of every trace of every chart in the panel (plotly keeps them on the div)
POINTS_JS = """() => [...document.querySelectorAll('.lambdalab-panel .js-plotly-plot')]
    .map(gd => (gd.data || []).reduce((n, t) => n + ((t.x && t.x.length) || 0), 0))"""
STATUS_JS = "() => [...document.querySelectorAll('.lambdalab-panel .widget-html')].map(e => e.textContent).join(' ')"
SAMPLER_JS = f"""() => {{
    window.__lambdalabSamples = [];
    setInterval(() => {{
        const status = ({STATUS_JS})();
        const points = ({POINTS_JS})().reduce((a, b) => a + b, 0);
        window.__lambdalabSamples.push([performance.now(), status.includes('running ·'), points]);
    }}, 100);
}}"""
# What the timeline figure drew: its rows (environments), phases with segments, the WebGL canvases.
TIMELINE_JS = """gd => ({
    rows: gd.querySelectorAll('.ytick').length,
    phases_with_points: gd._fullData.filter(t => (t._length || 0) > 0).map(t => t.name),
    canvases: gd.querySelectorAll('canvas').length,
    width: gd.getBoundingClientRect().width, height: gd.getBoundingClientRect().height,
})"""


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One JupyterLab for the module, serving fresh copies of the notebooks (the originals are never touched)."""
    harness.require_browser()  # before any server starts
    root = tmp_path_factory.mktemp("lab") / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in (NOTEBOOK, SCALING):
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    with harness.jupyter_lab(root) as base_url:
        yield base_url


@contextlib.contextmanager
def _page(base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A fresh browser page (and the page errors it collects); no kernel left from an earlier test."""
    harness.shutdown_kernels(base_url)
    try:
        with harness.chromium(viewport=(1280, 1800)) as page:
            yield page, page.lambdalab_errors
    finally:
        harness.shutdown_kernels(base_url)  # graceful kernel shutdown: the kernel's Lab closes its environments


def _open_and_run_all(page: Any, base: str, notebook: str, timings: dict[str, float], t0: float) -> None:
    harness.open_notebook(page, base, f"notebooks/{notebook}")
    timings["kernel idle"] = time.monotonic() - t0
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")


def test_scaling_notebook_runs_and_draws_the_timeline_in_jupyterlab(lab_server: str) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with _page(lab_server) as (page, errors):
        _open_and_run_all(page, lab_server, SCALING.name, timings, t0)
        page.wait_for_function(harness.CELLS_DONE_JS, timeout=240_000)  # every code cell ran, or one failed
        timings["cells done"] = time.monotonic() - t0
        failures = page.evaluate(harness.CELL_ERRORS_JS)
        assert failures == [], failures

        # a static go.Figure drawn by JupyterLab's plotly mime renderer (not a widget)
        plot = page.locator(".jp-OutputArea .jp-RenderedPlotly.js-plotly-plot", has_text=TIMELINE_TITLE)
        plot.wait_for(timeout=60_000)
        plot.locator(".main-svg").first.wait_for(timeout=30_000)
        drawn = plot.evaluate(TIMELINE_JS)
        timings["timeline drawn"] = time.monotonic() - t0
        print("timeline in the browser:", drawn)
        # one row per environment (6), every phase a trace, and segments actually on the page
        assert drawn["rows"] == 6, drawn
        assert {"init", "invoke", "frozen"} <= set(drawn["phases_with_points"]), drawn
        assert drawn["canvases"] >= 1 and drawn["width"] > 300 and drawn["height"] > 200, drawn
        _screenshot(page, plot)
    print("browser timings (s):", {k: round(v, 1) for k, v in timings.items()}, "page errors:", errors)


def test_demo_panel_in_jupyterlab(lab_server: str) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with _page(lab_server) as (page, errors):
        _run_demo(page, lab_server, timings, t0)
    print("browser timings (s):", {k: round(v, 1) for k, v in timings.items()}, "page errors:", errors)


def _run_demo(page: Any, base: str, timings: dict[str, float], t0: float) -> None:
    _open_and_run_all(page, base, NOTEBOOK.name, timings, t0)

    card = page.wait_for_selector(".jp-OutputArea .lambdalab-result", timeout=120_000)
    assert "warm" in card.inner_text() or "cold" in card.inner_text()
    assert page.locator(".lambdalab-result svg.lambdalab-timeline rect").count() >= 2
    assert page.locator(".jp-OutputArea .lambdalab-function").count() == 1
    timings["result card"] = time.monotonic() - t0

    page.wait_for_selector(".lambdalab-panel", timeout=180_000)
    page.wait_for_function("document.querySelectorAll('.lambdalab-panel .js-plotly-plot .main-svg').length >= 3",
                           timeout=180_000)
    timings["charts drawn"] = time.monotonic() - t0
    panel = page.locator(".lambdalab-panel")
    for label in ("Start", "Stop"):
        assert panel.get_by_role("button", name=label).count() == 1
    assert panel.locator(".widget-dropdown select").count() >= 1 and panel.locator(".progress").count() >= 1

    # The notebook's own load finishes; then a second, short load from the panel's Start button,
    # with the charts already drawn: they must change while the status says "running".
    page.wait_for_function(f"() => ({STATUS_JS})().includes('done ·')", timeout=180_000)
    timings["notebook load done"] = time.monotonic() - t0
    duration = panel.locator(".widget-text input").nth(1)  # rate, duration (the numeric inputs in order)
    duration.fill("4")
    duration.press("Enter")
    page.evaluate(SAMPLER_JS)
    panel.get_by_role("button", name="Start").click()
    page.wait_for_function(f"() => ({STATUS_JS})().includes('running ·')", timeout=60_000)
    page.wait_for_function(f"() => ({STATUS_JS})().includes('done ·')", timeout=120_000)
    timings["button load done"] = time.monotonic() - t0
    samples = page.evaluate("() => window.__lambdalabSamples")
    running = [points for _, is_running, points in samples if is_running]
    changes = sum(1 for a, b in itertools.pairwise(running) if b != a)
    print(f"browser: {len(running)} samples while running, {changes} chart changes, points {running[:1]}..{running[-1:]}")
    assert changes >= 4 and running[-1] > running[0], samples[-40:]
    requests = int(re.search(r"(\d+) requests", page.evaluate(STATUS_JS)).group(1))
    assert 40 <= requests <= 75, requests  # 15/s for the 4 s typed into the panel


def _screenshot(page: Any, plot: Any) -> None:
    """The timeline as a PNG under 300 KB, clipped from the viewport (element screenshots that reach
    past the viewport redraw WebGL charts blank)."""
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    plot.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(1500)  # let plotly finish the last redraw (WebGL traces draw asynchronously)
    box = plot.bounding_box(timeout=10_000)
    viewport = page.viewport_size
    clip = {"x": max(box["x"], 0), "y": max(box["y"], 0), "width": min(box["width"], viewport["width"]),
            "height": min(box["height"], viewport["height"] - max(box["y"], 0))}
    page.screenshot(path=str(SCREENSHOT), clip=clip, timeout=30_000)
    size = SCREENSHOT.stat().st_size
    assert 5_000 < size < MAX_PNG_BYTES, size
