"""One ``Lab`` per kernel: created on first use, closed when the kernel exits.

The magics and the panel all use ``default_lab()``. A graceful kernel shutdown runs ``atexit``,
which closes the Lab (its environments shut down, its files go); a killed kernel is covered by
the engine's own reaper, which ends the environments when their owner dies.
"""

from __future__ import annotations

import atexit
import threading

from lambdalab.api import Lab

_lock = threading.Lock()
_lab: Lab | None = None
_atexit_registered = False


def default_lab() -> Lab:
    """The kernel's Lab, created on first use (again after it was closed).

    Python equivalent: ``lab = lambdalab.Lab()`` once, and ``lab.close()`` at the end.
    """
    global _lab, _atexit_registered
    with _lock:
        if _lab is None or _lab.closed:
            _lab = Lab()
        if not _atexit_registered:
            atexit.register(close_default_lab)
            _atexit_registered = True
        return _lab


def close_default_lab() -> None:
    """Close the kernel's Lab if one was created; the next ``default_lab()`` makes a new one."""
    global _lab
    with _lock:
        lab, _lab = _lab, None
    if lab is not None:
        lab.close()
