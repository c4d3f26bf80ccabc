"""Read-only views of a control plane: open spans, live environments, statistics snapshots.

Called on the engine's loop (``Lab`` hands them over); cheap enough for a UI to poll ten times a
second: counts come from the core's pools, nothing is copied but what is returned.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lambdalab.core.lifecycle import State
from lambdalab.core.pool import PoolStatistics
from lambdalab.core.records import PhaseSpan

if TYPE_CHECKING:
    from lambdalab.engine.control_plane import ControlPlane


def open_spans(plane: ControlPlane) -> list[PhaseSpan]:
    now = plane.now()
    spans = []
    for environment in plane.environments.values():
        core = environment.pool.environments.get(environment.id)
        span = core.open_span(now) if core is not None else None
        if span is not None:
            spans.append(span)
    return spans


def live_environments(plane: ControlPlane, name: str) -> list[tuple[str, str, str, bool, bool, int]]:
    plane.function(name)
    out = []
    for pool in plane.scheduler.entry(name).all_pools():
        for core in pool.environments.values():
            if core.state is not State.TERMINATED:
                out.append(
                    (core.id, pool.spec.version, core.state.value, core.is_frozen, core.provisioned, core.invocations)
                )
    return out


def statistics(plane: ControlPlane, name: str) -> dict[str, Any]:
    plane.function(name)
    entry = plane.scheduler.entry(name)
    stats = dataclasses.asdict(plane.scheduler.statistics(name))
    queued = sum(1 for e in plane.queue.pending.values() if e.function == name)
    return {
        **stats,
        "concurrency": entry.usage,
        "reserved": entry.reserved,
        "throttles": entry.throttles,
        "queued_events": queued,
    }


def lab_statistics(plane: ControlPlane) -> dict[str, Any]:
    per = {name: statistics(plane, name) for name in plane.configs}
    keys = [f.name for f in dataclasses.fields(PoolStatistics)] + ["concurrency", "throttles", "queued_events"]
    total = {k: sum(s[k] for s in per.values()) for k in keys}
    return {**total, "account_concurrency": plane.settings.limits.concurrency, "functions": len(per)}
