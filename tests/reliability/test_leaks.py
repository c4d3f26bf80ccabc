"""Leaks: cycles of create, invoke, update, close leave the owner's files, threads and children flat."""

from __future__ import annotations

import gc
import threading
import time

import psutil
import pytest

import lambdalab

pytestmark = pytest.mark.slow


def _cycle() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("leak", "def handler(e, c):\n    print('hi')\n    return e\n")
        assert fn.invoke({"a": 1}).payload == {"a": 1}
        fn.update(source="def handler(e, c):\n    return 2\n")
        assert fn.invoke({}).payload == 2
        futures = [fn.submit({}) for _ in range(4)]
        assert [f.result(30).payload for f in futures] == [2, 2, 2, 2]


def _snapshot() -> tuple[int, int, int]:
    me = psutil.Process()
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        children = [c for c in me.children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE]
        if not children or time.monotonic() > deadline:
            return me.num_fds(), threading.active_count(), len(children)
        time.sleep(0.05)


def test_twenty_cycles_do_not_grow_files_threads_or_children():
    _cycle()  # first use imports and caches things
    fds, threads, children = _snapshot()
    for _ in range(20):
        _cycle()
    after = _snapshot()
    assert after[0] <= fds + 2, f"open files grew from {fds} to {after[0]}"
    assert after[1] <= threads, f"threads grew from {threads} to {after[1]}"
    assert after[2] == children == 0
