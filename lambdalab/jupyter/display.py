"""Rich display for lambdalab's plain objects, attached from the outside.

``register(ipython)`` adds ``text/html`` formatters for ``InvocationResult`` and ``Function``;
the objects themselves stay plain (their ``text/plain`` is still their ``repr``, which is what a
terminal and nbval see). The cards are self-contained HTML with an inline SVG timeline, so they
need neither plotly nor a widget frontend.
"""

from __future__ import annotations

import dataclasses
import html
import json
import sys
from typing import Any

from lambdalab.api import Function
from lambdalab.results import InvocationResult
from lambdalab.viz.colours import PHASE_COLOURS

# The cards' phases the charts do not draw; the others take the charts' colours, so charts and cards agree.
_CARD_ONLY_COLOURS = {"wait": "#d0d4da", "reset": "#d9534f"}
_SCALING_FIELDS = ("reserved_concurrency", "provisioned_concurrency", "keep_alive_s")
_STYLE = (
    "font-family:system-ui,sans-serif;font-size:13px;border:1px solid #d5d9de;border-radius:6px;"
    "padding:8px 10px;margin:2px 0;max-width:640px;background:#fbfcfd;color:#1f2328"
)
_PAYLOAD_CHARS = 2000


def phase_colours() -> dict[str, str]:
    """The phase colours of the charts (``lambdalab.viz.PHASE_COLOURS``) and the cards' own phases."""
    return {**_CARD_ONLY_COLOURS, **PHASE_COLOURS}


def register(ipython: Any) -> None:
    """Render results and functions as cards in this shell (``text/plain`` is left alone)."""
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(InvocationResult, result_html)
    formatter.for_type(Function, function_html)
    formatter.for_type_by_name("lambdalab.load.report", "LoadReport", report_html)  # no import until one shows


def report_html(report: Any) -> str:
    """A load report: its summary as Lambda-style text (``print(report)`` shows the same)."""
    return (
        f"<div class='lambdalab-card lambdalab-report' style='{_STYLE}'>{_pre(str(report), '#f3f6f9', 'summary')}</div>"
    )


def unregister(ipython: Any) -> None:
    formatter = ipython.display_formatter.formatters["text/html"]
    for cls in (InvocationResult, Function):
        formatter.type_printers.pop(cls, None)
    formatter.deferred_printers.pop(("lambdalab.load.report", "LoadReport"), None)
    report_module = sys.modules.get("lambdalab.load.report")
    if report_module is not None:
        formatter.type_printers.pop(report_module.LoadReport, None)


# -- invocation results ---------------------------------------------------------------------------
def result_html(result: InvocationResult) -> str:
    """A card: function, cold/warm badge, payload or error, the REPORT numbers, a phase timeline."""
    record = result.record
    badge = _badge("cold", "#f2a33a") if result.cold else _badge("warm", "#3b9c5a")
    status = _badge(result.error.get("errorType", "error"), "#d9534f") if result.error else _badge("ok", "#6b7785")
    head = (
        f"<b>{_e(record.function)}</b> {badge} {status} "
        f"<span style='color:#6b7785'>request {_e(record.request_id[:8])} · "
        f"environment {_e(record.environment_id[:8])}</span>"
    )
    return (
        f"<div class='lambdalab-card lambdalab-result' style='{_STYLE}'>"
        f"<div>{head}</div>{_body(result)}{_report_table(result)}"
        f"<div style='margin-top:4px'>{timeline_svg(result)}</div>{_init_hint(result)}</div>"
    )


def _init_hint(result: InvocationResult) -> str:
    """After a cold start: the call that shows which imports the init spent its time on."""
    if not result.cold or result.init_duration_ms is None:
        return ""
    name = result.record.function
    call = f"{name}.profile_init()" if name.isidentifier() else f"lab.function({name!r}).profile_init()"
    return (
        f"<div class='lambdalab-init-hint' style='font-size:11px;color:#6b7785;margin-top:2px'>"
        f"why is this init slow? <code>{_e(call)}</code></div>"
    )


