"""Asynchronous (``Event``) invocations on the engine's loop: what the event queue answers, performed.

``core/async_queue.py`` decides (acceptance, retries and their delays, maximum age, destination records);
this module only performs its effects: ``DispatchEvent`` runs the event as a synchronous invocation
(``ControlPlane.start_invoke``) and tells the queue how it ended (``finished``, or ``throttled``);
``ScheduleRetry`` arms a loop timer that wakes the queue for that event; ``DeliverRecord`` appends the
record to the function's on-success or on-failure destination. It holds of the control plane only the
callables it is given.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Callable
from typing import Any

from lambdalab.config import FunctionConfig
from lambdalab.core.async_queue import DeliverRecord, DispatchEvent, EventQueue, QueuedEvent, ScheduleRetry
from lambdalab.core.effects import Effect
from lambdalab.core.scheduler import Scheduler
from lambdalab.engine.result import EngineResult
from lambdalab.errors import (
    LabClosedError,
    RecursiveInvocationException,
    TooManyRequestsException,
    UnknownFunctionError,
)

Destinations = dict[str, collections.deque[dict[str, Any]]]  # "on_success" / "on_failure" -> records
StartInvoke = Callable[..., asyncio.Future[EngineResult]]  # ControlPlane.start_invoke
# the on-failure record's condition when recursive loop detection stopped the event (lambdalab's word: no condition
# is documented for it; docs/FIDELITY.md)
RECURSIVE_CONDITION = "RecursiveInvocationException"


class AsyncEvents:
    """One Lab's event queue, its retry timers and its functions' destinations."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        offset: float,
        *,
        retry_delay_scale: float,
        destination_bound: int,
        arn: Callable[[str], str],
        now: Callable[[], float],
        perform: Callable[[list[Effect]], None],
        start_invoke: StartInvoke,
        scheduler: Scheduler,
    ) -> None:
        """``offset``: the engine clock minus the loop's (``now() - loop.time()``), fixed for the Lab's life."""
        self.loop = loop
        self.offset = offset
        self.now = now
        self.perform = perform
        self.start_invoke = start_invoke
        self.scheduler = scheduler
        self.queue = EventQueue(retry_delay_scale, lambda fn, q: arn(fn))
        self.destinations: dict[str, Destinations] = {}  # function -> its destinations' records
        self.destination_bound = destination_bound
        self.retries: dict[str, asyncio.TimerHandle] = {}  # an async event's request id -> its retry's timer
        # an async event's request id -> (tenant id, caller's trace header), while it is queued
        self.carried: dict[str, tuple[str | None, str | None]] = {}
        self.closed = False

    def add_function(self, name: str) -> None:
        """Give a function its (empty) destinations, once."""
        self.destinations.setdefault(name, self._new_destinations())

    def _new_destinations(self) -> Destinations:
        bound = self.destination_bound
        return {"on_success": collections.deque(maxlen=bound), "on_failure": collections.deque(maxlen=bound)}

    def accept(
        self,
        config: FunctionConfig,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Queue an event (its size, function and tenant id already checked); its request id. Its tenant and the
        trace header its caller sent go with each run of it (``carried``)."""
        event = QueuedEvent(
            str(uuid.uuid4()), name, qualifier, payload, self.now(), config.max_event_age_s, config.max_retry_attempts
        )
        if tenant_id is not None or trace_header is not None:
            self.carried[event.request_id] = (tenant_id, trace_header)
        self.perform(self.queue.accept(event, self.now()))
        return event.request_id

    # -- the queue's effects ---------------------------------------------------------------------
    def schedule_retry(self, effect: ScheduleRetry) -> None:
        request_id = effect.request_id
        old = self.retries.pop(request_id, None)
        if old is not None:
            old.cancel()
        self.retries[request_id] = self.loop.call_at(effect.at - self.offset, self._on_retry, request_id)

    def _on_retry(self, request_id: str) -> None:
        self.retries.pop(request_id, None)
        if not self.closed:
            self.perform(self.queue.wake(request_id, self.now()))

    def dispatch_event(self, effect: DispatchEvent) -> None:
        event = effect.event
        tenant_id, trace_header = self.carried.get(event.request_id, (None, None))
        try:
            future = self.start_invoke(
                event.function,
                event.payload,
                None,
                event.qualifier,
                event.request_id,
                tenant_id=tenant_id,
                trace_header=trace_header,
                source="event",
            )
        except TooManyRequestsException:
            zero = self.scheduler.entry(event.function).reserved == 0
            self.perform(self.queue.throttled(event.request_id, self.now(), zero))
            return
        except RecursiveInvocationException:  # a recursive loop: to the on-failure destination, never retried
            self.carried.pop(event.request_id, None)
            self.perform(_relabelled(self.queue.throttled(event.request_id, self.now(), True), RECURSIVE_CONDITION))
            return
        except (UnknownFunctionError, LabClosedError):
            self.carried.pop(event.request_id, None)
            return

        def finished(done: asyncio.Future[EngineResult]) -> None:
            if done.cancelled() or done.exception() is not None or self.closed:
                return
            result = done.result()
            self.perform(
                self.queue.finished(event.request_id, self.now(), result.record.version, result.body, result.is_error)
            )
            if event.request_id not in self.queue.pending:  # it reached a destination: nothing more to carry
                self.carried.pop(event.request_id, None)

        future.add_done_callback(finished)

    def deliver_record(self, effect: DeliverRecord) -> None:
        self.destinations.setdefault(effect.function, self._new_destinations())[effect.destination].append(
            effect.record
        )

    def close(self) -> None:
        """No retry fires and no finished event is reported from now on."""
        self.closed = True
        for handle in self.retries.values():
            handle.cancel()
        self.retries.clear()


def _relabelled(effects: list[Effect], condition: str) -> list[Effect]:
    """The queue's give-up effects with their on-failure record's ``condition`` set to ``condition``."""
    for effect in effects:
        if isinstance(effect, DeliverRecord):
            effect.record["requestContext"]["condition"] = condition
    return effects
