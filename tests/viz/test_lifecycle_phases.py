"""The whole lifecycle drawn (issue 15): SnapStart's snapshot and restore, extension init, the time extensions take
after the response, a graceful shutdown; restored starts as their own outcome; the Telemetry view.

The tables are built from the core's own record values (PhaseSpan, InvocationRecord), as the engine builds
``lab.spans()`` and ``lab.invocations()``.
"""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

from lambdalab import viz
from lambdalab.core._value import astuple
from lambdalab.core.records import InvocationRecord, PhaseSpan, Status
from lambdalab.viz.colours import COLD_COLOUR, PHASE_COLOURS, RESTORED_COLOUR, TIMELINE_ORDER, WARM_COLOUR
from tests.viz.test_viz_figures import arr, by_name

T0 = 1_800_000_000.0
TEMPLATE, RESTORED, EXTENDED, PLAIN = ("t" * 32, "r" * 32, "e" * 32, "p" * 32)


def span(env: str, phase: str, start: float, end: float, request_id: str | None = None) -> PhaseSpan:
    version = "1" if env in (TEMPLATE, RESTORED) else "$LATEST"
    return PhaseSpan(
        environment_id=env,
        function="f",
        version=version,
        phase=phase,
        start=T0 + start,
        end=T0 + end,  # type: ignore[arg-type]
        request_id=request_id,
    )


def spans_frame(spans: list[PhaseSpan]) -> pd.DataFrame:
    """As ``lab.spans()`` makes it (lab_engine.spans)."""
    frame = pd.DataFrame([astuple(s) for s in spans], columns=list(PhaseSpan._fields))
    frame["duration_ms"] = (frame["end"] - frame["start"]) * 1000.0
    return frame.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)


def lifecycle() -> pd.DataFrame:
    """A SnapStart template (init 1 s, snapshot), an environment restored from it, one with an extension, one without.

    The extension's environment: extension init, init, an invoke, 40 ms of post-runtime, frozen, then a graceful
    shutdown (its span is the grace period); the plain one shuts down as before (SIGKILL).
    """
    return spans_frame(
        [
            span(TEMPLATE, "init", 0.0, 1.0),
            span(TEMPLATE, "snapshot", 1.0, 1.004),
            span(RESTORED, "restore", 2.0, 2.003),
            span(RESTORED, "invoke", 2.003, 2.005, "r1"),
            span(RESTORED, "frozen", 2.005, 3.0),
            span(EXTENDED, "extension_init", 2.0, 2.05),
            span(EXTENDED, "init", 2.05, 2.15),
            span(EXTENDED, "invoke", 2.15, 2.16, "r2"),
            span(EXTENDED, "post_runtime", 2.16, 2.20, "r2"),
            span(EXTENDED, "frozen", 2.20, 3.0),
            span(EXTENDED, "shutdown", 3.0, 3.3),
            span(PLAIN, "init", 2.5, 2.6),
            span(PLAIN, "invoke", 2.6, 2.61, "r3"),
            span(PLAIN, "shutdown", 3.0, 3.001),
        ]
    )


def test_every_new_phase_is_its_own_segment_in_its_own_colour_with_a_legend_entry():
    spans = lifecycle()
    traces = by_name(viz.timeline(spans, origin=T0))
    assert set(traces) == set(TIMELINE_ORDER)  # every phase a trace, always (updates only assign arrays)
    shown = {name for name, t in traces.items() if t.get("showlegend", True)}
    assert shown == {
        "init",
        "snapshot",
        "restore",
        "extension_init",
        "invoke",
        "post_runtime",
        "frozen",
        "shutdown_grace",
        "shutdown",
    }  # no idle here
    for name, trace in traces.items():
        assert trace["line"]["color"] == PHASE_COLOURS[name]
    expected = {  # phase -> (start, end) of each segment, seconds since T0
        "snapshot": [(1.0, 1.004)],
        "restore": [(2.0, 2.003)],
        "extension_init": [(2.0, 2.05)],
        "post_runtime": [(2.16, 2.20)],
        "shutdown_grace": [(3.0, 3.3)],  # the extension's environment: graceful, the grace period
        "shutdown": [(3.0, 3.001)],  # the plain one: as before
    }
    for phase, segments in expected.items():
        x = arr(traces[phase]["x"])
        assert x[0::3] == pytest.approx([s for s, _e in segments], abs=1e-4), phase
        assert (x[1::3] >= [e - 1e-4 for _s, e in segments]).all(), phase  # a short segment is drawn wider
        assert arr(traces[phase]["customdata"])[0::3] == pytest.approx([(e - s) * 1000 for s, e in segments], rel=1e-3)


