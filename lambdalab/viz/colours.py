"""The colours every lambdalab chart uses, so a phase looks the same everywhere."""

from __future__ import annotations

from typing import Final

# One colour per environment phase (PhaseSpan.phase): the timeline's segments, the concurrency lines.
PHASE_COLOURS: Final[dict[str, str]] = {
    "init": "#f59e0b",  # amber: starting the runtime and importing the handler
    "invoke": "#16a34a",  # green: running a request
    "frozen": "#7dd3fc",  # ice blue: SIGSTOPped between requests
    "idle": "#9ca3af",  # grey: parked on /next, not frozen (freeze=False)
    "shutdown": "#dc2626",  # red: ending
}
PHASE_ORDER: Final = tuple(PHASE_COLOURS)

# Cold vs warm invocations (latency charts, reuse, init durations).
COLD_WARM_COLOURS: Final[dict[str, str]] = {
    "cold": "#1d4ed8",  # deep blue
    "warm": "#ea580c",  # orange
}
COLD_COLOUR: Final = COLD_WARM_COLOURS["cold"]
WARM_COLOUR: Final = COLD_WARM_COLOURS["warm"]
THROTTLE_COLOUR: Final = "#db2777"  # magenta: TooManyRequestsException
ERROR_COLOUR: Final = "#111827"
