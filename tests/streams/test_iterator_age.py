"""viz.streams.iterator_age from a batches() frame: one trace per shard, ages by batch time, failures marked."""

from __future__ import annotations

import pandas as pd

from lambdalab.viz.streams import iterator_age

COLUMNS = ["request_id", "shard_id", "first_sequence", "last_sequence", "size", "sent_at", "iterator_age_ms",
           "retries", "outcome"]  # fmt: skip


def test_one_trace_per_shard_with_failed_batches_as_crosses() -> None:
    frame = pd.DataFrame(
        [
            ["a", "shardId-000000000000", "1", "3", 3, 100.0, 12.0, 0, "success"],
            ["b", "shardId-000000000001", "4", "4", 1, 100.5, 40.0, 0, "error"],
            ["c", "shardId-000000000001", "4", "4", 1, 101.0, 540.0, 1, "success"],
        ],
        columns=COLUMNS,
    )
    figure = iterator_age(frame)
    first, second = figure.data
    assert (first.name, second.name) == ("shardId-000000000000", "shardId-000000000001")
    assert list(second.x) == [0.5, 1.0] and list(second.y) == [40.0, 540.0]
    assert list(second.marker.symbol) == ["x", "circle"]
    assert figure.layout.yaxis.title.text == "iterator age (ms)" and figure.layout.meta["lambdalab"] == "iterator_age"


def test_no_batches_yet_draws_an_empty_chart() -> None:
    figure = iterator_age(pd.DataFrame(columns=COLUMNS))
    assert len(figure.data) == 0 and figure.layout.title.text == "Iterator age by shard"