def test_a_legend_of_more_phases_than_a_row_holds_gets_room_above_the_plot():
    module = importlib.import_module("lambdalab.viz.timeline")
    spans = lifecycle()
    many = viz.timeline(spans, origin=T0)  # nine phases: two legend rows
    few = viz.timeline(spans[spans["phase"].isin(["init", "invoke", "frozen"])], origin=T0)
    assert few.layout.margin.t == 70
    assert many.layout.margin.t == 70 + module.LEGEND_ROW_PX
    assert many.layout.height == few.layout.height + module.LEGEND_ROW_PX  # same rows, same room each
    fixed = viz.timeline(spans, origin=T0, height=300)
    assert fixed.layout.height == 300 and fixed.layout.margin.t == 70 + module.LEGEND_ROW_PX


def test_each_row_keeps_its_environment_and_the_legend_its_order():
    fig = viz.timeline(lifecycle(), origin=T0)
    d = fig.to_dict()
    env_of_row = dict(zip(d["layout"]["yaxis"]["tickvals"], d["layout"]["yaxis"]["ticktext"], strict=True))
    traces = by_name(fig)
    rows = {phase: {env_of_row[int(r)] for r in arr(traces[phase]["y"])[0::3]} for phase in traces}
    assert rows["snapshot"] == {"t" * 8} and rows["restore"] == {"r" * 8}
    assert rows["extension_init"] == rows["post_runtime"] == rows["shutdown_grace"] == {"e" * 8}
    assert rows["shutdown"] == {"p" * 8}
    ranks = {name: t["legendrank"] for name, t in traces.items()}
    assert sorted(ranks, key=ranks.get) == list(TIMELINE_ORDER)
    names = [t["name"] for t in d["data"]]  # drawn over the rests
    assert names.index("post_runtime") > names.index("frozen") and names.index("restore") > names.index("frozen")


def test_hover_says_what_each_new_phase_is():
    traces = by_name(viz.timeline(lifecycle(), origin=T0))
    assert traces["post_runtime"]["hovertemplate"].startswith("post-runtime: extensions after the response (billed)")
    assert traces["shutdown_grace"]["hovertemplate"].startswith("shutdown grace (SIGTERM, SHUTDOWN to extensions)")
    assert traces["extension_init"]["hovertemplate"].startswith("extension init (part of Init)")
    assert traces["restore"]["hovertemplate"].startswith("restore (SnapStart)")
    assert traces["snapshot"]["hovertemplate"].startswith("snapshot (publish)")
    assert traces["invoke"]["hovertemplate"].startswith("invoke %{customdata")  # the old phases as before


def test_without_extensions_a_shutdown_stays_a_shutdown():
    spans = lifecycle()
    plain = spans[spans["environment_id"] != EXTENDED]
    traces = by_name(viz.timeline(plain, origin=T0))
    assert len(arr(traces["shutdown_grace"]["x"])) == 0 and not traces["shutdown_grace"]["showlegend"]
    assert len(arr(traces["shutdown"]["x"])) == 3
    # a frame that already says shutdown_grace is drawn as it says
    said = plain.copy()
    said.loc[said["phase"] == "shutdown", "phase"] = "shutdown_grace"
    assert len(arr(by_name(viz.timeline(said))["shutdown_grace"]["x"])) == 3


def test_update_in_place_draws_the_new_phases():
    spans = lifecycle()
    fig = viz.timeline(spans[spans["phase"] == "init"], origin=T0)
    viz.update(fig, "timeline", spans=spans)
    shown = {t.name for t in fig.data if t.showlegend is not False}
    assert {"restore", "post_runtime", "shutdown_grace", "extension_init", "snapshot"} <= shown


def test_concurrency_counts_restores_and_extensions_as_busy():
    traces = by_name(viz.concurrency(lifecycle(), origin=T0))
    init = arr(traces["busy: init"]["y"])
    invoke = arr(traces["busy: invoke"]["y"])
    x = arr(traces["busy: init"]["x"])
    at = int(round(2.0 / (x[1] - x[0])))  # the bin from 2.0 s: the restore, the extension init, ...
    assert init[at] > 0
    assert invoke[at + 1] > 0  # 2.1-2.2 s: the extension's invoke and its post-runtime 40 ms


# ------------------------------------------------------------------------------------ restored starts
def record(
    request_id: str,
    env: str,
    *,
    cold: bool,
    submitted: float,
    latency_ms: float,
    init_ms: float | None = None,
    restore_ms: float | None = None,
) -> InvocationRecord:
    return InvocationRecord(
        request_id=request_id,
        function="f",
        version="1",
        environment_id=env,
        cold=cold,
        init_duration_ms=init_ms,
        init_suppressed=False,
        duration_ms=1.0,
        billed_duration_ms=1,
        memory_size_mb=128,
        max_memory_used_mb=40,
        status=Status.SUCCESS,
        error_type=None,
        start=T0 + submitted,
        end=T0 + submitted + latency_ms / 1000.0,
        submitted=T0 + submitted,
        restore_duration_ms=restore_ms,
        billed_restore_duration_ms=0 if restore_ms is None else int(restore_ms) + 1,
    )


