"""Run a coroutine on the kernel's main thread, so widget and figure updates happen there.

In ipykernel, ``get_ipython().kernel.io_loop`` is the main thread's event loop, and
``io_loop.add_callback`` is safe from any thread; a task there runs whenever the kernel is idle or
a cell awaits, and never races a cell. Without a kernel (a script, IPython's test shell) there is
no frontend to keep consistent: the coroutine runs on the current loop if one is running, else on
a daemon thread of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

_tasks: set[asyncio.Future[Any]] = set()  # strong references until each task ends


def kernel_io_loop() -> Any:
    """The kernel's io_loop, or ``None`` outside ipykernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of this layer
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    return getattr(kernel, "io_loop", None)


def run_on_main(coroutine_function: Callable[[], Coroutine[Any, Any, Any]]) -> str:
    """Schedule ``coroutine_function()`` on the kernel loop; returns where it went (for tests)."""
    io_loop = kernel_io_loop()
    if io_loop is not None:
        io_loop.add_callback(_spawn, coroutine_function)
        return "kernel"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        thread = threading.Thread(
            target=asyncio.run, args=(coroutine_function(),), daemon=True, name="lambdalab-refresh"
        )
        thread.start()
        return "thread"
    _spawn(coroutine_function)
    return "loop"


def _spawn(coroutine_function: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    task = asyncio.ensure_future(coroutine_function())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
