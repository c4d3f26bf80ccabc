"""What a load run returns: one row per request, and a summary computed from those rows only.

``summarize(invocations, duration_s)`` is the single place the summary numbers come from, so
each of them can be recomputed from ``report.invocations`` (the tests do exactly that).

Definitions (rows are requests):
- *invoked*: the request reached an environment, i.e. the row has a ``request_id`` (a record).
- *throttles*: rows with ``throttled`` (``TooManyRequestsException``); they have no record.
- *errors*: rows with an ``error_type`` that are not throttles: handler errors, timeouts,
  crashes (from the record) and other Invoke API errors (the exception's class name).
  *error_types*: those rows counted by ``error_type`` (most frequent first), e.g.
  ``{"Runtime.ExitError": 20, "Unhandled": 9}``; ``str()`` prints them, and says so plainly when
  every request failed.
- latency percentiles: over invoked rows, ``latency_ms`` = record ``end - submitted``
  (what ``lab.invocations()`` reports), split by ``cold``.
- *environments created*: distinct environments with a cold start in this run (a re-init of an
  environment that existed before the run counts too); *used*: distinct environments. ``None`` (printed
  "unknown") while a row that counts has no environment id: a run on AWS Lambda, whose Invoke answers do not
  name the environment (``environment_id`` ``""`` until CloudWatch Logs are read: its log stream).
  ``report.with_environments(fn.invocations())`` fills the rows' ids from the function's records and counts them.
- GB-s: Σ ``memory_size_mb``/1024 × ``billed_duration_ms``/1000 over invoked rows; cost at the
  list prices of https://aws.amazon.com/lambda/pricing/ (us-east-1, x86, first tier, no free tier),
  throttles are free.
- SnapStart (rows with a ``restore_duration_ms``): ``restores`` counts them; their Billed Restore Duration is
  billed as duration (in GB-s), and each restore costs ``core.outcomes.snapstart_cost`` per GB
  (``snapstart_cost_usd``, in ``cost_usd``); the snapshot cache, billed while a version is active, is not a
  run's cost and is left out. Without restores neither number appears (as before).
- Lambda Managed Instances (``managed_environments``: the environments the function ran during the run): no
  duration charge; the instances, Lambda's 15 % management fee on them and the requests
  (``instance_cost_usd``, at the simulator's ``MANAGED_INSTANCES_PRICES``: a c7i vCPU-hour per 2 GiB of memory,
  for the run's length); ``duration_cost_usd`` is 0 and ``gb_s`` only says what classic Lambda would bill.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PRICES", "LoadReport", "LoadSummary", "summarize"]

# us-east-1 list prices, first tier (https://aws.amazon.com/lambda/pricing/); labelled as estimates wherever shown.
PRICES: Final = {
    "x86_64": {"gb_s": 0.0000166667, "per_request": 0.20 / 1_000_000},
    "arm64": {"gb_s": 0.0000133334, "per_request": 0.20 / 1_000_000},
}
PRICE_LABEL: Final = (
    "estimated at list prices (us-east-1, x86_64: $0.0000166667 per GB-s + $0.20 per 1M "
    "requests; no free tier; see aws.amazon.com/lambda/pricing)"
)
QUANTILES: Final = (0.5, 0.9, 0.99)
MANAGED_INSTANCES_LABEL: Final = (
    "Lambda Managed Instances, estimated: no duration charge: instances + 15 % fee + requests (a c7i vCPU-hour "
    "in us-east-1 per 2 GiB of memory, for the run's length, as the simulator's MANAGED_INSTANCES_PRICES; $0.20 "
    "per 1M requests; see aws.amazon.com/lambda/pricing)"
)


@dataclasses.dataclass(frozen=True)
class LoadSummary:
    """The headline numbers of a load run; see the module docstring for their definitions."""

    requests: int
    invoked: int
    succeeded: int
    errors: int
    throttles: int
    cold_starts: int
    cold_start_pct: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    cold_latency_p50_ms: float
    cold_latency_p90_ms: float
    cold_latency_p99_ms: float
    warm_latency_p50_ms: float
    warm_latency_p90_ms: float
    warm_latency_p99_ms: float
    environments_created: int | None  # None: not known (rows without an environment id, as from AWS Lambda)
    environments_used: int | None
    duration_s: float
    throughput_per_s: float
    gb_s: float
    duration_cost_usd: float
    request_cost_usd: float
    cost_usd: float
    price_label: str = PRICE_LABEL
    # error_type -> count, most first; compared, not hashed, so a summary stays hashable as before
    error_types: dict[str, int] = dataclasses.field(default_factory=dict, hash=False)
    restores: int = 0  # SnapStart: invocations whose environment was restored from a snapshot
    snapstart_cost_usd: float = 0.0  # SnapStart's restore charges (in cost_usd)
    instance_cost_usd: float = 0.0  # Managed Instances: the instances and the 15 % fee (in cost_usd; no duration)

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if not self.restores:  # no SnapStart in this run: the numbers as they always were
            del out["restores"], out["snapstart_cost_usd"]
        if not self.instance_cost_usd:
            del out["instance_cost_usd"]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per number: ``metric``, ``value``, ``unit`` (the label goes in ``df.attrs``).

        Each error type gets a row of its own after ``errors``: ``errors: Runtime.ExitError``, its count.
        """
        import pandas as pd

        rows: list[tuple[str, Any, str]] = []
        for name, value in self.as_dict().items():
            if name in ("price_label", "error_types"):
                continue
            rows.append((name, value, _unit(name)))
            if name == "errors":
                rows.extend((f"errors: {kind}", count, "count") for kind, count in self.error_types.items())
        frame = pd.DataFrame(rows, columns=["metric", "value", "unit"])
        frame.attrs["price_label"] = self.price_label
        return frame

    def __str__(self) -> str:
        def ms(v: float) -> str:
            return "—" if math.isnan(v) else f"{v:,.1f}"

        pct = "—" if math.isnan(self.cold_start_pct) else f"{self.cold_start_pct:.1f}%"
        lines = [
            (
                f"requests {self.requests:,} in {self.duration_s:.2f} s ({self.throughput_per_s:,.1f}/s): "
                f"{self.succeeded:,} ok, {self.errors:,} errors, {self.throttles:,} throttles"
            ),
            *self._error_lines(),
            f"cold starts {self.cold_starts:,} ({pct}); {self._environments_text()}",
            "latency ms      p50       p90       p99",
        ]
        for label, prefix in (("all", "latency"), ("cold", "cold_latency"), ("warm", "warm_latency")):
            values = [getattr(self, f"{prefix}_p{q}_ms") for q in (50, 90, 99)]
            lines.append(f"  {label:<6}" + "".join(f"{ms(v):>10}" for v in values))
        snap = f" + SnapStart restores ${self.snapstart_cost_usd:.8f}" if self.restores else ""
        if self.instance_cost_usd:
            lines.append(
                f"no duration charge: instances + 15 % fee + requests; cost ${self.cost_usd:.8f} (instances and fee "
                f"${self.instance_cost_usd:.8f} + requests ${self.request_cost_usd:.8f}), {self.price_label}"
            )
        else:
            lines.append(
                f"{self.gb_s:,.4f} GB-s; cost ${self.cost_usd:.8f} (duration ${self.duration_cost_usd:.8f} "
                f"+ requests ${self.request_cost_usd:.8f}{snap}), {self.price_label}"
            )
        return "\n".join(lines)

    def _environments_text(self) -> str:
        created, used = self.environments_created, self.environments_used
        if created is None and used is None:
            return (
                "environments unknown (not named by the invoke's answers: report.with_environments(fn.invocations()))"
            )
        return (
            f"environments created {'unknown' if created is None else f'{created:,}'}, "
            f"used {'unknown' if used is None else f'{used:,}'}"
        )

    def errors_text(self) -> str:
        """``"29 (Runtime.ExitError 20, Unhandled 9)"``: the errors and their types with counts."""
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in self.error_types.items())
        return f"{self.errors:,} ({kinds})" if kinds else f"{self.errors:,}"

    def _error_lines(self) -> list[str]:
        if self.requests and self.errors == self.requests:
            return [f"every request failed: {self.errors_text()}; the function's logs show why (fn.logs())"]
        if self.requests and self.throttles == self.requests:
            return ["every request was throttled (TooManyRequestsException: the concurrency limit was reached)"]
        return [f"errors: {self.errors_text()}"] if self.errors else []


