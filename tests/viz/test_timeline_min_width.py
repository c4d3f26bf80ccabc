"""The timeline as a reader sees it: no segment under MIN_SEGMENT_PX, the legend lists what is drawn, rows close.

Geometry is checked the way plotly.js lays a lines-only figure out: the x axis spans the drawn data
exactly (no padding for lines), over the plot area (the figure's width less its margins).
"""

from __future__ import annotations

import base64
import importlib

import numpy as np
import pandas as pd
import pytest

from lambdalab import viz
from lambdalab.viz.colours import PHASE_COLOURS, TIMELINE_ORDER

timeline_module = importlib.import_module("lambdalab.viz.timeline")  # the package exports the function
T0 = 1_800_000_000.0
MARGIN = 70 + 20  # base_layout's left and right margins


def frame(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["environment_id", "phase", "start", "end"])
    df["environment_id"] = df["environment_id"].map(lambda e: e * 32)
    df.insert(1, "function", "f")
    df["start"] += T0
    df["end"] += T0
    df["duration_ms"] = (df["end"] - df["start"]) * 1000
    return df


def sub_ms() -> pd.DataFrame:
    """A: a cold start, then two warm invokes of 0.3 ms and 0.05 ms in 2 s of frozen; B: init then invoke only."""
    return frame(
        [
            ("A", "init", 0.000, 0.080),
            ("A", "invoke", 0.080, 0.0803),
            ("A", "frozen", 0.0803, 1.0),
            ("A", "invoke", 1.0, 1.00005),
            ("A", "frozen", 1.00005, 2.0),
            ("B", "init", 0.5, 0.6),
            ("B", "invoke", 0.6, 0.61),
        ]
    )


