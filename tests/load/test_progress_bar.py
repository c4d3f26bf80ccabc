"""A load run's progress bar: tqdm's on stderr (a widget in a notebook), plain text on a given stream; a run
stopped early keeps its place and says "stopped", a run that ran its course ends full."""

from __future__ import annotations

import io
import re
import sys
import threading

import pytest

from lambdalab import load
from lambdalab.load import progress
from tests.load.load_fakes import FakeFunction


def stopped_after(seconds: float) -> threading.Event:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def frames(text: str) -> list[str]:
    """What a terminal showed, one drawing per item (each redraw starts with \\r)."""
    return [frame.strip() for frame in re.split(r"[\r\n]", text) if frame.strip()]


def percent(frame: str) -> int:
    return int(re.search(r"(\d+)%", frame).group(1))


def test_text_bar_stopped_early_keeps_its_place() -> None:
    out = io.StringIO()
    report = load.run(FakeFunction(), load.Constant(100), duration_s=5, progress=out, stop=stopped_after(0.5))
    assert report.stopped
    last = frames(out.getvalue())[-1]
    assert last.endswith("stopped") and percent(last) < 30, last  # ~10%: never 100%
    assert out.getvalue().endswith("\n")


def test_text_bar_of_a_finished_timed_run_ends_full() -> None:
    out = io.StringIO()
    report = load.run(FakeFunction(), load.Constant(50), duration_s=0.5, progress=out)
    assert not report.stopped
    last = frames(out.getvalue())[-1]
    assert percent(last) == 100 and "stopped" not in last and f"load {report.summary.requests}" in last


def test_text_bar_of_a_counted_run_counts_requests() -> None:
    out = io.StringIO()
    load.run(FakeFunction(error_every=5), load.Constant(1000), count=20, progress=out)
    last = frames(out.getvalue())[-1]
    assert "load 20/20" in last and "100%" in last and "errors 4" in last


def test_default_bar_is_tqdm_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    load.run(FakeFunction(), load.Constant(1000), count=30)  # progress=True
    err = capsys.readouterr().err
    last = frames(err)[-1]
    assert last.startswith("load: 100%") and "30/30" in last and "in flight 0" in last, last

    load.run(FakeFunction(), load.Constant(100), duration_s=5, stop=stopped_after(0.5))
    last = frames(capsys.readouterr().err)[-1]
    assert last.startswith("load stopped:") and percent(last) < 30 and "/5 s" in last, last


def test_without_tqdm_the_text_bar_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # "import tqdm.auto" now raises ImportError
    bar = progress.ProgressBar(sys.stderr, 10, None)
    assert isinstance(bar.bar, progress.TextBar)


def test_a_stream_gets_the_text_bar_even_with_tqdm() -> None:
    assert isinstance(progress.ProgressBar(io.StringIO(), 10, None).bar, progress.TextBar)