def _body(result: InvocationResult) -> str:
    if result.error is not None:
        error = result.error
        trace = "".join(str(line) for line in (error.get("stackTrace") or [])[-6:])
        text = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}\n{trace}".rstrip()
        return _pre(text, "#fdf0f0", "lambdalab-error")
    try:
        text = json.dumps(result.payload, indent=1, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(result.payload)
    if len(text) > _PAYLOAD_CHARS:
        text = text[:_PAYLOAD_CHARS] + f"\n… ({len(text) - _PAYLOAD_CHARS} more characters)"
    return _pre(text, "#f3f6f9", "lambdalab-payload")


def _report_table(result: InvocationResult) -> str:
    cells = [
        ("Duration", f"{result.duration_ms:.2f} ms"),
        ("Billed", f"{result.billed_duration_ms} ms"),
        ("Memory", f"{result.memory_size_mb} MB"),
        ("Max used", f"{result.max_memory_used_mb} MB"),
    ]
    if result.init_duration_ms is not None:
        cells.append(("Init", f"{result.init_duration_ms:.2f} ms"))
    cells.append(("Latency", f"{result.record.latency_ms:.2f} ms"))
    row = "".join(
        f"<td style='padding:1px 10px 1px 0;white-space:nowrap'><span style='color:#6b7785'>{k}</span> "
        f"<b>{_e(v)}</b></td>"
        for k, v in cells
    )
    return f"<table class='lambdalab-report' style='border-collapse:collapse;margin:4px 0'><tr>{row}</tr></table>"


def result_phases(result: InvocationResult) -> list[tuple[str, float, float]]:
    """This request's phases as (phase, start, end) in engine seconds: wait, init if cold, invoke.

    Built from the invocation record alone (the REPORT numbers), so it needs no Lab.
    """
    record = result.record
    invoke_start = record.end - record.duration_ms / 1000.0
    phases: list[tuple[str, float, float]] = []
    if record.cold and record.init_duration_ms is not None:
        init_s = record.init_duration_ms / 1000.0
        if record.init_suppressed:  # the init ran inside the invoke phase
            init_start, invoke_start = invoke_start, min(record.end, invoke_start + init_s)
        else:
            init_start = invoke_start - init_s
        phases.append(("init", init_start, invoke_start))
    first = phases[0][1] if phases else invoke_start
    if first - record.submitted > 0.0002:
        phases.insert(0, ("wait", record.submitted, first))
    phases.append(("invoke", invoke_start, record.end))
    return phases


def timeline_svg(result: InvocationResult, *, width: int = 420) -> str:
    """Inline SVG: the request's phases left to right, then frozen (or reset) after the response."""
    phases = result_phases(result)
    after = "reset" if result.record.reset else "frozen"
    start, end = phases[0][1], phases[-1][2]
    total = max(end - start, 1e-6)
    tail = total * 0.25
    scale = (width - 4) / (total + tail)
    colours = phase_colours()
    parts, labels = [], []
    for phase, began, ended in [*phases, (after, end, end + tail)]:
        x, width_px = 2 + (began - start) * scale, max((ended - began) * scale, 1.5)
        dash = " stroke='#ffffff' stroke-dasharray='3 2'" if phase == after else ""
        ms = "…" if phase == after else f"{(ended - began) * 1000:.1f} ms"
        parts.append(
            f"<rect class='phase-{phase}' x='{x:.1f}' y='2' width='{width_px:.1f}' height='14' "
            f"fill='{colours.get(phase, '#999')}'{dash}><title>{phase} {ms}</title></rect>"
        )
        labels.append(f"<span style='color:{colours.get(phase, '#999')}'>■</span> {phase} {ms}")
    svg = (
        f"<svg class='lambdalab-timeline' width='{width}' height='18' viewBox='0 0 {width} 18' "
        f"xmlns='http://www.w3.org/2000/svg' role='img' aria-label='phases'>{''.join(parts)}</svg>"
    )
    legend = f"<div style='font-size:11px;color:#4b5561'>{' · '.join(labels)}</div>"
    return svg + legend


# -- functions --------------------------------------------------------------------------------------
def function_html(fn: Function) -> str:
    """A card: runtime, memory, timeout, version and code hash, handler, environments."""
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
    row = "".join(
        f"<td style='padding:1px 10px 1px 0;white-space:nowrap'><span style='color:#6b7785'>{_e(k)}</span> "
        f"<b>{_e(v)}</b></td>"
        for k, v in cells
    )
    packages = " · ".join(
        f"<span style='color:#6b7785'>{_e(k)}</span> <b>{_e(v)}</b>" for k, v in _package_cells(config)
    )
    packages = f"<div class='lambdalab-packages' style='margin-top:2px'>{packages}</div>" if packages else ""
    return (
        f"<div class='lambdalab-card lambdalab-function' style='{_STYLE}'>"
        f"<div>λ <b>{_e(fn.name)}</b> <span style='color:#6b7785'>function</span></div>"
        f"<table style='border-collapse:collapse;margin-top:2px'><tr>{row}</tr></table>{packages}</div>"
    )


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
def _badge(text: str, colour: str) -> str:
    return (
        f"<span class='lambdalab-badge' style='background:{colour};color:#fff;border-radius:9px;"
        f"padding:0 7px;font-size:11px'>{_e(text)}</span>"
    )


def _pre(text: str, background: str, cls: str) -> str:
    return (
        f"<pre class='{cls}' style='background:{background};margin:4px 0;padding:4px 6px;"
        f"max-height:14em;overflow:auto;white-space:pre-wrap'>{_e(text)}</pre>"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
