"""``lambdalab serve`` flags of the developer's loop: ``--env-vars`` (as ``sam local`` reads it),
``--aws-endpoint-url``, ``--retry-delay-scale`` and ``--watch`` (code and template edits redeployed, the next
invoke cold)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import lambdalab
from lambdalab.endpoint.command import endpoint_option
from lambdalab.endpoint.serve_watch import apply_env_vars
from lambdalab.endpoint.templates import load_template
from lambdalab.errors import ConfigError

from .conftest import CREDENTIALS, cli_env, client, serve_cli

pytestmark = pytest.mark.slow

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Timeout: 5
    Environment:
      Variables:
        STAGE: prod
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.handler
      MemorySize: {memory}
      Environment:
        Variables:
          TABLE: real-table
  Flaky:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: flaky-fn
      CodeUri: flaky/
      Handler: flaky.handler
"""
APP = """
import os
VERSION = {version!r}
def handler(event, context):
    names = ("STAGE", "TABLE", "UNDECLARED", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")
    return {{"version": VERSION, "memory": context.memory_limit_in_mb}} | {{k: os.environ.get(k) for k in names}}
"""
FLAKY = """
import time
def handler(event, context):
    with open(event["log"], "a") as f:
        f.write(f"{time.time()}\\n")
    raise RuntimeError("always")
"""
ENV = {"Parameters": {"STAGE": "local", "UNDECLARED": "never-set"}, "HelloFunction": {"TABLE": "local-table"}}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "app.py").write_text(APP.format(version="v1"))
    (tmp_path / "flaky").mkdir()
    (tmp_path / "flaky" / "flaky.py").write_text(FLAKY)
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(memory=128))
    (tmp_path / "env.json").write_text(json.dumps(ENV))
    return tmp_path


def _invoke(c, name: str = "HelloFunction") -> dict:
    return json.loads(c.invoke(FunctionName=name)["Payload"].read())


def _until(c, check, timeout_s: float = 5.0) -> tuple[float, dict]:
    start = time.monotonic()
    while True:
        answer = _invoke(c)
        if check(answer):
            return time.monotonic() - start, answer
        assert time.monotonic() - start < timeout_s, f"still {answer!r} after {timeout_s} s"
        time.sleep(0.02)