def _unit(name: str) -> str:
    if name.endswith("_ms"):
        return "ms"
    if name.endswith("_usd"):
        return "USD (list price)"
    return {"cold_start_pct": "%", "duration_s": "s", "throughput_per_s": "requests/s", "gb_s": "GB-s"}.get(
        name, "count"
    )


def _quantile(series: pd.Series, q: float) -> float:
    values = series.dropna()
    return float(values.quantile(q)) if len(values) else math.nan


def summarize(
    invocations: pd.DataFrame,
    duration_s: float,
    *,
    architecture: str = "x86_64",
    managed_environments: int | None = None,
) -> LoadSummary:
    """The summary of a load run's rows (``report.invocations``); ``duration_s`` is the run's wall time;
    ``managed_environments``: a Managed Instances function's environments during the run (its bill is theirs)."""
    df = invocations
    throttled = df["throttled"].fillna(False).astype(bool)
    invoked = df["request_id"].notna()
    cold = df["cold"].fillna(False).astype(bool) & invoked
    warm = invoked & ~cold
    latency = df["latency_ms"].astype(float)
    quant: dict[str, float] = {}
    for prefix, mask in (("latency", invoked), ("cold_latency", cold), ("warm_latency", warm)):
        for q in QUANTILES:
            quant[f"{prefix}_p{round(q * 100)}_ms"] = _quantile(latency[mask], q)
    n_invoked = int(invoked.sum())
    created, used = _environment_counts(df["environment_id"], cold, invoked)
    gb_s = float(
        (
            df["memory_size_mb"][invoked].astype(float)
            / 1024.0
            * df["billed_duration_ms"][invoked].astype(float)
            / 1000.0
        ).sum()
    )
    restores, restore_gb_s, snapstart_cost = _snapstart(df, invoked)
    gb_s += restore_gb_s
    prices = PRICES[architecture]
    duration_cost = gb_s * prices["gb_s"]
    request_cost = n_invoked * prices["per_request"]
    label = (
        PRICE_LABEL
        if architecture == "x86_64"
        else PRICE_LABEL.replace("x86_64: $0.0000166667", f"{architecture}: ${prices['gb_s']}")
    )
    instance_cost = 0.0
    if managed_environments is not None:  # Managed Instances: no duration charge (see the module docstring)
        memory = float(df["memory_size_mb"][invoked].max()) if n_invoked else 2048.0
        instance_cost = _managed_instances_cost(managed_environments, duration_s, memory)
        duration_cost, label = 0.0, MANAGED_INSTANCES_LABEL
    return LoadSummary(
        requests=len(df),
        invoked=n_invoked,
        succeeded=int((df["status"] == "success").sum()),
        errors=int((df["error_type"].notna() & ~throttled).sum()),
        throttles=int(throttled.sum()),
        cold_starts=int(cold.sum()),
        cold_start_pct=100.0 * int(cold.sum()) / n_invoked if n_invoked else math.nan,
        **quant,
        environments_created=created,
        environments_used=used,
        duration_s=float(duration_s),
        throughput_per_s=len(df) / duration_s if duration_s > 0 else math.nan,
        gb_s=gb_s,
        duration_cost_usd=duration_cost,
        request_cost_usd=request_cost,
        cost_usd=duration_cost + request_cost + snapstart_cost + instance_cost,
        price_label=label,
        error_types=_error_types(df["error_type"][df["error_type"].notna() & ~throttled]),
        restores=restores,
        snapstart_cost_usd=snapstart_cost,
        instance_cost_usd=instance_cost,
    )


