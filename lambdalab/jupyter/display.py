"""Rich display for lambdalab's plain objects, attached from the outside.

``register(ipython)`` adds ``text/html`` formatters for ``InvocationResult`` and ``Function``;
the objects themselves stay plain (their ``text/plain`` is still their ``repr``, which is what a
terminal and nbval see). The cards are self-contained HTML with an inline SVG timeline, so they
need neither plotly nor a widget frontend. Their colours are ``lambdalab.viz.colours``' only.

Every card wraps: its fields (``.lambdalab-field``, a label and a value) flow in rows within
640 px. A result card's phase bar (``lambdalab.jupyter.phasebar``) draws milliseconds at a scale
that cards can share, so a cold and a warm request compare at a glance: ``result_html(result,
scale_ms=...)`` for one card, ``compare(*results)`` for several at one scale, and
``card_scale(...)`` for the cards the notebook shows (by default each is drawn at the scale of the
longest of the last ``SESSION_CARDS`` shown, so a warm card after a cold one is visibly shorter;
the bar's caption says the scale).
"""

from __future__ import annotations

import dataclasses
import html
import json
import sys
from collections.abc import Iterable
from typing import Any

from lambdalab.api import Function
from lambdalab.jupyter.phasebar import (
    BAR_PX,
    GAP_PX,
    MEANINGS,
    MIN_PHASE_PX,
    SESSION_CARDS,
    card_scale,
    result_phases,
    segments,
    timeline_svg,
    total_ms,
)
from lambdalab.results import InvocationResult
from lambdalab.viz.colours import OUTCOME_COLOURS, UI_COLOURS, text_on

__all__ = [  # the phase bar's names are lambdalab.jupyter.phasebar's, here too
    "BAR_PX",
    "GAP_PX",
    "MIN_PHASE_PX",
    "SESSION_CARDS",
    "Cards",
    "card_scale",
    "code_hash",
    "compare",
    "function_html",
    "register",
    "report_html",
    "result_html",
    "result_phases",
    "timeline_svg",
    "unregister",
]

_UI = UI_COLOURS
_SCALING_FIELDS = ("reserved_concurrency", "provisioned_concurrency", "keep_alive_s")
_STYLE = (
    f"font-family:system-ui,sans-serif;font-size:13px;border:1px solid {_UI['border']};border-radius:6px;"
    f"padding:8px 10px;margin:2px 0;max-width:640px;box-sizing:border-box;overflow-wrap:anywhere;"
    f"background:{_UI['background']};color:{_UI['text']}"
)
_FIELDS_STYLE = "display:flex;flex-wrap:wrap;gap:1px 12px;margin:3px 0;min-width:0"
_SMALL = f"font-size:11px;color:{_UI['muted']}"
_PAYLOAD_CHARS = 2000


def register(ipython: Any) -> None:
    """Render results and functions as cards in this shell (``text/plain`` is left alone)."""
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(InvocationResult, result_html)
    formatter.for_type(Function, function_html)
    formatter.for_type_by_name("lambdalab.load.report", "LoadReport", report_html)  # no import until one shows


def unregister(ipython: Any) -> None:
    formatter = ipython.display_formatter.formatters["text/html"]
    for cls in (InvocationResult, Function):
        formatter.type_printers.pop(cls, None)
    formatter.deferred_printers.pop(("lambdalab.load.report", "LoadReport"), None)
    report_module = sys.modules.get("lambdalab.load.report")
    if report_module is not None:
        formatter.type_printers.pop(report_module.LoadReport, None)


def report_html(report: Any) -> str:
    """A load report: its summary as Lambda-style text (``print(report)`` shows the same)."""
    return _card("report", _pre(str(report), _UI["code"], "summary"))


@dataclasses.dataclass(frozen=True)
class Cards:
    """Several result cards at one time scale (``compare``); displays as HTML in a notebook."""

    results: tuple[InvocationResult, ...]
    scale_ms: float

    def _repr_html_(self) -> str:
        return "".join(result_html(result, scale_ms=self.scale_ms) for result in self.results)


def compare(*results: InvocationResult | Iterable[InvocationResult], scale_ms: float | None = None) -> Cards:
    """Result cards drawn at one scale (the longest request's, or ``scale_ms``), to compare cold and warm."""
    flat: list[InvocationResult] = []
    for item in results:
        flat.extend([item] if isinstance(item, InvocationResult) else item)
    longest = max((total_ms(segments(result)) for result in flat), default=1.0)
    return Cards(tuple(flat), float(scale_ms) if scale_ms is not None else longest)


