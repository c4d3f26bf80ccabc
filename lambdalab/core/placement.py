"""Placement: where one invocation runs.

The rule, kept here and only here: reuse the most recently used idle environment of the same
function version (a warm start); otherwise re-initialise an environment that was reset by a
timeout or crash (Lambda reuses it, with a "suppressed" init); otherwise start a new one (a cold
start). Most-recently-used first keeps a small set of environments hot and lets the rest age
out, as warm pools usually do. Pure: takes counts, returns a decision.
"""

from __future__ import annotations

import enum


class Placement(enum.Enum):
    WARM = "warm"          # pop the newest idle environment
    RESTART = "restart"    # re-init a reset environment inside this invoke
    COLD = "cold"          # a new environment


def choose(idle_count: int, reset_count: int) -> Placement:
    """Decide where the next invocation of a version goes."""
    if idle_count:
        return Placement.WARM
    if reset_count:
        return Placement.RESTART
    return Placement.COLD