def _snapstart(df: pd.DataFrame, invoked: pd.Series) -> tuple[int, float, float]:
    """(restores, their Billed Restore Duration in GB-s, their restore charges in USD); zeros without the columns
    (rows of an older table) or without restores."""
    if "restore_duration_ms" not in df.columns:
        return 0, 0.0, 0.0
    restored = invoked & df["restore_duration_ms"].notna()
    if not bool(restored.any()):
        return 0, 0.0, 0.0
    from lambdalab.core.outcomes import snapstart_cost

    memory = df["memory_size_mb"][restored].astype(float)
    billed = df.get("billed_restore_duration_ms")
    gb_s = float((memory / 1024.0 * billed[restored].astype(float) / 1000.0).sum()) if billed is not None else 0.0
    usd = sum(snapstart_cost(int(mb), 0.0, int(n)) for mb, n in memory.value_counts().items())
    return int(restored.sum()), gb_s, float(usd)


def _environment_counts(ids: pd.Series, cold: pd.Series, invoked: pd.Series) -> tuple[int | None, int | None]:
    """Distinct environments among the cold and the invoked rows (created, used); None where a row of them has no
    id (``""``: not known yet)."""
    unknown = ids.isna() | (ids.astype(str) == "")
    created = None if bool((unknown & cold).any()) else int(ids[cold].nunique())
    used = None if bool((unknown & invoked).any()) else int(ids[invoked].nunique())
    return created, used


