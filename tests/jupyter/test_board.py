"""The environment board: the delta encoding (BoardState), the widget's live loop, and a board over a real Lab."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambdalab.jupyter.board import LINGER_S, PHASES, STATES, STATIC, Board, BoardState, board, phase_of
from lambdalab.results import EnvironmentInfo
from lambdalab.viz.colours import PHASE_COLOURS


def info(
    env: str,
    phase: str,
    state: str,
    *,
    rid: str | None = None,
    since: float = 0.0,
    age: float = 1.0,
    invocations: int = 0,
    frozen: bool = False,
) -> EnvironmentInfo:
    return EnvironmentInfo(env, "$LATEST", state, frozen, False, invocations, phase, rid, since, age)


def apply(tiles: dict[int, dict[str, Any]], delta: dict[str, Any]) -> None:
    """What board.js does with a delta, in Python: the browser's tiles after it."""
    if delta["full"]:
        keep = {a[0] for a in delta["add"]}
        for key in list(tiles):
            if key not in keep:
                del tiles[key]
    for key, env, version, _age in delta["add"]:
        tiles.setdefault(key, {"env": env, "version": version})
    for key, phase, state, rid, since, invocations in delta["set"]:
        tiles[key].update(
            phase=PHASES[phase] if isinstance(phase, int) else phase,
            state=STATES[state] if isinstance(state, int) else state,
            rid=rid or None,
            since=since,
            invocations=invocations,
        )
    for key in delta["drop"]:
        del tiles[key]


def by_env(tiles: dict[int, dict[str, Any]]) -> dict[str, tuple[str, str, str | None]]:
    return {t["env"]: (t["phase"], t["state"], t["rid"]) for t in tiles.values()}


# -- the delta encoding ---------------------------------------------------------------------------------
def test_first_listing_adds_every_tile_with_codes_and_request_ids() -> None:
    state = BoardState()
    delta = state.diff([info("a", "init", "initializing", rid="r-1", age=0.25), info("b", "frozen", "idle")], 10.0)
    assert delta is not None and delta["seq"] == 1 and delta["full"] is False and delta["drop"] == []
    assert delta["add"] == [[0, "a", "$LATEST", 0.25], [1, "b", "$LATEST", 1.0]]
    assert delta["set"] == [
        [0, PHASES.index("init"), STATES.index("initializing"), "r-1", 0.0, 0],
        [1, PHASES.index("frozen"), STATES.index("idle"), 0, 0.0, 0],
    ]
    assert len(state) == 2


def test_an_unchanged_listing_sends_nothing_and_a_change_sends_only_that_tile() -> None:
    state = BoardState()
    listing = [info("a", "invoke", "invoking", rid="r-1"), info("b", "frozen", "idle")]
    state.diff(listing, 0.0)
    # the same states later (only since/age grew): nothing to send
    assert (
        state.diff([info("a", "invoke", "invoking", rid="r-1", since=0.5), info("b", "frozen", "idle", since=3)], 0.5)
        is None
    )
    delta = state.diff(
        [info("a", "invoke", "invoking", rid="r-2", since=0.01, invocations=1), info("b", "frozen", "idle", since=4)],
        1.0,
    )
    assert delta is not None and delta["seq"] == 2
    assert delta["add"] == [] and delta["drop"] == []
    assert delta["set"] == [[0, PHASES.index("invoke"), STATES.index("invoking"), "r-2", 0.01, 1]]  # a new request


def test_an_environment_that_ends_shows_shutdown_then_goes() -> None:
    state = BoardState(linger_s=1.0)
    state.diff([info("a", "frozen", "idle"), info("b", "frozen", "idle")], 0.0)
    delta = state.diff([info("b", "frozen", "idle")], 0.2)
    assert delta is not None and delta["drop"] == []
    assert delta["set"] == [[0, PHASES.index("shutdown"), STATES.index("terminated"), 0, 0.0, 0]]
    assert state.diff([info("b", "frozen", "idle")], 0.7) is None  # still lingering, already sent
    delta = state.diff([info("b", "frozen", "idle")], 1.25)
    assert delta is not None and delta["drop"] == [0] and delta["set"] == [] and len(state) == 1
    # a new environment gets a new key, never a dropped one's
    delta = state.diff([info("b", "frozen", "idle"), info("c", "init", "initializing")], 1.3)
    assert delta is not None and delta["add"][0][:2] == [2, "c"]