def test_serve_env_vars_endpoint_retry_scale_and_watch(app: Path, tmp_path: Path) -> None:
    args = ["--template", str(app / "template.yaml"), "--port", "0", "--no-urls", "--env-vars", str(app / "env.json")]
    args += ["--aws-endpoint-url", "s3=http://127.0.0.1:4566", "--retry-delay-scale", "0.01", "--watch"]
    with serve_cli(args, cli_env(tmp_path)) as run:
        assert "Watching" in run.output
        c = client(run.url)
        first = _invoke(c)
        # Parameters for every function, the function's own entry wins; a variable the template does not declare
        # is not set (sam local's rule)
        assert first["STAGE"] == "local" and first["TABLE"] == "local-table" and first["UNDECLARED"] is None
        assert first["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566" and first["AWS_ENDPOINT_URL"] is None
        assert first["AWS_ACCESS_KEY_ID"] == "LAMBDALABFAKEKEY0000"
        assert CREDENTIALS["AWS_ACCESS_KEY_ID"] not in json.dumps(first)

        # --retry-delay-scale 0.01: the two retries of a failing async event come after 0.6 s and 1.2 s, not minutes
        log = tmp_path / "attempts.log"
        c.invoke(FunctionName="flaky-fn", InvocationType="Event", Payload=json.dumps({"log": str(log)}))
        deadline = time.monotonic() + 15
        while (not log.exists() or len(log.read_text().split()) < 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        attempts = [float(t) for t in log.read_text().split()]
        assert len(attempts) == 3 and attempts[-1] - attempts[0] < 10

        # --watch: a code edit is served within 2 s, from a cold start
        (app / "hello" / "app.py").write_text(APP.format(version="v2"))
        took, answer = _until(c, lambda a: a["version"] == "v2")
        assert took < 2.0 and answer["TABLE"] == "local-table"
        print(f"serve --watch: code edit -> new answer in {took * 1000:.0f} ms")
        # a template edit: the changed setting applied, the env-vars file still in force
        (app / "template.yaml").write_text(TEMPLATE.format(memory=256))
        took, answer = _until(c, lambda a: a["memory"] == "256")
        assert answer["version"] == "v2" and answer["STAGE"] == "local" and answer["TABLE"] == "local-table"
        print(f"serve --watch: template edit -> new answer in {took * 1000:.0f} ms")


def test_env_vars_in_folder_mode_set_every_variable(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text("import os\ndef handler(e, c):\n    return os.environ.get('ANY')\n")
    file = {"Parameters": {"ANY": "p", "AWS_ACCESS_KEY_ID": "no"}, "one": {"ANY": "own"}}
    with lambdalab.Lab() as lab:
        lab.create_function("one", path=tmp_path / "one.py")
        notes = apply_env_vars(lab, ["one"], file, None)
        assert notes == ["one: env-vars AWS_ACCESS_KEY_ID reserved by Lambda; left out"]
        assert lab.function("one").invoke().payload == "own"


def test_env_vars_match_a_function_by_logical_id_or_name(app: Path) -> None:
    file = {"flaky-fn": {"STAGE": "by-name"}, "HelloFunction": {"STAGE": "by-id"}}
    with lambdalab.Lab() as lab:
        names, _ = load_template(lab, app / "template.yaml")
        apply_env_vars(lab, names, file, app / "template.yaml")
        assert lab.function("HelloFunction").config.env_vars["STAGE"] == "by-id"
        assert lab.function("flaky-fn").config.env_vars["STAGE"] == "by-name"  # declared through Globals


def test_aws_endpoint_url_option() -> None:
    assert endpoint_option([]) is None
    assert endpoint_option(["http://127.0.0.1:4566"]) == "http://127.0.0.1:4566"
    assert endpoint_option(["s3=http://a:1", "dynamodb=http://b:2"]) == {"s3": "http://a:1", "dynamodb": "http://b:2"}
    with pytest.raises(ConfigError, match="SERVICE=URL"):
        endpoint_option(["http://a:1", "s3=http://b:2"])


def test_a_bad_flag_is_a_usage_error(app: Path) -> None:
    import subprocess
    import sys

    (app / "broken.json").write_text('{"HelloFunction": "TABLE=x"}')
    for extra in (["--aws-endpoint-url", "localhost:4566"], ["--env-vars", str(app / "broken.json")]):
        result = subprocess.run(
            [sys.executable, "-m", "lambdalab", "serve", "--template", str(app / "template.yaml"), *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and result.stderr.startswith("lambdalab: invalid"), result.stderr


INTRINSIC_NAMES = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Suffix:
    Type: String
    Default: by-ref
Globals:
  Function:
    Runtime: python3.11
    Environment:
      Variables:
        STAGE: prod
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-hello"
      CodeUri: hello/
      Handler: app.handler
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Ref Suffix
      CodeUri: hello/
      Handler: app.handler
"""


def test_env_vars_match_a_function_whose_name_is_an_intrinsic(app: Path) -> None:
    (app / "names.yaml").write_text(INTRINSIC_NAMES)
    file = {"HelloFunction": {"STAGE": "by-id"}, "by-ref": {"STAGE": "by-name"}}
    with lambdalab.Lab() as lab:
        names, _ = load_template(lab, app / "names.yaml")
        assert sorted(names) == ["by-ref", "lambdalab-hello"]
        apply_env_vars(lab, names, file, app / "names.yaml")
        assert lab.function("lambdalab-hello").config.env_vars["STAGE"] == "by-id"  # the logical id's entry
        assert lab.function("by-ref").config.env_vars["STAGE"] == "by-name"


ALIASED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {code}/
      Handler: app.handler
      AutoPublishAlias: live
"""


def _wait(check, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_watch_moves_an_auto_publish_alias_and_follows_a_new_code_uri(tmp_path: Path) -> None:
    from lambdalab.endpoint.serve_watch import serve_watcher

    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
    (tmp_path / "one" / "app.py").write_text(APP.format(version="v1"))
    (tmp_path / "two" / "app.py").write_text(APP.format(version="two-v1"))
    template = tmp_path / "template.yaml"
    template.write_text(ALIASED.format(code="one"))
    lines: list[str] = []
    with lambdalab.Lab() as lab:
        names, _ = load_template(lab, template)
        fn = lab.function("Fn")
        assert fn.invoke(qualifier="live").payload["version"] == "v1"
        watcher = serve_watcher(lab, names, template, None, lines.append, debounce_ms=100)
        # a code edit: the alias moves to a new version, as sam deploy does
        (tmp_path / "one" / "app.py").write_text(APP.format(version="v2"))
        _wait(lambda: fn.invoke(qualifier="live").payload["version"] == "v2")
        assert fn.aliases()["live"].version != "1", fn.aliases()
        # a template edit that points CodeUri elsewhere: served from there, alias moved, the new folder watched
        template.write_text(ALIASED.format(code="two"))
        _wait(lambda: fn.invoke(qualifier="live").payload["version"] == "two-v1")
        _wait(lambda: (tmp_path / "two").resolve() in watcher.paths)
        time.sleep(0.3)
        (tmp_path / "two" / "app.py").write_text(APP.format(version="two-v2"))
        _wait(lambda: fn.invoke(qualifier="live").payload["version"] == "two-v2")
        assert fn.invoke().payload["version"] == "two-v2"
        assert watcher.errors == [], (watcher.errors, lines)
