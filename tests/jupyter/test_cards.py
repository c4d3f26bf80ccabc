"""Result and function cards (lambdalab/jupyter/display.py) from real invocations: fields, phase bar, scale, key.

The layout in a 640 px output area is checked in a real browser by tests/browser; here, what the HTML
says: every field its own ``.lambdalab-field`` in a wrapping box, bars in the palette's colours and at
least ``MIN_PHASE_PX`` wide with their true duration in the ``<title>``, one scale for cards that compare.
"""

from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass, field

import pytest

from lambdalab.jupyter import display
from lambdalab.viz.colours import OUTCOME_COLOURS, PHASE_COLOURS

pytestmark = pytest.mark.slow

OK = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"
BOOM = "def handler(event, context):\n    raise ValueError('nope')\n"
BAD_INIT = "raise RuntimeError('init broke')\n\ndef handler(event, context):\n    return 1\n"


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def find(self, cls: str | None = None, tag: str | None = None) -> list[Element]:
        out = []
        for child in self.children:
            if (cls is None or cls in child.classes) and (tag is None or child.tag == tag):
                out.append(child)
            out += child.find(cls, tag)
        return out


class _Parser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            element = self.stack.pop()
            if element.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data


def parse(markup: str) -> Element:
    parser = _Parser()
    parser.feed(markup)
    return parser.root


def card(markup: str) -> Element:
    cards = parse(markup).find("lambdalab-card")
    assert len(cards) == 1
    return cards[0]


def fields(element: Element) -> dict[str, str]:
    out = {}
    for f in element.find("lambdalab-field"):
        label, value = f.children[0].text, f.find(tag="b")[0].text
        out[label] = value
    return out


def bars(element: Element) -> list[tuple[str, float, str]]:
    """(phase, width px, title) of each rect of the card's phase bar, after checking its fill."""
    (svg,) = element.find("lambdalab-timeline", "svg")
    out = []
    for rect in svg.find(tag="rect"):
        (phase,) = [c[len("phase-") :] for c in rect.classes if c.startswith("phase-")]
        assert rect.attrs["fill"] == PHASE_COLOURS[phase]
        out.append((phase, float(rect.attrs["width"]), rect.text))
    return out


@pytest.fixture(autouse=True)
def own_scale():
    display.card_scale("own")
    yield
    display.card_scale("session")


def test_cold_and_warm_cards(lab):
    fn = lab.create_function("hello", OK)
    cold, warm = fn.invoke({"name": "Ada"}), fn.invoke({})
    c = card(display.result_html(cold))
    assert "lambdalab-result" in c.classes and not c.find(tag="table")
    assert "box-sizing:border-box" in c.attrs["style"] and "max-width:640px" in c.attrs["style"]
    got = fields(c)
    assert set(got) == {"request", "environment", "Duration", "Billed", "Memory", "Max used", "Init", "Latency"}
    assert got["Billed"] == f"{cold.billed_duration_ms} ms" and got["request"] == cold.request_id[:8]
    (badge,) = [b for b in c.find("lambdalab-badge") if b.text == "cold"]
    assert f"background:{OUTCOME_COLOURS['cold']}" in badge.attrs["style"]
    phases = bars(c)
    assert [p for p, _w, _t in phases] == ["init", "invoke", "frozen"]
    (key,) = c.find("lambdalab-key")
    assert "frozen" in key.text and "Billed = Duration + Init" in key.text and "2025" in key.text
    w = card(display.result_html(warm))
    assert [p for p, _w, _t in bars(w)] == ["invoke", "frozen"] and "Init" not in fields(w)
    assert "Billed = Duration, rounded up" in w.find("lambdalab-key")[0].text
    assert [b.text for b in w.find("lambdalab-badge")] == ["warm", "ok"]


def test_sub_millisecond_phases_have_a_minimum_width_and_their_true_duration(lab):
    fn = lab.create_function("quick", OK)
    fn.invoke({})
    warm = fn.invoke({})
    # what makes it a minimum-width phase: under MIN_PHASE_PX at this scale (53 ms at 10 s; a loaded machine's
    # warm invoke can take more than the few ms it usually does)
    assert warm.duration_ms / 10_000 * display.BAR_PX < display.MIN_PHASE_PX
    phase, width, title = bars(card(display.result_html(warm, scale_ms=10_000)))[0]
    assert phase == "invoke" and width == display.MIN_PHASE_PX
    assert re.search(r"invoke (\d+\.\d\d) ms", title).group(1) == f"{warm.duration_ms:.2f}"


def test_compare_draws_cold_and_warm_at_one_scale(lab):
    fn = lab.create_function("hello", OK)
    cold, warm = fn.invoke({}), fn.invoke({})
    both = parse(display.compare(cold, warm)._repr_html_()).find("lambdalab-card")
    assert len(both) == 2
    cold_px = sum(w for p, w, _t in bars(both[0]) if p != "frozen")
    warm_px = sum(w for p, w, _t in bars(both[1]) if p != "frozen")
    assert warm_px < cold_px / 5  # at their own scales both would fill the bar
    own = [sum(w for p, w, _t in bars(card(display.result_html(r))) if p != "frozen") for r in (cold, warm)]
    assert min(own) > 0.85 * display.BAR_PX  # each at its own scale fills its bar
    scale_text = both[1].find("lambdalab-phases")[0].text
    scale_ms = float(re.search(r"bar = ([\d.]+) ms", scale_text).group(1))
    assert scale_ms == pytest.approx(cold.record.latency_ms, rel=0.05)  # the cold request's length: the common scale


