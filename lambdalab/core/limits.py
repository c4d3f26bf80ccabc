"""Concurrency limits and the scaling rate: whether an invocation may run now (AWS docs: "Lambda scaling behavior",
"Configuring reserved concurrency").

Concurrency is the number of in-flight invocations, plus every provisioned environment (allocated
whether busy or not). A function with reserved concurrency R may use up to R and no more (0
throttles everything); functions without a reservation share what the account has left after all
reservations. Reservations may take at most ``account - unreserved_floor``. Each new environment of
a function also takes a token from that function's scaling bucket (1,000 per 10 s, refilled
continuously). Pure: callers pass usage counts and the time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

RESERVED_REASON: Final = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_REASON: Final = "ConcurrentInvocationLimitExceeded"
SCALING_REASON: Final = "FunctionInvocationRateLimitExceeded"
# lambdalab's own: the machine cannot hold one more environment process (its file descriptors are
# spent). Lambda has no such reason; see docs/FIDELITY.md.
CAPACITY_REASON: Final = "EnvironmentCapacityExceeded"
THROTTLE_MESSAGE: Final = "Rate Exceeded."


@dataclasses.dataclass(frozen=True, slots=True)
class AccountLimits:
    """The Lab's account: its concurrency and the part reservations must leave unreserved."""

    concurrency: int = 1000
    unreserved_floor: int = 100
    scale_limit: int = 1000  # new environments a function may start in a burst
    scale_period_s: float = 10.0  # ...refilled at scale_limit / scale_period_s per second

    def reservable(self, reservations: Mapping[str, int], function: str) -> int:
        """The most ``function`` may reserve, given the others' reservations."""
        others = sum(n for name, n in reservations.items() if name != function)
        return max(0, self.concurrency - self.unreserved_floor - others)


def concurrency_throttle(
    limits: AccountLimits, reserved: int | None, function_usage: int, unreserved_usage: int, total_reserved: int
) -> str | None:
    """The throttle reason if one more in-flight invocation would exceed a limit, else None."""
    if reserved is not None:
        return RESERVED_REASON if function_usage + 1 > reserved else None
    if unreserved_usage + 1 > limits.concurrency - total_reserved:
        return ACCOUNT_REASON
    return None


class ScalingBucket:
    """A function's token bucket for new environments: capacity ``limit``, refilled continuously."""

    __slots__ = ("_capacity", "_rate", "_tokens", "_at")

    def __init__(self, limit: int, period_s: float, at: float = 0.0) -> None:
        self._capacity = float(limit)
        self._rate = limit / period_s if period_s > 0 else float("inf")
        self._tokens = float(limit)
        self._at = at

    def tokens(self, at: float) -> float:
        if at > self._at:
            self._tokens = min(self._capacity, self._tokens + (at - self._at) * self._rate)
            self._at = at
        return self._tokens

    def take(self, at: float) -> bool:
        """Take one token if there is one."""
        if self.tokens(at) >= 1.0:
            self._tokens -= 1.0
            return True
        return False
