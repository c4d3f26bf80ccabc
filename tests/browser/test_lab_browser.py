"""What a learner sees (issue 19), checked in a real browser: JupyterLab and headless Chromium.

One ``jupyter lab`` and one Chromium page (1366x768, left sidebar collapsed) for the module
(tests/browser/harness.py). Each notebook (00, 04, 05 and the panel, demo_panel) is opened and run
once, the first time a test asks for it; what its DOM showed is kept, and each acceptance item is its
own test on it: no cell ends in an error (nor writes to stderr); every card field visible (at the
output's width and at 640 px); legend colours equal trace colours and the palette of
lambdalab.viz.colours; every invoke bar at least 2 px wide; the board's tiles change colour during a
load (coloured by their state, age and request on hover); the panel fits 1366x768 with Start and the
board on screen; its charts move while a load from Start runs; Stop keeps the progress where it was.
``-k panel`` runs only the notebooks the chosen tests need. Screenshots (docs/images/timeline.png
from 05, cards.png from 04, panel.png from the panel) are written there only with
LAMBDALAB_WRITE_SCREENSHOT=1 (`make screenshots`); otherwise to a temporary folder, so a test run
changes no tracked file.
Skipped when Chromium or Playwright is missing, unless CI is set: then it fails.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import dom, harness
from tests.browser.shown import NOTEBOOKS, ROOT, SCREENSHOTS, TIMELINE_TITLE, Browser, Shown, palette

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAX_PNG_BYTES = 300 * 1024
MIN_SEGMENT_PX = 2.0
PANEL_MAX_HEIGHT = 600


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    harness.require_browser()  # before any server starts
    root = tmp_path_factory.mktemp("lab") / "root"
    (root / "notebooks").mkdir(parents=True)
    for name in NOTEBOOKS.values():  # fresh copies: the originals are never touched
        shutil.copy(ROOT / "notebooks" / name, root / "notebooks" / name)
    write = os.environ.get("LAMBDALAB_WRITE_SCREENSHOT") == "1"
    # LAMBDALAB_BROWSER_DUMP (a .json path) keeps what the DOM showed and the screenshots beside it, to look at
    dump = os.environ.get("LAMBDALAB_BROWSER_DUMP")
    shots = ROOT / "docs" / "images" if write else Path(dump).parent if dump else tmp_path_factory.mktemp("shots")
    t0 = time.monotonic()
    with harness.jupyter_lab(root) as base_url, harness.chromium(viewport=(1366, 768)) as page:
        session = Browser(base_url, page, shots)
        session.palette = {name: page.evaluate(dom.NORM_JS, colours) for name, colours in palette().items()}
        yield session
    times = {
        k: (round(s.seconds, 1), {step: round(t, 1) for step, t in s.timings.items()}) for k, s in session.shown.items()
    }
    print(f"\nbrowser: {time.monotonic() - t0:.1f} s in all; per notebook: {times}")
    if dump:
        shown = {k: dataclasses.asdict(s) for k, s in session.shown.items()}
        Path(dump).write_text(json.dumps(shown, indent=1, default=str))


def _cards(shown: Shown, what: str) -> list[dict[str, Any]]:
    return list(shown.get(what))


def _field_problems(card: dict[str, Any], where: str) -> list[str]:
    label = f"{where}, cell {card['cell']}, {card['kind']} card '{card['text'][:40]}'"
    problems = []
    if card["scroll_width"] > card["client_width"] + 1:
        problems.append(
            f"{label}: content {card['scroll_width'] - card['client_width']} px wider than the card "
            f"({card['scroll_width']} > {card['client_width']})"
        )
    overhang = card["box"]["right"] - card["area"]["right"]
    if overhang > 1:
        problems.append(f"{label}: card sticks out of its output area by {overhang:.0f} px")
    if not card["fields"] and card["kind"] in ("result", "function"):
        problems.append(f"{label}: no .lambdalab-field in it")
    c = card["box"]
    for f in card["fields"]:
        b = f["box"]
        out = {
            "right": b["right"] - c["right"],
            "left": c["left"] - b["left"],
            "bottom": b["bottom"] - c["bottom"],
            "top": c["top"] - b["top"],
        }
        for side, px in out.items():
            if px > 1:
                problems.append(f"{label}: field '{f['text']}' overflows the card's {side} edge by {px:.0f} px")
        if f["hidden"] or b["width"] < 1 or b["height"] < 1:
            problems.append(f"{label}: field '{f['text']}' is not displayed ({b['width']:.0f}x{b['height']:.0f})")
        if f["scroll_width"] > f["client_width"] + 1 and f["client_width"] > 0:
            problems.append(
                f"{label}: field '{f['text']}' is cut off inside itself by {f['scroll_width'] - f['client_width']} px"
            )
    return problems


@pytest.mark.parametrize("key", list(NOTEBOOKS))
def test_no_cell_ends_in_an_error(browser: Browser, key: str) -> None:
    shown = browser(key)
    if shown.failure:
        pytest.fail(f"{shown.name} did not run to the end in JupyterLab: {shown.failure}")
    assert shown.cell_errors == [], f"{shown.name}: {shown.cell_errors}"
    assert shown.not_run == [], f"{shown.name}: cells {shown.not_run} never ran"


@pytest.mark.parametrize("key", list(NOTEBOOKS))
def test_no_output_on_stderr(browser: Browser, key: str) -> None:
    shown = browser(key)
    boxes = [f"cell {e['cell']}: {e['text']!r}" for e in shown.get("stderr")]
    assert not boxes, f"{shown.name} shows stderr (a pink box in JupyterLab): " + "; ".join(boxes)


@pytest.mark.parametrize("key", list(NOTEBOOKS))
def test_every_card_field_is_visible(browser: Browser, key: str) -> None:
    shown = browser(key)
    problems = [p for card in _cards(shown, "cards") for p in _field_problems(card, shown.name)]
    problems += [p for card in _cards(shown, "cards at 640 px") for p in _field_problems(card, f"{shown.name} @640px")]
    assert shown.get("cards"), f"{shown.name} shows no .lambdalab-card"
    assert not problems, "\n".join(problems)


def test_05_shows_the_reserved_concurrency_it_is_about(browser: Browser) -> None:
    shown = browser("05")
    fields = [f["text"] for card in _cards(shown, "cards") for f in card["fields"]]
    assert any(re.search(r"reserved.*\b2\b", text, re.I) for text in fields), (
        f"no visible .lambdalab-field says 'reserved concurrency 2' in {shown.name}; fields: {fields}"
    )


def test_card_bars_and_badges_use_the_palette(browser: Browser) -> None:
    problems, rects = [], 0
    for key in NOTEBOOKS:
        shown = browser(key)
        phase, outcome = browser.palette["phase"], browser.palette["outcome"]
        for card in shown.get("card bars"):
            for rect in card["rects"]:
                rects += 1
                for p in rect["phases"]:
                    if p not in phase:
                        problems.append(f"{shown.name} cell {card['cell']}: rect.phase-{p} is not a PHASE_COLOURS key")
                    elif rect["fill"] != phase[p]:
                        problems.append(
                            f"{shown.name} cell {card['cell']}: rect.phase-{p} is filled {rect['fill']}, "
                            f"PHASE_COLOURS['{p}'] is {phase[p]}"
                        )
            for badge in card["badges"]:
                word = badge["text"].lower().split()[0] if badge["text"] else ""
                if word in outcome and badge["background"] != outcome[word]:
                    problems.append(
                        f"{shown.name} cell {card['cell']}: badge '{badge['text']}' is "
                        f"{badge['background']}, the '{word}' colour is {outcome[word]}"
                    )
    assert rects, "no result card drew a phase bar (svg.lambdalab-timeline rect)"
    assert not problems, "\n".join(problems)


def test_result_cards_carry_the_key(browser: Browser) -> None:
    missing, cards = [], 0
    for key in NOTEBOOKS:
        shown = browser(key)
        for card in shown.get("card bars"):
            if not card["rects"]:
                continue  # not a result card with a phase bar
            cards += 1
            text = card["key"] or ""
            if not text:
                missing.append(f"{shown.name} cell {card['cell']}: no .lambdalab-key beside the result card")
            elif "billed" not in text.lower():
                missing.append(
                    f"{shown.name} cell {card['cell']}: the key does not say why Billed >= Duration: {text!r}"
                )
    assert cards, "no result card with a phase bar in 00, 04, 05 or the panel"
    assert not missing, "\n".join(missing)


def test_card_invoke_bars_are_at_least_2_px_wide(browser: Browser) -> None:
    narrow = []
    for key in NOTEBOOKS:
        shown = browser(key)
        for card in shown.get("card bars"):
            for rect in card["rects"]:
                if "invoke" in rect["phases"] and rect["width"] < MIN_SEGMENT_PX - 0.01:
                    narrow.append(f"{shown.name} cell {card['cell']}: invoke bar {rect['width']:.2f} px wide")
    assert not narrow, "\n".join(narrow)


@pytest.mark.parametrize("key", ["04", "05", "panel"])
def test_legend_colours_equal_the_trace_colours(browser: Browser, key: str) -> None:
    shown = browser(key)
    figures = shown.get("figures")
    assert figures, f"{shown.name} drew no plotly figure"
    known = {**browser.palette["outcome"], **browser.palette["phase"]}  # a phase name wins (the timeline's)
    known.update({f"busy: {k}": v for k, v in browser.palette["phase"].items()})  # the concurrency chart's busy bars
    problems = []
    for fig in figures:
        where = f"{shown.name} cell {fig['cell']} '{fig['title'][:40]}'"
        colours = {t["name"]: t["colour"] for t in fig["traces"]}
        for item in fig["legend"]:
            name, swatch = item["name"], item["swatch"]
            if name in colours and colours[name] and swatch != colours[name]:
                problems.append(f"{where}: legend '{name}' is {swatch}, its trace is drawn {colours[name]}")
            if name in known and swatch != known[name]:
                problems.append(f"{where}: legend '{name}' is {swatch}, lambdalab.viz.colours says {known[name]}")
        if any(t["name"] in browser.palette["phase"] for t in fig["traces"]) and fig["legend"]:
            drawn = {t["name"] for t in fig["traces"] if t["points"] and t["visible"] is not False}
            listed = {item["name"] for item in fig["legend"]}
            if listed != drawn:
                problems.append(f"{where}: the legend lists {sorted(listed)}, the phases drawn are {sorted(drawn)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", ["04", "05"])
def test_timeline_invoke_segments_are_at_least_2_px_wide(browser: Browser, key: str) -> None:
    shown = browser(key)
    timelines = [f for f in shown.get("figures") if any(t["name"] == "invoke" for t in f["traces"])]
    assert timelines, f"{shown.name}: no figure with an 'invoke' trace"
    narrow, count = [], 0
    for fig in timelines:
        for trace in (t for t in fig["traces"] if t["name"] == "invoke"):
            for seg in trace["segments"]:
                count += 1
                if seg["px"] < MIN_SEGMENT_PX - 0.01:
                    narrow.append(
                        f"row {seg['row']} t={seg['x0']:.3f}-{seg['x1']:.3f} s: {seg['px']:.2f} px ({seg['ms']} ms)"
                    )
    assert count, f"{shown.name}: the timeline drew no invoke segment"
    assert not narrow, f"{shown.name}: {len(narrow)} of {count} invoke segments under 2 px: " + "; ".join(narrow[:8])
    untold = [
        seg
        for fig in timelines
        for t in fig["traces"]
        if t["name"] == "invoke"
        for seg in t["segments"]
        if seg["ms"] is None
    ]
    assert not untold, f"{shown.name}: {len(untold)} invoke segments carry no true duration (customdata, ms) to hover"


def test_05_timeline_has_one_row_per_environment_and_no_empty_rows(browser: Browser) -> None:
    shown = browser("05")
    fig = next((f for f in shown.get("figures") if TIMELINE_TITLE in f["title"]), None)
    assert fig, (
        f"no timeline titled '{TIMELINE_TITLE}...' in {shown.name}: {[f['title'] for f in shown.get('figures')]}"
    )
    rows = {row for t in fig["traces"] for row in t["rows"]}
    assert len(fig["yticks"]) == len(rows) == 6, f"{len(fig['yticks'])} row labels {fig['yticks']}, rows drawn {rows}"
    assert {"init", "invoke", "frozen"} <= {t["name"] for t in fig["traces"] if t["points"]}, fig["traces"]


def _running_samples(shown: Shown) -> list[dict[str, Any]]:
    samples = [s for s in shown.get("samples") if "running ·" in s["status"]]
    assert samples, f"the panel's status never read 'running ·' (last: {shown.get('final status')!r})"
    return samples


def test_board_tiles_change_colour_during_a_load(browser: Browser) -> None:
    shown = browser("panel")
    running = _running_samples(shown)
    with_tiles = [s for s in running if s["tiles"]]
    assert with_tiles, (
        f"no .lambdalab-panel .lambdalab-board .lambdalab-tile in any of {len(running)} samples "
        "taken while the load ran"
    )
    # the samples every 100 ms and every colour a tile took as it took it (a sample can miss a short invoke)
    timed = [(sample["t"], env, colour) for sample in with_tiles for env, _state, colour, _title in sample["tiles"]]
    timed += [(c["t"], c["env"], c["colour"]) for c in shown.get("tile changes") if c["running"] and c["env"]]
    seen: dict[str, list[str]] = {}
    for _t, env, colour in sorted(timed, key=lambda item: item[0]):
        seen.setdefault(env, []).append(colour)
    runs = {env: [c for i, c in enumerate(colours) if i == 0 or colours[i - 1] != c] for env, colours in seen.items()}
    changes = sum(len(c) - 1 for c in runs.values())
    assert changes >= 2, f"tiles' colours over the load (one list per environment): {runs}"


def test_board_tiles_are_coloured_by_their_state(browser: Browser) -> None:
    shown = browser("panel")
    phase = browser.palette["phase"]
    problems = set()
    running = _running_samples(shown)
    assert any(s["tiles"] for s in running), (
        f"no .lambdalab-board .lambdalab-tile in {len(running)} samples of the load"
    )
    for sample in running:
        for env, state, colour, title in sample["tiles"]:
            if state not in phase:
                problems.add(f"tile {env}: data-state={state!r} is not a PHASE_COLOURS key")
            elif colour != phase[state]:
                problems.add(f"tile {env}: data-state={state} but background {colour} (PHASE_COLOURS: {phase[state]})")
            if not title.strip():
                problems.add(f"tile {env}: no title (request id and age on hover)")
    assert not problems, "\n".join(sorted(problems)[:20])


def test_board_tiles_name_the_request_and_age_on_hover(browser: Browser) -> None:
    shown = browser("panel")
    problems, invoking = set(), 0
    for sample in _running_samples(shown):
        for env, state, _colour, title in sample["tiles"]:
            if not re.search(r"\bage\b", title):
                problems.add(f"tile {env[:8]} ({state}): its title gives no age: {title!r}")
            if state == "invoke":
                invoking += 1
                if not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", title):
                    problems.add(f"tile {env[:8]} is invoking but its title names no request id: {title!r}")
    assert invoking, "no tile was seen in state 'invoke' during the load"
    assert not problems, "\n".join(sorted(problems)[:10])


def test_panel_fits_1366x768_with_start_and_the_board_on_screen(browser: Browser) -> None:
    fit = browser("panel").get("panel fit")
    assert fit, "no .lambdalab-panel on the page"
    problems = []
    height = fit["panel"]["height"]
    if height > PANEL_MAX_HEIGHT:
        problems.append(f"the panel is {height:.0f} px tall (at most {PANEL_MAX_HEIGHT})")
    visible = fit["visible"]
    for what in ("start", "board"):
        b = fit[what]
        if b is None:
            problems.append(f"no {'Start button' if what == 'start' else '.lambdalab-board'} in the panel")
        elif b["width"] < 1 or b["height"] < 1:
            problems.append(f"the {what} is not displayed ({b['width']:.0f}x{b['height']:.0f} px: a hidden tab?)")
        else:
            below = b["bottom"] - visible["bottom"]
            right = b["right"] - visible["right"]
            if below > 0.5:
                problems.append(
                    f"the {what}'s bottom is {below:.0f} px below the notebook's visible area "
                    f"(bottom {b['bottom']:.0f}, area ends at {visible['bottom']:.0f})"
                )
            if right > 0.5:
                problems.append(f"the {what}'s right edge is {right:.0f} px past the notebook's visible area")
            if b["top"] < visible["top"] - 0.5:
                problems.append(f"the {what} starts above the visible area ({b['top']:.0f} < {visible['top']:.0f})")
    sw, cw, _sh, _ch = fit["panel_scroll"]
    if sw > cw + 1:
        problems.append(f"the panel scrolls sideways: content {sw} px in {cw} px")
    assert fit["viewport"] == [1366, 768] and not fit["left_sidebar_open"], fit
    assert not problems, "; ".join(problems) + f" (panel {fit['panel']}, visible {visible})"


def test_panel_charts_change_while_the_load_runs(browser: Browser) -> None:
    shown = browser("panel")
    shown.get("Start")  # the Start button's load ran to its end
    after_start = shown.get("samples")[shown.get("samples before Start") :]
    points = [s["points"] for s in after_start if "running ·" in s["status"]]
    assert points, f"the status never read 'running ·' after Start (last: {shown.get('final status')!r})"
    changes = sum(1 for a, b in itertools.pairwise(points) if b != a)
    # the first samples may still show the last load's points, then the charts start again and grow
    grew = points[-1] > min(points)
    assert changes >= 4 and grew, f"{changes} changes in {len(points)} samples of the charts' points: {points[:40]}"
    status = shown.get("final status")
    found = re.search(r"(\d+) requests", status)
    assert found and 60 <= int(found.group(1)) <= 110, status  # 15/s for the notebook's 6 s


def test_panel_says_done_only_when_nothing_is_in_flight(browser: Browser) -> None:
    shown = browser("panel")
    samples = shown.get("samples")
    assert samples and samples[-1]["has_status_class"], "no .lambdalab-status element in the panel"
    wrong = sorted(
        {s["status"] for s in samples if "done ·" in s["status"] and re.search(r"\b([1-9]\d*) in flight", s["status"])}
    )
    assert not wrong, f"'done' while requests are in flight: {wrong}"


def test_panel_stop_keeps_the_progress_where_it_was(browser: Browser) -> None:
    stop = browser("panel").get("Stop")
    before, after = stop["before"], stop["after"]
    assert before is not None and after is not None, f"no progress bar in the panel: {stop}"
    assert after["classed"], "the progress bar has no class lambdalab-progress"
    assert 0.0 < after["fraction"] < 0.9, (
        f"stopped about 1.5 s into a 6 s load, the progress bar shows {after['fraction']:.0%} "
        f"({before['fraction']:.0%} just before Stop); status {stop['status']!r}"
    )
    assert "done ·" in stop["status"] and "running ·" not in stop["status"], stop["status"]


@pytest.mark.parametrize("key", list(SCREENSHOTS))
def test_screenshot_is_under_300_kb(browser: Browser, key: str) -> None:
    shot = browser(key).get("screenshot")
    assert 3_000 < shot["bytes"] < MAX_PNG_BYTES, shot
