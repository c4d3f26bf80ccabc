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


EnvironmentRow = tuple[str, str, str, bool, bool, int, str, str | None, float, float, int]


def live_environments(plane: ControlPlane, name: str) -> list[EnvironmentRow]:
    """One row per environment of ``name`` not yet terminated, in ``EnvironmentInfo``'s field order.

    A Managed Instances environment has a row per worker: its environment id (the group's, as the records say) and
    the worker's number last; each worker has its own state and request.

    ``phase`` is the core's phase in progress (``Environment.open_span``: what the timeline will draw); a
    reset environment (no process, re-inits on its next invoke) has none and shows as ``idle``.
    ``request_id``: the request it runs, or the one waiting for its init. ``since_s``: seconds in that
    phase (a reset one: since its last use); ``age_s``: seconds since the environment was made.
    """
    plane.function(name)
    now = plane.now()
    engine_environments = plane.environments
    out: list[EnvironmentRow] = []
    for pool in plane.scheduler.entry(name).all_pools():
        version = pool.spec.version
        for core in pool.environments.values():
            state = core.state
            if state is State.TERMINATED:
                continue
            span = core.open_span(now)
            request_id = None
            if span is not None:
                phase: str = span.phase
                since = span.start
                if phase == "invoke":
                    request_id = span.request_id
                elif phase == "init" and core.reserved is not None:
                    request_id = core.reserved.request_id
            else:  # RESET (or a new one before its start): no process
                phase, since = "idle", core.last_used
            engine_environment = engine_environments.get(core.id)
            born = engine_environment.created_at if engine_environment is not None else since
            born = min(born, since) if since else born  # made on its first start, in the same tick
            out.append(
                (
                    core.group,
                    version,
                    state.value,
                    core.is_frozen,
                    core.provisioned,
                    core.invocations,
                    phase,
                    request_id,
                    max(0.0, now - since) if since else 0.0,
                    max(0.0, now - born) if born else 0.0,
                    core.worker,
                )
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
