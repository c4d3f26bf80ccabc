"""The one palette of lambdalab: every card, chart, board and doc takes its colours from here.

One colour, one meaning. The phases of an environment (``PHASE_COLOURS``) and the outcomes of a request
(``OUTCOME_COLOURS``) share colours only where they *are* the same thing: a cold request is one that had
an init (so it takes init's orange), a warm request went straight to invoke (invoke's green). Nothing else
repeats. The hues are the Okabe–Ito set (safe for the common colour-vision deficiencies): cold and warm,
orange and bluish green, differ in hue and lightness for protan, deutan and tritan readers alike (smallest
CIELAB distance between any two colours that share a chart, under simulated deficiency: 16). Greys are
phases where no code runs; near-black is an ending process; red is an error.

The phases of the whole lifecycle (SnapStart, extensions, graceful shutdown) are kin of the phase they belong
to, darker so they stay apart: a snapshot is the restore's yellow, darkened; extension init (part of Lambda's
Init phase) is a dark orange, a brown; the time extensions take after the response (inside Duration) is a deep
blue, between invoke's green and frozen's sky blue; a graceful shutdown (SIGTERM, SHUTDOWN to extensions, up to
2 s) a dark purple beside shutdown's near-black. A restored start is its own outcome, in the restore's colour. A
Managed Instances worker whose request timed out runs its code on (``overrun``): invoke's green, pale.

``UI_COLOURS`` are the cards' chrome (text, borders, backgrounds): they mean nothing. docs/VISUALS.md
shows the palette to users. Spell a colour here, and only here.
"""

from __future__ import annotations

from typing import Final

# One colour per phase of an environment (PhaseSpan.phase, and the cards' and the board's extra phases).
PHASE_COLOURS: Final[dict[str, str]] = {
    "init": "#e69f00",  # orange: starting the runtime and importing the handler (a cold start's extra)
    "invoke": "#009e73",  # bluish green: running a request
    "frozen": "#56b4e9",  # sky blue: paused (SIGSTOP) between requests, no CPU
    "idle": "#ababab",  # mid grey: parked on /next, not frozen (freeze off; or reset, waiting to re-init)
    "shutdown": "#3b3b3b",  # near-black: the process is ending (shut down, or reset after a crash/timeout)
    "restore": "#f0e442",  # yellow: resuming from a snapshot instead of an init (SnapStart)
    "wait": "#dadada",  # light grey: a request waiting before its environment starts its phases
    "snapshot": "#997700",  # dark yellow: a SnapStart version's init is done; its memory is being kept (publish)
    "extension_init": "#7a3b00",  # brown: external extensions start and register, before the runtime (Init)
    "post_runtime": "#0044cc",  # deep blue: the response is sent; an extension still works (billed, not frozen)
    "shutdown_grace": "#662288",  # dark purple: a graceful shutdown: SIGTERM, SHUTDOWN to extensions, then SIGKILL
    "overrun": "#a6dba0",  # pale green: Managed Instances: the request timed out and failed, its code still runs
}
# The phases of the records (PhaseSpan.phase), in the order charts list them.
PHASE_ORDER: Final = ("init", "invoke", "frozen", "idle", "shutdown")
# Every phase the timeline draws, in the order its legend lists them: the records' phases, those of SnapStart and
# extensions, and "shutdown_grace" (a shutdown span of an environment with extensions, ``timeline.py``).
TIMELINE_ORDER: Final = (
    "extension_init",
    "init",
    "snapshot",
    "restore",
    "invoke",
    "overrun",
    "post_runtime",
    "frozen",
    "idle",
    "shutdown_grace",
    "shutdown",
)

