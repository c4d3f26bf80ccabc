"""``lambdalab serve``: loopback only unless told, SAM templates and folders of handlers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import lambdalab
from lambdalab.endpoint.templates import load_folder, load_template, read_template

from .conftest import cli_env, client, serve_cli

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.12
    Timeout: 5
    MemorySize: 256
    Environment:
      Variables:
        STAGE: !Ref Stage
        SHARED: from-globals
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello/
      Handler: app.lambda_handler
      Environment:
        Variables:
          GREETING: !Sub "hello-${Stage}"
          TABLE: !GetAtt Table.Arn
      Events:
        Api:
          Type: Api
          Properties: {Path: /hello, Method: get}
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: inline-fn
      InlineCode: |
        def handler(event, context):
            return "inline"
      Handler: index.handler
      ReservedConcurrentExecutions: 3
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node/
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Join ["-", [!Ref Stage, "table"]]
Outputs:
  Arn:
    Value: !GetAtt HelloFunction.Arn
"""

APP = """
import os
def lambda_handler(event, context):
    return {k: os.environ.get(k) for k in ("STAGE", "SHARED", "GREETING", "TABLE")} | {
        "memory": context.memory_limit_in_mb}
"""


@pytest.fixture
def sam_folder(tmp_path: Path) -> Path:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "app.py").write_text(APP)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def test_template_with_short_tags_loads(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    data = read_template(tmp_path / "template.yaml")
    hello = data["Resources"]["HelloFunction"]["Properties"]
    assert hello["Environment"]["Variables"]["GREETING"] == {"Fn::Sub": "hello-${Stage}"}
    assert hello["Environment"]["Variables"]["TABLE"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert data["Resources"]["Table"]["Properties"]["TableName"] == {"Fn::Join": ["-", [{"Ref": "Stage"}, "table"]]}
    assert data["Outputs"]["Arn"]["Value"] == {"Fn::GetAtt": ["HelloFunction", "Arn"]}


@pytest.mark.slow
def test_template_functions_are_registered_with_globals_and_parameters(sam_folder: Path) -> None:
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, sam_folder / "template.yaml")
        assert names == ["HelloFunction", "inline-fn"]
        assert any(n.startswith("NodeFunction: ") and n.endswith("; not served") for n in notes)  # no node/ folder
        assert any("TABLE" in n for n in notes)  # !GetAtt cannot be resolved locally
        hello = lab.function("HelloFunction")
        assert (hello.config.memory_mb, hello.config.timeout_s, hello.config.handler) == (256, 5.0, "app.lambda_handler")
        assert hello.invoke().payload == {"STAGE": "dev", "SHARED": "from-globals", "GREETING": "hello-dev",
                                          "TABLE": None, "memory": "256"}
        inline = lab.function("inline-fn")
        assert inline.config.reserved_concurrency == 3 and inline.invoke().payload == "inline"


@pytest.mark.slow
def test_folder_of_handlers(tmp_path: Path) -> None:
    (tmp_path / "orders.py").write_text("import shared\ndef handler(e, c):\n    return shared.X\n")
    (tmp_path / "shared.py").write_text("X = 'shared'\n")
    (tmp_path / "_private.py").write_text("def handler(e, c):\n    return 0\n")
    with lambdalab.Lab() as lab:
        names, notes = load_folder(lab, tmp_path)
        assert names == ["orders"] and any("shared.py" in n for n in notes)
        assert lab.function("orders").invoke().payload == "shared"


def test_serve_refuses_a_non_loopback_address_without_the_flag(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 1\n")
    result = subprocess.run([sys.executable, "-m", "lambdalab", "serve", str(tmp_path), "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0" in result.stderr and "--allow-remote" in result.stderr
    with lambdalab.Lab() as lab, pytest.raises(lambdalab.ConfigError, match="allow_remote=True"):
        lab.serve(host="0.0.0.0")


@pytest.mark.slow
def test_serve_with_allow_remote_warns(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab, pytest.warns(RuntimeWarning, match="any host"):
        url = lab.serve(host="0.0.0.0", allow_remote=True)
    assert url.startswith("http://0.0.0.0:")


@pytest.fixture
def serving(sam_folder: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``lambdalab serve --template ... --port 0`` in a subprocess; yields (endpoint URL, its output)."""
    with serve_cli(["--template", str(sam_folder / "template.yaml"), "--port", "0"], cli_env(tmp_path)) as run:
        yield run.url, run.output


@pytest.mark.slow
def test_serve_a_sam_template_over_the_cli(serving: tuple[str, str]) -> None:
    url, output = serving
    assert "HelloFunction  function URL http://127.0.0.1:" in output
    by_path = re.search(r"HelloFunction .*\(by path: (http://127\.0\.0\.1:\d+/_aws/lambda-url/\w+/)\)", output)
    assert by_path and by_path.group(1).startswith(url), output  # on the endpoint's own port
    with urllib.request.urlopen(by_path.group(1), timeout=10) as reply:
        assert json.loads(reply.read())["GREETING"] == "hello-dev"
    c = client(url)
    answer = c.invoke(FunctionName="HelloFunction", Payload=b"{}")
    assert json.loads(answer["Payload"].read())["GREETING"] == "hello-dev"
    assert json.loads(c.invoke(FunctionName="inline-fn")["Payload"].read()) == "inline"
    assert sorted(f["FunctionName"] for f in c.list_functions()["Functions"]) == ["HelloFunction", "inline-fn"]
    assert c.get_function_concurrency(FunctionName="inline-fn")["ReservedConcurrentExecutions"] == 3


def test_cli_help_lists_serve_and_event() -> None:
    result = subprocess.run([sys.executable, "-m", "lambdalab", "--help"], capture_output=True, text=True, timeout=60,
                            check=True)
    assert "serve" in result.stdout and "event" in result.stdout
    help_text = subprocess.run([sys.executable, "-m", "lambdalab", "event", "kinesis", "--help"], capture_output=True,
                               text=True, timeout=60, check=True).stdout
    assert "--partition-key" in help_text and "--data" in help_text
