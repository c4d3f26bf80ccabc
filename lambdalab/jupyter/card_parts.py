"""The HTML every lambdalab card is made of: the card's box, label-value fields that wrap, badges, a payload or
an error, the folded log, and the billing key.

Shared by the cards of this machine's results and functions (``lambdalab.jupyter.display``) and of results on AWS
Lambda (``lambdalab.jupyter.remote_card``), so they look alike. Colours come from ``lambdalab.viz.colours`` only.
"""

from __future__ import annotations

import html
import json
from typing import Any

from lambdalab.viz.colours import OUTCOME_COLOURS, UI_COLOURS, text_on

__all__ = [
    "BILLED",
    "SMALL",
    "UI",
    "badge",
    "billed_item",
    "body",
    "card",
    "escape",
    "fields",
    "head",
    "key_line",
    "log_details",
    "ok_badge",
    "pre",
]

UI = UI_COLOURS
STYLE = (
    f"font-family:system-ui,sans-serif;font-size:13px;border:1px solid {UI['border']};border-radius:6px;"
    f"padding:8px 10px;margin:2px 0;max-width:640px;box-sizing:border-box;overflow-wrap:anywhere;"
    f"background:{UI['background']};color:{UI['text']}"
)
FIELDS_STYLE = "display:flex;flex-wrap:wrap;gap:1px 12px;margin:3px 0;min-width:0"
SMALL = f"font-size:11px;color:{UI['muted']}"
PAYLOAD_CHARS = 2000
BILLED = (
    "Lambda bills Duration plus, on a cold start, the Init (for on-demand functions since 1 Aug 2025), "
    "rounded up to the next millisecond (at least 1 ms)"
)
MANAGED_BILLED = (
    "Lambda Managed Instances bills no duration: the EC2 instances the environments run on, for as long as they run, "
    "Lambda's 15 % management fee on them, and $0.20 per million requests (Billed Duration is shown for comparison)"
)


def card(kind: str, inner: str) -> str:
    """The card's box: ``div.lambdalab-card.lambdalab-<kind>``."""
    return f"<div class='lambdalab-card lambdalab-{kind}' style='{STYLE}'>{inner}</div>"


def fields(cells: list[tuple[str, str]], cls: str = "lambdalab-fields") -> str:
    """Label-value pairs that wrap: one ``.lambdalab-field`` each."""
    items = "".join(
        f"<span class='lambdalab-field' style='min-width:0;max-width:100%'>"
        f"<span style='color:{UI['muted']}'>{escape(label)}</span> <b>{escape(value)}</b></span>"
        for label, value in cells
    )
    return f"<div class='{cls}' style='{FIELDS_STYLE}'>{items}</div>"


def badge(text: str, colour: str) -> str:
    return (
        f"<span class='lambdalab-badge' style='background:{colour};color:{text_on(colour)};border-radius:9px;"
        f"padding:0 7px;font-size:11px'>{escape(text)}</span>"
    )


def ok_badge() -> str:
    """The status of a request that did not fail: an outline, no fill (a fill colour would mean something)."""
    return (
        f"<span class='lambdalab-badge' style='border:1px solid {UI['muted']};color:{UI['muted']};"
        f"border-radius:9px;padding:0 6px;font-size:11px'>ok</span>"
    )


def head(result: Any, extra: str = "") -> str:
    """The first line: the function, a restored, cold or warm badge, ok or the error type (then ``extra``, HTML)."""
    record = result.record
    if getattr(record, "restore_duration_ms", None) is not None:  # SnapStart: a snapshot's restore, not an init
        kind = badge("restored", OUTCOME_COLOURS["restored"])
    else:
        kind = badge("cold", OUTCOME_COLOURS["cold"]) if result.cold else badge("warm", OUTCOME_COLOURS["warm"])
    status = badge(result.error.get("errorType", "error"), OUTCOME_COLOURS["error"]) if result.error else ok_badge()
    return f"<div><b>{escape(record.function)}</b> {kind} {status}{extra}</div>"


def body(result: Any) -> str:
    """The payload as JSON (cut after ``PAYLOAD_CHARS``), or the error and the end of its stack trace."""
    if result.error is not None:
        error = result.error
        trace = "".join(str(line) for line in (error.get("stackTrace") or [])[-6:])
        text = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}\n{trace}".rstrip()
        return pre(text, UI["error_background"], "lambdalab-error")
    try:
        text = json.dumps(result.payload, indent=1, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(result.payload)
    if len(text) > PAYLOAD_CHARS:
        text = text[:PAYLOAD_CHARS] + f"\n… ({len(text) - PAYLOAD_CHARS} more characters)"
    return pre(text, UI["code"], "lambdalab-payload")


def billed_item(record: Any, managed: bool = False) -> tuple[str, str, str]:
    """The key's item for Billed: why it is at least Duration (the init on a cold start, since Aug 2025); for a
    Managed Instances function (``managed``) that Lambda bills its instances, not durations."""
    if managed:
        return ("Billed", "no duration charge: instances + 15 % fee + requests", MANAGED_BILLED)
    if getattr(record, "restore_duration_ms", None) is not None:  # SnapStart (an AWS record may lack the field)
        billed = "= Duration, rounded up; Billed Restore Duration (after-restore hooks) is billed on top"
    elif record.cold and record.init_duration_ms is not None and not record.init_suppressed:
        billed = "= Duration + Init, rounded up (init is billed since Aug 2025)"
    elif record.cold:
        billed = "= Duration (the init ran inside it), rounded up"
    else:
        billed = "= Duration, rounded up to whole ms"
    return ("Billed", billed, BILLED)


def key_line(items: list[tuple[str, str, str]]) -> str:
    """One line of (name, what it means, the long form on hover), joined by dots."""
    text = " · ".join(
        f"<span title='{escape(why)}'><b>{escape(name)}</b> {escape(what)}</span>" for name, what, why in items
    )
    return f"<div class='lambdalab-key' style='{SMALL};margin-top:2px'>{text}</div>"


def log_details(log: str, summary: str = "log") -> str:
    """The request's log lines, folded away under ``summary`` (multi-line records shown line by line); "" without
    a log."""
    if not log:
        return ""
    try:
        from lambdalab.logtext import readable
    except ImportError:  # pragma: no cover - the text helpers ship with lambdalab
        text = log
    else:
        text = readable(log)
    return (
        f"<details class='lambdalab-log' style='{SMALL};margin-top:2px'><summary>{escape(summary)}</summary>"
        f"{pre(text.rstrip(), UI['code'], 'lambdalab-log-text')}</details>"
    )


def pre(text: str, background: str, cls: str) -> str:
    return (
        f"<pre class='{cls}' style='background:{background};margin:4px 0;padding:4px 6px;"
        f"max-height:14em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere'>{escape(text)}</pre>"
    )


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)
