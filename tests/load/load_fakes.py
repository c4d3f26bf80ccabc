"""A fake target for runner tests: no processes, results made by hand (deterministic)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import threading
import time
from typing import Any

from lambdalab.core.outcomes import Status
from lambdalab.core.records import InvocationRecord
from lambdalab.errors import ConfigError, TooManyRequestsException


@dataclasses.dataclass(frozen=True)
class FakeResult:
    record: InvocationRecord


class FakeFunction:
    """Like ``lambdalab.Function.submit``: an idle environment is reused (warm), otherwise a new one (cold).

    ``throttle_every=k``: every k-th request (1-based) fails with TooManyRequestsException;
    ``error_every=k``: every k-th ends with a handler error; ``delay_s``: finish on a timer thread.
    """

    name = "fake"

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        throttle_every: int = 0,
        error_every: int = 0,
        memory_mb: int = 256,
        bad_event: bool = False,
    ) -> None:
        self.delay_s = delay_s
        self.throttle_every = throttle_every
        self.error_every = error_every
        self.memory_mb = memory_mb
        self.bad_event = bad_event
        self.events: list[Any] = []
        self._lock = threading.Lock()
        self._idle: list[str] = []
        self._ids = itertools.count()
        self.in_flight = 0
        self.max_in_flight = 0

    def submit(self, event: Any = None) -> concurrent.futures.Future[FakeResult]:
        if self.bad_event and event == "bad":
            raise ConfigError("invalid event: bad")
        future: concurrent.futures.Future[FakeResult] = concurrent.futures.Future()
        with self._lock:
            n = len(self.events) + 1
            self.events.append(event)
            if self.throttle_every and n % self.throttle_every == 0:
                future.set_exception(TooManyRequestsException("Rate Exceeded.", "ConcurrentInvocationLimitExceeded"))
                return future
            cold = not self._idle
            env = self._idle.pop() if self._idle else f"env{next(self._ids):02d}"
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        submitted = time.time()
        error = bool(self.error_every and n % self.error_every == 0)

        def finish() -> None:
            start = submitted + (0.05 if cold else 0.0)
            duration = 2.0 + n % 7
            record = InvocationRecord(
                request_id=f"req-{n}",
                function="fake",
                version="$LATEST",
                environment_id=env,
                cold=cold,
                init_duration_ms=50.0 if cold else None,
                init_suppressed=False,
                duration_ms=duration,
                billed_duration_ms=int(duration + (50 if cold else 0)) + 1,
                memory_size_mb=self.memory_mb,
                max_memory_used_mb=40,
                status=Status.ERROR if error else Status.SUCCESS,
                error_type="ValueError" if error else None,
                start=start,
                end=start + duration / 1000,
                submitted=submitted,
            )
            with self._lock:
                self.in_flight -= 1
                self._idle.append(env)
            future.set_result(FakeResult(record))

        if self.delay_s:
            threading.Timer(self.delay_s, finish).start()
        else:
            finish()
        return future


class EventFunction(FakeFunction):
    """A target whose invoke() takes invocation_type (as the async-invoke issue will add)."""

    def __init__(self) -> None:
        super().__init__()
        self.invoked: list[tuple[Any, str]] = []

    def invoke(self, event: Any = None, *, invocation_type: str = "RequestResponse") -> Any:
        self.invoked.append((event, invocation_type))
        return {"StatusCode": 202}
