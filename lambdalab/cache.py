"""lambdalab's cache on this machine: built dependencies, the Go example runtime, the runtime launcher.

``$LAMBDALAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambdalab``, else ``~/.cache/lambdalab``; each user of it
keeps a folder of its own below (``deps``, ``go``, ``launch``). Runtimes see it read-only where they get a
mount namespace (``runtimes/launch.c``): what one function's handler could change there, another runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The cache's root folder (not created here)."""
    env = os.environ if environ is None else environ
    if env.get("LAMBDALAB_CACHE_DIR"):
        return Path(env["LAMBDALAB_CACHE_DIR"]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "lambdalab"
