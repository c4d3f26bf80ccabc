"""LoggingConfig over boto3 (CreateFunction, UpdateFunctionConfiguration, GetFunctionConfiguration, Invoke's
Tail) and in SAM templates."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import lambdalab
from lambdalab.config import LOG_LEVEL_NEEDS_JSON
from lambdalab.endpoint.templates import load_template
from tests.endpoint.conftest import client
from tests.packages import zip_bytes

APP = """
import logging
logging.getLogger().setLevel(logging.DEBUG)
def main(event, context):
    logging.debug("debug line")
    logging.info("info line")
    return "ok"
"""
GROUP = {"LogGroup": "/aws/lambda/logged"}


def test_logging_config_round_trip_and_json_tail(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    created = c.create_function(
        FunctionName="logged", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r", Handler="app.main",
        Code={"ZipFile": zip_bytes({"app.py": APP})}, LoggingConfig={"LogFormat": "JSON"},
    )
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **GROUP
    }
    assert c.get_function(FunctionName="echo")["Configuration"]["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": "/aws/lambda/echo"
    }
    out = c.invoke(FunctionName="logged", LogType="Tail")
    lines = [json.loads(line) for line in base64.b64decode(out["LogResult"]).decode().splitlines()]
    types = [r.get("type") for r in lines if "type" in r]  # a cold invoke's tail holds its init's records too
    assert types[0] == "platform.initStart" and types[-2:] == ["platform.start", "platform.report"], types
    assert [r["message"] for r in lines if "message" in r] == ["info line"]  # AWS_LAMBDA_LOG_LEVEL=INFO
    warm = c.invoke(FunctionName="logged", LogType="Tail")
    lines = [json.loads(line) for line in base64.b64decode(warm["LogResult"]).decode().splitlines()]
    assert [r.get("type") for r in lines if "type" in r] == ["platform.start", "platform.report"]

    updated = c.update_function_configuration(
        FunctionName="logged", LoggingConfig={"ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"}
    )
    assert updated["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN", **GROUP
    }
    assert c.get_function_configuration(FunctionName="logged")["LoggingConfig"] == updated["LoggingConfig"]
    tail = base64.b64decode(c.invoke(FunctionName="logged", LogType="Tail")["LogResult"]).decode()
    lines = [json.loads(line) for line in tail.splitlines()]
    assert [r["message"] for r in lines] == ["debug line", "info line"]  # no platform record at WARN

    back = c.update_function_configuration(FunctionName="logged", LoggingConfig={"LogFormat": "Text"})
    assert back["LoggingConfig"] == {"LogFormat": "Text", **GROUP}
    tail = base64.b64decode(c.invoke(FunctionName="logged", LogType="Tail")["LogResult"]).decode()
    assert tail.startswith("INIT_START ") and "\nSTART RequestId: " in tail and "[INFO]\t" in tail  # cold: its init
    assert lab.function("logged").config.log_format == "Text"


def test_bad_logging_config_gets_lambdas_errors(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    c = client(url)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        c.update_function_configuration(FunctionName="echo", LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert caught.value.response["Error"]["Message"] == LOG_LEVEL_NEEDS_JSON
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        c.create_function(
            FunctionName="loud", Runtime="python3.12", Role="r", Handler="app.main",
            Code={"ZipFile": zip_bytes({"app.py": APP})},
            LoggingConfig={"LogFormat": "Text", "SystemLogLevel": "WARN"},
        )
    assert caught.value.response["Error"]["Message"] == LOG_LEVEL_NEEDS_JSON
    for config, field, allowed in (
        ({"LogFormat": "json"}, "logFormat", "[JSON, Text]"),
        ({"LogFormat": "JSON", "ApplicationLogLevel": "LOUD"}, "applicationLogLevel",
         "[TRACE, DEBUG, INFO, WARN, ERROR, FATAL]"),
        ({"LogFormat": "JSON", "SystemLogLevel": "ERROR"}, "systemLogLevel", "[DEBUG, INFO, WARN]"),
    ):
        with pytest.raises(c.exceptions.ClientError) as caught:
            c.update_function_configuration(FunctionName="echo", LoggingConfig=config)
        error = caught.value.response["Error"]
        assert error["Code"] == "ValidationException"
        value = next(v for k, v in config.items() if k[0].lower() + k[1:] == field)
        assert error["Message"] == (
            f"1 validation error detected: Value '{value}' at 'loggingConfig.{field}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {allowed}"
        )
    assert c.get_function_configuration(FunctionName="echo")["LoggingConfig"]["LogFormat"] == "Text"


TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    LoggingConfig:
      LogFormat: JSON
Resources:
  Quiet:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.main
      CodeUri: .
      LoggingConfig:
        ApplicationLogLevel: WARN
        LogGroup: /custom/group
  Bad:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: bad
      Handler: app.main
      CodeUri: .
      LoggingConfig:
        LogFormat: Text
        SystemLogLevel: DEBUG
"""


def test_template_logging_config(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(APP)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        assert names == ["Quiet"]
        config = lab.function("Quiet").config
        assert (config.log_format, config.application_log_level, config.system_log_level) == ("JSON", "WARN", None)
        assert any("LogGroup ignored" in note for note in notes)
        assert any(note.startswith("Bad: LogLevel is not supported") for note in notes), notes
        assert "info line" not in lab.function("Quiet").invoke({}).log
