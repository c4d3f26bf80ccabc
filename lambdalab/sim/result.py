"""What a simulation run returns: a summary of numbers, and records shaped like the engine's.

``SimulationResult.invocations`` and ``.spans`` have the columns of ``Lab.invocations()`` and
``Lab.spans()``, so every chart in ``lambdalab.viz`` draws a simulation too; they hold the first
``max_records`` rows of each (the summary always counts everything). Costs use the us-east-1 list
prices of https://aws.amazon.com/lambda/pricing/ (x86_64, first tier, no free tier; labelled as estimates).
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from lambdalab.core.outcomes import snapstart_cost
from lambdalab.core.records import InvocationRecord, PhaseSpan
from lambdalab.sim.tally import Tally

if TYPE_CHECKING:
    import pandas as pd

PRICES: Final = {
    "gb_s": 0.0000166667,  # on-demand duration, including init (since Aug 2025)
    "per_request": 0.20 / 1_000_000,
    "provisioned_gb_s": 0.0000041667,  # provisioned concurrency, for the time it is allocated
    "provisioned_duration_gb_s": 0.0000097222,  # duration of invokes served by provisioned environments
}
PRICE_LABEL: Final = "estimated at us-east-1 x86_64 list prices, no free tier (see aws.amazon.com/lambda/pricing)"
# Lambda Managed Instances bills the instances, not durations: EC2's on-demand price, Lambda's 15% management fee on
# it, and $0.20 per million requests. An estimate: a vCPU-hour of a c7i instance (us-east-1, 2 GiB per vCPU, Lambda's
# default ratio), one vCPU per 2 GiB of the function's memory (at least one), for the time each environment lives.
MANAGED_INSTANCES_PRICES: Final = {
    "vcpu_hour": 0.08925 / 2,
    "management_fee": 0.15,
    "mib_per_vcpu": 2048.0,
}


@dataclasses.dataclass(frozen=True)
class SimulationSummary:
    """The headline numbers of a run. Averages are over the simulated horizon ``[0, horizon_s]``.

    ``cold_start_probability`` and ``throttle_probability`` are shares of invocation attempts
    (placed + throttled), as SimFaaS defines them; for synchronous traffic that is every request.
    """

    horizon_s: float
    requests: int
    invoked: int
    completed: int
    throttles: int
    cold_starts: int
    errors: int
    timeouts: int
    cold_start_probability: float
    throttle_probability: float
    mean_environments: float
    mean_busy: float
    mean_idle: float
    utilization: float
    peak_environments: int
    environments_created: int
    idle_gb_s: float
    cost_usd: float
    cost_breakdown_usd: Mapping[str, float]
    destinations: Mapping[str, int]
    restores: int = 0  # cold starts that were SnapStart restores (counted in cold_starts too)
    workers_created: int = 0  # Managed Instances: worker processes started (environments count the groups)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def summarize(
    tally: Tally, horizon: float, provisioned: int, snap_start: bool = False, per_environment: int | None = None
) -> SimulationSummary:
    """The summary of a closed tally (see ``Tally.close``).

    Managed Instances (``per_environment``): the bill is the environments' instance time (``MANAGED_INSTANCES_PRICES``)
    with the management fee, and the requests; there is no duration charge. Environments are the groups;
    ``utilization`` is the share of their workers busy, ``mean_idle`` counts idle workers.

    With SnapStart, Billed Restore Duration is billed as duration, and two lines are added: the snapshot's
    cache for the whole horizon and a charge per restore (``core.outcomes.snapstart_cost``).
    """
    attempts = tally.invoked + tally.throttles
    gb = tally.memory_mb / 1024.0
    costs = {
        "requests": tally.invoked * PRICES["per_request"],
        "on_demand_duration": (tally.billed_ms + tally.billed_restore_ms) / 1000.0 * gb * PRICES["gb_s"],
        "provisioned_allocated": provisioned * horizon * gb * PRICES["provisioned_gb_s"],
        "provisioned_duration": tally.billed_provisioned_ms / 1000.0 * gb * PRICES["provisioned_duration_gb_s"],
    }
    if per_environment is not None:
        lmi = MANAGED_INSTANCES_PRICES
        vcpus = max(1.0, math.floor(tally.memory_mb / lmi["mib_per_vcpu"]))
        instances = tally.env_s * vcpus * lmi["vcpu_hour"] / 3600.0
        costs = {
            "requests": tally.invoked * PRICES["per_request"],
            "instances": instances,
            "management_fee": instances * lmi["management_fee"],
        }
    if snap_start:
        costs["snapstart_cache"] = snapstart_cost(tally.memory_mb, horizon, 0)
        costs["snapstart_restore"] = snapstart_cost(tally.memory_mb, 0.0, tally.restores)
    per_s = 1.0 / horizon if horizon > 0 else math.nan
    return SimulationSummary(
        horizon_s=horizon,
        requests=tally.requests,
        invoked=tally.invoked,
        completed=tally.completed,
        throttles=tally.throttles,
        cold_starts=tally.cold,
        errors=tally.errors,
        timeouts=tally.timeouts,
        cold_start_probability=tally.cold / attempts if attempts else math.nan,
        throttle_probability=tally.throttles / attempts if attempts else math.nan,
        mean_environments=tally.env_s * per_s,
        mean_busy=tally.busy_s * per_s,
        mean_idle=tally.idle_s * per_s,
        utilization=tally.busy_s / (tally.env_s * (per_environment or 1)) if tally.env_s > 0 else math.nan,
        peak_environments=tally.peak,
        environments_created=tally.created_total,
        idle_gb_s=tally.idle_s * gb,
        cost_usd=math.fsum(costs.values()),
        cost_breakdown_usd=costs,
        destinations=dict(tally.destinations),
        restores=tally.restores,
        workers_created=tally.workers_created,
    )


class SimulationResult:
    """A finished run: ``summary``, plus ``invocations`` and ``spans`` DataFrames (first rows only)."""

    def __init__(self, summary: SimulationSummary, tally: Tally, *, seed: int, wall_s: float, steps: int) -> None:
        self.summary = summary
        self.records: list[InvocationRecord] = tally.records
        self.span_records: list[PhaseSpan] = tally.spans
        self.destination_records: list[dict[str, Any]] = tally.destination_records
        # True when the DataFrames hold only the first max_records rows (the summary counts everything)
        self.truncated = tally.records_dropped > 0 or tally.spans_dropped > 0
        self.seed = seed
        self.wall_s = wall_s  # real seconds the run took (the only thing a seed does not fix)
        self.steps = steps  # kernel actions run
        self._invocations: pd.DataFrame | None = None
        self._spans: pd.DataFrame | None = None

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<SimulationResult {s.requests:,} requests over {s.horizon_s:,.0f} s: "
            f"{s.cold_start_probability:.2%} cold, {s.throttle_probability:.2%} throttled, "
            f"{s.mean_environments:.2f} environments, ${s.cost_usd:,.4f}>"
        )

    @property
    def invocations(self) -> pd.DataFrame:
        """One row per invocation, the columns of ``Lab.invocations()`` (times in simulated seconds)."""
        if self._invocations is None:
            import pandas as pd

            columns = list(InvocationRecord._fields)
            frame = pd.DataFrame(map(operator.attrgetter(*columns), self.records), columns=columns)
            frame["status"] = frame["status"].map(lambda s: s.value)
            frame["latency_ms"] = (frame["end"] - frame["submitted"]) * 1000.0
            self._invocations = frame
        return self._invocations

    @property
    def spans(self) -> pd.DataFrame:
        """One row per phase span, the columns of ``Lab.spans()`` (open ones end at the horizon)."""
        if self._spans is None:
            import pandas as pd

            columns = list(PhaseSpan._fields)
            frame = pd.DataFrame(map(operator.attrgetter(*columns), self.span_records), columns=columns)
            frame["duration_ms"] = (frame["end"] - frame["start"]) * 1000.0
            self._spans = frame.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)
        return self._spans