# -- invocation results ---------------------------------------------------------------------------
def result_html(result: InvocationResult, *, scale_ms: float | None = None) -> str:
    """A card: function, cold/warm and status, payload or error, the REPORT numbers, the phases, a key.

    ``scale_ms``: the milliseconds the full phase bar stands for (a longer request fills it); by
    default the notebook's shared scale (``card_scale``).
    """
    record = result.record
    badge = _badge("cold", OUTCOME_COLOURS["cold"]) if result.cold else _badge("warm", OUTCOME_COLOURS["warm"])
    status = _badge(result.error.get("errorType", "error"), OUTCOME_COLOURS["error"]) if result.error else _ok()
    head = f"<div><b>{_e(record.function)}</b> {badge} {status}</div>"
    ids = _fields([("request", record.request_id[:8]), ("environment", record.environment_id[:8])])
    return _card(
        "result",
        f"{head}{ids}{_body(result)}{_report_fields(result)}"
        f"<div style='margin-top:4px'>{timeline_svg(result, scale_ms=scale_ms)}</div>"
        f"{_key(result)}{_init_hint(result)}{_log(result)}",
    )


def _init_hint(result: InvocationResult) -> str:
    """After a cold start: the call that shows which imports the init spent its time on."""
    if not result.cold or result.init_duration_ms is None:
        return ""
    name = result.record.function
    call = f"{name}.profile_init()" if name.isidentifier() else f"lab.function({name!r}).profile_init()"
    return f"<div class='lambdalab-init-hint' style='{_SMALL}'>why is this init slow? <code>{_e(call)}</code></div>"


