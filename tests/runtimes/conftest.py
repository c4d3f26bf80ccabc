"""Fixtures of the runtime tests: the Go example runtime built once per session (cached across sessions)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lambdalab import custom_runtimes


@pytest.fixture(scope="session")
def go_bootstrap() -> Path:
    """The compiled Go example runtime (``lambdalab/runtimes/examples/go``); skips where Go is not installed."""
    if not custom_runtimes.go_available():
        pytest.skip(f"the Go example runtime needs {custom_runtimes.GO_INSTALL}, not installed here")
    return custom_runtimes.go_bootstrap()


@pytest.fixture(scope="session")
def curl() -> str:
    """The ``curl`` AWS's bash runtime calls the Runtime API with; skips where it is missing."""
    found = shutil.which("curl")
    if found is None:
        pytest.skip("AWS's bash runtime needs curl (apt-get install curl), not installed here")
    return found
