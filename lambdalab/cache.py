"""lambdalab's cache on this machine: built dependencies, the Go example runtime, the runtime launcher.

``$LAMBDALAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambdalab``, else ``~/.cache/lambdalab``; each user of it
keeps a folder of its own below (``deps``, ``go``, ``launch``). Runtimes see it read-only where they get a
mount namespace (``runtimes/launch.c``): what one function's handler could change there, another runs.

Where runtimes get a private ``/tmp`` (``engine/mounts.py``), a cache under the machine's ``/tmp`` is hidden from
them: ``requirements=`` built there would fail every invoke with ``Runtime.ImportModuleError``. A Lab checks it when
it starts (``check_visible``), as it keeps its own work folder outside ``/tmp``: a ``LAMBDALAB_CACHE_DIR`` there is
refused, a default folder there (``HOME`` or ``XDG_CACHE_HOME`` under ``/tmp``) is warned about.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from lambdalab.errors import ConfigError

ENV = "LAMBDALAB_CACHE_DIR"
_log = logging.getLogger("lambdalab")


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The cache's root folder (not created here)."""
    env = os.environ if environ is None else environ
    if env.get(ENV):
        return Path(env[ENV]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "lambdalab"


def hidden_message(root: Path, chosen: bool) -> str:
    """Why a cache at ``root`` (under the machine's /tmp) does not work here, and what to do."""
    where = f"{ENV}={root}" if chosen else f"lambdalab's cache ({root})"
    return (
        f"{where} is under /tmp, which each environment has of its own here (a private mount namespace), so the "
        "requirements built there are hidden from every runtime and each invoke of a function with requirements "
        f"fails with Runtime.ImportModuleError; set {ENV} to a folder outside /tmp (for example "
        "/var/tmp/lambdalab-cache)" + ("" if chosen else " or unset the HOME / XDG_CACHE_HOME that puts it there")
    )


def check_visible(hidden: Callable[[str], bool], environ: Mapping[str, str] | None = None) -> str | None:
    """At a Lab's start: whether runtimes can see the cache (``hidden(path)``: ``engine.mounts.hidden_by_tmp``).

    A ``LAMBDALAB_CACHE_DIR`` they cannot see is refused (``ConfigError``: the user chose it); a default folder they
    cannot see is logged as a warning (a Lab without requirements still works), whose text is returned."""
    env = os.environ if environ is None else environ
    root = cache_root(env)
    if not hidden(str(root)):
        return None
    if env.get(ENV):
        raise ConfigError(f"invalid {ENV}: " + hidden_message(root, chosen=True))
    text = hidden_message(root, chosen=False)
    _log.warning("lambdalab: %s", text)
    return text