def invocations_frame(records: list[InvocationRecord]) -> pd.DataFrame:
    """As ``lab.invocations()`` makes it (lab_engine.invocations)."""
    frame = pd.DataFrame([astuple(r) for r in records], columns=list(InvocationRecord._fields))
    frame["status"] = frame["status"].map(lambda s: s.value)
    frame["latency_ms"] = (frame["end"] - frame["submitted"]) * 1000.0
    return frame


def restores() -> pd.DataFrame:
    """A cold start of $LATEST (1 s init), two restored starts of version 1 (3 ms restores), two warm requests."""
    return invocations_frame(
        [
            record("c1", PLAIN, cold=True, submitted=0.0, latency_ms=1010.0, init_ms=1000.0),
            record("r1", RESTORED, cold=True, submitted=2.0, latency_ms=6.0, restore_ms=3.0),
            record("r2", TEMPLATE, cold=True, submitted=2.1, latency_ms=5.0, restore_ms=3.0),
            record("w1", RESTORED, cold=False, submitted=2.5, latency_ms=2.0),
            record("w2", PLAIN, cold=False, submitted=2.6, latency_ms=1.5),
        ]
    )


def test_a_restored_start_is_its_own_outcome_in_the_restore_colour():
    inv = restores()
    traces = by_name(viz.latency_over_time(inv, origin=T0))
    assert arr(traces["cold"]["y"]) == pytest.approx([1010.0], abs=1e-3)  # epoch seconds: µs precision
    assert arr(traces["restored"]["y"]) == pytest.approx([6.0, 5.0], abs=1e-3)
    assert arr(traces["warm"]["y"]) == pytest.approx([2.0, 1.5], abs=1e-3)
    assert traces["restored"]["marker"]["color"] == RESTORED_COLOUR == PHASE_COLOURS["restore"]
    assert traces["restored"]["showlegend"] and traces["cold"]["marker"]["color"] == COLD_COLOUR
    histogram = viz.latency_histogram(inv).to_dict()["data"]
    assert [t["name"] for t in histogram] == ["cold (1)", "warm (2)", "restored (2)"]
    assert [int(arr(t["y"]).sum()) for t in histogram] == [1, 2, 2]


def test_cold_starts_and_reuse_count_restores_apart():
    inv = restores()
    rates = by_name(viz.cold_starts(inv, origin=T0, bin_s=1.0))
    width = rates["cold"]["width"]
    counts = {name: float(arr(t["y"]).sum()) * width for name, t in rates.items()}
    assert counts == pytest.approx({"cold": 1, "warm": 2, "restored": 2, "throttled": 0})
    fig = viz.cold_starts(inv, origin=T0, bin_s=1.0)
    assert "1 cold starts and 2 restored starts of 5 requests" in fig.layout.title.subtitle.text
    reuse = viz.reuse(inv)
    traces = by_name(reuse)
    assert arr(traces["restored"]["y"]).tolist() == [0, 1, 1]  # environments by first use: PLAIN, RESTORED, TEMPLATE
    assert arr(traces["cold"]["y"]).tolist() == [1, 0, 0] and arr(traces["warm"]["y"]).tolist() == [1, 1, 0]
    assert traces["restored"]["marker"]["color"] == RESTORED_COLOUR and traces["warm"]["marker"]["color"] == WARM_COLOUR
    assert "1 cold, 2 restored, 2 warm" in reuse.layout.title.subtitle.text


def test_init_durations_leave_restores_out():
    traces = viz.init_durations(restores()).to_dict()["data"]
    assert arr(traces[0]["y"]).tolist() == [1000.0]


# --------------------------------------------------------------------------------------- Telemetry view
def done(request_id: str, ms: float) -> dict:
    return {"requestId": request_id, "status": "success", "metrics": {"durationMs": ms}}


def telemetry() -> pd.DataFrame:
    """``lab.telemetry()``'s shape: two invokes of a function with an extension, one of them held 40 ms."""
    rows = [
        (T0 + 0.00, "platform.initStart", {"initializationType": "on-demand", "phase": "init"}),
        (T0 + 0.10, "platform.start", {"requestId": "req-1", "version": "$LATEST"}),
        (T0 + 0.11, "platform.runtimeDone", done("req-1", 10.0)),
        (T0 + 0.15, "platform.report", {"requestId": "req-1", "metrics": {"durationMs": 50.0}}),
        (T0 + 1.00, "platform.start", {"requestId": "req-2", "version": "$LATEST"}),
        (T0 + 1.002, "platform.runtimeDone", done("req-2", 2.0)),
        (T0 + 1.002, "platform.report", {"requestId": "req-2", "metrics": {"durationMs": 2.0}}),
        (T0 + 1.10, "function", "a log line"),
        (T0 + 2.00, "platform.start", {"requestId": "req-3", "version": "$LATEST"}),  # still running: no runtimeDone
    ]
    return pd.DataFrame(
        [(t, kind, rec, EXTENDED, "f", "$LATEST") for t, kind, rec in rows],
        columns=["time", "type", "record", "environment_id", "function", "version"],
    )


