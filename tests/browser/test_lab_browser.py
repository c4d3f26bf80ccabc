"""A real browser: JupyterLab runs the tutorials in headless Chromium.

Starts one ``jupyter lab`` for the module on 127.0.0.1 (isolated JUPYTER_* folders, a token,
``--allow-root`` only as root) and drives Debian's /usr/bin/chromium with Playwright's Python API
(never a downloaded browser). ``05_scaling.ipynb``: every cell runs without an error and the
environment timeline renders, one row per environment; its screenshot is docs/images/timeline.png
(the README shows it; written there only with LAMBDALAB_WRITE_SCREENSHOT=1). ``demo_panel.ipynb``: the result card, the panel and its live plotly
charts, which must change while the load runs. Sessions are deleted through the REST API, so
kernels shut down gracefully and close their Labs; only the server we started is stopped.
Skipped when Chromium or Playwright is missing, unless CI is set: then it fails.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "demo_panel.ipynb"
SCALING = ROOT / "notebooks" / "05_scaling.ipynb"
TIMELINE_TITLE = "work: 6 requests at once"  # the timeline's title in 05_scaling.ipynb
# the README's picture is rewritten only on request (LAMBDALAB_WRITE_SCREENSHOT=1): a test run changes no tracked file
SCREENSHOT = (ROOT / "docs" / "images" / "timeline.png" if os.environ.get("LAMBDALAB_WRITE_SCREENSHOT") == "1"
              else Path(tempfile.gettempdir()) / f"lambdalab-timeline-{os.getpid()}.png")
CHROMIUM = "/usr/bin/chromium"
TOKEN = "lambdalab-browser-test"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
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
KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(e => /^(?!No Kernel).+ \\| Idle$/.test(e.textContent.trim()))"""
# The open notebook's code cells, read from JupyterLab's model (needs --LabApp.expose_app_in_browser).
_CODE_CELLS_JS = """(() => {
    const model = window.jupyterapp.shell.currentWidget.content.model;
    const cells = [];
    for (let i = 0; i < model.cells.length; i++) {
        const cell = model.cells.get(i);
        if (cell.type !== 'code') continue;
        const errors = [];
        for (let j = 0; j < cell.outputs.length; j++) {
            const out = cell.outputs.get(j).toJSON();
            if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
        }
        cells.push({count: cell.executionCount, errors});
    }
    return cells;
})()"""
CELLS_DONE_JS = f"""() => {{ const cells = {_CODE_CELLS_JS};
    return cells.some(c => c.errors.length) || cells.every(c => c.count !== null); }}"""
CELL_ERRORS_JS = f"() => {_CODE_CELLS_JS}.flatMap(c => c.errors)"
# What the timeline figure drew: its rows (environments), phases with segments, the WebGL canvases.
TIMELINE_JS = """gd => ({
    rows: gd.querySelectorAll('.ytick').length,
    phases_with_points: gd._fullData.filter(t => (t._length || 0) > 0).map(t => t.name),
    canvases: gd.querySelectorAll('canvas').length,
    width: gd.getBoundingClientRect().width, height: gd.getBoundingClientRect().height,
})"""


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so the browser test must run; install it with `make test`)")
    pytest.skip(f"{what}; install Debian's chromium (apt-get install chromium) or set CI to make this a failure")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _api(base: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if body else None


def _delete_sessions(base: str) -> None:
    for session in _api(base, "/api/sessions"):
        _api(base, f"/api/sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    """Playwright's sync API, once we know Debian's Chromium is there (checked before any server starts)."""
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    return sync_playwright


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory, playwright_api: Any) -> Iterator[str]:
    """A JupyterLab server on a free port, with its own config, data, runtime and settings folders."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in (NOTEBOOK, SCALING):  # fresh copies: the originals are never touched
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    settings = tmp_path / "settings"
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "PLOTLY_RENDERER": "plotly_mimetype"}
    port = _free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, server, timeout_s=90)
        _delete_sessions(base)
        yield base
    finally:
        try:
            if server.poll() is None:
                _delete_sessions(base)  # graceful kernel shutdown: the kernel's Lab closes at exit
                _wait_for_no_kernels(base, timeout_s=30)
        finally:
            _stop(server)
            log.close()


def _wait_for_server(base: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.returncode}")
        try:
            _api(base, "/api/status")
            return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer within {timeout_s} s")


def _wait_for_no_kernels(base: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _api(base, "/api/kernels") and time.monotonic() < deadline:
        time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the one server process this test started (its kernels are already gone)."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@contextlib.contextmanager
def _page(playwright_api: Any, base: str) -> Iterator[tuple[Any, list[str]]]:
    """A fresh browser page (and the page errors it collects); no kernel left from an earlier test."""
    _delete_sessions(base)
    _wait_for_no_kernels(base, timeout_s=30)
    errors: list[str] = []
    with playwright_api() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1800})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()
            _delete_sessions(base)  # graceful kernel shutdown: the kernel's Lab closes its environments
            _wait_for_no_kernels(base, timeout_s=30)


def _open_and_run_all(page: Any, base: str, notebook: str, timings: dict[str, float], t0: float) -> None:
    page.goto(f"{base}/lab/tree/notebooks/{notebook}?token={TOKEN}&reset", timeout=90_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
    timings["kernel idle"] = time.monotonic() - t0
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")


def test_scaling_notebook_runs_and_draws_the_timeline_in_jupyterlab(playwright_api: Any, lab_server: str) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with _page(playwright_api, lab_server) as (page, errors):
        _open_and_run_all(page, lab_server, SCALING.name, timings, t0)
        page.wait_for_function(CELLS_DONE_JS, timeout=240_000)  # every code cell ran, or one failed
        timings["cells done"] = time.monotonic() - t0
        failures = page.evaluate(CELL_ERRORS_JS)
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


def test_demo_panel_in_jupyterlab(playwright_api: Any, lab_server: str) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    with _page(playwright_api, lab_server) as (page, errors):
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
