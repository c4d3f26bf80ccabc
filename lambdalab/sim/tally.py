"""Bookkeeping of one simulation: counters, time-weighted sums, and a capped sample of records.

Every effect costs O(1) here. Time averages use "subtract the start, add the end": an environment
created at t0 adds ``-t0`` to ``env_s`` and, when retired at t1, ``+t1``; at the horizon T each one
still alive adds ``T``. So ``env_s / T`` is the time-average environment count with no per-step
work, and the same goes for in-flight invocations (``busy_s``) and frozen time (``idle_s``, from
the frozen spans the core records). Records and spans are kept only up to ``max_records`` each.
"""

from __future__ import annotations

import collections
from typing import Any

from lambdalab.core.async_queue import DeliverRecord
from lambdalab.core.effects import CompleteInvocation, RecordSpan
from lambdalab.core.events import Invocation
from lambdalab.core.lifecycle import Environment
from lambdalab.core.outcomes import Status
from lambdalab.core.records import InvocationRecord, PhaseSpan, throttled_record
from lambdalab.sim.kernel import Kernel

_REST = frozenset({"frozen", "idle"})


class Tally:
    """What happened in a run, kept cheaply enough to count millions of invocations."""

    def __init__(self, kernel: Kernel, function: str, memory_mb: int, max_records: int) -> None:
        self.kernel = kernel
        self.function = function
        self.memory_mb = memory_mb
        self.max_records = max_records
        self.requests = self.invoked = self.throttles = self.completed = 0
        self.cold = self.errors = self.timeouts = 0
        self.busy_s = self.idle_s = self.env_s = 0.0
        self.in_flight = self.live = self.peak = self.created_total = 0
        self.billed_ms = self.billed_provisioned_ms = 0
        self.restores = self.billed_restore_ms = 0  # SnapStart restores, and their Billed Restore Duration
        self.provisioned: set[str] = set()
        self.records: list[InvocationRecord] = []
        self.spans: list[PhaseSpan] = []
        self.destinations: collections.Counter[str] = collections.Counter()
        self.destination_records: list[dict[str, Any]] = []
        self.records_dropped = self.spans_dropped = 0
        # Managed Instances: environments are groups of workers; a group lives while one of its workers does
        self.workers_created = 0
        self._group_of: dict[str, str] = {}  # worker -> its group
        self._group_live: dict[str, int] = {}  # group -> its live workers

    # -- requests ---------------------------------------------------------------------------------
    def arrived(self) -> None:
        self.requests += 1

    def started(self, now: float) -> None:
        self.invoked += 1
        self.in_flight += 1
        self.busy_s -= now

    def throttled(self, invocation: Invocation, reason: str, now: float) -> None:
        self.throttles += 1
        if len(self.records) < self.max_records:
            self.records.append(
                throttled_record(
                    request_id=invocation.request_id,
                    function=self.function,
                    version="$LATEST",
                    memory_size_mb=self.memory_mb,
                    reason=reason,
                    at=now,
                    submitted=invocation.submitted,
                )
            )
        else:
            self.records_dropped += 1

    def complete(self, effect: CompleteInvocation) -> None:
        record = effect.record
        self.completed += 1
        self.in_flight -= 1
        self.busy_s += self.kernel.now
        if record.cold:
            self.cold += 1
            if record.restore_duration_ms is not None:
                self.restores += 1
                self.billed_restore_ms += record.billed_restore_duration_ms
        status = record.status
        if status is not Status.SUCCESS:
            if status is Status.TIMEOUT:
                self.timeouts += 1
            else:
                self.errors += 1
        if effect.environment_id in self.provisioned:
            self.billed_provisioned_ms += record.billed_duration_ms
        else:
            self.billed_ms += record.billed_duration_ms
        if len(self.records) < self.max_records:
            self.records.append(record)
        else:
            self.records_dropped += 1

    # -- environments -----------------------------------------------------------------------------
    def created(self, environment_id: str, provisioned: bool, group: str = "") -> None:
        if group:  # a Managed Instances worker: its group is the environment
            self.workers_created += 1
            self._group_of[environment_id] = group
            live = self._group_live.get(group, 0)
            self._group_live[group] = live + 1
            if live:
                return
        self.created_total += 1
        self.live += 1
        self.peak = max(self.peak, self.live)
        self.env_s -= self.kernel.now
        if provisioned:
            self.provisioned.add(environment_id)

    def retired(self, environment_id: str) -> None:
        if self._group_of:
            group = self._group_of.pop(environment_id, None)
            if group is not None:
                live = self._group_live[group] - 1
                if live:
                    self._group_live[group] = live
                    return
                del self._group_live[group]
        self.live -= 1
        self.env_s += self.kernel.now
        self.provisioned.discard(environment_id)

    def span(self, effect: RecordSpan) -> None:
        self._add_span(effect.span)

    def _add_span(self, span: PhaseSpan) -> None:
        if span.phase in _REST:
            self.idle_s += span.end - span.start
        if len(self.spans) < self.max_records:
            self.spans.append(span)
        else:
            self.spans_dropped += 1

    def destination(self, effect: DeliverRecord) -> None:
        self.destinations[effect.record["requestContext"]["condition"]] += 1
        if len(self.destination_records) < self.max_records:
            self.destination_records.append(effect.record)

    # -- the horizon ------------------------------------------------------------------------------
    def close(self, horizon: float, environments: list[Environment]) -> None:
        """Account for what is still going on at ``horizon`` (open spans end there)."""
        self.env_s += self.live * horizon
        self.busy_s += self.in_flight * horizon
        for environment in environments:
            span = environment.open_span(horizon)
            if span is not None:
                self._add_span(span)