def _error_types(types: pd.Series) -> dict[str, int]:
    """Each error type with its count, most frequent first (ties by name)."""
    counts = types.astype(str).value_counts()
    return {str(kind): int(n) for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))}


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """The outcome of a load run (or a snapshot of one in progress).

    ``invocations``: one row per finished request, in the order they were sent. ``summary``:
    ``summarize(invocations, duration_s)``. The other fields describe the run itself.
    """

    invocations: pd.DataFrame
    summary: LoadSummary
    pattern: Any
    duration_s: float
    sent: int  # requests sent so far (finished + in flight)
    in_flight: int  # sent but not finished when the report was made (0 at the end)
    max_in_flight: int  # most requests this run had in flight at once
    stopped: bool  # ended early by stop(), the stop event or Ctrl-C
    finished: bool  # False for a snapshot of a run still going

    def with_environments(self, records: pd.DataFrame) -> LoadReport:
        """This report with each row's ``environment_id`` taken from ``records`` where the row has none, and its
        environments counted again.

        ``records``: a frame with ``request_id`` and ``environment_id`` columns, such as ``fn.invocations()`` of a
        function on AWS Lambda (read from CloudWatch Logs: one log stream per environment). Rows whose request is
        not there (its logs not read yet) keep ``""``, and the counts stay unknown.
        """
        rows = self.invocations
        if not len(rows) or not len(records):
            return self
        known = records[records["environment_id"].notna() & (records["environment_id"].astype(str) != "")]
        streams = dict(zip(known["request_id"], known["environment_id"], strict=True))
        rows = rows.copy()
        missing = rows["environment_id"].isna() | (rows["environment_id"].astype(str) == "")
        found = rows["request_id"].map(streams)
        rows["environment_id"] = rows["environment_id"].where(~missing | found.isna(), found)
        invoked = rows["request_id"].notna()
        cold = rows["cold"].fillna(False).astype(bool) & invoked
        created, used = _environment_counts(rows["environment_id"], cold, invoked)
        summary = dataclasses.replace(self.summary, environments_created=created, environments_used=used)
        return dataclasses.replace(self, invocations=rows, summary=summary)

    def __str__(self) -> str:
        state = "finished" if self.finished else "in progress"
        if self.stopped:
            state += ", stopped early"
        return f"load run ({self.pattern!r}, {state})\n{self.summary}"

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<LoadReport {s.requests} requests, {s.errors} errors, {s.throttles} throttles, "
            f"{s.cold_starts} cold, p50 {s.latency_p50_ms:.1f} ms{'' if self.finished else ', in progress'}>"
        )


def _managed_instances_cost(environments: int, duration_s: float, memory_mb: float) -> float:
    """The instances of ``environments`` Managed Instances environments for ``duration_s``, with the 15 % fee."""
    from lambdalab.sim.result import MANAGED_INSTANCES_PRICES as lmi

    vcpus = max(1.0, math.floor(memory_mb / lmi["mib_per_vcpu"]))
    instances = environments * duration_s * vcpus * lmi["vcpu_hour"] / 3600.0
    return instances * (1.0 + lmi["management_fee"])
