"""A result card's phase bar: the request's phases left to right, then what the environment does next.

Built from the invocation record alone (the REPORT numbers), so it needs no Lab. ``segments`` says
what each stretch was (a failed init retried inside the invoke is named so, not left a grey wait);
``timeline_svg`` draws them as ``svg.lambdalab-timeline`` with one ``rect.phase-<key>`` each,
filled with ``PHASE_COLOURS[key]``, at least ``MIN_PHASE_PX`` wide, the true duration in its
``<title>``. The milliseconds a full bar stands for are the card's ``scale_ms`` or the notebook's
shared scale (``card_scale``), so a cold and a warm card compare at a glance.

A result from AWS Lambda (``lambdalab.aws.results.RemoteResult``, any result that is not an
``InvocationResult``) gets only what its REPORT line says: the init if it was cold, and the invoke. Its
``submitted`` time is this machine's clock before a round trip over the network, so no wait is drawn, and
nothing after the response: AWS does not show whether the environment froze.
"""

from __future__ import annotations

import collections
import html
from typing import NamedTuple, Protocol

from lambdalab.core.records import InvocationRecord
from lambdalab.results import InvocationResult
from lambdalab.viz.colours import PHASE_COLOURS, UI_COLOURS

__all__ = [
    "BAR_PX",
    "GAP_PX",
    "MEANINGS",
    "MIN_PHASE_PX",
    "SESSION_CARDS",
    "ResultLike",
    "TAIL_PX",
    "Segment",
    "card_scale",
    "remote",
    "result_phases",
    "segments",
    "timeline_svg",
    "total_ms",
]

BAR_PX = 560  # the phase bar's width (it shrinks with a narrower output: max-width 100%)
TAIL_PX = 40  # what comes after the response (frozen or reset), drawn this wide whatever the scale
MIN_PHASE_PX = 3  # a phase is drawn at least this wide; its <title> keeps the true duration
GAP_PX = 1  # between two phases, so two of one colour (a failed init, then init again) stay two
SESSION_CARDS = 20  # "session" scale: the longest of this many last cards shown
_SMALL = f"font-size:11px;color:{UI_COLOURS['muted']}"

# What each stretch of the bar means (the <title> of its rect; the cards' key says it short).
MEANINGS = {
    "wait": "from the request's arrival until its environment began it (placement, starting a process)",
    "init": "starting the runtime and importing the handler: the cold start",
    "init failed": "the init phase failed (an error, a crash or its timeout); Lambda ran init again inside the invoke",
    "init in invoke": "init run inside the invoke phase (after a reset), counted in Duration",
    "restore": "resuming the environment from the version's SnapStart snapshot and running after-restore hooks: "
    "a SnapStart cold start, instead of an init",
    "invoke": "the handler running this request",
    "frozen": "paused (SIGSTOP) until the next request, using no CPU",
    "reset": "the process was stopped after the error; the next request starts a new one and runs init again",
}


class ResultLike(Protocol):
    """What a phase bar reads of a result: its record (``InvocationResult`` and AWS's ``RemoteResult`` have one)."""

    @property
    def record(self) -> InvocationRecord: ...


def remote(result: ResultLike) -> bool:
    """Whether ``result`` came from AWS Lambda (it is not this machine's ``InvocationResult``)."""
    return not isinstance(result, InvocationResult)


class _Scale:
    """Which milliseconds a full phase bar stands for, when a card is not given ``scale_ms``."""

    def __init__(self) -> None:
        self.mode: str | float = "session"
        self.recent: collections.deque[float] = collections.deque(maxlen=SESSION_CARDS)

    def for_card(self, own_ms: float) -> float:
        if self.mode == "own":
            return own_ms
        if self.mode == "session":
            self.recent.append(own_ms)
            return max(self.recent)
        return max(float(self.mode), own_ms)


_SCALE = _Scale()


def card_scale(scale: str | float = "session") -> None:
    """How the notebook's result cards scale their phase bars.

    ``"session"`` (the default): each card at the scale of the longest request among the last
    ``SESSION_CARDS`` cards shown (calling this again starts afresh); ``"own"``: each card fills its
    bar; a number: that many milliseconds fill every bar (a longer request fills its own).
    """
    if scale not in ("session", "own") and not (isinstance(scale, int | float) and scale > 0):
        raise ValueError(f"invalid scale: {scale!r}; allowed: 'session', 'own' or milliseconds > 0")
    _SCALE.mode = scale
    _SCALE.recent.clear()


class Segment(NamedTuple):
    """One stretch of a result card's phase bar: its PHASE_COLOURS key, engine seconds, label and meaning."""

    phase: str
    start: float
    end: float
    label: str
    meaning: str


def result_phases(result: ResultLike) -> list[tuple[str, float, float]]:
    """This request's phases as (phase, start, end) in engine seconds: wait, init if cold, invoke.

    Built from the invocation record alone (the REPORT numbers), so it needs no Lab.
    """
    return [(segment.phase, segment.start, segment.end) for segment in segments(result)]


