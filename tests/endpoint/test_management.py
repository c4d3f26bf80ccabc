"""Management calls through boto3 (docs/ENDPOINT.md lists them)."""

from __future__ import annotations

import json
import time

import pytest

import lambdalab

from .conftest import client, zipped

pytestmark = pytest.mark.slow


APP_V1 = "import helper\ndef main(event, context):\n    return {'v': 1, 'greeting': helper.GREETING}\n"
APP_V2 = "import os\ndef main(event, context):\n    return {'v': 2, 'mode': os.environ.get('MODE')}\n"


def test_create_function_from_a_zip_then_invoke_update_and_configure(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    created = c.create_function(FunctionName="zipped", Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
                                Handler="app.main", Code={"ZipFile": zipped({"app.py": APP_V1, "helper.py": "GREETING = 'hi'\n"})},
                                MemorySize=256, Timeout=5, Environment={"Variables": {"MODE": "one"}},
                                Description="made by boto3")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending" and created["Handler"] == "app.main" and created["MemorySize"] == 256
    assert created["Role"] == "arn:aws:iam::123456789012:role/r" and created["Environment"]["Variables"] == {"MODE": "one"}
    c.get_waiter("function_active_v2").wait(FunctionName="zipped", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert "zipped" in lab.functions() and lab.function("zipped").config.memory_mb == 256
    assert json.loads(c.invoke(FunctionName="zipped")["Payload"].read()) == {"v": 1, "greeting": "hi"}

    updated = c.update_function_code(FunctionName="zipped", ZipFile=zipped({"app.py": APP_V2}))
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert json.loads(c.invoke(FunctionName="zipped")["Payload"].read()) == {"v": 2, "mode": "one"}

    configured = c.update_function_configuration(FunctionName="zipped", Timeout=7,
                                                 Environment={"Variables": {"MODE": "two"}}, Description="changed")
    assert configured["Timeout"] == 7 and configured["Description"] == "changed"
    assert json.loads(c.invoke(FunctionName="zipped")["Payload"].read()) == {"v": 2, "mode": "two"}

    with pytest.raises(c.exceptions.ResourceConflictException):
        c.create_function(FunctionName="zipped", Runtime="python3.12", Role="r", Handler="app.main",
                          Code={"ZipFile": zipped({"app.py": APP_V1})})
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="runtime parameter of java21"):
        c.create_function(FunctionName="java", Runtime="java21", Role="r", Handler="example.Hello::handleRequest",
                          Code={"ZipFile": zipped({"index.js": ""})})
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="unzip"):
        c.create_function(FunctionName="broken", Runtime="python3.12", Role="r", Handler="a.b",
                          Code={"ZipFile": b"not a zip"})


def test_get_function_list_functions_and_configuration(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    lab.create_function("second", "def handler(e, c):\n    return 2\n", memory_mb=512, env_vars={"KEY": "v"})
    c = client(url)
    got = c.get_function(FunctionName="second")
    config = got["Configuration"]
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:second"
    assert (config["MemorySize"], config["Timeout"], config["Version"], config["State"]) == (512, 3, "$LATEST", "Active")
    assert config["Runtime"].startswith("python3.") and config["Handler"] == "lambda_function.handler"
    assert config["Environment"] == {"Variables": {"KEY": "v"}} and config["PackageType"] == "Zip"
    assert got["Code"]["Location"].startswith("file://") and "Concurrency" not in got
    alone = c.get_function_configuration(FunctionName="second")
    assert {k: v for k, v in alone.items() if k != "ResponseMetadata"} == config
    names = [f["FunctionName"] for f in c.list_functions()["Functions"]]
    assert names == ["echo", "second"]
    paged = c.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for page in paged for f in page["Functions"]] == ["echo", "second"]
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_function(FunctionName="nope")


def test_account_settings_and_reserved_concurrency(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    limit = c.get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 1000 and limit["UnreservedConcurrentExecutions"] == 1000
    assert c.get_account_settings()["AccountUsage"]["FunctionCount"] == 1
    assert c.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert lab.function("echo").config.reserved_concurrency == 5
    assert c.get_function_concurrency(FunctionName="echo")["ReservedConcurrentExecutions"] == 5
    assert c.get_function(FunctionName="echo")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert c.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 995
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="reserve"):
        c.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=950)
    c.delete_function_concurrency(FunctionName="echo")
    assert lab.function("echo").config.reserved_concurrency is None
    assert "ReservedConcurrentExecutions" not in c.get_function_concurrency(FunctionName="echo")


