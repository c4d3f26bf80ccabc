"""A panel started again right after a run ends keeps following the new run (outside a kernel too).

The refresh task used to end its run in a ``finally`` that checked ``running`` and then rested the board: a start
landing between the two had its refresh spawned on the refresh thread's closing loop (cancelled: the status froze
at "running", ``wait_done`` never returned) or its board stopped mid-run.
"""

from __future__ import annotations

import time

import pytest

from lambdalab.jupyter.load_panel import Panel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _until(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_run_started_as_the_last_one_ends_is_followed_and_its_board_stays_live(lab) -> None:
    fn = lab.create_function("restart", source="def handler(event, context):\n    return 1\n")
    panel = Panel(fn, rate=20, duration_s=0.4)
    for gap_s in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.25):  # across the refresh's last pass
        panel.start()
        panel.handle.result(10)
        time.sleep(gap_s)
        panel.start()
        time.sleep(0.12)
        if panel.board is not None:
            assert panel.board.live, f"the board stopped while the run started after a {gap_s} s gap went on"
        panel.handle.result(10)
        assert _until(lambda: not panel._ticking), f"the refresh never ended after a {gap_s} s gap"
        assert "done" in panel.status.value, panel.status.value
        assert panel.board is None or not panel.board.live
