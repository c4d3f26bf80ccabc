"""What the load panel does differently for a function on AWS Lambda (``lambdalab.aws.Function``).

- Cost: ``CostGate`` shows the planned run's estimate (``fn.estimate_cost``: requests at list prices) under the
  buttons, and above the Lab's ``confirm_above_usd`` refuses to start until its "Confirm cost" box is ticked;
  the panel then starts the run with ``confirm=True`` (it asked; ``load.start`` only prints the estimate).
- Frames: CloudWatch Logs are read once, when the run has ended (``fn.spans()`` and ``fn.invocations()``, which
  wait for the late log lines), not a few times a second: while it runs, the charts come from the run's own rows
  (cold, warm, latency); at the end the spans fill the time charts and each row gets its environment (its log
  stream) for the per-environment chart and the report's environment counts (``LoadReport.with_environments``).
- Settings: only memory is applied from the panel; the scaling knobs are this machine's.
"""

from __future__ import annotations

import html
import math
import warnings
from typing import Any

import ipywidgets as widgets

from lambdalab.errors import CallerError
from lambdalab.load.runner import planned_requests
from lambdalab.viz.colours import ERROR_COLOUR, UI_COLOURS

# a remote panel's tabs: the charts that fill while the run goes first (the others need the logs, at the end)
REMOTE_CHARTS = ("cold_starts", "latency_over_time", "reuse", "concurrency", "timeline")
DEFAULT_THRESHOLD_USD = 1.0  # lambdalab.aws.Lab's confirm_above_usd default


def memory_of(fn: Any) -> int:
    """The function's memory in MB: a local config's ``memory_mb``, or Lambda's ``MemorySize``."""
    config = fn.config
    if isinstance(config, dict):
        return int(config.get("MemorySize", 128))
    return int(config.memory_mb)


def threshold_of(fn: Any) -> float:
    """The estimate above which a run needs a confirmation: the function's Lab's ``confirm_above_usd``."""
    return float(getattr(getattr(fn, "lab", None), "confirm_above_usd", DEFAULT_THRESHOLD_USD))


class CostGate:
    """The estimate line and the "Confirm cost" box of a remote panel."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.line = widgets.HTML(value="")
        self.line.add_class("lambdalab-cost")
        self.confirm = widgets.Checkbox(value=False, description="Confirm cost", indent=False)
        self.confirm.layout.width = "130px"
        self.widget = widgets.HBox([self.line, self.confirm])
        self.requests = 0
        self.usd = math.nan

    def estimate(self, pattern: Any, duration_s: float, count: int | None) -> float:
        """The planned run's estimate in USD, shown in the line (red above the threshold)."""
        self.requests = planned_requests(pattern, duration_s, count)
        self.usd = float(self.fn.estimate_cost(self.requests))
        above = self.usd > threshold_of(self.fn)
        colour = ERROR_COLOUR if above else UI_COLOURS["muted"]
        note = f" · above ${threshold_of(self.fn):,.2f}: tick Confirm cost" if above else ""
        self.line.value = (
            f"<span style='color:{colour};font-size:12px'>Planned: ~{self.requests:,} requests, "
            f"~${self.usd:,.2f} (estimated at list prices){html.escape(note)}</span>"
        )
        return self.usd

    def check(self, pattern: Any, duration_s: float, count: int | None) -> None:
        """Refuse (``CallerError``, shown in the status line) a run above the threshold whose box is not ticked."""
        usd = self.estimate(pattern, duration_s, count)
        if usd > threshold_of(self.fn) and not self.confirm.value:
            raise CallerError(
                f"this run is estimated at ~${usd:,.2f} (~{self.requests:,} requests), above "
                f"${threshold_of(self.fn):,.2f}; tick Confirm cost to run it"
            )


def final_frames(fn: Any, started_at: float, snapshot: Any) -> tuple[Any, Any]:
    """A remote run's spans from CloudWatch Logs (its window), and its snapshot with each row's environment.

    Logs that cannot be read (no permission on CloudWatch Logs, say) leave the run's own rows: a warning says why."""
    try:
        spans, records = fn.spans(), fn.invocations()
    except Exception as exc:  # noqa: BLE001 - the charts keep the run's rows
        warnings.warn(f"{fn.name}: the run's logs could not be read from CloudWatch Logs: {exc}", stacklevel=2)
        return None, snapshot
    if len(spans):
        spans = spans[(spans["function"] == fn.name) & (spans["end"] >= started_at)].copy()
        spans["start"] = spans["start"].clip(lower=started_at)
        spans["duration_ms"] = (spans["end"] - spans["start"]) * 1000.0
    if snapshot is None:
        return spans.reset_index(drop=True), snapshot
    return spans.reset_index(drop=True), snapshot.with_environments(records)  # rows and counts: their log streams