def test_after_response_table_is_runtime_done_to_report_per_invoke():
    table = viz.after_response_table(telemetry())
    assert table["request_id"].tolist() == ["req-1", "req-2"]
    assert table["runtime_ms"].tolist() == pytest.approx([10.0, 2.0], abs=1e-3)
    assert table["after_response_ms"].tolist() == pytest.approx([40.0, 0.0], abs=1e-3)
    assert viz.after_response_table(telemetry().iloc[:0]).empty


def test_after_response_draws_the_runtime_and_the_extensions_time_stacked():
    fig = viz.after_response(telemetry())
    traces = fig.to_dict()["data"]
    assert [t["marker"]["color"] for t in traces] == [PHASE_COLOURS["invoke"], PHASE_COLOURS["post_runtime"]]
    assert arr(traces[1]["y"]) == pytest.approx([40.0, 0.0], abs=1e-3)
    assert arr(traces[0]["x"]).tolist() == [1, 2] and fig.layout.barmode == "stack"
    assert "extensions 20 ms more after the response" in fig.layout.title.subtitle.text
    empty = viz.after_response(telemetry(), function="other")
    assert "no invokes with extensions yet" in empty.layout.title.subtitle.text


# ------------------------------------------------------------------------------------------ real processes
SLOW_EXTENSION = """#!/usr/bin/env python3
import json, os, sys, time, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(path, data=None, headers=None):
    request = urllib.request.Request(f"http://{api}{path}", data=data, headers=headers or {})
    with urllib.request.urlopen(request) as answer:
        return answer.headers, answer.read()
headers, _ = call("/2020-01-01/extension/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                  {"Lambda-Extension-Name": "slow"})
me = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
while True:
    _, body = call("/2020-01-01/extension/event/next", headers=me)
    time.sleep(0.05)  # after the response: post-runtime time, billed
    if json.loads(body)["eventType"] == "SHUTDOWN":
        sys.exit(0)
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_real_extension_is_drawn_with_its_init_post_runtime_and_grace(lab, tmp_path):
    import time

    extension = tmp_path / "layer" / "extensions" / "slow"
    extension.parent.mkdir(parents=True)
    extension.write_text(SLOW_EXTENSION)
    extension.chmod(0o755)
    layer = lab.publish_layer_version("slow", tmp_path / "layer")
    fn = lab.create_function("held", "def handler(event, context):\n    return 1\n", layers=[layer.arn])
    results = [fn.invoke({}) for _ in range(2)]
    fn.kill()
    deadline = time.monotonic() + 10
    while not (lab.spans(include_open=False)["phase"] == "shutdown").any() and time.monotonic() < deadline:
        time.sleep(0.05)
    spans = lab.spans(include_open=False)
    traces = by_name(viz.timeline(spans))
    shown = {name for name, t in traces.items() if t["showlegend"]}
    assert {"extension_init", "init", "invoke", "post_runtime", "shutdown_grace"} <= shown
    assert "shutdown" not in shown  # its one shutdown was graceful
    post = arr(traces["post_runtime"]["customdata"])[0::3]
    assert len(post) == 2 and (post >= 45).all()
    assert [r.record.extension_overhead_ms >= 45 for r in results] == [True, True]
    table = viz.after_response_table(lab.telemetry())
    assert table["request_id"].tolist() == [r.request_id for r in results]
    assert (table["after_response_ms"] >= 45).all()


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_real_restore_is_drawn_as_restored(lab):
    fn = lab.create_function("snappy", "def handler(event, context):\n    return 1\n", snap_start=True)
    version = fn.publish()
    if fn.version_info(version).snapshot != "ready":
        pytest.skip("SnapStart needs the launcher, cgroup v1 and Linux 6.15 here")
    result = fn.invoke({}, qualifier=version)
    assert result.record.restore_duration_ms is not None
    traces = by_name(viz.latency_over_time(lab.invocations()))
    assert len(arr(traces["restored"]["y"])) == 1 and len(arr(traces["cold"]["y"])) == 0
    timeline = by_name(viz.timeline(lab.spans()))
    assert {"snapshot", "restore"} <= {name for name, t in timeline.items() if t["showlegend"]}
