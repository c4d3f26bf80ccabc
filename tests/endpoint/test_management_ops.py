"""The management calls deploy tools reach for, driven by boto3 against ``lab.serve()`` (botocore's own validation):
UpdateAlias, DeleteAlias, DeleteFunction (whole or one version), AddPermission/RemovePermission/GetPolicy,
TagResource/UntagResource/ListTags, the event invoke configs, PublishVersion with nothing changed, alias routing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import lambdalab

from .conftest import cli_env, client, zipped

pytestmark = pytest.mark.slow

FAILING = "def handler(event, context):\n    raise RuntimeError('always')\n"


def error_of(caught: pytest.ExceptionInfo[Any]) -> tuple[str, int, str]:
    response = caught.value.response
    message = response["Error"].get("Message", "")
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], message


def test_update_and_delete_alias(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    one = c.publish_version(FunctionName="echo")["Version"]
    c.update_function_configuration(FunctionName="echo", Environment={"Variables": {"VER": "2"}})
    two = c.publish_version(FunctionName="echo")["Version"]
    assert (one, two) == ("1", "2")
    created = c.create_alias(FunctionName="echo", Name="live", FunctionVersion=one, Description="first")
    assert created["Description"] == "first" and c.get_alias(FunctionName="echo", Name="live")["Description"] == "first"

    updated = c.update_alias(
        FunctionName="echo", Name="live", FunctionVersion=two, RoutingConfig={"AdditionalVersionWeights": {one: 0.25}}
    )
    assert updated["FunctionVersion"] == two and updated["RoutingConfig"] == {"AdditionalVersionWeights": {one: 0.25}}
    assert updated["Description"] == "first"  # not given: kept
    assert lab.function("echo").aliases()["live"].version == two
    # no RoutingConfig: the weights stay; a Description changes alone
    revision = c.get_alias(FunctionName="echo", Name="live")["RevisionId"]
    kept = c.update_alias(FunctionName="echo", Name="live", Description="second")
    assert kept["RevisionId"] != revision  # a new revision at every change
    assert kept["RoutingConfig"] == {"AdditionalVersionWeights": {one: 0.25}} and kept["Description"] == "second"
    cleared = c.update_alias(FunctionName="echo", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared and cleared["FunctionVersion"] == two
    assert c.invoke(FunctionName="echo", Qualifier="live")["ExecutedVersion"] == two

    with pytest.raises(c.exceptions.PreconditionFailedException):
        c.update_alias(FunctionName="echo", Name="live", FunctionVersion=one, RevisionId="not-the-revision")
    revision = c.get_alias(FunctionName="echo", Name="live")["RevisionId"]
    assert (
        c.update_alias(FunctionName="echo", Name="live", FunctionVersion=one, RevisionId=revision)["FunctionVersion"]
        == one
    )
    with pytest.raises(c.exceptions.ResourceNotFoundException) as caught:
        c.update_alias(FunctionName="echo", Name="nope", FunctionVersion=one)
    assert error_of(caught) == ("ResourceNotFoundException", 404, f"Alias not found: {lab.arn('echo', 'nope')}")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.update_alias(FunctionName="echo", Name="live", FunctionVersion="9")

    deleted = c.delete_alias(FunctionName="echo", Name="live")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.list_aliases(FunctionName="echo")["Aliases"] == [] and lab.function("echo").aliases() == {}
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.delete_alias(FunctionName="echo", Name="live")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.invoke(FunctionName="echo", Qualifier="live")


def test_an_alias_routes_as_lambda_allows(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    fn = lab.function("echo")
    versions = []
    for n in range(3):
        fn.update(env_vars={"NUM": str(n)})
        versions.append(c.publish_version(FunctionName="echo")["Version"])
    one, two, three = versions
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        c.create_alias(
            FunctionName="echo",
            Name="live",
            FunctionVersion=one,
            RoutingConfig={"AdditionalVersionWeights": {one: 0.5}},
        )
    assert error_of(caught)[2] == (
        f"Invalid function version {one}. Function version {one} is already included in routing configuration."
    )
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="cannot be greater than 1"):
        c.create_alias(
            FunctionName="echo",
            Name="live",
            FunctionVersion=one,
            RoutingConfig={"AdditionalVersionWeights": {two: 0.1, three: 0.1}},
        )
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=r"\$LATEST is not supported"):
        c.create_alias(
            FunctionName="echo",
            Name="live",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {two: 0.1}},
        )
    with pytest.raises(c.exceptions.ClientError) as caught:  # botocore checks nothing here; the endpoint does
        c.create_alias(FunctionName="echo", Name="123", FunctionVersion=one)
    assert error_of(caught)[:2] == ("ValidationException", 400)
    assert fn.aliases() == {}
    c.create_alias(FunctionName="echo", Name="live", FunctionVersion=one)
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="already included"):
        c.update_alias(FunctionName="echo", Name="live", RoutingConfig={"AdditionalVersionWeights": {one: 0.5}})
    assert fn.aliases()["live"].weights == {}
    # the Python API applies the same rules
    with pytest.raises(lambdalab.ConfigError, match="already included"):
        fn.create_alias("canary", two, {two: 0.5})


def test_publish_version_returns_the_last_version_when_nothing_changed(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    first = c.publish_version(FunctionName="echo")
    again = c.publish_version(FunctionName="echo")
    assert first["Version"] == again["Version"] == "1" and again["CodeSha256"] == first["CodeSha256"]
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="echo")["Versions"]] == ["$LATEST", "1"]
    # asynchronous settings and concurrency are not versioned: still nothing to publish
    c.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=0)
    c.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=5)
    assert c.publish_version(FunctionName="echo")["Version"] == "1"
    c.update_function_configuration(FunctionName="echo", MemorySize=256)
    assert c.publish_version(FunctionName="echo")["Version"] == "2"
    c.update_function_configuration(FunctionName="echo", Description="changed")
    assert c.publish_version(FunctionName="echo")["Version"] == "3"
    c.update_function_code(
        FunctionName="echo", ZipFile=zipped({"lambda_function.py": "def handler(e, c):\n  return 4\n"})
    )
    latest = c.get_function_configuration(FunctionName="echo")
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="is different from current CodeSHA256"):
        c.publish_version(FunctionName="echo", CodeSha256="bm90LXRoZS1zaGE=")
    with pytest.raises(c.exceptions.PreconditionFailedException):
        c.publish_version(FunctionName="echo", RevisionId="not-the-revision")
    fourth = c.publish_version(FunctionName="echo", CodeSha256=latest["CodeSha256"], RevisionId=latest["RevisionId"])
    assert fourth["Version"] == "4"
    assert json.loads(c.invoke(FunctionName="echo", Qualifier="4")["Payload"].read()) == 4
    assert lab.function("echo").versions() == ["$LATEST", "1", "2", "3", "4"]


def test_delete_a_version_then_the_function(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    assert c.invoke(FunctionName="echo")["StatusCode"] == 200
    one = c.publish_version(FunctionName="echo")["Version"]
    c.update_function_configuration(FunctionName="echo", MemorySize=256)
    two = c.publish_version(FunctionName="echo")["Version"]
    c.create_alias(
        FunctionName="echo", Name="live", FunctionVersion=two, RoutingConfig={"AdditionalVersionWeights": {one: 0.1}}
    )
    assert c.invoke(FunctionName="echo", Qualifier=one)["ExecutedVersion"] == one
    with pytest.raises(c.exceptions.ResourceConflictException) as caught:
        c.delete_function(FunctionName="echo", Qualifier=one)
    assert error_of(caught)[2] == "Unable to delete version because the following aliases reference it: [live]"
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=r"\$LATEST version cannot be deleted"):
        c.delete_function(FunctionName="echo", Qualifier="$LATEST")
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="DeleteAlias"):
        c.delete_function(FunctionName="echo", Qualifier="live")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.delete_function(FunctionName="echo", Qualifier="7")
    c.update_alias(FunctionName="echo", Name="live", RoutingConfig={})
    assert c.delete_function(FunctionName="echo", Qualifier=one)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="echo")["Versions"]] == ["$LATEST", two]
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.invoke(FunctionName="echo", Qualifier=one)
    deadline = time.monotonic() + 10  # the version's idle environment retires
    while any(e.version == one for e in lab.function("echo").environments()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert c.invoke(FunctionName="echo", Qualifier="live")["ExecutedVersion"] == two

    c.tag_resource(Resource=lab.arn("echo"), Tags={"team": "a"})
    c.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1)
    url_config = c.create_function_url_config(FunctionName="echo", AuthType="NONE")
    assert c.delete_function(FunctionName="echo")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "echo" not in lab.functions() and c.list_functions()["Functions"] == []
    for call in (
        lambda: c.get_function(FunctionName="echo"),
        lambda: c.invoke(FunctionName="echo"),
        lambda: c.delete_function(FunctionName="echo"),
    ):
        with pytest.raises(c.exceptions.ResourceNotFoundException):
            call()
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):  # its URL's port is closed
        urllib.request.urlopen(url_config["FunctionUrl"], timeout=5)
    # the same name again is a new function: no versions, tags or settings of the old one
    c.create_function(
        FunctionName="echo",
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(e, c):\n  return 'new'\n"})},
    )
    assert json.loads(c.invoke(FunctionName="echo")["Payload"].read()) == "new"
    assert c.list_tags(Resource=lab.arn("echo"))["Tags"] == {}
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="echo")["Versions"]] == ["$LATEST"]
    assert c.publish_version(FunctionName="echo")["Version"] == "1"
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_function_event_invoke_config(FunctionName="echo")


def test_permissions_make_a_resource_policy(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_policy(FunctionName="echo")
    added = c.add_permission(
        FunctionName="echo",
        StatementId="s3-invoke",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::photos",
        SourceAccount="123456789012",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3-invoke",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": lab.arn("echo"),
        "Condition": {
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::photos"},
            "StringEquals": {"AWS:SourceAccount": "123456789012"},
        },
    }
    c.add_permission(FunctionName="echo", StatementId="account", Action="lambda:GetFunction", Principal="210987654321")
    got = c.get_policy(FunctionName="echo")
    policy = json.loads(got["Policy"])
    assert policy["Version"] == "2012-10-17" and [s["Sid"] for s in policy["Statement"]] == ["s3-invoke", "account"]
    assert policy["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    with pytest.raises(c.exceptions.ResourceConflictException) as caught:
        c.add_permission(FunctionName="echo", StatementId="account", Action="lambda:InvokeFunction", Principal="*")
    assert "already exists" in error_of(caught)[2]
    with pytest.raises(c.exceptions.PreconditionFailedException):
        c.add_permission(
            FunctionName="echo",
            StatementId="other",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            RevisionId="stale",
        )
    with pytest.raises(c.exceptions.PreconditionFailedException):
        c.remove_permission(FunctionName="echo", StatementId="account", RevisionId="stale")
    with pytest.raises(c.exceptions.ResourceNotFoundException) as caught:
        c.remove_permission(FunctionName="echo", StatementId="missing")
    assert error_of(caught) == ("ResourceNotFoundException", 404, "Statement missing is not found in resource policy.")
    removed = c.remove_permission(FunctionName="echo", StatementId="account", RevisionId=got["RevisionId"])
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = c.get_policy(FunctionName="echo")
    assert [s["Sid"] for s in json.loads(after["Policy"])["Statement"]] == ["s3-invoke"]
    assert after["RevisionId"] != got["RevisionId"]

    # one policy per qualifier: an alias's is its own
    version = c.publish_version(FunctionName="echo")["Version"]
    c.create_alias(FunctionName="echo", Name="live", FunctionVersion=version)
    c.add_permission(
        FunctionName="echo",
        Qualifier="live",
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    live = json.loads(c.get_policy(FunctionName="echo", Qualifier="live")["Policy"])["Statement"]
    assert live[0]["Resource"] == lab.arn("echo", "live") and live[0]["Principal"] == "*"
    assert live[0]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_policy(FunctionName="echo", Qualifier=version)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.add_permission(FunctionName="echo", Qualifier="nope", StatementId="x", Action="lambda:*", Principal="*")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.add_permission(FunctionName="ghost", StatementId="x", Action="lambda:*", Principal="*")
    c.remove_permission(FunctionName="echo", StatementId="s3-invoke")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_policy(FunctionName="echo")


def test_tags_on_the_function_arn(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    arn = lab.arn("echo")
    assert c.list_tags(Resource=arn)["Tags"] == {}
    assert (
        c.tag_resource(Resource=arn, Tags={"team": "data", "env": "dev"})["ResponseMetadata"]["HTTPStatusCode"] == 204
    )
    c.tag_resource(Resource=arn, Tags={"env": "prod"})
    assert c.list_tags(Resource=arn)["Tags"] == {"team": "data", "env": "prod"}
    assert c.get_function(FunctionName="echo")["Tags"] == {"team": "data", "env": "prod"}
    assert c.untag_resource(Resource=arn, TagKeys=["team", "absent"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert c.list_tags(Resource=arn)["Tags"] == {"env": "prod"}
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags(Resource=lab.arn("ghost"))
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.list_tags(Resource=arn.replace("123456789012", "210987654321"))
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="reserved"):
        c.tag_resource(Resource=arn, Tags={"aws:cloudformation:stack-name": "x"})
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="at most 50"):
        c.tag_resource(Resource=arn, Tags={f"k{n}": "v" for n in range(50)})
    with pytest.raises(c.exceptions.InvalidParameterValueException):
        c.tag_resource(Resource=lab.arn("echo", "1"), Tags={"a": "b"})
    created = c.create_function(
        FunctionName="tagged",
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/r",
        Handler="app.handler",
        Code={"ZipFile": zipped({"app.py": "def handler(e, c):\n  return 1\n"})},
        Tags={"made-by": "boto3"},
    )
    assert c.list_tags(Resource=created["FunctionArn"])["Tags"] == {"made-by": "boto3"}


def test_event_invoke_config_drives_the_async_queue(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    lab.create_function("failing", FAILING)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as caught:
        c.get_function_event_invoke_config(FunctionName="failing")
    assert "doesn't have an EventInvokeConfig" in error_of(caught)[2]
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="at least one"):
        c.put_function_event_invoke_config(FunctionName="failing")
    with pytest.raises(c.exceptions.ClientError) as caught:  # botocore checks the minimum, the endpoint the maximum
        c.put_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=3)
    assert error_of(caught)[:2] == ("ValidationException", 400)
    assert "less than or equal to 2" in error_of(caught)[2]
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.put_function_event_invoke_config(FunctionName="failing", MaximumEventAgeInSeconds=21_601)
    assert error_of(caught)[:2] == ("ValidationException", 400)
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="destination ARN"):
        c.put_function_event_invoke_config(
            FunctionName="failing", DestinationConfig={"OnFailure": {"Destination": "not-an-arn"}}
        )

    queue = "arn:aws:sqs:us-east-1:123456789012:failures"
    put = c.put_function_event_invoke_config(
        FunctionName="failing", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": queue}}
    )
    assert put["FunctionArn"] == lab.arn("failing", "$LATEST") and put["MaximumRetryAttempts"] == 0
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": queue}}
    assert "MaximumEventAgeInSeconds" not in put and put["LastModified"].year >= 2024
    fn = lab.function("failing")
    assert (fn.config.max_retry_attempts, fn.config.max_event_age_s) == (0, 21_600)
    updated = c.update_function_event_invoke_config(FunctionName="failing", MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": queue}
    assert fn.config.max_event_age_s == 120
    got = c.get_function_event_invoke_config(FunctionName="failing")
    assert got["MaximumEventAgeInSeconds"] == 120 and got["MaximumRetryAttempts"] == 0

    # no retries now: one failed event reaches the failure destination after one attempt
    accepted = c.invoke(FunctionName="failing", InvocationType="Event", Payload=b'{"n": 1}')
    request_id = accepted["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 30
    while not fn.destinations.on_failure:
        assert time.monotonic() < deadline, "no failure record"
        time.sleep(0.05)
    record = fn.destinations.on_failure[0]
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["condition"] == "RetriesExhausted"

    # a version's config is kept and listed; the function's own drives the queue
    version = c.publish_version(FunctionName="failing")["Version"]
    pinned = c.put_function_event_invoke_config(FunctionName="failing", Qualifier=version, MaximumRetryAttempts=1)
    assert pinned["FunctionArn"] == lab.arn("failing", version)
    listed = c.list_function_event_invoke_configs(FunctionName="failing")["FunctionEventInvokeConfigs"]
    assert sorted(row["FunctionArn"] for row in listed) == sorted(
        [lab.arn("failing", "$LATEST"), lab.arn("failing", version)]
    )
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.put_function_event_invoke_config(FunctionName="failing", Qualifier="9", MaximumRetryAttempts=1)

    assert c.delete_function_event_invoke_config(FunctionName="failing")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert (fn.config.max_retry_attempts, fn.config.max_event_age_s) == (2, 21_600)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_function_event_invoke_config(FunctionName="failing")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.update_function_event_invoke_config(FunctionName="failing", MaximumRetryAttempts=1)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.delete_function_event_invoke_config(FunctionName="failing")
    assert c.get_function_event_invoke_config(FunctionName="failing", Qualifier=version)["MaximumRetryAttempts"] == 1


def test_setting_async_options_keeps_environments_warm(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    assert c.invoke(FunctionName="echo")["StatusCode"] == 200
    before = {e.environment_id for e in lab.function("echo").environments()}
    c.put_function_event_invoke_config(FunctionName="echo", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=60)
    assert {e.environment_id for e in lab.function("echo").environments()} == before
    result = lab.function("echo").invoke({"x": 1})
    assert not result.cold


def test_the_aws_cli_tags_and_reads_a_policy(served: tuple[lambdalab.Lab, str], tmp_path: Any) -> None:
    lab, url = served
    env = cli_env(tmp_path)
    aws = [str(Path(sys.executable).parent / "aws"), "lambda", "--endpoint-url", url, "--output", "json"]

    def run(*args: str) -> Any:
        done = subprocess.run([*aws, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    run("tag-resource", "--resource", lab.arn("echo"), "--tags", "team=cli")
    assert run("list-tags", "--resource", lab.arn("echo")) == {"Tags": {"team": "cli"}}
    run(
        "add-permission",
        "--function-name",
        "echo",
        "--statement-id",
        "sns",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "sns.amazonaws.com",
    )
    policy = json.loads(run("get-policy", "--function-name", "echo")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}


def test_deleting_a_function_ends_its_environments_and_invocations() -> None:
    """Lab.delete_function (DeleteFunction's engine side): nothing of the function outlives it, provisioned
    environments included; an invocation in flight ends with an error; its records stay."""
    import psutil

    def environments() -> list[list[str]]:
        """The Lab's processes but its own helpers (reaper, spare launchers waiting for any function); a process
        that has exited (a zombie until the engine reaps it) is gone."""
        out = []
        for process in psutil.Process().children(recursive=True):
            try:
                line = process.cmdline()
            except psutil.Error:
                continue
            if not any("reaper.py" in part or "/spare-" in part for part in line):
                out.append(line)
        return out

    source = "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    return 1\n"
    with lambdalab.Lab() as lab:
        fn = lab.create_function("slow", source, provisioned_concurrency=2, timeout_s=10)
        fn.wait_provisioned(30)
        fn.provision(1, fn.publish())
        deadline = time.monotonic() + 30
        while len(environments()) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        running = fn.submit({"s": 5})
        time.sleep(0.5)
        lab.delete_function("slow")
        assert lab.functions() == []
        assert running.result(15).error["errorType"] == "Sandbox.Failure"
        deadline = time.monotonic() + 10
        while environments():
            assert time.monotonic() < deadline, environments()
            time.sleep(0.05)
        with pytest.raises(lambdalab.UnknownFunctionError):
            lab.function("slow")
        with pytest.raises(lambdalab.UnknownFunctionError):
            lab.delete_function("slow")
        for read in (fn.versions, fn.aliases, fn.environments, fn.statistics):  # a Function kept by a widget
            with pytest.raises(lambdalab.UnknownFunctionError):
                read()
        assert list(lab.invocations()["function"]) == ["slow"]