def test_session_scale_keeps_the_longest_recent_card(lab):
    fn = lab.create_function("hello", OK)
    cold, warm = fn.invoke({}), fn.invoke({})
    display.card_scale("session")
    first = bars(card(display.result_html(cold)))
    second = bars(card(display.result_html(warm)))
    assert sum(w for p, w, _ in second if p != "frozen") < sum(w for p, w, _ in first if p != "frozen") / 5
    display.card_scale(60_000.0)  # a minute fills the bar: a warm invoke (under 321 ms) is drawn at the minimum
    (invoke, _frozen) = bars(card(display.result_html(warm)))
    assert invoke[1] == display.MIN_PHASE_PX
    with pytest.raises(ValueError, match="invalid scale"):
        display.card_scale("wide")


def test_error_card_shows_the_log_readably(lab):
    fn = lab.create_function("boom", BOOM)
    result = fn.invoke({})
    c = card(display.result_html(result))
    (badge,) = [b for b in c.find("lambdalab-badge") if b.text == "ValueError"]
    assert f"background:{OUTCOME_COLOURS['error']}" in badge.attrs["style"]
    assert "\r" in result.log  # Lambda's [ERROR] record: lines separated by \r
    (log,) = c.find("lambdalab-log-text")
    assert "\r" not in log.text and "[ERROR] ValueError: nope\n" in log.text
    assert "\n    Traceback (most recent call last):" in log.text  # the record's next line, on its own line


def test_init_failure_card_labels_the_failed_init_and_the_reset(lab):
    fn = lab.create_function("bad", BAD_INIT)
    first, second = fn.invoke({}), fn.invoke({})
    assert first.error is not None and first.record.reset
    c = card(display.result_html(first))
    phases = bars(c)
    assert [p for p, _w, _t in phases] == ["init", "init", "shutdown"]  # failed init, init again in invoke, reset
    assert phases[0][2].startswith("init failed") and "inside the invoke" in phases[0][2]
    assert phases[1][2].startswith("init in invoke")
    assert phases[2][2].startswith("reset")
    key = c.find("lambdalab-key")[0].text
    assert "reset" in key and "wait" not in key and "Billed = Duration (the init ran inside it)" in key
    again = [p for p, _w, _t in bars(card(display.result_html(second)))]
    assert again == ["init", "shutdown"]  # a reset environment re-inits inside the invoke: nothing before


def test_function_card_shows_every_field_as_its_own_element(lab):
    fn = lab.create_function(
        "capped", OK, reserved_concurrency=2, env_vars={"A_RATHER_LONG_VARIABLE_NAME": "1", "BB": "2"}, freeze=False
    )
    fn.invoke({})
    c = card(display.function_html(fn))
    assert "lambdalab-function" in c.classes and not c.find(tag="table")
    (box,) = c.find("lambdalab-fields")
    assert "flex-wrap:wrap" in box.attrs["style"]
    got = fields(c)
    assert got["reserved concurrency"] == "2" and got["environments"] == "1 (0 frozen)" and got["freeze"] == "off"
    assert got["env vars"] == "A_RATHER_LONG_VARIABLE_NAME, BB" and got["memory"] == "128 MB"
    assert len(c.find("lambdalab-field")) == len(got) == 10


def test_report_card_wraps_its_text():
    class Report:
        def __str__(self) -> str:
            return "x" * 500

    c = card(display.report_html(Report()))
    assert "lambdalab-report" in c.classes
    assert "white-space:pre-wrap" in c.find(tag="pre")[0].attrs["style"]


CHROMIUM = "/usr/bin/chromium"
GEOMETRY_JS = """() => [...document.querySelectorAll('.lambdalab-card')].map(card => {
    const c = card.getBoundingClientRect();
    const outside = [...card.querySelectorAll('.lambdalab-field')].filter(f => {
        const r = f.getBoundingClientRect();
        return r.left < c.left - 0.5 || r.right > c.right + 0.5 || r.top < c.top || r.bottom > c.bottom;
    }).map(f => f.textContent);
    const key = card.querySelector('.lambdalab-key');
    return {kind: card.className, scroll: card.scrollWidth, client: card.clientWidth, outside,
            fields: card.querySelectorAll('.lambdalab-field').length,
            key_height: key ? key.getBoundingClientRect().height : 0,
            key_font: key ? parseFloat(getComputedStyle(key).fontSize) : 0,
            width: c.width};
})"""


def test_cards_fit_a_640_px_output_area_in_a_browser(lab, tmp_path):
    """Chromium lays the cards out in 640 px: nothing scrolls sideways, every field lies inside its card."""
    import os

    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("no Chromium at /usr/bin/chromium")
    fn = lab.create_function(
        "a_function_with_a_rather_long_name",
        OK,
        reserved_concurrency=2,
        provisioned_concurrency=0,
        keep_alive_s=30,
        env_vars={f"VARIABLE_NUMBER_{i}": "x" for i in range(12)},
        freeze=False,
    )
    results = [fn.invoke({"name": "x" * 300}), fn.invoke({})]
    results.append(lab.create_function("boom", BOOM).invoke({}))
    results.append(lab.create_function("bad", BAD_INIT).invoke({}))
    cards = display.function_html(fn) + "".join(display.result_html(r) for r in results)
    page_file = tmp_path / "cards.html"
    page_file.write_text(f"<html><body style='margin:0'><div style='width:640px'>{cards}</div></body></html>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1000})
            page.goto(page_file.as_uri(), timeout=30_000)
            shown = page.evaluate(GEOMETRY_JS)
        finally:
            browser.close()
    assert len(shown) == 5
    for one in shown:
        assert one["scroll"] <= one["client"] + 1, one
        assert not one["outside"], one
        assert one["fields"] >= 7 and one["width"] <= 640
        if "lambdalab-result" in one["kind"]:
            assert 0 < one["key_height"] < 2 * one["key_font"], one  # the key is one line (two would be 2.4 em)
