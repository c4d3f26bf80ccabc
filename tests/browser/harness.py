"""JupyterLab in a real browser: the plumbing the browser tests and the board's benchmark share.

``jupyter_lab(root_dir)`` starts one ``jupyter lab`` on 127.0.0.1 serving ``root_dir`` (isolated JUPYTER_*
folders, a token, ``--allow-root`` only as root) and yields its base url with the token in it;
on exit it shuts its kernels down through the REST API and stops only the server it started.
``chromium()`` yields a Playwright page on Debian's /usr/bin/chromium (never a downloaded browser).
``open_notebook(page, base_url, name)`` opens a notebook and waits for its kernel to be idle;
``run_all_cells(page, timeout_s)`` runs every cell and returns the errors the cells ended in.
When Chromium or Playwright is missing, ``require_browser()`` skips the calling test (or fails it when
CI is set); outside pytest it raises ``BrowserMissing``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# The kernel is really ready (the execution indicator's "idle" appears before it is: Run All would be dropped).
KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
    .some(e => /^(?!No Kernel).+ \\| Idle$/.test(e.textContent.trim()))"""
# The open notebook's code cells, read from JupyterLab's model (needs --LabApp.expose_app_in_browser).
CODE_CELLS_JS = """(() => {
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
        cells.push({index: i, count: cell.executionCount, errors});
    }
    return cells;
})()"""
CELLS_DONE_JS = f"""() => {{ const cells = {CODE_CELLS_JS};
    return cells.some(c => c.errors.length) || cells.every(c => c.count !== null); }}"""
CELL_ERRORS_JS = f"() => {CODE_CELLS_JS}.flatMap(c => c.errors)"
NOT_RUN_JS = f"() => {CODE_CELLS_JS}.filter(c => c.count === null).map(c => c.index)"


_PAGE_ERRORS: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


class BrowserMissing(RuntimeError):
    """Debian's Chromium or Playwright's Python package is not installed."""


def browser_missing() -> str | None:
    """Why no browser test can run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def require_browser() -> None:
    """Skip the calling test when Chromium or Playwright is missing; fail it instead when CI is set."""
    reason = browser_missing()
    if reason is None:
        return
    if "pytest" not in sys.modules:
        raise BrowserMissing(reason)
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run; install it with `make test`)")
    pytest.skip(f"{reason}; install Debian's chromium (apt-get install chromium) or set CI to make this a failure")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _split(base_url: str) -> tuple[str, str]:
    """``http://127.0.0.1:PORT/?token=T`` -> (``http://127.0.0.1:PORT``, ``T``)."""
    parts = urllib.parse.urlsplit(base_url)
    token = urllib.parse.parse_qs(parts.query).get("token", [""])[0]
    return f"{parts.scheme}://{parts.netloc}", token


def api(base_url: str, path: str, method: str = "GET") -> Any:
    """One call of the Jupyter server's REST API (``path`` such as ``/api/sessions``)."""
    origin, token = _split(base_url)
    request = urllib.request.Request(f"{origin}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if body else None


def shutdown_kernels(base_url: str, timeout_s: float = 30) -> None:
    """Delete every session (graceful kernel shutdown: a kernel's Lab closes its environments) and wait."""
    for session in api(base_url, "/api/sessions"):
        api(base_url, f"/api/sessions/{session['id']}", method="DELETE")
    deadline = time.monotonic() + timeout_s
    while api(base_url, "/api/kernels") and time.monotonic() < deadline:
        time.sleep(0.2)


def _settings(folder: Path) -> None:
    """Every cell in the DOM (no windowing), no news fetched from the internet."""
    for extension, name, value in (
        ("notebook-extension", "tracker", {"windowingMode": "none"}),
        ("apputils-extension", "notification", {"fetchNews": "false"}),
    ):
        path = folder / "@jupyterlab" / extension
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{name}.jupyterlab-settings").write_text(json.dumps(value))


@contextlib.contextmanager
def jupyter_lab(root_dir: Path | str, *, timeout_s: float = 90) -> Iterator[str]:
    """A JupyterLab server serving ``root_dir``; yields ``http://127.0.0.1:PORT/?token=TOKEN``."""
    root = Path(root_dir).resolve()
    state = Path(tempfile.mkdtemp(prefix="lambdalab-jupyter-"))
    _settings(state / "settings")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "IPYTHONDIR": str(state / "ipython"),
        "PLOTLY_RENDERER": "plotly_mimetype",
    }
    token = f"lambdalab-{os.getpid()}-{time.monotonic_ns()}"
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.port_retries=0",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    base_url = f"http://127.0.0.1:{port}/?token={token}"
    log_path = state / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        try:
            _wait_for_server(base_url, server, timeout_s, log_path)
            shutdown_kernels(base_url)
            yield base_url
        finally:
            try:
                if server.poll() is None:
                    shutdown_kernels(base_url)  # graceful: each kernel's Lab closes at exit
            finally:
                _stop(server)
                shutil.rmtree(state, ignore_errors=True)


def _wait_for_server(base_url: str, server: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"jupyter lab exited with {server.returncode}:\n{tail}")
        try:
            api(base_url, "/api/status")
            return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer within {timeout_s} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the one server process we started (its kernels are already gone)."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1366, 768), *, timeout_s: float = 60) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium; ``page_errors(page)`` lists the page's errors so far."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(timeout_s * 1000)
            errors = _PAGE_ERRORS.setdefault(page, [])
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page
        finally:
            browser.close()


def page_errors(page: Any) -> list[str]:
    """The uncaught JavaScript errors of a page from ``chromium()`` (the list grows as they happen)."""
    return _PAGE_ERRORS.setdefault(page, [])


def open_notebook(page: Any, base_url: str, name: str, *, timeout_s: float = 90) -> None:
    """Open ``name`` (a path under the server's root) in a fresh workspace; return once its kernel is idle."""
    origin, token = _split(base_url)
    path = urllib.parse.quote(name)
    page.goto(f"{origin}/lab/tree/{path}?token={token}&reset", timeout=timeout_s * 1000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_s * 1000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000)


def run_all_cells(page: Any, timeout_s: float) -> list[str]:
    """Run every cell of the open notebook; wait until all ran or one failed. Returns the cells' errors."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }")
    page.wait_for_function(CELLS_DONE_JS, timeout=timeout_s * 1000)
    errors: list[str] = page.evaluate(CELL_ERRORS_JS)
    return errors


def wait_until_idle(page: Any, timeout_s: float) -> None:
    """Wait until the kernel is idle again (the last cell's output is complete)."""
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000)
