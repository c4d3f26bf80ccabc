"""The result card of an invocation on AWS Lambda (``lambdalab.aws.results.RemoteResult``): what AWS reports.

Like this machine's card (``lambdalab.jupyter.display``), but only with what the Invoke response and its log tail
(the REPORT line) say: ok or the error, the payload, cold or warm, Duration, Billed Duration, Init Duration,
Memory Size and Max Memory Used, the request id, the version that ran, where it ran (``AWS Lambda (region)``) and
the log tail. Its phase bar has the init (when cold) and the invoke only: no wait before them (the only clock
before the request is this machine's, a network round trip away) and nothing after (AWS does not show the
freeze). A line says what AWS does not show. No ``lambdalab.aws`` import: the card reads the result's attributes.
"""

from __future__ import annotations

from typing import Any

from lambdalab.jupyter.card_parts import (
    SMALL,
    billed_item,
    body,
    card,
    escape,
    fields,
    head,
    key_line,
    log_details,
)
from lambdalab.jupyter.phasebar import remote, timeline_svg

__all__ = ["NOT_SHOWN", "REMOTE_RESULT", "is_remote", "remote_result_html"]

REMOTE_RESULT = ("lambdalab.aws.results", "RemoteResult")  # the type this card is for, by name
NOT_SHOWN = (
    "not shown by AWS Lambda: which environment ran it (its log stream, read by fn.invocations()), "
    "how long the request waited for one, the freeze after the response, the init's imports"
)
_NOT_SHOWN_LONG = (
    "The Invoke response carries the payload and the last 4 KB of the log (the REPORT line); the environment is "
    "named only by its CloudWatch Logs stream. Waiting, freezing and idle time are never reported, and "
    "profile_init() profiles an init on this machine."
)


def is_remote(result: Any) -> bool:
    """Whether ``result`` is a result with a record from AWS Lambda (not this machine's ``InvocationResult``)."""
    return hasattr(result, "record") and remote(result)


def remote_result_html(result: Any, *, scale_ms: float | None = None) -> str:
    """A card for a ``RemoteResult``: where it ran, status, ids, payload or error, the REPORT numbers, the bar, the
    log tail.

    ``scale_ms``: the milliseconds the full phase bar stands for (a longer request fills it); by default the
    notebook's shared scale (``lambdalab.jupyter.display.card_scale``), shared with this machine's cards.
    """
    record = result.record
    target = getattr(result, "target", "AWS Lambda")
    where = f" <span class='lambdalab-target' style='{SMALL}'>on {escape(target)}</span>"
    ids = [("request", record.request_id), ("version", record.version)]
    return card(
        "result lambdalab-remote",
        f"{head(result, where)}{fields(ids)}{body(result)}{_report_fields(result)}"
        f"<div style='margin-top:4px'>{timeline_svg(result, scale_ms=scale_ms)}</div>"
        f"{_key(result)}"
        f"<div class='lambdalab-not-shown' style='{SMALL}' title='{escape(_NOT_SHOWN_LONG)}'>{escape(NOT_SHOWN)}</div>"
        f"{log_details(result.log, 'log tail (the last 4 KB)')}",
    )


def _report_fields(result: Any) -> str:
    """The REPORT line's numbers, under the names Lambda gives them."""
    record = result.record
    cells = [
        ("Duration", f"{record.duration_ms:.2f} ms"),
        ("Billed Duration", f"{record.billed_duration_ms} ms"),
    ]
    if record.init_duration_ms is not None:
        cells.append(("Init Duration", f"{record.init_duration_ms:.2f} ms"))
    cells += [
        ("Memory Size", f"{record.memory_size_mb} MB"),
        ("Max Memory Used", f"{record.max_memory_used_mb} MB"),
    ]
    return fields(cells, "lambdalab-numbers")


def _key(result: Any) -> str:
    """Why Billed Duration is at least Duration, and a reset when the REPORT says the environment was reset."""
    record = result.record
    items = []
    if record.reset:
        items.append(
            ("reset", "= the environment was reset; the next request it serves re-inits", "after a timeout or crash")
        )
    name, what, why = billed_item(record)
    items.append(("Billed Duration", what, why))
    return key_line(items)
