"""What a planned load on a real function would cost, and the confirmation asked before it starts.

Estimates use ``lambdalab.load.report.PRICES`` (us-east-1 list prices, first tier, no free tier): requests plus
GB-seconds of billed duration (rounded up to the millisecond, as Lambda bills). They are labelled as estimates
wherever shown. Above the Lab's ``confirm_above_usd``, ``confirm_load`` asks ``Proceed? [y/N]`` when someone can
answer (a terminal, a notebook), and otherwise raises ``CostConfirmationRequired``: a run nobody confirmed does
not start.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from lambdalab.errors import ConfigError


class CostConfirmationRequired(ConfigError):
    """A planned load's estimated cost is above the Lab's ``confirm_above_usd`` and nobody confirmed it."""

    def __init__(self, message: str, *, estimate_usd: float, threshold_usd: float) -> None:
        super().__init__(message)
        self.estimate_usd = estimate_usd
        self.threshold_usd = threshold_usd


def estimate_usd(requests: int, memory_mb: int, duration_ms: float, architecture: str = "x86_64") -> float:
    """USD at list prices for ``requests`` invocations of ``duration_ms`` each at ``memory_mb``."""
    from lambdalab.load.report import PRICES

    prices = PRICES.get(architecture, PRICES["x86_64"])
    billed_s = math.ceil(max(duration_ms, 0.0)) / 1000.0
    gb_s = requests * (memory_mb / 1024.0) * billed_s
    return requests * prices["per_request"] + gb_s * prices["gb_s"]


def estimate_line(requests: int, usd: float) -> str:
    from lambdalab.load.report import PRICE_LABEL

    return f"Planned: ~{requests:,} requests, ~${usd:,.2f} ({PRICE_LABEL})"


def interactive() -> bool:
    """Whether a question can be answered: a terminal on stdin, or a Jupyter kernel (its stdout is the kernel's)."""
    stdin = sys.stdin
    if stdin is not None and hasattr(stdin, "isatty") and stdin.isatty():
        return True
    return type(sys.stdout).__module__.startswith("ipykernel")


def confirm(
    requests: int,
    usd: float,
    *,
    threshold_usd: float,
    confirmed: bool = False,
    ask: Callable[[str], str] | None = None,
    show: Callable[[str], None] = print,
) -> None:
    """Show the estimate; above ``threshold_usd`` ask (or raise ``CostConfirmationRequired``) unless ``confirmed``."""
    show(estimate_line(requests, usd))
    if confirmed or usd <= threshold_usd:
        return
    refusal = CostConfirmationRequired(
        f"the planned load is estimated at ~${usd:,.2f}, above this Lab's confirm_above_usd "
        f"(${threshold_usd:,.2f}); to run it, pass load.run(..., confirm=True) or create the Lab with a "
        f"higher confirm_above_usd",
        estimate_usd=usd,
        threshold_usd=threshold_usd,
    )
    if ask is None:
        if not interactive():
            raise refusal
        ask = input
    try:
        answer = ask("Proceed? [y/N] ")
    except (EOFError, RuntimeError, OSError):  # no one can answer after all (a kernel without stdin)
        raise refusal from None
    if answer.strip().lower() not in ("y", "yes"):
        raise refusal
