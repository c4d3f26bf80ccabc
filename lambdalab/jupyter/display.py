"""Rich display for lambdalab's plain objects, attached from the outside.

``register(ipython)`` adds ``text/html`` formatters for ``InvocationResult`` and ``Function`` (and, by name, for
a load report and for ``lambdalab.aws.results.RemoteResult``, imported only when one shows); the objects
themselves stay plain (their ``text/plain`` is still their ``repr``, which is what a terminal and nbval see). The
cards are self-contained HTML with an inline SVG timeline, so they need neither plotly nor a widget frontend.
Their pieces are ``lambdalab.jupyter.card_parts``'; their colours ``lambdalab.viz.colours``' only.

Every card wraps: its fields (``.lambdalab-field``, a label and a value) flow in rows within
640 px. A result card's phase bar (``lambdalab.jupyter.phasebar``) draws milliseconds at a scale
that cards can share, so a cold and a warm request compare at a glance: ``result_html(result,
scale_ms=...)`` for one card, ``compare(*results)`` for several at one scale, and
``card_scale(...)`` for the cards the notebook shows (by default each is drawn at the scale of the
longest of the last ``SESSION_CARDS`` shown, so a warm card after a cold one is visibly shorter;
the bar's caption says the scale). A result card names the code that ran (``code``: the first 8 characters of
its version's code hash), so a redeploy (an edited cell, a watched file) shows on the next card. A result from
AWS Lambda gets ``lambdalab.jupyter.remote_card``'s card: only what AWS reports.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from typing import Any

from lambdalab.api import Function, Lab
from lambdalab.jupyter.card_parts import (
    SMALL,
    UI,
    billed_item,
    body,
    card,
    escape,
    fields,
    head,
    key_line,
    log_details,
    pre,
)
from lambdalab.jupyter.phasebar import (
    BAR_PX,
    GAP_PX,
    MEANINGS,
    MIN_PHASE_PX,
    SESSION_CARDS,
    ResultLike,
    card_scale,
    result_phases,
    segments,
    timeline_svg,
    total_ms,
)
from lambdalab.jupyter.remote_card import REMOTE_RESULT, is_remote, remote_result_html
from lambdalab.results import InvocationResult

__all__ = [  # the phase bar's names are lambdalab.jupyter.phasebar's, here too
    "BAR_PX",
    "GAP_PX",
    "MIN_PHASE_PX",
    "SESSION_CARDS",
    "Cards",
    "card_scale",
    "code_hash",
    "code_of",
    "compare",
    "function_html",
    "register",
    "remote_result_html",
    "report_html",
    "result_html",
    "result_phases",
    "timeline_svg",
    "unregister",
]

_SCALING_FIELDS = ("reserved_concurrency", "provisioned_concurrency", "keep_alive_s")
_DEFERRED = (("lambdalab.load.report", "LoadReport"), REMOTE_RESULT)  # formatters by name: no import until one shows


def register(ipython: Any) -> None:
    """Render results and functions as cards in this shell (``text/plain`` is left alone)."""
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(InvocationResult, result_html)
    formatter.for_type(Function, function_html)
    formatter.for_type_by_name(*_DEFERRED[0], report_html)
    formatter.for_type_by_name(*REMOTE_RESULT, remote_result_html)


def unregister(ipython: Any) -> None:
    formatter = ipython.display_formatter.formatters["text/html"]
    for cls in (InvocationResult, Function):
        formatter.type_printers.pop(cls, None)
    for module_name, name in _DEFERRED:
        formatter.deferred_printers.pop((module_name, name), None)
        module = sys.modules.get(module_name)
        if module is not None:
            formatter.type_printers.pop(getattr(module, name), None)


def report_html(report: Any) -> str:
    """A load report: its summary as Lambda-style text (``print(report)`` shows the same)."""
    return card("report", pre(str(report), UI["code"], "summary"))


@dataclasses.dataclass(frozen=True)
class Cards:
    """Several result cards at one time scale (``compare``); displays as HTML in a notebook.

    Results from AWS Lambda (``RemoteResult``) take their own card, at the same scale."""

    results: tuple[Any, ...]
    scale_ms: float

    def _repr_html_(self) -> str:
        return "".join(
            remote_result_html(result, scale_ms=self.scale_ms)
            if is_remote(result)
            else result_html(result, scale_ms=self.scale_ms)
            for result in self.results
        )


def compare(*results: ResultLike | Iterable[ResultLike], scale_ms: float | None = None) -> Cards:
    """Result cards drawn at one scale (the longest request's, or ``scale_ms``), to compare cold and warm
    (or this machine and AWS Lambda)."""
    flat: list[Any] = []
    for item in results:
        flat.extend([item] if hasattr(item, "record") else item)
    longest = max((total_ms(segments(result)) for result in flat), default=1.0)
    return Cards(tuple(flat), float(scale_ms) if scale_ms is not None else longest)


# -- invocation results ---------------------------------------------------------------------------
def result_html(result: InvocationResult, *, scale_ms: float | None = None, code_sha: str | None = None) -> str:
    """A card: function, cold/warm and status, ids and code, payload or error, the REPORT numbers, the phases, a key.

    ``scale_ms``: the milliseconds the full phase bar stands for (a longer request fills it); by
    default the notebook's shared scale (``card_scale``). ``code_sha``: the code that ran (its first 8
    characters are shown); by default ``code_of(result)``, "" to leave it out.
    """
    record = result.record
    fn = function_of(result) if code_sha is None else None
    code = _code_sha(fn, record.version) if code_sha is None else code_sha
    cells = [("request", record.request_id[:8]), ("environment", record.environment_id[:8])]
    if fn is not None and fn.config.max_concurrency_per_environment is not None:  # Managed Instances
        cells.append(("worker", str(record.worker)))
    if code:
        cells.append(("code", code[:8]))
    debugged = _debug_cell(fn, record) if fn is not None else None
    if debugged is not None:
        cells.append(("debug", debugged))
    return card(
        "result",
        f"{head(result)}{fields(cells)}{body(result)}{_report_fields(result)}"
        f"<div style='margin-top:4px'>{timeline_svg(result, scale_ms=scale_ms)}</div>"
        f"{_key(result)}{_init_hint(result)}{log_details(result.log)}",
    )


def code_of(result: InvocationResult, places: Iterable[Any] | None = None) -> str:
    """The sha256 of the code that ran ``result`` ("" when not found), from a ``Function`` or ``Lab`` in ``places``.

    ``places`` defaults to the values of the notebook's namespace (a ``%%lambda`` cell's function is there under
    its name). When several hold a function of that name, the one whose environments include the result's
    wins. The hash is that of the result's version's code as deployed when asked: for ``$LATEST``, right after the
    invoke, the code that ran.
    """
    return _code_sha(function_of(result, places), result.record.version)


def function_of(result: InvocationResult, places: Iterable[Any] | None = None) -> Function | None:
    """The ``Function`` that ran ``result``, from ``places`` as ``code_of`` finds it; None when not found."""
    record = result.record
    candidates: list[Function] = []
    for item in _namespace() if places is None else places:
        fn = _holding(item, record.function)
        if fn is not None and not any(other.lab is fn.lab for other in candidates):
            candidates.append(fn)
    ran = [fn for fn in candidates if _ran_in(fn, record.environment_id)]
    chosen = ran or candidates
    return chosen[0] if len(chosen) == 1 else None


def _code_sha(fn: Function | None, version: str) -> str:
    if fn is None:
        return ""
    try:
        return str(fn.version_info(version).code_sha)
    except Exception:  # noqa: BLE001 - a closed Lab, a deleted version: the card goes without
        return ""


def debug_text(fn: Function, environment_id: str | None = None) -> str:
    """Debug mode: ``127.0.0.1:PORT (attached|waiting)`` of each environment under debugpy (or only of
    ``environment_id``); "on" while none runs."""
    try:
        ports = fn.debug_ports()
        attached = fn.debug_ports(attached=True) if ports else {}
    except Exception:  # noqa: BLE001 - a closed Lab
        return "on"
    shown = [(e, p) for e, p in ports.items() if environment_id is None or e == environment_id]
    if not shown:
        return "on"
    return ", ".join(f"127.0.0.1:{p} ({'attached' if e in attached else 'waiting'})" for e, p in sorted(shown))


def _debug_cell(fn: Function, record: Any) -> str | None:
    """A result's debug field, of the version that ran it (not the function's current settings): its
    environment's port while it runs under debugpy, else "on" if that version is debugged, else None."""
    try:
        if record.environment_id in fn.debug_ports():
            return debug_text(fn, record.environment_id)
        return "on" if fn.version_info(record.version).config.debug is not False else None
    except Exception:  # noqa: BLE001 - a closed Lab, a deleted version: the card goes without
        return None


