"""An extension that cannot start fails the init with RAPID's error type, not ``Extension.Crash``: an 11th
external extension and a file the kernel would refuse to exec (not executable, a missing interpreter) both give
``Extension.LaunchError`` (classic RAPID, ``rapid/handlers.go`` ``doInitExtensions`` → ``agentLaunchError``;
``Extension.TooManyExtensions`` is only the register route's 403)."""

from __future__ import annotations

from pathlib import Path

import pytest

import lambdalab
from tests.engine.extension_helpers import layer, probe

pytestmark = pytest.mark.timeout(120)

ECHO = "def handler(event, context):\n    return event\n"


def _init_error(fn: lambdalab.Function) -> tuple[str, str]:
    result = fn.invoke(1)
    assert result.error is not None
    return result.error["errorType"], fn.logs()


def test_an_eleventh_external_extension_fails_the_init_with_launch_error(tmp_path: Path) -> None:
    scripts = {f"e{k:02d}": probe() for k in range(11)}
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("many", layer(tmp_path / "layer", scripts))
        fn = lab.create_function("many", ECHO, layers=[version.arn])
        error_type, log = _init_error(fn)
    assert error_type == "Extension.LaunchError"
    assert "Error Type: Extension.LaunchError" in log
    assert "REGISTERED" not in log  # none of them ran


@pytest.mark.parametrize(
    ("why", "text", "mode"),
    [
        ("not executable", "#!/bin/sh\necho ran\n", 0o644),
        ("no interpreter", "#!/nonexistent/bin/python9\nprint('ran')\n", 0o755),
    ],
)
def test_an_extension_that_cannot_be_launched_fails_the_init_with_launch_error(
    tmp_path: Path, why: str, text: str, mode: int
) -> None:
    root = layer(tmp_path / "layer", {"ok": probe(), "broken": text})
    (root / "extensions" / "broken").chmod(mode)
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("broken", root)
        fn = lab.create_function("broken", ECHO, layers=[version.arn])
        error_type, log = _init_error(fn)
        assert fn.invoke(2).error is not None  # every cold start fails the same way
    assert error_type == "Extension.LaunchError", why
    assert "Error Type: Extension.LaunchError" in log
    assert "REGISTERED" not in log and "ran" not in log.splitlines()


def test_an_extension_that_exits_before_registering_is_still_a_crash(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        version = lab.publish_layer_version("crash", layer(tmp_path / "layer", {"crash": "#!/bin/sh\nexit 3\n"}))
        fn = lab.create_function("crash", ECHO, layers=[version.arn])
        error_type, log = _init_error(fn)
    assert error_type == "Extension.Crash"
    assert "Error Type: Extension.Crash" in log
