"""What every event builder shares: the default account and region, the clock, and time formats.

Timestamps are epoch seconds; ``time_or_now(None)`` reads the wall clock, which is how a builder
gets a fresh time when none is given. Each AWS service writes times its own way, so there is
one formatter per style (the HTTP request-time style lives with the HTTP builders).
"""

from __future__ import annotations

import datetime
import time as _time

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


def time_or_now(at: float | None) -> float:
    return _time.time() if at is None else float(at)


def utc_datetime(at: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC)


def iso_ms(at: float) -> str:
    """``2024-01-31T12:00:00.123Z`` (S3, SNS)."""
    return utc_datetime(at).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


def iso_s(at: float) -> str:
    """``2024-01-31T12:00:00Z`` (EventBridge)."""
    return utc_datetime(at).strftime("%Y-%m-%dT%H:%M:%SZ")