def test_a_listed_again_environment_comes_back_from_shutdown() -> None:
    state = BoardState(linger_s=1.0)
    state.diff([info("a", "idle", "reset")], 0.0)
    state.diff([], 0.1)
    delta = state.diff([info("a", "idle", "reset")], 0.2)
    assert delta is not None and delta["set"] == [[0, PHASES.index("idle"), STATES.index("reset"), 0, 0.0, 0]]
    assert state.diff([], 0.9) is not None  # gone again: shutdown, counted from now
    assert state.diff([], 1.5) is None  # lingering, already sent
    assert state.diff([], 1.95)["drop"] == [0]  # type: ignore[index]


def test_applying_every_delta_gives_the_latest_listing_and_full_replaces_the_view() -> None:
    state = BoardState(linger_s=1.5)
    tiles: dict[int, dict[str, Any]] = {}
    listings = [
        [info("a", "init", "initializing", rid="r1")],
        [info("a", "invoke", "invoking", rid="r1"), info("b", "init", "initializing", rid="r2")],
        [info("a", "frozen", "idle"), info("b", "invoke", "invoking", rid="r2")],
        [info("b", "shutdown", "shutting_down")],
        [info("b", "shutdown", "shutting_down"), info("c", "restore", "restoring")],
    ]
    for t, listing in enumerate(listings):
        delta = state.diff(listing, float(t))
        if delta is not None:
            apply(tiles, json.loads(json.dumps(delta)))  # what crosses the comm is JSON
    assert by_env(tiles) == {
        "a": ("shutdown", "terminated", None),
        "b": ("shutdown", "shutting_down", None),
        "c": ("restore", "restoring", None),
    }
    state.diff(listings[-1], 10.0)  # its linger over, "a" goes
    stale = {**tiles, 99: {"env": "x", "phase": "idle", "state": "idle", "rid": None}}
    full = state.full(10.0)
    assert full["full"] is True and full["drop"] == []
    apply(stale, full)
    assert by_env(stale) == {"b": ("shutdown", "shutting_down", None), "c": ("restore", "restoring", None)}


def test_an_unknown_state_is_sent_as_itself_and_an_unknown_phase_falls_back_to_a_colour_key() -> None:
    state = BoardState()
    delta = state.diff([info("a", "hibernating", "dozing")], 0.0)
    assert delta is not None and delta["set"][0][1:3] == [PHASES.index("idle"), "dozing"]


def test_every_tile_phase_is_a_colour_key() -> None:
    assert set(PHASES) >= set(PHASE_COLOURS)
    for phase in ("init", "invoke", "frozen", "idle", "shutdown"):
        assert phase in PHASE_COLOURS and phase_of(info("a", phase, "idle")) == phase
    # a row without a phase (a duck-typed source): from the state, frozen when it says so
    bare = EnvironmentInfo("a", "$LATEST", "idle", True, False, 0)
    assert phase_of(bare) in PHASE_COLOURS


def test_delta_stays_compact_for_200_environments() -> None:
    state = BoardState()
    listing = [info(f"{i:032x}", "frozen", "idle", age=12.3456) for i in range(200)]
    first = json.dumps(state.diff(listing, 0.0), separators=(",", ":"))
    changed = [
        info(f"{i:032x}", "invoke", "invoking", rid=f"{i:08x}-0000-4000-8000-{i:012x}", since=0.031) for i in range(200)
    ]
    second = json.dumps(state.diff(changed, 0.1), separators=(",", ":"))
    assert len(first) < 200 * 80  # an id once, then a few numbers per tile
    assert len(second) < 200 * 60  # a request id and a few numbers per changed tile, no environment id


# -- the widget --------------------------------------------------------------------------------------------
class Listing:
    """A function stand-in whose listing a test sets (the board only calls ``environments()``)."""

    name = "stand-in"

    def __init__(self) -> None:
        self.rows: list[EnvironmentInfo] = []
        self.calls = 0
        self.fail: Exception | None = None

    def environments(self) -> list[EnvironmentInfo]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return list(self.rows)


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_board_widget_traits_and_refresh() -> None:
    source = Listing()
    b = Board(source, refresh_s=0.05)
    try:
        assert b.function == "stand-in" and b.colours == PHASE_COLOURS and b.phases == list(PHASES)
        assert b.live is False and b.refresh_s == 0.05
        script, style = (STATIC / "board.js").read_text(), (STATIC / "board.css").read_text()
        assert "export default" in script and "requestAnimationFrame" in script and ".lambdalab-tile" in style
        source.rows = [info("a", "invoke", "invoking", rid="r1")]
        b.refresh()
        assert b.delta["add"] == [[0, "a", "$LATEST", 1.0]] and b.delta["set"][0][3] == "r1"
        seq = b.delta["seq"]
        b.refresh()  # nothing changed: nothing sent
        assert b.delta["seq"] == seq and b.refreshes == 2 and b.sent == 1
        b.sync()  # a view opened: every tile
        assert b.delta["full"] is True and b.delta["add"][0][1] == "a"
    finally:
        b.close()


