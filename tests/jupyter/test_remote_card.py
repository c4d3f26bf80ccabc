"""Result cards of invocations on AWS Lambda (``lambdalab.jupyter.remote_card``), and the code hash on this
machine's cards (``lambdalab.jupyter.display``), from real invocations.

The remote results come from ``lambdalab.aws`` through ``lambdalab.aws.StandIn`` (a local Lab's endpoint for Lambda
and CloudWatch Logs, moto's IAM on loopback); nothing leaves this machine. The HTML is read with test_cards' parser.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lambdalab
import lambdalab.jupyter
from lambdalab.jupyter import display
from lambdalab.viz.colours import OUTCOME_COLOURS
from tests.jupyter.test_cards import bars, card, fields

pytest.importorskip("moto")
pytestmark = pytest.mark.slow

GREET = (
    "def handler(event, context):\n    print('greeting', event.get('name'))\n    return {'hello': event.get('name')}\n"
)
BOOM = "def handler(event, context):\n    raise ValueError('nope')\n"
REMOTE_NUMBERS = {"Duration", "Billed Duration", "Memory Size", "Max Memory Used"}


@pytest.fixture(scope="module")
def standin() -> Iterator[Any]:
    from lambdalab.aws.standin import StandIn

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAMBDALAB_SPARES", "0")  # no spare environment left running by the stand-in's Lab
        running = StandIn(set_environ=False).start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def aws_env(standin: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The stand-in's variables for this test (restored after it)."""
    for name, value in standin.environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return standin


@pytest.fixture
def aws_lab(aws_env: Any) -> Iterator[Any]:
    with lambdalab.aws.Lab(logs_wait_s=5.0) as lab:
        yield lab


@pytest.fixture(autouse=True)
def own_scale() -> Iterator[None]:
    display.card_scale("own")
    yield
    display.card_scale("session")


def test_a_remote_cold_then_warm_card_shows_what_aws_reports(aws_lab: Any, html: Any) -> None:
    fn = aws_lab.create_function("greet", GREET, memory_mb=256)
    cold, warm = fn.invoke({"name": "Ada"}), fn.invoke({"name": "Bo"})
    assert isinstance(cold, lambdalab.aws.RemoteResult) and cold.cold and not warm.cold

    c = card(html(cold))  # the shell's formatter, registered by name: the same card as remote_result_html's
    assert c.classes == ["lambdalab-card", "lambdalab-result", "lambdalab-remote"]
    got = fields(c)
    assert set(got) == {"request", "version", *REMOTE_NUMBERS, "Init Duration"}
    assert got["request"] == cold.request_id and got["version"] == "$LATEST"
    (target,) = c.find("lambdalab-target")
    assert target.text == "on AWS Lambda (us-east-1)" and cold.target == "AWS Lambda (us-east-1)"
    assert got["Memory Size"] == "256 MB" and got["Max Memory Used"] == f"{cold.max_memory_used_mb} MB"
    assert got["Duration"] == f"{cold.duration_ms:.2f} ms" and got["Billed Duration"] == f"{cold.billed_duration_ms} ms"
    assert got["Init Duration"] == f"{cold.init_duration_ms:.2f} ms"
    assert "environment" not in got and "Latency" not in got  # not in what AWS answers
    badges = c.find("lambdalab-badge")
    assert [b.text for b in badges] == ["cold", "ok"]
    assert f"background:{OUTCOME_COLOURS['cold']}" in badges[0].attrs["style"]
    assert '"hello": "Ada"' in c.find("lambdalab-payload")[0].text
    phases = bars(c)
    assert [p for p, _w, _t in phases] == ["init", "invoke"]  # no wait before, no frozen after
    shown = re.match(r"init ([\d.]+) ms: ", phases[0][2])  # three significant figures or so
    assert shown is not None and abs(float(shown.group(1)) - cold.init_duration_ms) <= 0.51
    (key,) = c.find("lambdalab-key")
    assert "Billed Duration = Duration + Init" in key.text and "frozen" not in key.text
    (missing,) = c.find("lambdalab-not-shown")
    assert missing.text.startswith("not shown by AWS Lambda: which environment ran it")
    assert "freeze" in missing.text and "imports" in missing.text
    assert not c.find("lambdalab-init-hint")  # profile_init() is this machine's
    (log,) = c.find("lambdalab-log")
    assert log.find(tag="summary")[0].text == "log tail (the last 4 KB)"
    assert "greeting Ada" in log.text and f"REPORT RequestId: {cold.request_id}" in log.text

    w = card(display.remote_result_html(warm))
    assert [p for p, _w, _t in bars(w)] == ["invoke"]
    assert set(fields(w)) == {"request", "version", *REMOTE_NUMBERS}
    assert [b.text for b in w.find("lambdalab-badge")] == ["warm", "ok"]
    assert "Billed Duration = Duration, rounded up" in w.find("lambdalab-key")[0].text


