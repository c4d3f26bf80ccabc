"""The load panel and ``%lambda load`` outside a kernel (IPython's test shell): controls, runs, charts."""

from __future__ import annotations

import time
from typing import Any

import pytest

import lambdalab
from lambdalab.jupyter import loop
from lambdalab.jupyter.load_panel import Panel

pytestmark = pytest.mark.slow

SLOW = "import time\ndef handler(event, context):\n    time.sleep(0.02)\n    return event\n"


@pytest.fixture
def fn(ip: Any) -> Any:
    return ip.run_cell_magic("lambda", "work", SLOW)


def test_panel_has_every_control_and_live_figures(ip: Any, fn: Any) -> None:
    panel = lambdalab.panel(fn, pattern="poisson", rate=30, duration_s=2, concurrency=3)
    assert isinstance(panel, Panel) and isinstance(lambdalab.panel(fn), Panel)  # twice: no name clash
    assert set(panel.controls) == {
        "pattern",
        "rate",
        "duration",
        "concurrency",
        "memory",
        "reserved",
        "provisioned",
        "keep_alive",
    }
    assert panel.controls["pattern"].value == "poisson" and panel.controls["memory"].value == 128
    assert set(panel.figures) == {"concurrency", "latency_over_time", "timeline", "cold_starts", "reuse"}
    assert all(type(f).__name__ == "FigureWidget" for f in panel.figures.values())
    bundle, _ = ip.display_formatter.format(panel)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "lambdalab-panel" in panel.widget.get_state("_dom_classes")["_dom_classes"]
    assert not panel.running and panel.points() == 0


def test_start_runs_load_and_the_charts_follow(fn: Any) -> None:
    panel = lambdalab.panel(fn, rate=40, duration_s=1.5)
    handle = panel.start()
    assert panel.running and panel.start_button.disabled and not panel.stop_button.disabled
    report = panel.result(timeout=30)
    assert report.summary.requests >= 40 and report.summary.errors == 0
    deadline = time.monotonic() + 10
    while panel.start_button.disabled and time.monotonic() < deadline:  # the refresher's last pass
        time.sleep(0.05)
    assert handle.done and panel.points() > 0 and panel.refreshes >= 3
    assert "done" in panel.status.value and f"{report.summary.requests} requests" in panel.status.value
    assert panel.progress.value == 1.0


def test_settings_are_applied_on_start_and_bad_ones_shown(fn: Any) -> None:
    panel = lambdalab.panel(fn, rate=20, duration_s=0.5)
    panel.controls["memory"].value = 512
    panel.controls["reserved"].value = "3"
    panel.start()
    panel.result(timeout=30)
    assert fn.config.memory_mb == 512
    assert fn.config.reserved_concurrency == 3
    _wait_idle(panel)
    panel.controls["keep_alive"].value = "soon"
    panel.start_button.click()  # a caller's mistake from a button lands in the status line
    assert "not a number" in panel.status.value and not panel.running


def test_stop_button_ends_the_run_early(fn: Any) -> None:
    panel = lambdalab.panel(fn, rate=20, duration_s=30)
    panel.start_button.click()
    time.sleep(0.5)
    panel.stop_button.click()
    report = panel.result(timeout=30)
    assert report.stopped and report.summary.requests < 100
    _wait_idle(panel)


def test_refresh_runs_off_the_kernel_here() -> None:
    async def nothing() -> None:
        return None

    assert loop.kernel_io_loop() is None
    assert loop.run_on_main(nothing) == "thread"


def test_load_magic_waits_or_runs_in_background(ip: Any, fn: Any, html: Any) -> None:
    report = ip.run_line_magic("lambda", "load work --count 6 --rate 50")
    assert report.summary.requests == 6 and report.finished
    assert "requests 6" in html(report)
    ip.user_ns["payload"] = {"n": 1}
    handle = ip.run_line_magic(
        "lambda", "load work --pattern closed --clients 2 --duration 0.5 --background --event $payload"
    )
    final = handle.result(30)
    assert final.summary.requests >= 2 and final.summary.errors == 0
    panel = ip.run_line_magic("lambda", "panel work --pattern ramp --rate 25 --duration 3")
    assert isinstance(panel, Panel) and panel.controls["pattern"].value == "ramp"


def _wait_idle(panel: Panel) -> None:
    deadline = time.monotonic() + 10
    while (panel.running or panel.start_button.disabled) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["constant", "poisson", "ramp", "step", "burst", "sine", "closed"])
def test_every_pattern_name_builds_a_load_pattern(kind: str) -> None:
    from lambdalab.jupyter.patterns import KNOB_PATTERNS, make_pattern
    from lambdalab.load.spec import PATTERNS

    pattern = make_pattern(kind, rate=10, clients=2, seed=1, duration_s=4)
    assert type(pattern) is PATTERNS[kind] and kind in KNOB_PATTERNS
    with pytest.raises(lambdalab.ConfigError, match="invalid pattern"):
        make_pattern("zigzag")


def test_replay_needs_times_which_no_knob_gives() -> None:
    from lambdalab.jupyter.patterns import KNOB_PATTERNS, make_pattern

    assert "replay" not in KNOB_PATTERNS
    with pytest.raises(lambdalab.ConfigError, match="needs timestamps"):
        make_pattern("replay")
    assert make_pattern("replay:0/0.5/0.6,speed=2").times == (0.0, 0.25, 0.3)


# every name in the one table, each as the magics write it: a bare name, or NAME:ARGS where the knobs give too little
MAGIC_PATTERNS = {
    "constant": "constant",
    "poisson": "poisson",
    "ramp": "ramp",
    "step": "step",
    "burst": "burst",
    "sine": "sine",
    "replay": "replay:0/0.01/0.02",
    "closed": "closed",
}


def test_the_load_magic_reaches_every_pattern(ip: Any, fn: Any) -> None:
    from lambdalab.load.spec import PATTERNS

    assert set(MAGIC_PATTERNS) == set(PATTERNS)
    for name, text in MAGIC_PATTERNS.items():
        report = ip.run_line_magic(
            "lambda", f"load work --pattern {text} --count 3 --rate 100 --clients 3 --duration 2"
        )
        assert type(report.pattern) is PATTERNS[name], name
        assert report.summary.requests == 3 and report.summary.errors == 0, name
    report = ip.run_line_magic("lambda", "load work --pattern step:50/100,step_s=0.5 --count 2")
    assert report.pattern.rates == (50.0, 100.0) and report.summary.requests == 2


def test_waiting_before_any_start_is_a_caller_error(fn: Any) -> None:
    panel = lambdalab.panel(fn)
    with pytest.raises(lambdalab.CallerError, match="no load has been started"):
        panel.result(1)