def _namespace() -> list[Any]:
    from IPython import get_ipython

    shell = get_ipython()
    return list(shell.user_ns.values()) if shell is not None else []


def _holding(item: Any, name: str) -> Function | None:
    """``item`` itself or its function ``name``, when it is a Function or an open Lab holding one of that name."""
    if isinstance(item, Function):
        return item if item.name == name else None
    if isinstance(item, Lab) and not item.closed:
        try:
            return item.function(name) if name in item.functions() else None
        except Exception:  # noqa: BLE001 - closing meanwhile
            return None
    return None


def _ran_in(fn: Function, environment_id: str) -> bool:
    try:
        return any(environment.environment_id == environment_id for environment in fn.environments())
    except Exception:  # noqa: BLE001 - a closed Lab
        return False


def _init_hint(result: InvocationResult) -> str:
    """After a cold start: the call that shows which imports the init spent its time on."""
    if not result.cold or result.init_duration_ms is None:
        return ""
    name = result.record.function
    call = f"{name}.profile_init()" if name.isidentifier() else f"lab.function({name!r}).profile_init()"
    return f"<div class='lambdalab-init-hint' style='{SMALL}'>why is this init slow? <code>{escape(call)}</code></div>"


def _report_fields(result: InvocationResult) -> str:
    cells = [
        ("Duration", f"{result.duration_ms:.2f} ms"),
        ("Billed", f"{result.billed_duration_ms} ms"),
        ("Memory", f"{result.memory_size_mb} MB"),
        ("Max used", f"{result.max_memory_used_mb} MB"),
    ]
    if result.init_duration_ms is not None:
        cells.append(("Init", f"{result.init_duration_ms:.2f} ms"))
    restore_ms = result.record.restore_duration_ms
    if restore_ms is not None:  # SnapStart: restored from the snapshot instead of an init
        cells.append(("Restore", f"{restore_ms:.2f} ms"))
        cells.append(("Billed restore", f"{result.record.billed_restore_duration_ms} ms"))
    cells.append(("Latency", f"{result.record.latency_ms:.2f} ms"))
    return fields(cells, "lambdalab-numbers")


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
    fn = function_of(result)
    items.append(billed_item(record, fn is not None and fn.config.max_concurrency_per_environment is not None))
    return key_line(items)