def test_a_remote_error_card_and_a_comparison_with_this_machine(aws_lab: Any, lab: Any, html: Any) -> None:
    failed = aws_lab.create_function("boom", BOOM).invoke({})
    c = card(html(failed))
    assert [b.text for b in c.find("lambdalab-badge")] == ["cold", "ValueError"]
    assert "ValueError: nope" in c.find("lambdalab-error")[0].text
    assert "lambdalab-remote" in c.classes and c.find("lambdalab-not-shown")

    here = lab.create_function("greet", GREET).invoke({"name": "Ada"})
    there = aws_lab.create_function("greet", GREET).invoke({"name": "Ada"})
    both = display.compare(here, [there])
    remote_ms = there.init_duration_ms + there.duration_ms  # its bar: the init and the invoke, nothing before
    assert both.scale_ms == pytest.approx(max(here.record.latency_ms, remote_ms), abs=0.01)  # REPORT's 2 decimals
    local_card, remote_card = (c for c in (card(part) for part in _split(html(both))))
    assert "lambdalab-remote" not in local_card.classes and "lambdalab-remote" in remote_card.classes
    assert [p for p, _w, _t in bars(local_card)][-1] == "frozen"  # this machine's card keeps its freeze
    assert [p for p, _w, _t in bars(remote_card)] == ["init", "invoke"]
    assert "bar = " in local_card.find("lambdalab-phases")[0].text


def _split(markup: str) -> list[str]:
    """The top-level cards of a run of cards."""
    parts = markup.split("<div class='lambdalab-card ")
    return ["<div class='lambdalab-card " + part for part in parts[1:]]


def test_lambda_invoke_on_the_aws_target_shows_the_remote_card(ip: Any, aws_env: Any, html: Any) -> None:
    try:
        ip.run_cell_magic("lambda", "hello --on aws", GREET)
        result = ip.run_line_magic("lambda", 'invoke hello {"name": "Cy"}')
        assert isinstance(result, lambdalab.aws.RemoteResult)
        c = card(html(result))
        assert "lambdalab-remote" in c.classes and c.find("lambdalab-target")[0].text == "on AWS Lambda (us-east-1)"
        assert [p for p, _w, _t in bars(c)] == ["init", "invoke"]
        display.unregister(ip)  # the remote card goes with the others
        try:
            assert html(result) is None
        finally:
            display.register(ip)
        assert "lambdalab-remote" in card(html(result)).classes
    finally:
        lambdalab.jupyter.close_default_lab()  # the kernel's AWS Lab with delete=True, before the stand-in's env goes


def test_the_local_card_names_the_code_that_ran_and_a_redeploy_shows(ip: Any, html: Any) -> None:
    fn = ip.run_cell_magic("lambda", "hello", GREET)
    first = card(html(ip.run_line_magic("lambda", 'invoke hello {"name": "Ada"}')))
    assert fields(first)["code"] == fn.code_sha[:8] and len(fields(first)["code"]) == 8
    # the rest of this machine's card is as before: its freeze, the import hint, no line about AWS
    assert [p for p, _w, _t in bars(first)] == ["init", "invoke", "frozen"]
    assert first.find("lambdalab-init-hint") and not first.find("lambdalab-not-shown")
    assert "lambdalab-remote" not in first.classes
    old = fn.code_sha

    again = ip.run_cell_magic("lambda", "hello", GREET.replace("'hello'", "'hi'"))  # the cell edited and run again
    assert again.code_sha != old
    second = card(html(ip.run_line_magic("lambda", 'invoke hello {"name": "Ada"}')))
    assert fields(second)["code"] == again.code_sha[:8] != old[:8]
    assert "cold" in [b.text for b in second.find("lambdalab-badge")]  # new code: a new environment


def test_code_of_finds_the_function_in_the_given_places_and_the_card_can_leave_it_out(lab: Any) -> None:
    fn = lab.create_function("hello", GREET)
    result = fn.invoke({})
    assert display.code_of(result, [fn]) == fn.code_sha
    assert display.code_of(result, [lab]) == fn.code_sha
    assert display.code_of(result, [object(), "hello"]) == ""
    with lambdalab.Lab() as other:  # a second Lab with a function of that name: the one that ran it wins
        decoy = other.create_function("hello", "def handler(e, c):\n    return 0\n")
        decoy.invoke({})
        assert decoy.code_sha != fn.code_sha
        assert display.code_of(result, [other, lab]) == fn.code_sha
    assert fields(card(display.result_html(result, code_sha=fn.code_sha)))["code"] == fn.code_sha[:8]
    assert "code" not in fields(card(display.result_html(result, code_sha="")))


def test_a_watched_reload_shows_on_the_next_card(ip: Any, html: Any, tmp_path: Path) -> None:
    """Issue 17's watch: after an edit of a watched file, the notebook's next card names the new code."""
    pytest.importorskip("watchfiles")
    folder = tmp_path / "app"
    folder.mkdir()
    source = folder / "app.py"
    source.write_text("def handler(event, context):\n    return 'v1'\n")
    with lambdalab.Lab() as lab:
        ip.user_ns["lab"] = lab  # as a notebook holds it
        fn = lab.create_function("watched", path=folder, handler="app.handler")
        before = card(html(fn.invoke()))
        assert fields(before)["code"] == fn.code_sha[:8]
        old = fn.code_sha
        with lab.watch(fn):
            source.write_text("def handler(event, context):\n    return 'v2'\n")
            deadline = time.monotonic() + 5.0
            result = fn.invoke()
            while result.payload != "v2":
                assert time.monotonic() < deadline, "the edit was not redeployed within 5 s"
                time.sleep(0.02)
                result = fn.invoke()
            after = card(html(result))
        assert fn.code_sha != old and fields(after)["code"] == fn.code_sha[:8] != old[:8]
        assert [b.text for b in after.find("lambdalab-badge")][0] == "cold"
