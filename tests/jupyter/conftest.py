"""Fixtures for the notebook layer: IPython's test shell with the extension loaded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def ip() -> Iterator[Any]:
    """IPython's global test shell with ``%load_ext lambdalab``; the kernel's Lab closes afterwards."""
    from IPython.testing.globalipapp import get_ipython

    import lambdalab.jupyter

    shell = get_ipython()
    shell.run_line_magic("load_ext", "lambdalab")
    before = set(shell.user_ns)
    try:
        yield shell
    finally:
        lambdalab.jupyter.close_default_lab()
        for name in set(shell.user_ns) - before:
            shell.user_ns.pop(name, None)


@pytest.fixture
def html(ip: Any) -> Iterator[Any]:
    """Render an object with the shell's ``text/html`` formatter (the test shell leaves it disabled)."""
    formatter = ip.display_formatter.formatters["text/html"]
    enabled, formatter.enabled = formatter.enabled, True

    def render(obj: Any) -> str:
        return formatter(obj)

    try:
        yield render
    finally:
        formatter.enabled = enabled
