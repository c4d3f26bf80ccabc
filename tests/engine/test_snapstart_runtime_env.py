"""What a SnapStart-capable runtime is given: snapshot_restore_py in both Python runtimes' directories, the exec
wrapper, and a template's variables (no log group/stream, container credentials instead of keys)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lambdalab
from lambdalab.engine import runtimes

HOOKS = """
import snapshot_restore_py

def handler(event, context):
    return {"file": snapshot_restore_py.__file__, "version": snapshot_restore_py.__version__}
"""


@pytest.mark.parametrize("runtime", ["python", "python-ric"])
def test_snapshot_restore_py_is_importable_unchanged_in_both_python_runtimes(lab: lambdalab.Lab, runtime: str) -> None:
    fn = lab.create_function(f"hooks-{runtime}", HOOKS, handler="lambda_function.handler", runtime=runtime)
    result = fn.invoke({})
    assert result.error is None, result
    answer = result.payload
    assert answer["version"] == "1.0.0"
    assert "site-packages" not in answer["file"] or "/runtime" in answer["file"]  # from the runtime directory


def test_an_exec_wrapper_starts_the_runtime(lab: lambdalab.Lab, tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text('#!/bin/sh\nexport WRAPPED="$#:$1"\nexec "$@"\n')
    wrapper.chmod(0o755)
    source = "import os\ndef handler(event, context):\n    return os.environ.get('WRAPPED')\n"
    fn = lab.create_function(
        "wrapped", source, handler="lambda_function.handler", env_vars={"AWS_LAMBDA_EXEC_WRAPPER": str(wrapper)}
    )
    result = fn.invoke({})
    assert result.error is None, result
    count, first = result.payload.split(":", 1)
    assert int(count) >= 2 and os.path.basename(first).startswith("python")  # the runtime's own command


def test_a_templates_variables_hold_no_log_stream_and_no_keys() -> None:
    values = {
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/07/[1]abc",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_ACCESS_KEY": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_REGION": "us-east-1",
    }
    answer = runtimes.snap_start_credentials(values)
    runtimes.snap_start_variables(values, 9001)
    assert values == {
        "AWS_REGION": "us-east-1",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9001/2021-04-23/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": values["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
    }
    assert len(values["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 24
    assert answer == {
        "AccessKeyId": "AKIDEXAMPLE",
        "SecretAccessKey": "secret",
        "Token": "token",
        "Expiration": "2099-01-01T00:00:00Z",
    }
    bare = {"AWS_LAMBDA_LOG_GROUP_NAME": "g", "AWS_LAMBDA_LOG_STREAM_NAME": "s"}
    runtimes.snap_start_variables(bare, 9001)
    assert bare == {}  # no credentials: no provider either
