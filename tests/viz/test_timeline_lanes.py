"""The timeline's worker lanes: a Managed Instances environment's overlapping invocations side by side in its row."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from lambdalab import viz

T0 = 1_800_000_000.0


def frame(rows: list[tuple[str, int, str, float, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["environment_id", "worker", "phase", "start", "end"])
    df["environment_id"] = df["environment_id"].map(lambda e: e * 32)
    df.insert(1, "function", "f")
    df["start"] += T0
    df["end"] += T0
    df["duration_ms"] = (df["end"] - df["start"]) * 1000
    return df


def arr(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
        shape = value.get("shape")
        return data.reshape([int(n) for n in str(shape).split(",")]) if shape else data
    return np.asarray(value if value is not None else [], dtype=float)


def traces(fig) -> dict[str, dict]:
    return {t["name"]: t for t in fig.to_dict()["data"]}


def lmi() -> pd.DataFrame:
    """Environment A: 2 workers, their invokes overlap; B: a classic environment (worker 0 only)."""
    return frame(
        [
            ("A", 0, "init", 0.0, 0.1),
            ("A", 1, "init", 0.0, 0.12),
            ("A", 0, "invoke", 0.1, 0.6),
            ("A", 1, "invoke", 0.12, 0.62),
            ("A", 0, "idle", 0.6, 1.0),
            ("A", 1, "idle", 0.62, 1.0),
            ("B", 0, "init", 0.2, 0.3),
            ("B", 0, "invoke", 0.3, 0.8),
        ]
    )


def test_overlapping_invocations_of_one_environment_are_drawn_in_worker_lanes() -> None:
    fig = viz.timeline(lmi())
    invoke = traces(fig)["invoke"]
    y = arr(invoke["y"])
    points = y[~np.isnan(y)]
    # A is row 0 (first start): its two workers' invokes lie in two lanes inside the row, apart; B sits on row 1
    lanes_a = sorted(set(np.round(points[points < 0.5], 3)))
    assert len(lanes_a) == 2
    assert all(-0.5 < lane < 0.5 for lane in lanes_a)
    assert lanes_a[1] - lanes_a[0] > 0.3
    assert 1.0 in set(np.round(points, 3))
    # the lines thin to fit two lanes a row; the hover says which worker
    classic = viz.timeline(lmi().assign(worker=0))
    assert traces(fig)["invoke"]["line"]["width"] < traces(classic)["invoke"]["line"]["width"]
    assert "worker %{customdata[1]" in invoke["hovertemplate"]
    custom = arr(invoke["customdata"])
    assert custom.shape[1] == 2
    workers = custom[:, 1][~np.isnan(custom[:, 1])]
    assert sorted(set(workers.tolist())) == [0.0, 1.0]
    durations = custom[:, 0][~np.isnan(custom[:, 0])]
    assert np.allclose(sorted(set(np.round(durations, 1))), [500.0])


def test_classic_spans_keep_one_line_a_row() -> None:
    """Without a worker column, or with every worker 0, rows are whole numbers and the hover names the row."""
    for spans in (lmi().drop(columns="worker"), lmi().assign(worker=0)):
        invoke = traces(viz.timeline(spans))["invoke"]
        y = arr(invoke["y"])
        assert set(y[~np.isnan(y)].tolist()) == {0.0, 1.0}
        assert "environment #%{y}" in invoke["hovertemplate"]


def test_lanes_survive_merging_of_close_segments() -> None:
    """Above ``merge_above`` a lane's close segments join; each keeps its own lane and worker."""
    rows = []
    for i in range(50):
        for worker in (0, 1, 2):
            rows.append(("A", worker, "invoke", i * 0.01, i * 0.01 + 0.009))
    fig = viz.timeline(frame(rows), merge_above=10)
    invoke = traces(fig)["invoke"]
    y = arr(invoke["y"])
    assert len(set(np.round(y[~np.isnan(y)], 3))) == 3
    custom = arr(invoke["customdata"])
    assert sorted(set(custom[:, 1][~np.isnan(custom[:, 1])].tolist())) == [0.0, 1.0, 2.0]