def test_publish_version_aliases_and_provisioned_concurrency(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    published = c.publish_version(FunctionName="echo")
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201 and published["Version"] == "1"
    assert published["FunctionArn"].endswith(":echo:1")
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="echo")["Versions"]] == ["$LATEST", "1"]
    alias = c.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":echo:live") and alias["FunctionVersion"] == "1"
    assert c.get_alias(FunctionName="echo", Name="live")["FunctionVersion"] == "1"
    assert [a["Name"] for a in c.list_aliases(FunctionName="echo")["Aliases"]] == ["live"]
    with pytest.raises(c.exceptions.ResourceConflictException):
        c.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.create_alias(FunctionName="echo", Name="next", FunctionVersion="9")
    assert c.invoke(FunctionName="echo", Qualifier="live")["ExecutedVersion"] == "1"

    with pytest.raises(c.exceptions.InvalidParameterValueException, match="unpublished"):
        c.put_provisioned_concurrency_config(FunctionName="echo", Qualifier="$LATEST",
                                             ProvisionedConcurrentExecutions=1)
    put = c.put_provisioned_concurrency_config(FunctionName="echo", Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202 and put["RequestedProvisionedConcurrentExecutions"] == 2
    deadline = time.monotonic() + 30
    while (status := c.get_provisioned_concurrency_config(FunctionName="echo", Qualifier="live"))["Status"] != "READY":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["AllocatedProvisionedConcurrentExecutions"] == 2
    environments = lab.function("echo").environments()
    assert sum(e.provisioned and e.version == "1" for e in environments) == 2
    c.update_function_configuration(FunctionName="echo", MemorySize=256)  # unchanged, PublishVersion returns "1"
    version = c.publish_version(FunctionName="echo")["Version"]
    with pytest.raises(c.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        c.get_provisioned_concurrency_config(FunctionName="echo", Qualifier=version)


def test_function_url_configs_and_what_is_not_implemented(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    c = client(url)
    config = c.create_function_url_config(FunctionName="echo", AuthType="NONE")
    assert config["FunctionUrl"].startswith("http://127.0.0.1:") and config["AuthType"] == "NONE"
    assert c.get_function_url_config(FunctionName="echo")["FunctionUrl"] == config["FunctionUrl"]
    with pytest.raises(c.exceptions.ResourceConflictException):
        c.create_function_url_config(FunctionName="echo", AuthType="NONE")
    c.delete_function_url_config(FunctionName="echo")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_function_url_config(FunctionName="echo")
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.get_function_code_signing_config(FunctionName="echo")
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "GET /2020-06-30/functions/echo/code-signing-config" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("weight", ["NaN", '"x"', "2", "-0.5"])
def test_create_alias_refuses_weights_the_api_refuses(served: tuple[lambdalab.Lab, str], weight: str) -> None:
    """The same check as ``Function.create_alias``: a share from 0 to 1; NaN (which Python's JSON reads) too."""
    import urllib.error
    import urllib.request

    lab, url = served
    version = lab.function("echo").publish()
    body = f'{{"Name": "live", "FunctionVersion": "{version}", "RoutingConfig": {{"AdditionalVersionWeights": '
    body += f'{{"{version}": {weight}}}}}}}'
    request = urllib.request.Request(f"{url}/2015-03-31/functions/echo/aliases", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert "invalid weights" in json.loads(caught.value.read())["message"]
    assert client(url).list_aliases(FunctionName="echo")["Aliases"] == []


def test_update_function_configuration_checks_the_handler_then_hands_it_over(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    c.create_function(FunctionName="two", Runtime="python3.11", Role="r", Handler="app.main",
                      Code={"ZipFile": zipped({"app.py": APP_V2 + "def other(event, context):\n    return 'other'\n"})})
    for bad in ("", "a b", "h" * 129):
        with pytest.raises(c.exceptions.ClientError) as refused:
            c.update_function_configuration(FunctionName="two", Handler=bad)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+" in \
            refused.value.response["Error"]["Message"]
    assert lab.function("two").config.handler == "app.main"
    changed = c.update_function_configuration(FunctionName="two", Handler="app.other")
    assert changed["Handler"] == "app.other"
    assert json.loads(c.invoke(FunctionName="two")["Payload"].read()) == "other"
    with pytest.raises(c.exceptions.InvalidParameterValueException) as missing:
        c.create_function(FunctionName="three", Runtime="python3.11", Role="r", Code={"ZipFile": zipped({"a.py": ""})})
    assert missing.value.response["Error"]["Message"] == ("Runtime and Handler are mandatory parameters for functions "
                                                          "created with deployment packages.")
