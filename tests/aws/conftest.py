"""The AWS backend's fixtures: one stand-in for this folder's tests (a local Lab's endpoint for Lambda and
CloudWatch Logs, moto's IAM on loopback) whose variables are set in ``os.environ`` for each test of this folder only, and an AWS
Lab per test, closed with ``delete=True`` (its functions, and so their environments, end with the test).
The stand-in is package-scoped: its Lab's reaper and environments are this folder's children, and end with it,
before tests elsewhere count the owner's children (tests/reliability/test_leaks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lambdalab.aws
from lambdalab.aws.standin import StandIn


@pytest.fixture(scope="package")
def standin() -> Iterator[StandIn]:
    with pytest.MonkeyPatch.context() as patch:
        # no spare environment made ahead in the shared local Lab: each test ends every process it started
        patch.setenv("LAMBDALAB_SPARES", "0")
        running = StandIn(set_environ=False).start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def aws_env(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in's variables for this test (restored after it)."""
    for name, value in standin.environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return standin


@pytest.fixture
def aws_lab(aws_env: StandIn) -> Iterator[lambdalab.aws.Lab]:
    with lambdalab.aws.Lab(logs_wait_s=5.0) as lab:
        yield lab
