"""``LabSettings``: the engine-wide settings a ``Lab`` is made with (frozen)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from lambdalab.core.limits import AccountLimits


@dataclasses.dataclass(frozen=True)
class LabSettings:
    """Engine-wide settings (set on the ``Lab``)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    init_timeout_s: float = 10.0
    pass_env: tuple[str, ...] = ()
    use_cgroups: bool = True
    limits: AccountLimits = AccountLimits()
    keep_alive_s: float = 600.0
    keep_alive_policy: str = "fixed"
    retry_delay_scale: float = 1.0
    max_records: int = 100_000
    max_log_entries: int = 10_000
    role_credentials: tuple[tuple[str, str], ...] = ()  # the execution role's, given on purpose
    # the functions' default ``aws_endpoint_url`` (lambdalab/downstream.py): a URL, {service: URL} or None
    aws_endpoint_url: str | Mapping[str, str] | None = None
