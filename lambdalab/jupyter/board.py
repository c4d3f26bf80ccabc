"""The environment board: one tile per execution environment of a function, coloured by what it is doing now.

    b = board(fn)          # a started Board; show it as a cell's value (``%lambda board NAME`` does both)
    b.stop(); b.start()    # pause and resume the live updates; b.refresh() takes one snapshot now

The kernel polls ``fn.environments()`` (off its main thread) every ``refresh_s`` seconds from its event loop
(``lambdalab.jupyter.loop``), compares the listing with the previous one (``BoardState.diff``) and sends only
what changed, as one small ``delta`` trait value; the browser (``static/board.js``) queues the deltas and
applies them in one ``requestAnimationFrame``, so 200 environments changing state thousands of times a
second cost one DOM pass a frame. An environment that ends shows as ``shutdown`` for ``linger_s`` seconds,
then its tile goes.

A delta (JSON; codes index ``PHASES`` and ``STATES``, an unknown name is sent as itself)::

    {"seq": 7, "full": false,
     "add":  [[key, environment_id, version, age_s], ...],            # new tiles (key: a small int)
     "set":  [[key, phase, state, request_id or 0, since_s, invocations], ...],   # tiles that changed
     "drop": [key, ...]}                                              # tiles to remove

A function on AWS Lambda (``lambdalab.aws.Function``) has no environments to list: its board says
"environments are not visible on AWS Lambda" and never polls.

``full: true`` carries every tile (``add`` and ``set`` for each): a view that opens late asks for one, and
``stop`` leaves one as the trait's value, so saved widget state shows the last board.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import anywidget
import traitlets

from lambdalab.jupyter import loop as kernel_loop
from lambdalab.jupyter import targets
from lambdalab.viz import colours as palette

STATIC = Path(__file__).resolve().parent / "static"
# what a tile can show: the phases of the timeline, in its order, and the lifecycle's states
PHASES: tuple[str, ...] = tuple(dict.fromkeys((*palette.PHASE_ORDER, *palette.PHASE_COLOURS)))
STATES: tuple[str, ...] = (
    "starting",
    "initializing",
    "idle",
    "invoking",
    "finishing",
    "reset",
    "restoring",
    "shutting_down",
    "terminated",
)
_PHASE_CODE = {name: i for i, name in enumerate(PHASES)}
_STATE_CODE = {name: i for i, name in enumerate(STATES)}
REFRESH_S = 0.08  # 12.5 snapshots (so at most 12.5 frames) a second: above the 10 frames/s a live board needs
LINGER_S = 1.0  # an ended environment shows as "shutdown" this long before its tile goes


class Listable(Protocol):
    """What a board watches: a ``Function``, or anything with a name that lists environments like one."""

    @property
    def name(self) -> str: ...

    def environments(self) -> Sequence[Any]: ...


def phase_of(info: Any) -> str:
    """The PHASE_COLOURS key a tile shows for one ``EnvironmentInfo``-like row.

    ``Function.environments()`` gives it (``phase``: the core's phase in progress, which agrees with
    ``STATE_PHASE``); a row without one is mapped from its state.
    """
    phase = getattr(info, "phase", None)
    if phase in palette.PHASE_COLOURS:
        return str(phase)
    return palette.environment_phase(info.state, bool(getattr(info, "frozen", False)))


def _code(name: str, codes: dict[str, int]) -> int | str:
    return codes.get(name, name)


class BoardState:
    """The tiles the browser has, and what to send it next: successive listings in, deltas out (no I/O)."""

    def __init__(self, linger_s: float = LINGER_S) -> None:
        self.linger_s = linger_s
        self.seq = 0
        self._next_key = 0
        # environment id -> [key, version, born (monotonic), set-row] ; the set-row as last sent
        self._tiles: dict[str, list[Any]] = {}
        self._gone: dict[str, float] = {}  # environment id -> when it left the listing

    def __len__(self) -> int:
        return len(self._tiles)

    def diff(self, infos: Sequence[Any], now: float) -> dict[str, Any] | None:
        """The delta from what was sent to ``infos`` (listed at ``now``, monotonic seconds); None: no change."""
        add: list[list[Any]] = []
        changed: list[list[Any]] = []
        seen = set()
        tiles = self._tiles
        for info in infos:
            env = info.environment_id  # a Managed Instances environment: a tile per worker
            if getattr(info, "worker", 0):
                env = f"{env}/{info.worker}"
            seen.add(env)
            row = self._row(info)
            tile = tiles.get(env)
            if tile is None:
                key = self._next_key
                self._next_key += 1
                tile = tiles[env] = [key, info.version, now - info.age_s, None]
                add.append([key, env, info.version, round(info.age_s, 2)])
                self._gone.pop(env, None)
            elif env in self._gone:  # listed again (a reset one can be): it is back
                del self._gone[env]
            old = tile[3]
            if old is None or old[1] != row[1] or old[2] != row[2] or old[3] != row[3]:
                row[0] = tile[0]
                tile[3] = row
                changed.append(row)
        drop = []
        for env, tile in tiles.items():
            if env in seen:
                continue
            left = self._gone.setdefault(env, now)
            if now - left >= self.linger_s:
                drop.append(env)
            elif tile[3][1] != _PHASE_CODE["shutdown"] or tile[3][2] != _STATE_CODE["terminated"]:
                row = [tile[0], _PHASE_CODE["shutdown"], _STATE_CODE["terminated"], 0, 0.0, tile[3][5]]
                tile[3] = row
                changed.append(row)
        for env in drop:
            del self._gone[env]
        if not (add or changed or drop):
            return None
        keys = [tiles.pop(env)[0] for env in drop]
        self.seq += 1
        return {"seq": self.seq, "full": False, "add": add, "set": changed, "drop": keys}

    def full(self, now: float) -> dict[str, Any]:
        """Every tile as it was last sent (for a view that opens late, and for saved widget state)."""
        self.seq += 1
        add = [[t[0], env, t[1], round(max(0.0, now - t[2]), 2)] for env, t in self._tiles.items()]
        return {"seq": self.seq, "full": True, "add": add, "set": [t[3] for t in self._tiles.values()], "drop": []}

    @staticmethod
    def _row(info: Any) -> list[Any]:
        return [
            0,
            _code(phase_of(info), _PHASE_CODE),
            _code(info.state, _STATE_CODE),
            info.request_id or 0,
            round(info.since_s, 2),
            info.invocations,
        ]


class Board(anywidget.AnyWidget):
    """A live board of ``fn``'s environments (see the module's docstring)."""

    _esm = STATIC / "board.js"
    _css = STATIC / "board.css"
    function = traitlets.Unicode("").tag(sync=True)
    colours = traitlets.Dict().tag(sync=True)  # phase -> colour (PHASE_COLOURS)
    phases = traitlets.List(traitlets.Unicode()).tag(sync=True)  # PHASES: a delta's phase codes
    states = traitlets.List(traitlets.Unicode()).tag(sync=True)  # STATES: a delta's state codes
    live = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)  # why the updates stopped, if they stopped on their own
    delta = traitlets.Dict().tag(sync=True)  # the last delta sent (see the module's docstring)

    def __init__(
        self, fn: Listable, *, refresh_s: float = REFRESH_S, linger_s: float = LINGER_S, **kwargs: Any
    ) -> None:
        super().__init__(
            function=fn.name,
            colours=dict(palette.PHASE_COLOURS),
            phases=list(PHASES),
            states=list(STATES),
            **kwargs,
        )
        self.fn = fn
        # a remote function (or anything that cannot list its environments): a board that says so and never polls
        self.remote = targets.is_remote(fn) or not callable(getattr(fn, "environments", None))
        if self.remote:
            self.error = targets.NOT_VISIBLE
        self.refresh_s = refresh_s
        self.tiles = BoardState(linger_s)
        self.refreshes = 0  # snapshots taken
        self.sent = 0  # deltas sent
        self.refresh_durations: list[float] = []  # seconds each snapshot's diff took on the kernel's thread
        self._lock = threading.Lock()
        self._generation = 0  # bumped by start/stop: a loop of an older generation ends
        self.on_msg(self._on_message)

    # -- live updates ----------------------------------------------------------------------------------
    def start(self) -> Board:
        """Follow the function live, from the kernel's event loop; returns the board (a remote one: not followed)."""
        if self.remote:
            return self
        with self._lock:
            if self.live:
                return self
            self._generation += 1
            generation = self._generation
            self.live, self.error = True, ""
        kernel_loop.run_on_main(lambda: self._tick(generation))
        return self

    def stop(self) -> None:
        """End the live updates (the tiles stay as they are; the trait keeps them all, for saved state)."""
        with self._lock:
            self._generation += 1
            was, self.live = self.live, False
        if was:
            self._post(self.tiles.full(time.monotonic()))

    def refresh(self) -> None:
        """List the environments now and send what changed (a remote function's: nothing to list)."""
        if not self.remote:
            self.apply(self.fn.environments())

    def close(self) -> None:
        if getattr(self, "fn", None) is not None:  # (ipywidgets closes half-made widgets too)
            self.stop()
        super().close()

    async def _tick(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        due = time.monotonic()
        try:
            while generation == self._generation:
                try:
                    infos = await loop.run_in_executor(None, self.fn.environments)  # off the main thread
                except TimeoutError:  # the engine's loop too busy to answer in time: try again
                    self.error = "the engine did not answer in time; retrying"
                    continue
                except Exception as exc:  # noqa: BLE001 - the Lab closed, the function went: say so and stop
                    self.error = f"{type(exc).__name__}: {exc}"
                    break
                if self.error:
                    self.error = ""
                if generation != self._generation:
                    break
                self.apply(infos)  # widgets change only here, on the kernel's main thread
                due += self.refresh_s  # a steady rate: the next snapshot is due one period after the last was
                now = time.monotonic()
                if due < now:  # late (a busy kernel): start counting again from now
                    due = now
                await asyncio.sleep(max(0.0, due - now))
        finally:
            with self._lock:
                if generation == self._generation:
                    self.live = False

    def apply(self, infos: Sequence[Any]) -> None:
        """Send what changed between the last listing and ``infos`` (on the kernel's main thread)."""
        began = time.monotonic()
        delta = self.tiles.diff(infos, began)
        self.refreshes += 1
        if delta is not None:
            self._post(delta)
        self.refresh_durations.append(time.monotonic() - began)

    def _post(self, delta: dict[str, Any]) -> None:
        self.delta = delta
        self.sent += 1

    def sync(self) -> None:
        """Send every tile (a view that opened late asks for this)."""
        self._post(self.tiles.full(time.monotonic()))

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "sync":  # a view opened: it needs every tile
            self.sync()


_latest: weakref.WeakValueDictionary[tuple[int, str], Board] = weakref.WeakValueDictionary()


def board(fn: Listable, **kwargs: Any) -> Board:
    """A started ``Board`` of ``fn``'s environments (``refresh_s``, ``linger_s``: see ``Board``).

    The board this made before for the same function stops (it keeps its last picture): running a
    ``%lambda board NAME`` cell again leaves one board polling, not one more each time."""
    lab = getattr(fn, "lab", None)  # a Function: the same name in the same Lab is the same function
    key = (id(lab if lab is not None else fn), fn.name)
    before = _latest.get(key)
    if before is not None:
        before.stop()
    made = Board(fn, **kwargs).start()
    _latest[key] = made
    return made
