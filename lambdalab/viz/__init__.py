"""Charts of what happened: pure functions from the records (DataFrames) to plotly figures.

    timeline(spans_df)                          one row per environment; init/invoke/frozen/idle/shutdown segments
                                                (and restore, snapshot, extension init, post-runtime, shutdown grace)
    latency_over_time(invocations_df)           latency of each request over time, cold vs warm (and throttled)
    latency_histogram(invocations_df)           latency distribution, cold vs warm, log-spaced bins
    concurrency(spans_df, invocations_df=None)  environments busy / frozen / idle per 100 ms, throttles stacked on top
    cold_starts(invocations_df)                 cold, warm and throttled requests per second over time
    reuse(invocations_df)                       requests per environment (its cold start + the warm ones)
    init_durations(invocations_df)              init duration of each cold start
    init_profile(table, kind="icicle"|"bar")    import profile of one cold start, coloured by each module's origin
    compare(local, remote, kind="cold_starts")  this machine and AWS Lambda side by side, on the same axes
    after_response(lab.telemetry())             per invoke: the runtime's time and the extensions' after the response
    replays(fn.durable_history())               one durable execution as its replays: what each skipped and ran
    update(fig, kind, spans=..., invocations=...)  redraw a Figure/FigureWidget in place (one batch_update)

The inputs are ``lab.spans()``, ``lab.invocations()`` or ``lambdalab.load.run(...).invocations``.
Colours come from ``lambdalab.viz.colours`` only (``PHASE_COLOURS``, ``OUTCOME_COLOURS``). plotly is imported inside
the functions; nothing here imports IPython or ipywidgets, so the CLI can write figures to HTML
(``write_html``). Layer L2: imports only ``lambdalab.errors`` besides plotly, numpy and pandas.

Where things are: ``timeline.py``, ``latency.py`` (over time, histogram, init durations) and
``usage.py`` (concurrency, reuse) and ``rates.py`` (cold starts over time, cascades) make each chart's
traces (``telemetry.py`` draws the Telemetry view: it reads ``lab.telemetry()``, it is no chart kind);
``axes.py`` gives them readable log ticks and round bins; ``render.py`` turns a chart's traces
into a figure (origin, window); ``figures.py`` lists the kinds and builds, updates and writes figures
by kind; ``_frames.py`` holds what the charts share; ``colours.py``.
"""

from __future__ import annotations

from lambdalab.viz.colours import (
    COLD_COLOUR,
    COLD_WARM_COLOURS,
    ERROR_COLOUR,
    OUTCOME_COLOURS,
    PHASE_COLOURS,
    PHASE_ORDER,
    RESTORED_COLOUR,
    THROTTLE_COLOUR,
    TIMELINE_ORDER,
    WARM_COLOUR,
)
from lambdalab.viz.compare import compare
from lambdalab.viz.durable import replays
from lambdalab.viz.figures import KINDS, figure, update, write_html
from lambdalab.viz.init_profile import ORIGIN_COLOURS, init_profile
from lambdalab.viz.latency import init_durations, latency_histogram, latency_over_time
from lambdalab.viz.rates import cold_starts
from lambdalab.viz.telemetry import after_response, after_response_table
from lambdalab.viz.timeline import timeline
from lambdalab.viz.usage import concurrency, reuse

__all__ = [
    "COLD_COLOUR",
    "COLD_WARM_COLOURS",
    "ERROR_COLOUR",
    "KINDS",
    "OUTCOME_COLOURS",
    "PHASE_COLOURS",
    "PHASE_ORDER",
    "RESTORED_COLOUR",
    "THROTTLE_COLOUR",
    "TIMELINE_ORDER",
    "ORIGIN_COLOURS",
    "WARM_COLOUR",
    "after_response",
    "after_response_table",
    "cold_starts",
    "compare",
    "concurrency",
    "figure",
    "init_durations",
    "init_profile",
    "latency_histogram",
    "latency_over_time",
    "replays",
    "reuse",
    "timeline",
    "update",
    "write_html",
]
