"""The load panel laid out for a 1366×768 screen: tabs beside the controls and the board, honest status and
progress, and a line that explains a cold-start cascade."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest

import lambdalab
from lambdalab.jupyter import load_panel
from lambdalab.jupyter.load_panel import Panel
from lambdalab.jupyter.panel_text import cascade_line, status_text

SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.02)\n    return event\n"
SLOWER = "import time\ndef handler(event, context):\n    time.sleep(0.4)\n    return event\n"


@pytest.fixture
def fn(ip: Any) -> Any:
    return ip.run_cell_magic("lambda", "work", SLOW)


def _snapshot(*, finished: bool, in_flight: int, stopped: bool = False, errors: int = 0) -> Any:
    summary = SimpleNamespace(
        requests=29,
        cold_starts=3,
        throttles=1,
        errors=errors,
        latency_p50_ms=12.34,
        error_types={"Runtime.ExitError": errors} if errors else {},
    )
    return SimpleNamespace(summary=summary, finished=finished, in_flight=in_flight, stopped=stopped)


def test_status_says_done_only_when_nothing_is_in_flight():
    assert status_text(_snapshot(finished=False, in_flight=3), 2.0).startswith("running · 29 requests · 3 in flight")
    assert status_text(_snapshot(finished=False, in_flight=0), 2.0).startswith("running · ")  # sending, none out
    done = status_text(_snapshot(finished=True, in_flight=0), 2.0)
    assert done.startswith("done · 29 requests · 3 cold · 1 throttled") and "in flight" not in done
    assert status_text(_snapshot(finished=True, in_flight=0, stopped=True), 1).startswith("done · stopped early ·")
    assert status_text(_snapshot(finished=True, in_flight=2), 1).startswith("ended · 2 still in flight")
    assert "5 errors (Runtime.ExitError 5)" in status_text(_snapshot(finished=True, in_flight=0, errors=5), 1)


def test_panel_is_tabs_beside_controls_status_and_board(fn: Any) -> None:
    panel = lambdalab.panel(fn)
    root = panel.widget
    assert "lambdalab-panel" in classes(root) and root.layout.max_height == f"{load_panel.PANEL_PX}px"
    left, tabs = root.children
    assert isinstance(tabs, widgets.Tab) and list(tabs.children) == list(panel.figures.values())
    assert tabs.titles == ("Concurrency", "Latency", "Environments", "Cold starts", "Per environment")
    assert panel.start_button.description == "Start" and panel.stop_button.description == "Stop"
    assert "lambdalab-status" in classes(panel.status) and "lambdalab-progress" in classes(panel.progress)
    flat = _descendants(left)
    assert panel.start_button in flat and panel.status in flat and panel.progress in flat
    assert panel.board is not None and panel.board in flat  # the board sits beside the charts, not in a tab
    for fig in panel.figures.values():  # every chart fits its tab, under the panel's height with the tab bar
        assert (fig.layout.width, fig.layout.height) == load_panel.FIGURE_PX
        assert fig.layout.height + 40 <= load_panel.PANEL_PX
    assert panel.cascade.layout.display == "none" and "lambdalab-cascade" not in classes(panel.cascade)


def test_a_finished_run_is_done_with_a_full_bar_and_aligned_charts(fn: Any) -> None:
    panel = lambdalab.panel(fn, rate=30, duration_s=1.0)
    panel.start()
    report = panel.result(timeout=60)
    _wait_idle(panel)
    assert panel.status.value.startswith(f"<b>{fn.name}</b>: done · {report.summary.requests} requests")
    assert panel.progress.value == 1.0 and panel.progress.bar_style == "success"
    timed = [k for k in panel.figures if lambdalab.viz.KINDS[k][1]]
    ranges = {tuple(panel.figures[k].layout.xaxis.range) for k in timed}
    assert len(timed) == 4 and len(ranges) == 1  # one x range for every time chart
    margins = {(f.layout.margin.l, f.layout.margin.r, f.layout.width) for f in panel.figures.values()}
    assert margins == {(load_panel.MARGIN_LEFT_PX, 20, load_panel.FIGURE_PX[0])}  # one plot area: the axes line up
    ((lo, hi),) = ranges
    assert lo == 0 and hi >= 1.0
    origins = {panel.figures[k].layout.meta["origin"] for k in timed}
    assert len(origins) == 1 and abs(origins.pop() - time.time()) < 60  # one origin too: the load's start
    assert panel.board is not None and not panel.board.live  # the board follows the run, then rests


def test_stop_keeps_the_progress_where_the_run_was(fn: Any) -> None:
    panel = lambdalab.panel(fn, rate=20, duration_s=30)
    panel.start_button.click()
    time.sleep(0.8)
    panel.stop_button.click()
    held = panel.progress.value
    report = panel.result(timeout=30)
    _wait_idle(panel)
    assert report.stopped and 0 < panel.progress.value <= 0.1 and panel.progress.value == pytest.approx(held)
    assert panel.progress.bar_style == "warning"
    assert "done · stopped early" in panel.status.value


def test_a_cold_start_cascade_is_explained(ip: Any) -> None:
    fn = ip.run_cell_magic("lambda", "cascade", SLOWER)  # 0.4 s requests at 25/s: about ten at once
    panel = lambdalab.panel(fn, rate=25, duration_s=1.2, board=False)
    panel.start()
    panel.result(timeout=60)
    _wait_idle(panel)
    assert "lambdalab-cascade" in classes(panel.cascade) and panel.cascade.layout.display == ""
    text = panel.cascade_text
    assert "environments started cold within" in text and "when the load started no warm environment existed" in text
    assert text in panel.cascade.value
    panel.controls["memory"].value = 256  # Start applies it: a redeploy, every environment retires
    panel.start()
    panel.result(timeout=60)
    _wait_idle(panel)
    assert "after a redeploy no warm environment exists" in panel.cascade_text, panel.cascade_text


def test_no_cascade_line_for_a_few_cold_starts() -> None:
    colds = pd.DataFrame({"request_id": list("abcd"), "cold": True, "submitted": [1.0, 1.1, 1.2, 1.3]})
    assert cascade_line(colds, 1.0, [], 0) == ""  # four: no cascade
    five = pd.concat([colds, colds.iloc[:1].assign(request_id="e", submitted=1.4)], ignore_index=True)
    assert cascade_line(five, 1.0, [], 0).startswith("5 environments started cold within 0.4 s: when the load started")


def classes(widget: Any) -> list[str]:
    """The CSS classes ipywidgets puts on the widget's element."""
    return list(widget.get_state("_dom_classes")["_dom_classes"])


def _descendants(box: Any) -> list[Any]:
    out = []
    for child in getattr(box, "children", ()):
        out.append(child)
        out += _descendants(child)
    return out


def _wait_idle(panel: Panel) -> None:
    deadline = time.monotonic() + 15
    while (panel.running or panel.start_button.disabled) and time.monotonic() < deadline:  # the refresher's last pass
        time.sleep(0.05)
