"""What a handler sees: Lambda's variables (and not the owner's secrets), /tmp, context, logs."""

from __future__ import annotations

import os
import stat

import pytest

pytestmark = pytest.mark.slow

ENVIRON = """
import os
def handler(event, context):
    return dict(os.environ)
"""


def test_environment_sees_lambdas_variables_and_not_the_owners(lab, runtime, monkeypatch):
    monkeypatch.setenv("LAMBDALAB_TEST_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "owner-key")
    fn = lab.create_function("envs", ENVIRON, runtime=runtime, memory_mb=256, env_vars={"STAGE": "dev"})
    result = fn.invoke()
    seen = result.payload
    assert "LAMBDALAB_TEST_SECRET" not in seen and "AWS_SECRET_ACCESS_KEY" not in seen
    assert seen["STAGE"] == "dev"
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "envs"
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert seen["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert seen["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envs"
    assert seen["AWS_LAMBDA_LOG_STREAM_NAME"].endswith(f"/[$LATEST]{result.environment_id}")
    assert seen["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert seen["_HANDLER"] == "lambda_function.handler"
    assert seen["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert seen["TZ"] == ":UTC"
    assert seen["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert os.path.isdir(seen["LAMBDA_TASK_ROOT"])
    assert seen["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_pass_env_opts_chosen_variables_in(runtime, monkeypatch):
    import lambdalab

    monkeypatch.setenv("LAMBDALAB_PASSED", "yes")
    with lambdalab.Lab(pass_env=("LAMBDALAB_PASSED",)) as lab:
        seen = lab.create_function("p", ENVIRON, runtime=runtime).invoke().payload
    assert seen["LAMBDALAB_PASSED"] == "yes"


TMP = """
import os, tempfile
def handler(event, context):
    path = os.path.join(tempfile.gettempdir(), "note.txt")
    found = open(path).read() if os.path.exists(path) else None
    if event.get("write"):
        open(path, "w").write(event["write"])
    st = os.stat(tempfile.gettempdir())
    return {"found": found, "tmp": tempfile.gettempdir(), "mode": st.st_mode & 0o7777, "id": [st.st_dev, st.st_ino]}
"""


def test_tmp_survives_warm_invokes_and_is_private_to_its_environment(lab, runtime):
    fn = lab.create_function("tmp", TMP, runtime=runtime)
    first = fn.invoke({"write": "hello"})
    assert first.payload["found"] is None
    second = fn.invoke({})
    assert second.payload["found"] == "hello" and second.environment_id == first.environment_id
    tmp = first.payload["tmp"]
    assert first.payload["mode"] == 0o700  # the environment's own folder, wherever the handler sees it
    if lab.isolation == "namespace":  # the literal /tmp is the environment's
        assert tmp == "/tmp" and stat.S_IMODE(os.stat("/tmp").st_mode) != 0o700
    else:
        assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o700
    other = lab.create_function("tmp2", TMP, runtime=runtime).invoke({})
    assert other.payload["found"] is None and other.payload["id"] != first.payload["id"]
    assert other.payload["tmp"] == tmp if lab.isolation == "namespace" else other.payload["tmp"] != tmp


def test_tmp_survives_a_timeout_reset(lab):
    fn = lab.create_function("tmpreset", TMP + "\nimport time\ndef slow(e, c):\n    time.sleep(5)\n",
                             timeout_s=1)
    fn.invoke({"write": "kept"})
    slow = lab.create_function("unused", "def handler(e, c):\n    return 1\n")
    assert slow.invoke().payload == 1
    fn.update(source=None) if False else None
    result = fn.invoke({})
    assert result.payload["found"] == "kept"


CONTEXT = """
import time
def handler(event, context):
    before = context.get_remaining_time_in_millis()
    time.sleep(0.2)
    after = context.get_remaining_time_in_millis()
    return {
        "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
        "name": context.function_name, "version": context.function_version,
        "memory": context.memory_limit_in_mb, "group": context.log_group_name,
        "stream": context.log_stream_name, "before": before, "after": after,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": context.client_context.custom if context.client_context else None,
    }
"""


def test_context_has_every_attribute_and_remaining_time_shrinks(lab, runtime):
    fn = lab.create_function("ctx", CONTEXT, runtime=runtime, timeout_s=5)
    result = fn.invoke({}, client_context={"custom": {"k": "v"}, "env": {}, "client": {}})
    p = result.payload
    assert p["request_id"] == result.request_id
    assert p["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    assert (p["name"], p["version"], p["memory"]) == ("ctx", "$LATEST", "128")
    assert p["group"] == "/aws/lambda/ctx" and p["stream"].endswith(result.environment_id)
    assert 4500 < p["before"] <= 5000 and 150 <= p["before"] - p["after"] <= 400
    assert p["identity"] == [None, None]
    assert p["client_context"] == {"k": "v"}


LOGS = """
import logging
logger = logging.getLogger()
def handler(event, context):
    print("printed line")
    logger.warning("warned")
    logger.info("not shown at the default level")
    return 1
"""


def test_prints_and_logging_are_attributed_to_their_request(lab, runtime):
    fn = lab.create_function("logs", LOGS, runtime=runtime)
    a, b = fn.invoke(), fn.invoke()
    for result in (a, b):
        lines = result.log.splitlines()
        assert lines[1] == "printed line"
        assert lines[2].startswith("[WARNING]\t") and lines[2].endswith(f"\t{result.request_id}\twarned")
        assert "not shown" not in result.log
    full = lab.logs("logs")
    assert full.count("printed line") == 2 and full.startswith("INIT_START Runtime Version: python:3.")
    assert lab.log_streams("logs")[0].endswith(f"[$LATEST]{a.environment_id}")
