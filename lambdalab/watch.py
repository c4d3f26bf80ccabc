"""Redeploy on file change: ``lab.watch(fn)`` and ``lambdalab serve --watch``.

A ``Watcher`` watches files and folders with ``watchfiles`` (inotify on Linux) on a thread of its own; changes
that come within ``debounce_ms`` of each other are one change (an editor's save is often several writes). Each
change runs its action there: for ``lab.watch``, ``fn.update(path=...)``, which redeploys the code, so the
function's environments retire and its next invoke is cold, with the new ``Function.code_sha``. A change
that cannot deploy (a package over Lambda's limits, requirements that do not build, a file gone) keeps the
code that runs and is kept in ``Watcher.errors`` (``on_error`` hears of it: ``serve`` prints it).

The Lab closes its watchers first (``Lab.attach``); ``stop()`` (or leaving a ``with`` block) stops one sooner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.function import Function

DEBOUNCE_MS = 200
STOP_WAIT_S = 5.0


class Watcher:
    """Files and folders watched on a thread; ``action(changed paths)`` runs once per debounced change.

    ``reloads`` counts the actions that succeeded, ``errors`` keeps the exceptions of those that failed (oldest
    first); ``on_error(exc)`` and ``on_reload(changed)`` are told of each, on the watcher's thread.
    """

    def __init__(
        self,
        paths: Iterable[str | Path],
        action: Callable[[set[Path]], Any],
        *,
        debounce_ms: int = DEBOUNCE_MS,
        on_reload: Callable[[set[Path]], Any] | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> None:
        import watchfiles  # only when watching

        if not (isinstance(debounce_ms, int) and not isinstance(debounce_ms, bool) and 1 <= debounce_ms <= 60_000):
            raise ConfigError(f"invalid debounce_ms: {debounce_ms!r}; expected milliseconds from 1 to 60000")
        self.paths = tuple(dict.fromkeys(Path(p).resolve() for p in paths))
        missing = [str(p) for p in self.paths if not p.exists()]
        if not self.paths or missing:
            raise ConfigError(f"invalid path: nothing to watch at {', '.join(missing) or 'no path'}")
        self.debounce_ms = debounce_ms
        self.reloads = 0
        self.errors: list[Exception] = []
        self.last_reload_at: float | None = None  # time.monotonic() when the last successful action ended
        self._action, self._on_reload, self._on_error = action, on_reload, on_error
        self._stop = threading.Event()
        files = {p for p in self.paths if not p.is_dir()}
        folders = [p for p in self.paths if p.is_dir()]
        # a file is watched through its folder: an editor that saves by renaming a new file over it replaces the
        # inode a watch on the file itself would hold
        roots = sorted({*folders, *(f.parent for f in files)})
        default = watchfiles.DefaultFilter()

        def wanted(change: Any, name: str) -> bool:
            path = Path(name)
            return path in files or (any(path.is_relative_to(f) for f in folders) and default(change, name))

        ready = threading.Event()

        def run() -> None:
            changes = watchfiles.watch(
                *roots,
                watch_filter=wanted,
                debounce=max(10 * debounce_ms, 1600),  # a change longer than this is still cut into pieces
                step=debounce_ms,  # quiet this long after the last write: the change is over
                stop_event=self._stop,
                rust_timeout=250,
                yield_on_timeout=True,
                raise_interrupt=False,
            )
            for batch in changes:
                ready.set()
                if self._stop.is_set():
                    break
                if batch:
                    self._run({Path(name) for _, name in batch})

        self._thread = threading.Thread(target=run, name="lambdalab-watch", daemon=True)
        self._thread.start()
        ready.wait(2.0)  # the first timeout's yield: the watches are in place, so an edit from now on is seen

    def _run(self, changed: set[Path]) -> None:
        try:
            self._action(changed)
        except Exception as exc:  # noqa: BLE001 - a failed redeploy keeps the old code; the caller reads errors
            self.errors.append(exc)
            if self._on_error is not None:
                self._on_error(exc)
            return
        self.reloads += 1
        self.last_reload_at = time.monotonic()
        if self._on_reload is not None:
            self._on_reload(changed)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        """Stop watching (an action under way finishes first). Idempotent."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT_S)

    close = stop  # what ``Lab.attach`` calls when the Lab closes

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "watching" if self.running else "stopped"
        return f"<Watcher {state} {', '.join(map(str, self.paths))} reloads={self.reloads} errors={len(self.errors)}>"


def watch_function(fn: Function, path: str | Path | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> Watcher:
    """``Lab.watch``: redeploy ``fn`` from ``path`` (default: where it was created from) whenever it changes."""
    where = path if path is not None else fn.source_path
    if where is None:
        raise ConfigError(
            f"invalid path: {fn.name} was not created from a file or folder (path=); give watch() the path to watch"
        )
    source = Path(where).resolve()
    return Watcher([source], lambda changed: fn.update(path=source), debounce_ms=debounce_ms)
