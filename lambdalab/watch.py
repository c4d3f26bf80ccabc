"""Redeploy on file change: ``lab.watch(fn)`` and ``lambdalab serve --watch``.

A ``Watcher`` watches files and folders with ``watchfiles`` (inotify on Linux) on a thread of its own; changes
until ``debounce_ms`` pass with none are one change (an editor's save is often several writes; a file written
without pause still deploys after ten such periods). Each change runs its action there: for ``lab.watch``,
``fn.update(path=...)`` (the whole folder the function was made from, when the path is inside it), which redeploys
the code, so the function's environments retire and its next invoke is cold, with the new ``Function.code_sha``.
A watched folder deleted and made again is watched again. A change
that cannot deploy (a package over Lambda's limits, requirements that do not build, a file gone) keeps the
code that runs and is kept in ``Watcher.errors`` (``on_error`` hears of it: ``serve`` prints it).

The Lab closes its watchers first (``Lab.attach``); ``stop()`` (or leaving a ``with`` block) stops one sooner. Neither
waits for a redeploy under way longer than ``STOP_WAIT_S``; one that ends later is not counted.
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
DEBOUNCE_CAP = 10  # a file written without pause still deploys after this many quiet periods
STOP_WAIT_S = 0.5  # how long stop() waits for a redeploy under way; one that ends later is not counted
_STEP_MS = 50


class Watcher:
    """Files and folders watched on a thread; ``action(changed paths)`` runs once per debounced change.

    A change is over once ``debounce_ms`` pass with no event (or, for writes that never pause, after
    ``DEBOUNCE_CAP`` times that). A watched folder deleted and made again is watched again (the watches are
    re-armed when a watched folder's identity changes), and ``watch_paths`` changes what is watched.

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
        self.debounce_ms = debounce_ms
        self.reloads = 0
        self.errors: list[Exception] = []
        self.last_reload_at: float | None = None  # time.monotonic() when the last successful action ended
        self._action, self._on_reload, self._on_error = action, on_reload, on_error
        self._stop = threading.Event()
        self._rearm = threading.Event()
        self._default = watchfiles.DefaultFilter()
        self.paths: tuple[Path, ...] = ()
        self._folders: frozenset[Path] = frozenset()
        self.watch_paths(paths)
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(watchfiles, ready), name="lambdalab-watch", daemon=True
        )
        self._thread.start()
        ready.wait(2.0)  # the first timeout's yield: the watches are in place, so an edit from now on is seen

    def watch_paths(self, paths: Iterable[str | Path]) -> None:
        """Watch ``paths`` (files or folders that exist) instead of what was watched; ``ConfigError`` if none."""
        resolved = tuple(dict.fromkeys(Path(p).resolve() for p in paths))
        missing = [str(p) for p in resolved if not p.exists()]
        if not resolved or missing:
            raise ConfigError(f"invalid path: nothing to watch at {', '.join(missing) or 'no path'}")
        self._folders = frozenset(p for p in resolved if p.is_dir())
        self.paths = resolved
        self._rearm.set()

    def _roots(self) -> dict[Path, tuple[int, int]]:
        """What inotify watches, with each root's identity: a watched folder itself, a file through its folder
        (an editor that saves by renaming a new file over it replaces the file's inode), the nearest existing
        folder above either while it is gone."""
        roots: dict[Path, tuple[int, int]] = {}
        for path in self.paths:
            root = path if path in self._folders else path.parent
            while not root.is_dir() and root != root.parent:
                root = root.parent
            try:
                st = root.stat()
            except OSError:
                continue
            roots[root] = (st.st_dev, st.st_ino)
        return roots

    def _wanted(self, change: Any, name: str) -> bool:
        path = Path(name)
        if path in self.paths:
            return True
        return any(path.is_relative_to(f) for f in self._folders) and bool(self._default(change, name))

    def _loop(self, watchfiles: Any, ready: threading.Event) -> None:
        pending: set[Path] = set()
        first = 0.0
        cap_s = DEBOUNCE_CAP * self.debounce_ms / 1000
        while not self._stop.is_set():
            self._rearm.clear()
            armed = self._roots()
            if not armed:  # nothing left to watch from: look again soon
                ready.set()
                self._stop.wait(self.debounce_ms / 1000)
                continue
            changes = watchfiles.watch(
                *armed,
                watch_filter=self._wanted,
                debounce=max(DEBOUNCE_CAP * self.debounce_ms, 1600),
                step=min(_STEP_MS, self.debounce_ms),
                stop_event=self._stop,
                rust_timeout=self.debounce_ms,  # an empty batch: debounce_ms passed with no event
                yield_on_timeout=True,
                raise_interrupt=False,
            )
            try:
                for batch in changes:
                    ready.set()
                    if self._stop.is_set():
                        return
                    now = time.monotonic()
                    if batch:
                        first = first if pending else now
                        pending |= {Path(name) for _, name in batch}
                    if pending and (not batch or now - first >= cap_s):
                        changed, pending = pending, set()
                        self._run(changed)
                    if self._rearm.is_set() or self._roots() != armed:
                        break  # a watched folder was deleted or made again, or the paths changed: watch anew
            except OSError:  # a root gone between looking and watching: look again soon
                self._stop.wait(self.debounce_ms / 1000)
            finally:
                changes.close()

    def _run(self, changed: set[Path]) -> None:
        try:
            self._action(changed)
        except Exception as exc:  # noqa: BLE001 - a failed redeploy keeps the old code; the caller reads errors
            if self._stop.is_set():
                return  # stopped meanwhile: nobody is listening
            self.errors.append(exc)
            if self._on_error is not None:
                self._on_error(exc)
            return
        if self._stop.is_set():
            return  # a redeploy that ended after stop() is not counted
        self.reloads += 1
        self.last_reload_at = time.monotonic()
        if self._on_reload is not None:
            self._on_reload(changed)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        """Stop watching; a redeploy under way is waited for at most ``STOP_WAIT_S`` (and not counted if it ends
        later), and a dependency build it started is ended. Idempotent."""
        from lambdalab.packages import deps

        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(STOP_WAIT_S)
            if self._thread.ident is not None and self._thread.is_alive():
                deps.stop_builds(self._thread.ident)  # pip in its own session: it would outlive the Lab

    close = stop  # what ``Lab.attach`` calls when the Lab closes

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "watching" if self.running else "stopped"
        return f"<Watcher {state} {', '.join(map(str, self.paths))} reloads={self.reloads} errors={len(self.errors)}>"


def watch_function(fn: Function, path: str | Path | None = None, *, debounce_ms: int = DEBOUNCE_MS) -> Watcher:
    """``Lab.watch``: redeploy ``fn`` from ``path`` (default: where it was created from) whenever it changes; a
    path inside the folder ``fn`` was created from redeploys that whole folder (its other modules, requirements)."""
    where = path if path is not None else fn.source_path
    if where is None:
        raise ConfigError(
            f"invalid path: {fn.name} was not created from a file or folder (path=); give watch() the path to watch"
        )
    source = Path(where).resolve()
    root = fn.source_path
    deploy = root if root is not None and root.is_dir() and source.is_relative_to(root) else source
    return Watcher([source], lambda changed: fn.update(path=deploy), debounce_ms=debounce_ms)
