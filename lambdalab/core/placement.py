"""Placement: where one invocation runs, or why it cannot run now.

The rule, kept here and only here:
1. an idle provisioned environment of that version (provisioned capacity is used first);
2. a provisioned environment that was reset (it re-initialises inside the invoke);
3. otherwise the invocation needs on-demand concurrency: throttled if a limit says no;
4. the most recently used idle on-demand environment (a warm start). MRU keeps a small set of
   environments hot and lets the rest age out, as warm pools usually do;
5. an on-demand environment that was reset (Lambda reuses it, with a "suppressed" init);
6. a new environment (a cold start), if the function's scaling bucket has a token; else throttled.
   A SnapStart version whose snapshot is ready restores the new (or reset) environment from it instead
   of running init (``Pool.place``: ``RestoreRequested``); the decision is still COLD (or RESTART).
Pure: takes counts and verdicts, returns a decision.

Which idle environment a warm start takes is rule 4's "most recently used" (``WARM_CHOICES[0]``). A
version may ask for ``"newest"`` instead, the most recently *created* idle environment: SimFaaS's
rule, so that the simulator can be compared with it on its own terms (``tests/sim/test_agree_simfaas.py``).
"""

from __future__ import annotations

import enum
from typing import Final

from lambdalab.core.limits import SCALING_REASON

WARM_CHOICES: Final = ("mru", "newest")


class Placement(enum.Enum):
    WARM_PROVISIONED = "warm_provisioned"
    RESTART_PROVISIONED = "restart_provisioned"
    WARM = "warm"
    RESTART = "restart"
    COLD = "cold"
    THROTTLE = "throttle"
    JOIN = "join"  # Managed Instances: wait for a worker of an environment that is starting (core/groups.py)


def choose(
    *,
    idle_provisioned: int = 0,
    reset_provisioned: int = 0,
    idle: int = 0,
    reset: int = 0,
    over_limit: str | None = None,
    can_scale: bool = True,
) -> tuple[Placement, str | None]:
    """Decide where the next invocation of a version goes; the reason is set when throttled."""
    if idle_provisioned:
        return Placement.WARM_PROVISIONED, None
    if reset_provisioned:
        return Placement.RESTART_PROVISIONED, None
    if over_limit is not None:
        return Placement.THROTTLE, over_limit
    if idle:
        return Placement.WARM, None
    if reset:
        return Placement.RESTART, None
    if can_scale:
        return Placement.COLD, None
    return Placement.THROTTLE, SCALING_REASON