def test_board_follows_live_and_stops() -> None:
    source = Listing()
    b = board(source, refresh_s=0.02)
    try:
        assert b.live is True
        wait_for(lambda: source.calls >= 3)
        source.rows = [info("a", "init", "initializing")]
        wait_for(lambda: b.delta.get("add") == [[0, "a", "$LATEST", 1.0]])
        source.rows = [info("a", "invoke", "invoking", rid="r9")]
        wait_for(lambda: b.delta.get("set") == [[0, PHASES.index("invoke"), STATES.index("invoking"), "r9", 0.0, 0]])
        assert b.start() is b  # already live: the same loop
        b.stop()
        assert b.live is False and b.delta["full"] is True  # saved state holds every tile
        calls = source.calls
        time.sleep(0.1)
        assert source.calls <= calls + 1  # at most the call in flight when it stopped
        b.start()
        wait_for(lambda: source.calls >= calls + 3)
    finally:
        b.close()
    assert b.live is False


def test_board_stops_and_says_why_when_the_listing_fails() -> None:
    source = Listing()
    source.fail = RuntimeError("the Lab is closed")
    b = board(source, refresh_s=0.02)
    try:
        wait_for(lambda: not b.live)
        assert b.error == "RuntimeError: the Lab is closed"
    finally:
        b.close()


def test_board_keeps_going_when_the_engine_is_slow_to_answer() -> None:
    source = Listing()
    source.fail = TimeoutError()
    b = board(source, refresh_s=0.02)
    try:
        wait_for(lambda: b.error == "the engine did not answer in time; retrying" and source.calls >= 2)
        assert b.live is True
        source.fail = None
        source.rows = [info("a", "frozen", "idle")]
        wait_for(lambda: b.delta.get("add") == [[0, "a", "$LATEST", 1.0]])
        assert b.error == "" and b.live is True
    finally:
        b.close()


def test_board_over_a_real_lab(lab: Any) -> None:
    source = "import time\ndef handler(event, context):\n    time.sleep(event)\n    return 1\n"
    fn = lab.create_function("b", source=source)
    b = Board(fn, linger_s=0.0)
    try:
        future = fn.submit(0.6)
        tiles: dict[int, dict[str, Any]] = {}

        def invoking() -> bool:
            b.refresh()
            apply(tiles, b.delta)
            return any(t.get("phase") == "invoke" for t in tiles.values())

        wait_for(invoking, timeout=30)
        result = future.result(timeout=30)
        (tile,) = tiles.values()
        assert tile["rid"] == result.request_id and tile["state"] == "invoking"
        b.refresh()
        apply(tiles, b.delta)
        (tile,) = tiles.values()
        assert (tile["phase"], tile["state"], tile["rid"], tile["invocations"]) == ("frozen", "idle", None, 1)
        fn.kill()

        def gone() -> bool:
            b.refresh()
            apply(tiles, b.delta)
            return not tiles

        wait_for(gone, timeout=30)
    finally:
        b.close()


@pytest.mark.parametrize("linger", [LINGER_S])
def test_default_linger_is_brief(linger: float) -> None:
    assert 0.3 <= linger <= 3.0


def test_a_new_board_of_the_same_function_stops_the_one_before() -> None:
    """Running a ``%lambda board NAME`` cell again leaves one board polling, not one more each time."""
    source = Listing()
    first = board(source, refresh_s=0.02)
    second = None
    try:
        assert first.live is True
        second = board(source, refresh_s=0.02)
        assert first.live is False and second.live is True
        other_board = board(Listing(), refresh_s=0.02)  # another function (no Lab: another object) keeps its own
        try:
            assert second.live is True and other_board.live is True
        finally:
            other_board.close()
    finally:
        first.close()
        if second is not None:
            second.close()
