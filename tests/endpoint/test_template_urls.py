"""Function URLs from templates: ``FunctionUrlConfig`` (with ``Globals``) and ``AWS::Lambda::Url``, made as
CreateFunctionUrlConfig makes them, read back with boto3's GetFunctionUrlConfig and called over HTTP."""

from __future__ import annotations

import json
import re
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab.endpoint import template_urls
from lambdalab.endpoint.templates import load_template

from .conftest import cli_env, client, serve_cli

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': context.function_version}\n"


def template(tmp_path: Path, text: str) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(text))
    return path


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as answer:
        return answer.status, dict(answer.headers), answer.read()


def url_note(notes: list[str], logical_id: str) -> str:
    found = [n for n in notes if n.startswith(f"{logical_id}: function URL")]
    assert len(found) == 1, notes
    match = re.search(r"(http://127\.0\.0\.1:\d+/)", found[0])
    assert match, found[0]
    return match.group(1)


FUNCTION_URL = """
Globals:
  Function:
    Runtime: python3.11
    CodeUri: .
    Handler: app.handler
    FunctionUrlConfig:
      AuthType: NONE
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        Cors:
          AllowOrigins: ["https://app.example"]
          AllowMethods: [GET]
          MaxAge: 60
  Plain:
    Type: AWS::Serverless::Function
  Private:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [FunctionUrlConfig]
  Live:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: AWS_IAM
"""


