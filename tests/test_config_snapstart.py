"""SnapStart's configuration rules (``FunctionConfig.snap_start``): Lambda's limits as ``ConfigError``s."""

from __future__ import annotations

import dataclasses

import pytest

from lambdalab.config import INTERPRETER, SNAP_START_EPHEMERAL, SNAP_START_PROVISIONED, FunctionConfig
from lambdalab.errors import ConfigError
from lambdalab.results import VersionInfo


def test_snap_start_is_off_by_default_and_taken_on_python_runtimes() -> None:
    assert FunctionConfig(name="f").snap_start is False
    for runtime in ("python", "python-ric", INTERPRETER):
        assert FunctionConfig(name="f", runtime=runtime, snap_start=True).snap_start is True
    # the host interpreter whatever its version (Lambda: python3.12 and later; docs/FIDELITY.md)
    assert FunctionConfig(name="f", runtime=INTERPRETER, snap_start=True, ephemeral_storage_mb=512).snap_start


@pytest.mark.parametrize(
    ("runtime", "identifier"),
    [("nodejs20.x", "nodejs20.x"), ("provided.al2023", "provided.al2023"), ("provided", "provided.al2023")],
)
def test_other_runtimes_are_refused_with_lambdas_message(runtime: str, identifier: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", runtime=runtime, handler="index.handler", snap_start=True)
    assert str(caught.value) == f"{identifier} is not supported for SnapStart enabled functions."


def test_provisioned_concurrency_and_large_tmp_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", snap_start=True, provisioned_concurrency=1)
    assert str(caught.value) == SNAP_START_PROVISIONED
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", snap_start=True, ephemeral_storage_mb=513)
    assert str(caught.value) == SNAP_START_EPHEMERAL
    # without SnapStart both stay allowed
    assert FunctionConfig(name="f", provisioned_concurrency=1, ephemeral_storage_mb=10240).snap_start is False


def test_snap_start_must_be_a_bool_and_update_rechecks() -> None:
    with pytest.raises(ConfigError, match="invalid snap_start: 'yes'"):
        FunctionConfig(name="f", snap_start="yes")  # type: ignore[arg-type]
    on = FunctionConfig(name="f", snap_start=True)
    with pytest.raises(ConfigError):
        dataclasses.replace(on, provisioned_concurrency=2)
    assert dataclasses.replace(on, snap_start=False, provisioned_concurrency=2).provisioned_concurrency == 2


def test_version_info_snap_start_response() -> None:
    def info(version: str, on: bool) -> VersionInfo:
        from pathlib import Path

        return VersionInfo(version, FunctionConfig(name="f", snap_start=on), "00", Path("."), 128, 3.0, 0)

    assert info("$LATEST", True).snap_start == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    assert info("1", True).snap_start == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert info("1", False).snap_start == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert info("1", True).snapshot == "none"