def segments(result: ResultLike) -> list[Segment]:
    """The stretches of the request's bar, in order: a wait or failed init, init (or a SnapStart restore), invoke
    (init, restore and invoke only for a result from AWS Lambda)."""
    record = result.record
    invoke_start = record.end - record.duration_ms / 1000.0
    out: list[Segment] = []
    if record.cold and record.init_duration_ms is not None:
        init_s = record.init_duration_ms / 1000.0
        if record.init_suppressed:  # the init ran inside the invoke phase
            init_start, invoke_start = invoke_start, min(record.end, invoke_start + init_s)
            out.append(Segment("init", init_start, invoke_start, "init in invoke", MEANINGS["init in invoke"]))
        else:
            out.append(Segment("init", invoke_start - init_s, invoke_start, "init", MEANINGS["init"]))
    if record.restore_duration_ms is not None:  # SnapStart: restored from the snapshot, no init
        restore_s = record.restore_duration_ms / 1000.0
        out.append(Segment("restore", invoke_start - restore_s, invoke_start, "restore", MEANINGS["restore"]))
    first = out[0].start if out else invoke_start
    if first - record.submitted > 0.0002 and not remote(result):
        if record.cold and record.init_suppressed:  # only a failed init phase is retried inside the invoke
            out.insert(0, Segment("init", record.submitted, first, "init failed", MEANINGS["init failed"]))
        else:
            out.insert(0, Segment("wait", record.submitted, first, "wait", MEANINGS["wait"]))
    if record.end > invoke_start or not out:
        out.append(Segment("invoke", invoke_start, record.end, "invoke", MEANINGS["invoke"]))
    return out


def total_ms(stretches: list[Segment]) -> float:
    """From the first stretch's start to the last one's end, in ms (at least a microsecond)."""
    return max((stretches[-1].end - stretches[0].start) * 1000.0, 1e-3) if stretches else 1e-3


def timeline_svg(result: ResultLike, *, width: int = BAR_PX, scale_ms: float | None = None) -> str:
    """Inline SVG: the request's phases left to right, then frozen (or reset) after the response (on this machine:
    AWS does not show what follows).

    ``scale_ms`` milliseconds fill the bar (a longer request fills it alone); by default the
    shared ``card_scale``. A phase is at least ``MIN_PHASE_PX`` wide; hover shows its duration.
    """
    stretches = segments(result)
    own = total_ms(stretches)
    scale = _SCALE.for_card(own) if scale_ms is None else max(float(scale_ms), own)
    area = width - 4 - TAIL_PX - (MIN_PHASE_PX + GAP_PX) * len(stretches)  # room for minimum widths and gaps
    px_per_ms = max(area, 1) / scale
    x, parts, labels = 2.0, [], []
    for segment in stretches:
        ms = (segment.end - segment.start) * 1000.0
        w = max(ms * px_per_ms, MIN_PHASE_PX)
        title = f"{segment.label} {_ms(ms)}: {segment.meaning}"
        parts.append(_rect(segment.phase, x, w, title))
        labels.append(_label(segment.phase, f"{segment.label} {_ms(ms)}", title))
        x += w + GAP_PX
    if not remote(result):
        after, label = ("shutdown", "reset") if result.record.reset else ("frozen", "frozen")
        meaning = MEANINGS[label]
        parts.append(_rect(after, x, TAIL_PX, f"{label} …: {meaning}", dashed=True))
        labels.append(_label(after, f"{label} …", f"{label}: {meaning}"))
    svg = (
        f"<svg class='lambdalab-timeline' width='{width}' height='18' viewBox='0 0 {width} 18' "
        f"style='max-width:100%;height:auto' xmlns='http://www.w3.org/2000/svg' role='img' "
        f"aria-label='phases'>{''.join(parts)}</svg>"
    )
    scale_note = f"<span title='the width of the bar before the rest: card_scale()'>bar = {_ms(scale)}</span>"
    legend = f"<div class='lambdalab-phases' style='{_SMALL}'>{' · '.join([*labels, scale_note])}</div>"
    return svg + legend


def _rect(phase: str, x: float, width: float, title: str, *, dashed: bool = False) -> str:
    dash = f" stroke='{UI_COLOURS['background']}' stroke-dasharray='3 2'" if dashed else ""
    return (
        f"<rect class='phase-{phase}' x='{x:.1f}' y='2' width='{width:.1f}' height='14' "
        f"fill='{PHASE_COLOURS[phase]}'{dash}><title>{_escape(title)}</title></rect>"
    )


def _label(phase: str, text: str, title: str) -> str:
    return f"<span title='{_escape(title)}'><span style='color:{PHASE_COLOURS[phase]}'>■</span> {_escape(text)}</span>"


def _ms(ms: float) -> str:
    """Milliseconds with three significant figures or so: 0.47 ms, 4.24 ms, 59.7 ms, 1001 ms."""
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms" if ms >= 10 else f"{ms:.2f} ms"


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)
