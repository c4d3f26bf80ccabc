"""The one palette (lambdalab/viz/colours.py): its keys, one meaning per colour, colour-blind safety, no strays."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from lambdalab.core.lifecycle import State
from lambdalab.core.records import Phase
from lambdalab.viz import colours

ROOT = Path(__file__).resolve().parents[2]
HEX = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")

# Machado, Oliveira & Fernandes (2009), severity 1: linear-RGB matrices that simulate each deficiency.
SIMULATIONS = {
    "normal": np.eye(3),
    "protan": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deutan": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritan": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
# Colours a reader must tell apart because they share a view (a chart, a card or the board).
TOGETHER = [
    colours.TIMELINE_ORDER,  # the timeline and the board: every phase of the whole lifecycle
    ("wait", "init", "invoke", "frozen", "shutdown", "restore", "post_runtime"),  # a result card's bar
    ("cold", "warm", "restored", "throttled", "error"),  # the latency charts
    ("invoke", "frozen", "idle", "throttled"),  # the concurrency chart
]


def _lab(colour: str, kind: str) -> np.ndarray:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(SIMULATIONS[kind] @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / [0.95047, 1.0, 1.08883]  # relative to white (D65)
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def distance(a: str, b: str, kind: str) -> float:
    """CIELAB distance (ΔE76) between two colours as a reader with ``kind`` vision sees them."""
    return float(np.linalg.norm(_lab(a, kind) - _lab(b, kind)))


def everything() -> dict[str, str]:
    return {**colours.PHASE_COLOURS, **colours.OUTCOME_COLOURS}


def test_the_keys_are_the_contracts():
    assert list(colours.PHASE_COLOURS) == [
        *("init", "invoke", "frozen", "idle", "shutdown", "restore", "wait"),
        *("snapshot", "extension_init", "post_runtime", "shutdown_grace"),  # issue 15: the whole lifecycle
        "overrun",  # issue 16: a Managed Instances worker running on after its request timed out
    ]
    assert colours.PHASE_ORDER == ("init", "invoke", "frozen", "idle", "shutdown")  # the records' phases
    # the timeline lists every phase a span can have (core Phase), and a graceful shutdown
    assert set(colours.TIMELINE_ORDER) == set(get_args(Phase)) | {"shutdown_grace"}
    assert set(colours.TIMELINE_ORDER) <= set(colours.PHASE_COLOURS)
    assert list(colours.OUTCOME_COLOURS) == ["cold", "warm", "restored", "throttled", "error"]
    assert colours.RESTORED_COLOUR == colours.OUTCOME_COLOURS["restored"] == colours.PHASE_COLOURS["restore"]
    assert colours.COLD_COLOUR == colours.OUTCOME_COLOURS["cold"] == colours.COLD_WARM_COLOURS["cold"]
    assert colours.WARM_COLOUR == colours.OUTCOME_COLOURS["warm"] == colours.COLD_WARM_COLOURS["warm"]
    assert colours.THROTTLE_COLOUR == colours.OUTCOME_COLOURS["throttled"]
    assert colours.ERROR_COLOUR == colours.OUTCOME_COLOURS["error"]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in [*everything().values(), *colours.UI_COLOURS.values()])


def test_no_colour_means_two_things():
    by_colour: dict[str, set[str]] = {}
    for name, colour in everything().items():
        by_colour.setdefault(colour, set()).add(name)
    shared = sorted(sorted(names) for names in by_colour.values() if len(names) > 1)
    # the only shared colours are definitions: cold = "had an init", warm = "went straight to invoke",
    # restored = "restored from a snapshot instead of an init"
    assert shared == [["cold", "init"], ["invoke", "warm"], ["restore", "restored"]]
    assert not set(colours.UI_COLOURS.values()) & set(everything().values())  # the chrome means nothing


@pytest.mark.parametrize("kind", list(SIMULATIONS))
def test_colours_that_share_a_view_stay_apart_for_colour_blind_readers(kind):
    palette = everything()
    close = []
    for group in TOGETHER:
        for a, b in itertools.combinations(group, 2):
            d = distance(palette[a], palette[b], kind)
            if d < 15:
                close.append(f"{a}/{b} ΔE {d:.1f}")
    assert not close, f"{kind}: {close}"
    assert distance(palette["cold"], palette["warm"], kind) > 30  # the pair the issue is about: far apart


def test_every_lifecycle_state_has_a_phase():
    states = {state.value for state in State}
    assert states <= set(colours.STATE_PHASE)
    assert set(colours.STATE_PHASE.values()) <= set(colours.PHASE_COLOURS)
    assert colours.STATE_PHASE["initializing"] == "init" and colours.STATE_PHASE["invoking"] == "invoke"
    assert colours.environment_phase("idle", frozen=True) == "frozen"
    assert colours.environment_phase("idle", frozen=False) == "idle"
    assert colours.environment_phase("shutting_down") == "shutdown"
    assert colours.environment_phase("no such state") == "idle"
    # the whole lifecycle's states: each in the colour of the phase its spans are drawn in
    assert colours.environment_phase("extensions_init") == "extension_init"
    assert colours.environment_phase("restoring") == "restore"
    assert colours.environment_phase("snapshotting") == colours.environment_phase("snapshotted") == "snapshot"
    assert colours.environment_phase("post_runtime") == "post_runtime"
    assert colours.environment_phase("draining") == "shutdown_grace"


def contrast(a: str, b: str) -> float:
    def luminance(c: str) -> float:
        rgb = np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(linear @ [0.2126, 0.7152, 0.0722])

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_badge_text_is_readable_on_every_fill():
    for name, colour in everything().items():
        assert contrast(colours.text_on(colour), colour) >= 4.5, name  # WCAG AA for text
    assert colours.text_on("#000000") == colours.UI_COLOURS["on_dark"]
    assert colours.text_on("#ffffff") == colours.UI_COLOURS["on_light"]


def test_labels_are_readable_on_the_cards():
    ui = colours.UI_COLOURS
    for background in ("background", "code", "error_background"):
        assert contrast(ui["muted"], ui[background]) >= 4.5
        assert contrast(ui["text"], ui[background]) >= 7


@pytest.mark.parametrize(
    "path",
    [
        "lambdalab/jupyter/display.py",
        "lambdalab/jupyter/phasebar.py",
        "lambdalab/viz/timeline.py",
        "lambdalab/viz/_frames.py",
    ],
)
def test_the_cards_and_the_timeline_spell_no_colour(path):
    assert not HEX.findall((ROOT / path).read_text()), f"{path} spells a colour: take it from lambdalab.viz.colours"


def test_docs_visuals_shows_the_palette():
    """docs/VISUALS.md's tables name every colour as lambdalab.viz.colours has it."""
    text = (ROOT / "docs" / "VISUALS.md").read_text()
    documented = dict(re.findall(r"^\| `([\w ]+)` \| `(#[0-9a-f]{6})`", text, re.M))
    assert documented == {**everything(), **colours.ORIGIN_COLOURS}


def test_import_origins_have_their_own_colours():
    from lambdalab.init_profile import ORIGINS

    assert tuple(colours.ORIGIN_COLOURS) == ORIGINS
    values = list(colours.ORIGIN_COLOURS.values())
    assert len(set(values)) == len(values)
    assert not set(values) & set(everything().values())  # no phase's or outcome's colour
    assert not set(values) & set(colours.UI_COLOURS.values())