def _body(result: InvocationResult) -> str:
    if result.error is not None:
        error = result.error
        trace = "".join(str(line) for line in (error.get("stackTrace") or [])[-6:])
        text = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}\n{trace}".rstrip()
        return _pre(text, _UI["error_background"], "lambdalab-error")
    try:
        text = json.dumps(result.payload, indent=1, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(result.payload)
    if len(text) > _PAYLOAD_CHARS:
        text = text[:_PAYLOAD_CHARS] + f"\n… ({len(text) - _PAYLOAD_CHARS} more characters)"
    return _pre(text, _UI["code"], "lambdalab-payload")


def _report_fields(result: InvocationResult) -> str:
    cells = [
        ("Duration", f"{result.duration_ms:.2f} ms"),
        ("Billed", f"{result.billed_duration_ms} ms"),
        ("Memory", f"{result.memory_size_mb} MB"),
        ("Max used", f"{result.max_memory_used_mb} MB"),
    ]
    if result.init_duration_ms is not None:
        cells.append(("Init", f"{result.init_duration_ms:.2f} ms"))
    cells.append(("Latency", f"{result.record.latency_ms:.2f} ms"))
    return _fields(cells, "lambdalab-numbers")


def _key(result: InvocationResult) -> str:
    """One line: what the bar's rests mean, and why Billed is at least Duration (hover: the long form)."""
    record = result.record
    items = []
    if any(segment.phase == "wait" for segment in segments(result)):
        items.append(("wait", "= no environment ready yet", MEANINGS["wait"]))
    items.append(
        ("reset", "= process stopped; the next request re-inits", MEANINGS["reset"])
        if record.reset
        else ("frozen", "= paused till the next request", MEANINGS["frozen"])
    )
    if record.cold and record.init_duration_ms is not None and not record.init_suppressed:
        billed = "= Duration + Init, rounded up (init is billed since Aug 2025)"
    elif record.cold:
        billed = "= Duration (the init ran inside it), rounded up"
    else:
        billed = "= Duration, rounded up to whole ms"
    items.append(("Billed", billed, _BILLED))
    text = " · ".join(f"<span title='{_e(why)}'><b>{_e(name)}</b> {_e(what)}</span>" for name, what, why in items)
    return f"<div class='lambdalab-key' style='{_SMALL};margin-top:2px'>{text}</div>"


_BILLED = (
    "Lambda bills Duration plus, on a cold start, the Init (for on-demand functions since 1 Aug 2025), "
    "rounded up to the next millisecond (at least 1 ms)"
)


def _log(result: InvocationResult) -> str:
    """The request's log lines, START to REPORT, folded away (multi-line records shown line by line)."""
    log = result.log
    if not log:
        return ""
    try:
        from lambdalab.logtext import readable
    except ImportError:  # pragma: no cover - the text helpers ship with lambdalab
        text = log
    else:
        text = readable(log)
    return (
        f"<details class='lambdalab-log' style='{_SMALL};margin-top:2px'><summary>log</summary>"
        f"{_pre(text.rstrip(), _UI['code'], 'lambdalab-log-text')}</details>"
    )


# -- functions --------------------------------------------------------------------------------------
def function_html(fn: Function) -> str:
    """A card: runtime, memory, timeout, version and code hash, handler, environments, scaling, packages."""
    config = fn.config
    try:
        environments = fn.environments()
        frozen = sum(1 for environment in environments if environment.frozen)
        envs = f"{len(environments)} ({frozen} frozen)"
    except Exception:  # noqa: BLE001 - a closed Lab still renders its function's card
        envs = "n/a (Lab closed)"
    cells = [
        ("runtime", config.runtime),
        ("memory", f"{config.memory_mb} MB"),
        ("timeout", f"{config.timeout_s:g} s"),
        ("version", "$LATEST"),
        ("code", code_hash(fn)[:12] or "?"),
        ("handler", config.full_handler),
        ("environments", envs),
    ]
    defaults = {field.name: field.default for field in dataclasses.fields(config)}
    cells += [
        (name.replace("_", " "), str(getattr(config, name)))
        for name in _SCALING_FIELDS
        if getattr(config, name) not in (None, defaults[name])
    ]
    if config.env_vars:
        cells.append(("env vars", ", ".join(sorted(config.env_vars))))
    if not config.freeze:
        cells.append(("freeze", "off"))
    package_cells = _package_cells(config)
    packages = _fields(package_cells, "lambdalab-packages") if package_cells else ""
    head = f"<div>λ <b>{_e(fn.name)}</b> <span style='color:{_UI['muted']}'>function</span></div>"
    return _card("function", f"{head}{_fields(cells)}{packages}")


def _package_cells(config: Any) -> list[tuple[str, str]]:
    """What the function ships besides its code, and whether it sees the kernel's packages (not as on Lambda)."""
    cells = []
    if config.layers:
        cells.append(("layers", str(len(config.layers))))
    if config.requirements:
        cells.append(("requirements", str(len(config.requirements))))
    if config.inherit_packages:
        cells.append(("packages", "inherited from this kernel (differs from Lambda)"))
    return cells


def code_hash(fn: Function) -> str:
    """The sha256 of the function's current code (the name of its content-addressed folder)."""
    return fn.code_sha


# -- helpers ----------------------------------------------------------------------------------------
def _card(kind: str, inner: str) -> str:
    return f"<div class='lambdalab-card lambdalab-{kind}' style='{_STYLE}'>{inner}</div>"


def _fields(cells: list[tuple[str, str]], cls: str = "lambdalab-fields") -> str:
    """Label-value pairs that wrap: one ``.lambdalab-field`` each."""
    items = "".join(
        f"<span class='lambdalab-field' style='min-width:0;max-width:100%'>"
        f"<span style='color:{_UI['muted']}'>{_e(label)}</span> <b>{_e(value)}</b></span>"
        for label, value in cells
    )
    return f"<div class='{cls}' style='{_FIELDS_STYLE}'>{items}</div>"


def _badge(text: str, colour: str) -> str:
    return (
        f"<span class='lambdalab-badge' style='background:{colour};color:{text_on(colour)};border-radius:9px;"
        f"padding:0 7px;font-size:11px'>{_e(text)}</span>"
    )


def _ok() -> str:
    """The status of a request that did not fail: an outline, no fill (a fill colour would mean something)."""
    return (
        f"<span class='lambdalab-badge' style='border:1px solid {_UI['muted']};color:{_UI['muted']};"
        f"border-radius:9px;padding:0 6px;font-size:11px'>ok</span>"
    )


def _pre(text: str, background: str, cls: str) -> str:
    return (
        f"<pre class='{cls}' style='background:{background};margin:4px 0;padding:4px 6px;"
        f"max-height:14em;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere'>{_e(text)}</pre>"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