# -- functions --------------------------------------------------------------------------------------
def function_html(fn: Function) -> str:
    """A card: runtime, memory, timeout, version and code hash, handler, environments, scaling, packages."""
    config = fn.config
    try:
        environments = fn.environments()
        frozen = sum(1 for environment in environments if environment.frozen)
        envs = f"{len(environments)} ({frozen} frozen)"
        if config.max_concurrency_per_environment is not None:  # Managed Instances: a row per worker, never frozen
            envs = f"{len({e.environment_id for e in environments})} ({len(environments)} workers)"
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
    if config.max_concurrency_per_environment is not None:
        most = config.max_environments
        cells.append(
            (
                "Managed Instances",
                f"{config.max_concurrency_per_environment} workers per environment"
                + (f", at most {most} environments" if most is not None else ""),
            )
        )
    elif not config.freeze:
        cells.append(("freeze", "off"))
    if config.snap_start:
        cells.append(("SnapStart", "published versions"))
    if config.debug is not False:
        cells.append(("debug", debug_text(fn)))
    package_cells = _package_cells(config)
    packages = fields(package_cells, "lambdalab-packages") if package_cells else ""
    title = f"<div>λ <b>{escape(fn.name)}</b> <span style='color:{UI['muted']}'>function</span></div>"
    return card("function", f"{title}{fields(cells)}{packages}")


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