def test_function_url_config_makes_each_functions_url_with_globals(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        url = lab.serve()
        names, notes = load_template(lab, template(tmp_path, FUNCTION_URL))
        assert sorted(names) == ["Hello", "Live", "Plain", "Private"]
        hello, plain, live = url_note(notes, "HelloUrl"), url_note(notes, "PlainUrl"), url_note(notes, "LiveUrl")
        assert not [n for n in notes if n.startswith("PrivateUrl")]
        lambda_client = client(url)
        config = lambda_client.get_function_url_config(FunctionName="Hello")
        assert (config["FunctionUrl"], config["AuthType"], config["InvokeMode"]) == (hello, "NONE", "BUFFERED")
        assert config["Cors"] == {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET"], "MaxAge": 60}
        assert "Cors" not in lambda_client.get_function_url_config(FunctionName="Plain")
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.get_function_url_config(FunctionName="Private")  # IgnoreGlobals: no URL
        # AutoPublishAlias: SAM points the URL at the alias; its AuthType is the function's own, over Globals'
        config = lambda_client.get_function_url_config(FunctionName="Live", Qualifier="live")
        assert (config["FunctionUrl"], config["AuthType"]) == (live, "AWS_IAM")
        assert config["FunctionArn"] == lab.arn("Live", "live")
        assert get(live)[2] == b"1"
        status, headers, body = get(hello, Origin="https://app.example")
        assert (status, body, headers.get("Access-Control-Allow-Origin")) == (200, b"$LATEST", "https://app.example")
        assert "Access-Control-Allow-Origin" not in get(hello, Origin="https://other.example")[1]
        assert "Access-Control-Allow-Origin" not in get(plain, Origin="https://app.example")[1]
        assert lab.function("Hello").url() == hello  # fn.url() is the template's URL


LAMBDA_URL = """
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.11
      CodeUri: .
      Handler: app.handler
      AutoPublishAlias: prod
  WorkerUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !GetAtt Worker.Arn
      AuthType: NONE
      InvokeMode: RESPONSE_STREAM
  WorkerProdUrl:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:worker:prod"
      AuthType: AWS_IAM
      Cors:
        AllowOrigins: ["*"]
  ByVersion:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:worker:1"
      AuthType: NONE
  OnLatest:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Worker
      Qualifier: $LATEST
      AuthType: NONE
"""


def test_aws_lambda_url_resources_by_name_arn_and_qualifier(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        url = lab.serve()
        _, notes = load_template(lab, template(tmp_path, LAMBDA_URL))
        latest, prod = url_note(notes, "WorkerUrl"), url_note(notes, "WorkerProdUrl")
        assert "InvokeMode RESPONSE_STREAM, sent once the function ends" in next(
            n for n in notes if n.startswith("WorkerUrl")
        )
        assert "AWS_IAM recorded, not enforced" in next(n for n in notes if n.startswith("WorkerProdUrl"))
        # a URL is the function's or an alias's (botocore's FunctionUrlQualifier): never a version's or $LATEST's
        for logical_id, qualifier in (("ByVersion", "'1'"), ("OnLatest", "'$LATEST'")):
            (note,) = [n for n in notes if n.startswith(f"{logical_id}: ")]
            assert f"Qualifier {qualifier} must be an alias name" in note and note.endswith("; no function URL")
        lambda_client = client(url)
        config = lambda_client.get_function_url_config(FunctionName="worker")
        assert (config["FunctionUrl"], config["InvokeMode"]) == (latest, "RESPONSE_STREAM")
        assert lambda_client.get_function_url_config(FunctionName="worker", Qualifier="prod")["Cors"] == {
            "AllowOrigins": ["*"]
        }
        assert lambda_client.get_function_url_config(FunctionName="worker", Qualifier="prod")["AuthType"] == "AWS_IAM"
        # the API refuses the same qualifiers, as Lambda does (ValidationException at 'qualifier')
        for qualifier in ("1", "$LATEST"):
            with pytest.raises(lambda_client.exceptions.ClientError) as caught:
                lambda_client.create_function_url_config(FunctionName="worker", Qualifier=qualifier, AuthType="NONE")
            error = caught.value.response["Error"]
            assert error["Code"] == "ValidationException" and f"Value '{qualifier}' at 'qualifier'" in error["Message"]
            for call in (lambda_client.get_function_url_config, lambda_client.delete_function_url_config):
                with pytest.raises(lambda_client.exceptions.ClientError) as caught:
                    call(FunctionName=f"worker:{qualifier}")
                assert caught.value.response["Error"]["Code"] == "ValidationException"
            with pytest.raises(lambda_client.exceptions.ClientError) as caught:
                lambda_client.update_function_url_config(FunctionName="worker", Qualifier=qualifier, AuthType="NONE")
            assert caught.value.response["Error"]["Code"] == "ValidationException"
        # RESPONSE_STREAM: the function's bytes as they are (a buffered handler's JSON document, not mapped)
        status, headers, body = get(latest)
        assert (status, headers["Content-Type"]) == (200, "application/octet-stream")
        assert json.loads(body) == {"statusCode": 200, "body": "$LATEST"}
        assert get(prod)[2] == b"1"
        assert get(prod, Origin="https://any.example")[1]["Access-Control-Allow-Origin"] == "*"


BAD = """
Globals:
  Function:
    Runtime: python3.11
    CodeUri: .
    Handler: app.handler
Resources:
  NoAuth:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        Cors:
          AllowOrigins: ["*"]
  BadCors:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
        Cors:
          AllowOrigin: ["*"]
  BadMode:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
        InvokeMode: STREAMING
  Good:
    Type: AWS::Serverless::Function
    Properties:
      FunctionUrlConfig:
        AuthType: NONE
  Again:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: Good
      AuthType: NONE
  Elsewhere:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: not-in-this-template
      AuthType: NONE
  NoAlias:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: !Ref Good
      Qualifier: missing
      AuthType: NONE
  Clash:
    Type: AWS::Lambda::Url
    Properties:
      TargetFunctionArn: Good:one
      Qualifier: two
      AuthType: NONE
"""


def test_a_bad_url_is_left_out_with_a_note_and_the_rest_loads(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        lab.serve()
        names, notes = load_template(lab, template(tmp_path, BAD))
        assert sorted(names) == ["BadCors", "BadMode", "Good", "NoAuth"]
        url_note(notes, "GoodUrl")
        expected = {
            "NoAuthUrl": "AuthType is required to configure a function URL; give either AWS_IAM or NONE",
            "BadCorsUrl": "AllowOrigin is not a valid property for configuring Cors",
            "BadModeUrl": "InvokeMode 'STREAMING' must be BUFFERED or RESPONSE_STREAM",
            "Again": "Good already has a function URL in this template",
            "Elsewhere": "its function not-in-this-template is not served",
            "NoAlias": "missing",
            "Clash": "TargetFunctionArn's qualifier one and Qualifier two differ",
        }
        for logical_id, why in expected.items():
            found = [n for n in notes if n.startswith(f"{logical_id}: ")]
            assert len(found) == 1 and why in found[0] and found[0].endswith("; no function URL"), (logical_id, notes)
        assert set(lab.function("Good").url() for _ in range(2)) == {url_note(notes, "GoodUrl")}


def test_loaded_before_the_endpoint_the_urls_wait_for_make(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        _, notes = load_template(lab, template(tmp_path, FUNCTION_URL))
        assert "HelloUrl: function URL for Hello (AuthType NONE, Cors), made once the Lab serves" in notes
        assert template_urls.endpoint_of(lab) is None  # loading starts nothing
        made = template_urls.make(lab)  # starts the endpoint, as fn.url() does
        assert {(spec.logical_id, spec.target) for spec, _ in made} == {
            ("HelloUrl", "Hello"),
            ("PlainUrl", "Plain"),
            ("LiveUrl", "Live:live"),
        }
        assert template_urls.make(lab) == []  # each is made once
        urls: dict[str, Any] = {spec.logical_id: url for spec, url in made}
        assert get(urls["HelloUrl"], Origin="https://app.example")[1]["Access-Control-Allow-Origin"] == (
            "https://app.example"
        )


def test_serve_prints_the_templates_urls(tmp_path: Path) -> None:
    path = template(tmp_path, FUNCTION_URL)
    with serve_cli(["--template", str(path), "--port", "0", "--no-urls"], cli_env(tmp_path)) as run:
        lines = {
            m.group(2): m.group(1) for m in re.finditer(r"function URL (\S+)  \(the template's (\w+)\)", run.output)
        }
        assert set(lines) == {"HelloUrl", "PlainUrl", "LiveUrl"}, run.output
        assert "  Live:live  function URL " in run.output
        status, headers, body = get(lines["HelloUrl"], Origin="https://app.example")
        assert (status, body, headers["Access-Control-Allow-Origin"]) == (200, b"$LATEST", "https://app.example")
        config = client(run.url).get_function_url_config(FunctionName="Live", Qualifier="live")
        assert (config["FunctionUrl"], config["AuthType"]) == (lines["LiveUrl"], "AWS_IAM")
    assert "HelloUrl: function URL for Hello (AuthType NONE, Cors), made once the Lab serves" in run.stderr


def test_serve_api_makes_the_templates_urls(tmp_path: Path) -> None:
    """``lab.serve_api(template)`` loads, starts the endpoint and the routes, and makes the URLs (said in a note)."""
    said: list[str] = []
    with lambdalab.Lab() as lab:
        lab.serve_api(template(tmp_path, FUNCTION_URL), out=said.append)
        made = [line for line in said if line.startswith("lambdalab: HelloUrl: function URL http")]
        assert len(made) == 1, said
        hello = made[0].split()[4]
        assert lab.function("Hello").url() == hello
        assert get(hello, Origin="https://app.example")[1]["Access-Control-Allow-Origin"] == "https://app.example"