# What a request ended as (latency charts, cards' badges, reuse, load summaries).
OUTCOME_COLOURS: Final[dict[str, str]] = {
    "cold": PHASE_COLOURS["init"],  # cold *means* "had an init": the init colour
    "warm": PHASE_COLOURS["invoke"],  # warm *means* "straight to invoke": the invoke colour
    "restored": PHASE_COLOURS["restore"],  # restored *means* "restored from a snapshot instead of an init"
    "throttled": "#aa3377",  # purple: refused (TooManyRequestsException), never ran
    "error": "#c0392b",  # red: ran and failed (function error, timeout, crash)
}
COLD_WARM_COLOURS: Final[dict[str, str]] = {key: OUTCOME_COLOURS[key] for key in ("cold", "warm")}
COLD_COLOUR: Final = OUTCOME_COLOURS["cold"]
RESTORED_COLOUR: Final = OUTCOME_COLOURS["restored"]
WARM_COLOUR: Final = OUTCOME_COLOURS["warm"]
THROTTLE_COLOUR: Final = OUTCOME_COLOURS["throttled"]
ERROR_COLOUR: Final = OUTCOME_COLOURS["error"]

# The engine's environment states (EnvironmentInfo.state, core/lifecycle.State values) -> a PHASE_COLOURS key.
# "idle" is "frozen" when EnvironmentInfo.frozen is true (see ``environment_phase``). A reset environment
# has no process until its next request re-runs init inside the invoke: it rests, like an idle one.
STATE_PHASE: Final[dict[str, str]] = {
    "starting": "init",
    "initializing": "init",
    "invoking": "invoke",
    "finishing": "invoke",
    "idle": "idle",
    "reset": "idle",
    "restoring": "restore",
    "shutting_down": "shutdown",
    "terminated": "shutdown",
    "extensions_init": "extension_init",
    "snapshotting": "snapshot",
    "snapshotted": "snapshot",  # a SnapStart version's template: it holds the snapshot, it serves no request
    "post_runtime": "post_runtime",
    "draining": "shutdown_grace",
    "overrun": "overrun",  # Managed Instances: a timed-out request's code still runs on this worker
}

# Where an imported module came from (lambdalab.init_profile.ORIGINS), in the import-profile chart. Every
# module there is part of the init; these say whose code it is. None is a phase's or an outcome's colour.
ORIGIN_COLOURS: Final[dict[str, str]] = {
    "package": "#0072b2",  # blue: the function's own code (the task root)
    "dependencies": "#cc79a7",  # pink: what requirements= built
    "layer": "#332288",  # indigo: /opt
    "runtime": "#999933",  # olive: the runtime and its SDK
    "stdlib": "#bbbbbb",  # light grey: the standard library, what every function pays
    "other": "#6f6f6f",  # dark grey: a file outside every known folder (e.g. inherited packages)
    "not found": "#ee6677",  # rose: an import that failed (an optional dependency probed)
    "unknown": "#e4e4e4",  # pale grey: no file known
}

# The cards' chrome: text, borders, backgrounds. Meaningless on purpose (no fill a phase or outcome uses).
UI_COLOURS: Final[dict[str, str]] = {
    "text": "#1f2328",
    "muted": "#57606a",  # labels, secondary text (4.5:1 or more on the backgrounds)
    "border": "#d0d7de",
    "background": "#fbfcfd",
    "code": "#f3f6f9",  # payloads, summaries
    "error_background": "#fdf0f0",  # an error's message and trace
    "on_dark": "#ffffff",  # text on a dark fill
    "on_light": "#000000",  # text on a light fill
    "chart_root": "#f3f4f6",  # the root box of a hierarchy chart (the import profile's "<init>")
}


def environment_phase(state: str, frozen: bool = False) -> str:
    """The PHASE_COLOURS key of an environment in ``state`` (``frozen``: EnvironmentInfo.frozen)."""
    phase = STATE_PHASE.get(state, "idle")
    return "frozen" if phase == "idle" and frozen else phase


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (a ``#RRGGBB`` fill)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    # contrast with white (1.05 / (L + 0.05)) against contrast with black ((L + 0.05) / 0.05)
    return UI_COLOURS["on_dark"] if 1.05 / (luminance + 0.05) > (luminance + 0.05) / 0.05 else UI_COLOURS["on_light"]
