"""Asynchronous invocation: Lambda's internal event queue, its retries and destinations
(AWS docs, "Asynchronous invocation").

An ``Event`` invocation is accepted at once (202) and queued. The queue dispatches it; a function
error (including timeouts and crashes) is retried up to ``max_retry_attempts`` times, one minute
then two minutes later; a throttle is retried with exponential backoff from 1 s to 5 minutes; an
event older than ``max_event_age_s`` is not run again. Each event ends exactly once: in the
on-success destination, or in the on-failure destination with a ``condition`` of
``RetriesExhausted``, ``EventAgeExceeded`` or ``ZeroReservedConcurrency``. All delays are
multiplied by ``delay_scale`` so a notebook can watch retries in seconds. lambdalab never
delivers an event twice (Lambda may; docs/FIDELITY.md). Pure: the driver passes the time.

The queue answers with its own effects: ``DispatchEvent`` (run it now), ``ScheduleRetry`` (call
``wake`` then) and ``DeliverRecord``. A driver tells them from the pool's ``ScheduleWakeup`` by
their type; each carries ``key(request_id)`` as its ``environment_id``, a label no driver reads.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, ClassVar, Final

from lambdalab.core.effects import Effect

RETRY_DELAYS_S: Final = (60.0, 120.0)
THROTTLE_BACKOFF_S: Final = (1.0, 300.0)


@dataclasses.dataclass(slots=True)
class QueuedEvent:
    request_id: str
    function: str
    qualifier: str | None
    payload: bytes
    accepted_at: float
    max_event_age_s: float
    max_retry_attempts: int
    attempts: int = 0  # runs of the function so far
    throttles: int = 0


class DispatchEvent(Effect):
    """Run this queued event now (``environment_id`` holds its queue key)."""

    event: QueuedEvent
    __slots__ = ("event",)
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "event")

    def __init__(self, environment_id: str, event: QueuedEvent) -> None:
        self.environment_id = environment_id
        self.event = event


class ScheduleRetry(Effect):
    """Call ``EventQueue.wake(request_id, at)`` at ``at``: a retry, or a throttled run's back-off, came due.

    Not a ``ScheduleWakeup``: those are a pool's (an environment's keep-alive expiry, a pre-warm
    window) and go back to the scheduler as ``WakeupDue``; this one goes to the queue.
    """

    request_id: str
    at: float
    __slots__ = ("request_id", "at")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "request_id", "at")

    def __init__(self, environment_id: str, request_id: str, at: float) -> None:
        self.environment_id = environment_id
        self.request_id = request_id
        self.at = at


class DeliverRecord(Effect):
    """Put a destination record (Lambda's shape) on a function's on-success or on-failure queue."""

    function: str
    destination: str  # "on_success" | "on_failure"
    record: dict[str, Any]
    __slots__ = ("function", "destination", "record")
    _fields: ClassVar[tuple[str, ...]] = ("environment_id", "function", "destination", "record")

    def __init__(self, environment_id: str, function: str, destination: str, record: dict[str, Any]) -> None:
        self.environment_id = environment_id
        self.function = function
        self.destination = destination
        self.record = record


def _iso(at: float) -> str:
    moment = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EventQueue:
    """Every accepted asynchronous event until it reaches a destination."""

    def __init__(self, delay_scale: float = 1.0, arn: Any = None) -> None:
        self.delay_scale = delay_scale
        self._arn = arn or (lambda function, qualifier: f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
        self.pending: dict[str, QueuedEvent] = {}

    @staticmethod
    def key(request_id: str) -> str:
        """The label the queue's effects carry as their ``environment_id`` (no environment is meant)."""
        return "async:" + request_id

    def accept(self, event: QueuedEvent, at: float) -> list[Effect]:
        """Queue a new event; it is dispatched at once."""
        self.pending[event.request_id] = event
        return [DispatchEvent(self.key(event.request_id), event)]

    def wake(self, request_id: str, at: float) -> list[Effect]:
        """A retry came due: run it again, unless it is now too old."""
        event = self.pending.get(request_id)
        if event is None:
            return []
        if at - event.accepted_at > event.max_event_age_s * self.delay_scale:
            return self._fail(event, at, "EventAgeExceeded", None, None)
        return [DispatchEvent(self.key(request_id), event)]

    def throttled(self, request_id: str, at: float, zero_reserved: bool) -> list[Effect]:
        """The run was throttled: back off exponentially (or give up at once with zero reserved)."""
        event = self.pending.get(request_id)
        if event is None:
            return []
        if zero_reserved:
            return self._fail(event, at, "ZeroReservedConcurrency", None, None)
        low, high = THROTTLE_BACKOFF_S
        delay = min(high, low * 2**event.throttles) * self.delay_scale
        event.throttles += 1
        return self._later(event, at, delay)

    def finished(self, request_id: str, at: float, version: str, body: bytes, is_error: bool) -> list[Effect]:
        """The run ended: success goes to on-success; an error is retried or goes to on-failure."""
        event = self.pending.get(request_id)
        if event is None:
            return []
        event.attempts += 1
        if not is_error:
            del self.pending[request_id]
            return [
                DeliverRecord(
                    self.key(request_id),
                    event.function,
                    "on_success",
                    self._record(event, at, "Success", version, body, None),
                )
            ]
        if event.attempts > event.max_retry_attempts:
            return self._fail(event, at, "RetriesExhausted", version, body)
        return self._later(event, at, RETRY_DELAYS_S[event.attempts - 1] * self.delay_scale)

    def _later(self, event: QueuedEvent, at: float, delay: float) -> list[Effect]:
        if at + delay - event.accepted_at > event.max_event_age_s * self.delay_scale:
            return self._fail(event, at, "EventAgeExceeded", None, None)
        request_id = event.request_id
        return [ScheduleRetry(self.key(request_id), request_id, at + delay)]

    def _fail(
        self, event: QueuedEvent, at: float, condition: str, version: str | None, body: bytes | None
    ) -> list[Effect]:
        del self.pending[event.request_id]
        record = self._record(event, at, condition, version, body, "Unhandled" if body is not None else None)
        return [DeliverRecord(self.key(event.request_id), event.function, "on_failure", record)]

    def _record(
        self,
        event: QueuedEvent,
        at: float,
        condition: str,
        version: str | None,
        body: bytes | None,
        function_error: str | None,
    ) -> dict[str, Any]:
        """A destination record as Lambda writes it (AWS docs, "Retaining records of asynchronous invocations")."""
        qualifier = version or event.qualifier or "$LATEST"
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso(at),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{self._arn(event.function, None)}:{qualifier}",
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
        }
        if body is not None:
            context: dict[str, Any] = {"statusCode": 200, "executedVersion": version or "$LATEST"}
            if function_error:
                context["functionError"] = function_error
            record["responseContext"] = context
            record["responsePayload"] = _json_or_text(body)
        return record


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data.decode("utf-8", "replace")
