"""The surface every Lab shares: the local one (``lambdalab.Lab``) and the one on real AWS (``lambdalab.aws.Lab``).

A cell, a load run, a chart or the simulator's calibration written against these two protocols runs on either
target. ``tests/aws/test_protocol.py`` checks that both Labs and both Functions have every member named here with
compatible parameters. Members a remote Lab cannot honour the same way (environments it cannot see, freeze
intervals it cannot measure) are not part of the protocol; the frames say what is unknown, never invent it.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class FunctionLike(Protocol):
    """One function on either target."""

    @property
    def name(self) -> str: ...

    def arn(self, qualifier: str | None = None) -> str: ...

    def invoke(
        self, event: Any = None, *, invocation_type: str = "RequestResponse", qualifier: str | None = None
    ) -> Any:
        """``RequestResponse``: a result with ``payload``, ``error``, ``record`` (an ``InvocationRecord``), ``log``."""
        ...

    def submit(self, event: Any = None, *, qualifier: str | None = None) -> concurrent.futures.Future[Any]: ...

    def update(self, *, source: str | None = None, **changes: Any) -> Any: ...

    def publish(self) -> str: ...

    def versions(self) -> list[str]: ...

    def aliases(self) -> Mapping[str, Any]: ...

    def create_alias(self, name: str, version: str, weights: Mapping[str, float] | None = None) -> None: ...

    def update_alias(
        self, name: str, version: str | None = None, weights: Mapping[str, float] | None = None
    ) -> None: ...

    def delete_alias(self, name: str) -> None: ...

    def logs(self, environment_id: str | None = None) -> str: ...


@runtime_checkable
class LabLike(Protocol):
    """A place functions run: this machine, or an AWS account."""

    def create_function(
        self,
        name: str,
        source: str | None = None,
        *,
        path: str | Path | None = None,
        zip_file: bytes | None = None,
        handler: str = "handler",
        memory_mb: int = 128,
        timeout_s: float = 3,
        env_vars: Mapping[str, str] | None = None,
        runtime: str = "python",
        layers: Sequence[str | Path] = (),
        requirements: Sequence[str] | str | None = None,
        max_concurrency_per_environment: int | None = None,
        max_environments: int | None = None,
        min_environments: int | None = None,
        tenancy: str | None = None,
        durable: bool = False,
        durable_execution_timeout_s: int = 86_400,
        durable_retention_days: int = 14,
        recursion: str = "Terminate",
    ) -> FunctionLike: ...

    def function(self, name: str) -> FunctionLike: ...

    def functions(self) -> list[str]: ...

    def delete_function(self, name: str) -> None: ...

    def invoke(self, name: str, event: Any = None, **options: Any) -> Any: ...

    def invocations(self) -> pd.DataFrame:
        """One row per finished invocation: ``InvocationRecord``'s columns and ``latency_ms``."""
        ...

    def spans(self) -> pd.DataFrame:
        """One row per phase span; the columns of ``lambdalab.core.records.PhaseSpan`` + ``duration_ms``."""
        ...

    def logs(self, name: str, environment_id: str | None = None) -> str: ...

    def log_streams(self, name: str) -> list[str]: ...

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...
