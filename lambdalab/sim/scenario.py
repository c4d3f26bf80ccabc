"""``Scenario``: the settings of a simulation, frozen and validated before anything runs.

Defaults are Lambda's where Lambda has one (memory 128 MB, account concurrency 1,000, scaling
1,000 environments per 10 s, two async retries, six hours of event age). Two are not: the
timeout defaults to Lambda's maximum (900 s), so that a long-tailed service model is not cut at
3 s unless asked, and the keep-alive to 600 s (``core/keepalive.py`` says why). Invalid values
raise ``ConfigError`` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math

from lambdalab.config import MEMORY_MB_RANGE, PER_ENVIRONMENT_RANGE
from lambdalab.core.placement import WARM_CHOICES
from lambdalab.errors import ConfigError
from lambdalab.sim.latency import LatencyModel

INVOCATION_TYPES = ("RequestResponse", "Event")
KEEP_ALIVE_POLICIES = ("fixed", "hybrid")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Scenario:
    """Everything about one simulated function but its traffic and its seed."""

    service: LatencyModel
    cold_service: LatencyModel | None = None
    init: LatencyModel
    keep_alive_s: float = 600.0
    keep_alive_policy: str = "fixed"
    warm_choice: str = "mru"
    concurrency: int = 1000
    reserved: int | None = None
    provisioned: int = 0
    memory_mb: int = 128
    timeout_s: float = 900.0
    init_timeout_s: float = 10.0
    error_probability: float = 0.0
    invocation_type: str = "RequestResponse"
    max_retry_attempts: int = 2
    max_event_age_s: float = 21_600.0
    scale_limit: int = 1000
    scale_period_s: float = 10.0
    max_memory_used_mb: int = 0
    max_records: int = 100_000
    function: str = "function"
    snap_start: bool = False  # new environments are restored from a snapshot taken before the run
    restore: LatencyModel | None = None  # a restore, to the runtime's first /next (SnapStart)
    extensions: int = 0  # external extensions per environment
    extension_init: LatencyModel | None = None  # their start and registration, part of Init
    extension_post: LatencyModel | None = None  # their work after each invoke's answer, inside Duration
    # Lambda Managed Instances: this many workers per environment (None: the classic model), at most
    # max_environments environments; min_environments (None: Lambda's 3) ready before the run and kept
    max_concurrency_per_environment: int | None = None
    max_environments: int | None = None
    min_environments: int | None = None
    tenants: int = 0  # tenant isolation with this many tenants, each request's drawn at random (0: none)

    def __post_init__(self) -> None:
        _check(_seconds(self.keep_alive_s), "keep_alive_s", self.keep_alive_s, "seconds >= 0")
        _check(
            self.keep_alive_policy in KEEP_ALIVE_POLICIES,
            "keep_alive_policy",
            self.keep_alive_policy,
            "'fixed' or 'hybrid'",
        )
        _check(self.warm_choice in WARM_CHOICES, "warm_choice", self.warm_choice, "'mru' or 'newest'")
        _check(_whole(self.concurrency, 1), "concurrency", self.concurrency, "a whole number >= 1")
        _check(
            self.reserved is None or _whole(self.reserved, 0), "reserved", self.reserved, "None or a whole number >= 0"
        )
        _check(_whole(self.provisioned, 0), "provisioned", self.provisioned, "a whole number >= 0")
        _check(
            _whole(self.memory_mb, MEMORY_MB_RANGE[0]) and self.memory_mb <= MEMORY_MB_RANGE[1],
            "memory_mb",
            self.memory_mb,
            "an integer from 128 to 10240 (MB)",
        )
        _check(_seconds(self.timeout_s) and self.timeout_s > 0, "timeout_s", self.timeout_s, "seconds > 0")
        _check(
            _seconds(self.init_timeout_s) and self.init_timeout_s > 0,
            "init_timeout_s",
            self.init_timeout_s,
            "seconds > 0",
        )
        _check(
            _seconds(self.error_probability) and self.error_probability <= 1,
            "error_probability",
            self.error_probability,
            "a probability from 0 to 1",
        )
        _check(
            self.invocation_type in INVOCATION_TYPES,
            "invocation_type",
            self.invocation_type,
            "'RequestResponse' or 'Event'",
        )
        _check(
            _whole(self.max_retry_attempts, 0) and self.max_retry_attempts <= 2,
            "max_retry_attempts",
            self.max_retry_attempts,
            "0, 1 or 2",
        )
        _check(
            _seconds(self.max_event_age_s) and self.max_event_age_s >= 60,
            "max_event_age_s",
            self.max_event_age_s,
            "seconds from 60",
        )
        _check(_whole(self.scale_limit, 1), "scale_limit", self.scale_limit, "a whole number >= 1")
        _check(_seconds(self.scale_period_s), "scale_period_s", self.scale_period_s, "seconds >= 0")
        _check(
            _whole(self.max_memory_used_mb, 0),
            "max_memory_used_mb",
            self.max_memory_used_mb,
            "a whole number of MB >= 0",
        )
        _check(_whole(self.max_records, 0), "max_records", self.max_records, "a whole number >= 0")
        _check(_whole(self.extensions, 0) and self.extensions <= 10, "extensions", self.extensions, "0 to 10")
        per = self.max_concurrency_per_environment
        _check(
            per is None or (_whole(per, 1) and per <= PER_ENVIRONMENT_RANGE[1]),
            "max_concurrency_per_environment",
            per,
            f"None or a whole number from 1 to {PER_ENVIRONMENT_RANGE[1]}",
        )
        most = self.max_environments
        _check(
            most is None or (_whole(most, 0) and per is not None),
            "max_environments",
            most,
            "None, or a whole number >= 0 with max_concurrency_per_environment (Managed Instances)",
        )
        least = self.min_environments
        _check(
            least is None or (_whole(least, 0) and per is not None and (most is None or least <= most)),
            "min_environments",
            least,
            "None, or a whole number >= 0 (at most max_environments) with max_concurrency_per_environment",
        )
        _check(_whole(self.tenants, 0), "tenants", self.tenants, "a whole number of tenants >= 0")
        if per is not None:
            _check(
                not self.snap_start and not self.provisioned,
                "max_concurrency_per_environment",
                per,
                "None with snap_start or provisioned (Managed Instances has neither)",
            )
        _check(
            not (self.snap_start and self.provisioned),
            "snap_start",
            self.snap_start,
            "False with provisioned concurrency (Lambda allows only one of them)",
        )
        if self.reserved is not None:
            _check(
                self.provisioned <= self.reserved,
                "provisioned",
                self.provisioned,
                f"at most the reserved concurrency ({self.reserved})",
            )
        _check(
            self.provisioned <= self.concurrency,
            "provisioned",
            self.provisioned,
            f"at most the account concurrency ({self.concurrency})",
        )


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _check(ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"invalid {field}: {value!r}; expected {allowed}")