def arr(value) -> np.ndarray:
    """A to_dict() array: plotly sends numpy arrays as {"dtype", "bdata"}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
    return np.asarray(value if value is not None else [], dtype=float)


def traces(fig) -> dict[str, dict]:
    return {t["name"]: t for t in fig.to_dict()["data"]}


def segments_px(fig, plot_px: float) -> dict[str, list[tuple[float, float]]]:
    """Per phase: (drawn px, customdata ms) of each segment, on an x axis spanning all the drawn data."""
    data = traces(fig)
    xs = np.concatenate([arr(t["x"]) for t in data.values()])
    lo, hi = np.nanmin(xs), np.nanmax(xs)
    out = {}
    for name, t in data.items():
        x = arr(t["x"])
        custom = arr(t["customdata"]) if t.get("customdata") is not None else np.zeros(len(x))
        out[name] = [((x[i + 1] - x[i]) / (hi - lo) * plot_px, custom[i]) for i in range(0, len(x), 3)]
    return out


@pytest.mark.parametrize("width", [None, 640, 1200])
def test_every_segment_is_at_least_min_segment_px_wide(width):
    fig = viz.timeline(sub_ms(), width=width)
    plot_px = (width - MARGIN) if width else timeline_module.MIN_PLOT_PX
    drawn = segments_px(fig, plot_px)
    assert len(drawn["invoke"]) == 3
    for phase, segments in drawn.items():
        for px, _ms in segments:
            assert px >= timeline_module.MIN_SEGMENT_PX, (phase, px)
    # the hover keeps the true durations
    assert [round(ms, 3) for _px, ms in drawn["invoke"]] == [0.3, 0.05, 10.0]
    if width is not None:
        assert fig.layout.width == width


def test_only_short_segments_are_widened():
    spans = sub_ms()
    fig = viz.timeline(spans)
    x = arr(traces(fig)["init"]["x"])
    assert x[1::3] == pytest.approx((spans[spans.phase == "init"]["end"] - T0).to_numpy())  # long: untouched
    invoke = arr(traces(fig)["invoke"]["x"])
    assert invoke[0::3] == pytest.approx((spans[spans.phase == "invoke"]["start"] - T0).to_numpy())  # starts stay
    assert invoke[1] > 0.0803  # 0.3 ms: widened to the right


def test_wider_figures_widen_less():
    narrow = arr(traces(viz.timeline(sub_ms(), width=640))["invoke"]["x"])
    wide = arr(traces(viz.timeline(sub_ms(), width=1600))["invoke"]["x"])
    assert wide[1] - wide[0] < narrow[1] - narrow[0]


def test_short_phases_are_drawn_over_the_rests():
    names = [t["name"] for t in viz.timeline(sub_ms()).to_dict()["data"]]
    assert names.index("invoke") > names.index("frozen") and names.index("init") > names.index("idle")
    ranks = {t["name"]: t["legendrank"] for t in viz.timeline(sub_ms()).to_dict()["data"]}
    assert sorted(ranks, key=ranks.get) == list(TIMELINE_ORDER)  # the legend keeps the phases' order


def test_the_legend_lists_exactly_the_phases_drawn_in_the_palette():
    data = traces(viz.timeline(sub_ms()))
    shown = {name for name, t in data.items() if t.get("showlegend", True)}
    assert shown == {"init", "invoke", "frozen"}  # no idle, no shutdown in these spans
    for name, t in data.items():
        assert t["line"]["color"] == PHASE_COLOURS[name]
    empty = traces(viz.timeline(sub_ms().iloc[:0]))
    assert not any(t.get("showlegend", True) for t in empty.values())


def test_update_keeps_the_legend_to_what_is_drawn():
    spans = sub_ms()
    fig = viz.timeline(spans[spans.phase == "init"])
    viz.update(fig, "timeline", spans=spans)
    shown = {t.name for t in fig.data if t.showlegend is not False}
    assert shown == {"init", "invoke", "frozen"}


def test_since_gives_rows_only_to_environments_with_a_span_after_it():
    spans = frame(
        [
            ("A", "init", 0.0, 0.1),
            ("A", "invoke", 0.1, 0.2),
            ("A", "shutdown", 0.2, 0.25),  # A is gone before the window
            ("B", "init", 0.1, 0.2),
            ("B", "frozen", 0.2, 1.0),  # B rests into it
            ("C", "init", 0.6, 0.7),
            ("C", "invoke", 0.7, 0.8),
        ]
    )
    fig = viz.timeline(spans, since=T0 + 0.5, origin=T0)
    assert list(fig.layout.yaxis.ticktext) == ["B" * 8, "C" * 8]
    frozen = arr(traces(fig)["frozen"]["x"])
    assert frozen[0] == pytest.approx(0.5)  # cut to start at the window
    rows = {float(r) for t in traces(fig).values() for r in arr(t["y"])[0::3]}
    assert rows == {0.0, 1.0}
    everything = viz.timeline(spans, origin=T0)
    assert len(everything.layout.yaxis.ticktext) == 3


@pytest.mark.parametrize("rows", [1, 2, 6, 30, 200])
def test_rows_sit_close_and_fit(rows):
    spans = frame([(f"{i:04d}", "invoke", i * 0.01, i * 0.01 + 0.5) for i in range(rows)])
    spans["environment_id"] = [f"{i:032d}" for i in range(rows)]
    fig = viz.timeline(spans)
    height, thickness = fig.layout.height, traces(fig)["invoke"]["line"]["width"]
    pitch = (height - 70 - 50) / max(rows, 2)  # plot height over the rows (one row gets the room of two)
    assert height <= timeline_module.MAX_HEIGHT
    assert pitch <= timeline_module.ROW_PX + 0.01  # no big gaps: at most ROW_PX per row
    assert thickness <= 0.75 * pitch or thickness == 1  # and still a visible gap between rows
    assert list(fig.layout.yaxis.range) == [max(rows, 1) - 0.5, -0.5]  # first row on top, no padding rows


@pytest.mark.slow
def test_a_real_warm_invoke_is_drawn_at_least_two_pixels_wide(lab):
    fn = lab.create_function("quick", "def handler(event, context):\n    return 1\n")
    for _ in range(5):
        fn.invoke({})
    spans = lab.spans()
    invokes = spans[spans.phase == "invoke"]
    assert (invokes["duration_ms"] < 50).all()
    fig = viz.timeline(spans, width=800)
    drawn = segments_px(fig, 800 - MARGIN)
    assert len(drawn["invoke"]) == 5
    assert min(px for px, _ms in drawn["invoke"]) >= timeline_module.MIN_SEGMENT_PX
    assert sorted(ms for _px, ms in drawn["invoke"]) == pytest.approx(sorted(invokes["duration_ms"]), rel=1e-3)


def test_a_fixed_x_range_sets_the_minimum_width():
    """A panel's charts share one axis (x_range, seconds since the origin): the minimum is reckoned on it."""
    spans = sub_ms()
    traces_, _layout = timeline_module.parts_timeline(spans, None, origin=T0, width=640, x_range=(0.0, 20.0))
    invoke = next(t for t in traces_ if t["name"] == "invoke")
    x = np.asarray(invoke["x"], dtype=float)
    px = (x[1::3] - x[0::3]) / 20.0 * (640 - MARGIN)
    assert px.min() >= timeline_module.MIN_SEGMENT_PX
    fitted, _ = timeline_module.parts_timeline(spans, None, origin=T0, width=640)
    data_only = next(t for t in fitted if t["name"] == "invoke")
    assert (x[1] - x[0]) > (data_only["x"][1] - data_only["x"][0]) * 5  # 20 s of axis, not the data's 2 s


@pytest.mark.parametrize("rows", [2, 40, 200])
def test_a_fixed_height_fits_the_bars_to_its_rows(rows):
    spans = frame([("A", "invoke", i * 0.01, i * 0.01 + 0.5) for i in range(rows)])
    spans["environment_id"] = [f"{i:032d}" for i in range(rows)]
    fig = viz.timeline(spans, height=300)
    pitch = (300 - 70 - 50) / max(rows, 2)
    thickness = traces(fig)["invoke"]["line"]["width"]
    assert fig.layout.height == 300
    assert thickness <= max(0.75 * pitch, 1.0)  # bars do not run into each other (1 px at the least)


def test_render_passes_a_panels_x_range_to_the_timeline():
    """A panel's shared axis (render's x_range, what viz.update gets) reaches the timeline: it widens to that range."""
    from lambdalab.viz import render

    fig = render.render(timeline_module.parts_timeline, spans=sub_ms(), origin=T0, width=640, x_range=(0.0, 20.0))
    layout_range = fig.layout.xaxis.range
    assert list(layout_range) == [0.0, 20.0]
    x = arr(traces(fig)["invoke"]["x"])
    px = (x[1::3] - x[0::3]) / 20.0 * (640 - MARGIN)
    assert px.min() >= timeline_module.MIN_SEGMENT_PX
