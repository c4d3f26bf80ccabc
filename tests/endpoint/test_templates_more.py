"""Templates read as SAM reads them: one bad resource skipped with a note, AutoPublishAlias, AWS::Lambda::Function,
SQS queues with their SAM Events and AWS::Lambda::EventSourceMapping wired to local queues, more intrinsics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lambdalab
from lambdalab.endpoint.template_sources import queues
from lambdalab.endpoint.template_values import MAPPINGS, UNRESOLVED, resolve
from lambdalab.endpoint.templates import load_template

from .conftest import client

APP = """
import json, os
def handler(event, context):
    return {"version": context.function_version, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "env": {k: v for k, v in os.environ.items() if k.startswith("T_")}}

def records(event, context):
    print("BATCH", json.dumps([r["body"] for r in event["Records"]]))
    return {"batchItemFailures": []}
"""

BAD = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: app/
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler}
  BadName:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, FunctionName: "bad name!"}
  MissingCode:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, CodeUri: nowhere/}
  OldRuntime:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: cobol9}
  ListProps:
    Type: AWS::Serverless::Function
    Properties: [1, 2]
  StringEnv:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Environment: just-a-string}
  BadAlias:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, AutoPublishAlias: "bad alias!"}
  S3Code:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.11, Code: {S3Bucket: b, S3Key: k}}
  NoCode:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.11}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text(APP)
    return tmp_path


def _load(lab: lambdalab.Lab, project: Path, text: str) -> tuple[list[str], list[str]]:
    (project / "template.yaml").write_text(text)
    return load_template(lab, project / "template.yaml")


@pytest.mark.slow
def test_each_bad_resource_is_skipped_with_a_note_naming_it(project: Path) -> None:
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, BAD)
        assert names == ["Good"] and lab.functions() == ["Good"]
        skipped = ("BadName", "MissingCode", "OldRuntime", "ListProps", "StringEnv", "BadAlias", "S3Code", "NoCode")
        for logical_id in skipped:
            mine = [n for n in notes if n.startswith(f"{logical_id}: ")]
            assert len(mine) == 1 and mine[0].endswith("; not served"), (logical_id, notes)
        by_id = {n.split(":", 1)[0]: n for n in notes}
        assert "'nowhere/' does not exist" in by_id["MissingCode"] and "cobol9" in by_id["OldRuntime"]
        assert "S3" in by_id["S3Code"] and "bad alias!" in by_id["BadAlias"]
        assert lab.function("Good").invoke().payload["version"] == "$LATEST"


@pytest.mark.slow
def test_auto_publish_alias_publishes_a_version_and_points_the_alias_at_it(project: Path) -> None:
    text = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: app/, Handler: app.handler, AutoPublishAlias: live}
Resources:
  Published:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {T_ALIAS: !Ref Published.Alias, T_SELF: !GetAtt Published.Arn}}
  Other:
    Type: AWS::Serverless::Function
    Properties: {AutoPublishAlias: prod}
"""
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, text)
        assert names == ["Published", "Other"], notes
        fn = lab.function("Published")
        assert fn.versions() == ["$LATEST", "1"] and fn.aliases()["live"].version == "1"
        answer = fn.invoke(qualifier="live").payload
        assert answer["version"] == "1" and answer["arn"] == lab.arn("Published", "live")
        assert answer["env"] == {"T_SELF": lab.arn("Published")}  # the alias is made after the function
        assert any(n.startswith("Published: environment variable T_ALIAS") for n in notes)
        assert set(lab.function("Other").aliases()) == {"prod"}
        url = lab.serve()
        out = client(url).invoke(FunctionName="Other", Qualifier="prod", Payload=b"{}")
        assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read())["version"] == "1"


@pytest.mark.slow
def test_aws_lambda_function_resources_are_deployed(project: Path) -> None:
    text = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Timeout: 9}
Resources:
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: inline-raw
      Runtime: python3.11
      Handler: index.handler
      MemorySize: 256
      Timeout: 7
      Role: arn:aws:iam::123456789012:role/ignored
      Environment: {Variables: {T_KIND: inline}}
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return ["inline", os.environ["T_KIND"], context.memory_limit_in_mb]
  Local:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: app.handler, Code: app/}
"""
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, text)
        assert names == ["inline-raw", "Local"], notes
        inline = lab.function("inline-raw")
        assert (inline.config.memory_mb, inline.config.timeout_s) == (256, 7.0)
        assert inline.invoke().payload == ["inline", "inline", "256"]
        local = lab.function("Local")
        assert local.config.timeout_s == 3.0  # SAM's Globals are not for AWS::Lambda::Function
        assert local.invoke().payload["memory"] == "128"


SQS = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function: {Runtime: python3.11, CodeUri: app/, Timeout: 5}
Resources:
  Orders:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "orders-${Stage}"
      VisibilityTimeout: 20
      RedrivePolicy: {deadLetterTargetArn: !GetAtt OrdersDlq.Arn, maxReceiveCount: 3}
  OrdersDlq:
    Type: AWS::SQS::Queue
  Jobs:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.records
      AutoPublishAlias: live
      Environment: {Variables: {T_URL: !Ref Orders, T_ARN: !GetAtt Orders.Arn}}
      Events:
        FromOrders:
          Type: SQS
          Properties:
            Queue: !GetAtt Orders.Arn
            BatchSize: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 2}
        FromElsewhere:
          Type: SQS
          Properties: {Queue: "arn:aws:sqs:us-east-1:123456789012:elsewhere", Enabled: false}
  Raw:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: app.records, Code: app/}
  JobsMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Jobs.Arn, FunctionName: !Ref Raw, BatchSize: 1}
  SecondOnJobs:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: !GetAtt Jobs.Arn, FunctionName: !GetAtt Worker.Arn}
  StreamMapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
      FunctionName: !Ref Raw
      StartingPosition: LATEST
  Outside:
    Type: AWS::Lambda::EventSourceMapping
    Properties: {EventSourceArn: "arn:aws:sqs:us-east-1:123456789012:outside", FunctionName: Raw}
"""


@pytest.mark.slow
def test_sqs_events_and_mappings_are_wired_to_local_queues(project: Path) -> None:
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, SQS)
        assert names == ["Worker", "Raw"], notes
        found = queues(lab)
        assert set(found) == {"orders-dev", "Jobs", "outside", "elsewhere"}, notes
        assert found["elsewhere"].settings()["enabled"] is False  # made, paused, as CloudFormation makes it
        orders, jobs = found["orders-dev"], found["Jobs"]
        assert (orders.function, orders.qualifier, orders.batch_size, orders.report_batch_item_failures) == (
            "Worker",
            "live",
            2,
            True,
        )
        assert (orders.visibility_timeout_s, orders.max_receive_count, orders.max_concurrency) == (20.0, 3, 2)
        assert orders.arn == "arn:aws:sqs:us-east-1:123456789012:orders-dev"
        assert (jobs.function, jobs.qualifier, jobs.batch_size, jobs.visibility_timeout_s) == ("Raw", None, 1, 30.0)
        by_id = {n.split(":", 1)[0]: n for n in notes}
        assert by_id["WorkerFromOrders"].endswith("local SQS queue orders-dev delivers to Worker:live")
        assert by_id["WorkerFromElsewhere"].endswith("stands in) (Enabled is false: paused)")
        assert "already delivers to Raw" in by_id["SecondOnJobs"] and by_id["SecondOnJobs"].endswith("not wired")
        assert "local Kinesis stream clicks delivers to Raw" in by_id["StreamMapping"]  # test_templates_streams.py
        assert "stands in" in by_id["Outside"]
        worker_env = lab.function("Worker").config.env_vars
        assert worker_env["T_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dev"
        assert worker_env["T_ARN"] == orders.arn

        orders.send_batch(["a", "b", "c"])
        jobs.send_batch(["j1", "j2"])
        orders.wait_until_empty(timeout_s=60)
        jobs.wait_until_empty(timeout_s=60)
        assert sorted(d.message_id for d in orders.deliveries if d.outcome == "deleted") == sorted(
            {d.message_id for d in orders.deliveries}
        )
        assert len(orders.deliveries) == 3 and len(jobs.deliveries) == 2
        calls = lab.invocations()
        worker_calls = calls[calls["function"] == "Worker"]
        assert set(worker_calls["version"]) == {"1"}  # the mapping goes to the alias, as SAM points it
        assert len(calls[calls["function"] == "Raw"]) == 2  # BatchSize 1
        batches = [line for line in lab.logs("Worker").splitlines() if "BATCH " in line]
        assert sorted(b for line in batches for b in json.loads(line.split("BATCH ", 1)[1])) == ["a", "b", "c"]


def test_intrinsics_resolve_from_parameters_mappings_and_resources() -> None:
    context = {"Stage": "dev", "AWS::Region": "eu-west-1", "Q.Arn": "arn:q", MAPPINGS: {"Sizes": {"dev": {"Mem": 256}}}}
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Mem"]}, context) == 256
    assert resolve({"Fn::FindInMap": ["Sizes", "prod", "Mem"]}, context) is UNRESOLVED
    assert (
        resolve({"Fn::Sub": ["${A}-${Stage}-${AWS::Region}", {"A": {"Ref": "Stage"}}]}, context) == "dev-dev-eu-west-1"
    )
    assert resolve({"Fn::Sub": "${Q.Arn}/${!Literal}"}, context) == "arn:q/${Literal}"
    assert resolve({"Fn::GetAtt": ["Q", "Arn"]}, context) == resolve({"Fn::GetAtt": "Q.Arn"}, context) == "arn:q"
    assert resolve({"Fn::Join": ["-", [{"Ref": "Stage"}, "x", 1]]}, context) == "dev-x-1"
    assert resolve({"Fn::Select": [1, ["a", {"Ref": "Stage"}]]}, context) == "dev"
    for unresolved in (
        {"Fn::If": ["C", 1, 2]},
        {"Ref": "Nope"},
        {"Fn::Sub": "${Nope}"},
        {"Fn::GetAtt": ["T", "Arn"]},
        {"Fn::ImportValue": "x"},
        {"Ref": "Stage", "Other": 1},
    ):
        assert resolve(unresolved, context) is UNRESOLVED, unresolved
    assert resolve({"Variables": {"A": 1}}, context) == {"Variables": {"A": 1}}


GLOBALS = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: app/
    Handler: app.handler
    Timeout: 9
    Architectures: [x86_64]
    Tags: {team: a, cost: x}
    Environment: {Variables: {T_A: global, T_B: global}}
    LoggingConfig: {LogFormat: JSON}
    FunctionName: not-allowed-here
Resources:
  Merged:
    Type: AWS::Serverless::Function
    Properties:
      Architectures: [arm64]
      Tags: {cost: y}
      Environment: {Variables: {T_B: own, T_C: own}}
      LoggingConfig: {ApplicationLogLevel: WARN}
  Alone:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [Timeout, Environment]
    Properties: {}
  Intrinsic:
    Type: AWS::Serverless::Function
    Properties:
      Environment: !If [Cond, {Variables: {T_X: "1"}}, !Ref AWS::NoValue]
  NoGlobals:
    Type: AWS::Serverless::Function
    IgnoreGlobals: "*"
    Properties: {Runtime: python3.11, CodeUri: app/, Handler: app.handler}
  BadIgnore:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [MemorySize]
    Properties: {}
"""


def test_globals_merge_as_sam_merges_them() -> None:
    from lambdalab.endpoint.template_globals import function_globals, merge
    from lambdalab.endpoint.template_values import Skip
    from lambdalab.endpoint.templates import read_template

    notes: list[str] = []
    template = _read(GLOBALS, read_template)
    defaults = function_globals(template, notes)
    assert notes == ["Globals: 'FunctionName' is not a supported property of 'Function'; ignored"]
    resources = template["Resources"]
    merged = merge("Merged", defaults, resources["Merged"]["Properties"])
    assert merged["Architectures"] == ["arm64"] and merged["Tags"] == {"team": "a", "cost": "y"}
    assert merged["Environment"] == {"Variables": {"T_A": "global", "T_B": "own", "T_C": "own"}}
    assert merged["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    alone = merge("Alone", defaults, {}, ["Timeout", "Environment"])
    assert "Timeout" not in alone and "Environment" not in alone and alone["Runtime"] == "python3.11"
    assert merge("Intrinsic", defaults, resources["Intrinsic"]["Properties"])["Environment"] == {
        "Fn::If": ["Cond", {"Variables": {"T_X": "1"}}, {"Ref": "AWS::NoValue"}]
    }
    assert merge("NoGlobals", defaults, {"Timeout": 1}, "*") == {"Timeout": 1}
    with pytest.raises(Skip, match="IgnoreGlobals' on item 'MemorySize'"):
        merge("BadIgnore", defaults, {}, ["MemorySize"])


def _read(text: str, read_template: object, name: str = "template.yaml") -> dict:  # type: ignore[type-arg]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text(text)
        return read_template(Path(folder) / name)  # type: ignore[operator, no-any-return]


FIXTURES = Path(__file__).parent / "templates" / "runtimes"


@pytest.mark.parametrize("source", ["globals", "sqs", "runtimes", "go", "serve", "layers"])
def test_globals_agree_with_aws_sam_translator(source: str) -> None:
    """The same merged properties as aws-sam-translator's own Globals plugin (what sam local runs)."""
    pytest.importorskip("samtranslator")
    from samtranslator.plugins.globals.globals import Globals

    from lambdalab.endpoint.template_globals import function_globals, merge
    from lambdalab.endpoint.templates import read_template

    from . import test_serve, test_templates_layers

    texts = {
        "globals": GLOBALS.replace("    FunctionName: not-allowed-here\n", ""),
        "sqs": SQS,
        "runtimes": (FIXTURES / "template.yaml").read_text(),
        "go": (FIXTURES / "go" / "template.yaml").read_text(),
        "serve": test_serve.TEMPLATE,
        "layers": test_templates_layers.TEMPLATE,
    }
    template = _read(texts[source], read_template)
    theirs = Globals(template)
    defaults = function_globals(template, [])
    checked = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function" or logical_id == "BadIgnore":
            continue
        ignore = resource.get("IgnoreGlobals")
        expected = theirs.merge("AWS::Serverless::Function", resource["Properties"], logical_id, ignore)
        assert merge(logical_id, defaults, resource["Properties"], ignore) == expected, logical_id
        checked += 1
    assert checked >= 1


@pytest.mark.slow
def test_a_template_loads_with_globals_ignored_where_asked(project: Path) -> None:
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, GLOBALS)
        assert names == ["Merged", "Alone", "Intrinsic", "NoGlobals"], notes
        assert any(n.startswith("Globals: 'FunctionName'") for n in notes)
        assert any(n.startswith("BadIgnore: Resource BadIgnore has invalid") for n in notes)
        configs = {name: lab.function(name).config for name in names}
        assert (configs["Merged"].timeout_s, configs["Alone"].timeout_s, configs["NoGlobals"].timeout_s) == (
            9.0,
            3.0,
            3.0,
        )
        assert configs["Merged"].env_vars == {"T_A": "global", "T_B": "own", "T_C": "own"}
        assert configs["Intrinsic"].env_vars == {} and "Intrinsic: Environment uses an intrinsic function" in "".join(
            notes
        )
        assert configs["Alone"].env_vars == {} and configs["Alone"].log_format == "JSON"
        assert configs["Merged"].application_log_level == "WARN" and configs["NoGlobals"].log_format == "Text"


@pytest.mark.slow
def test_parameter_overrides_and_mappings_reach_the_functions(project: Path) -> None:
    text = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Mappings:
  Sizes: {dev: {Mem: 256}, prod: {Mem: 1024}}
Resources:
  Sized:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: app/
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Mem]
      Environment: {Variables: {T_STAGE: !Ref Stage, T_NAME: !Join ["-", [!Ref Stage, !Ref AWS::Region]]}}
"""
    with lambdalab.Lab() as lab:
        names, notes = _load(lab, project, text)
        assert lab.function("Sized").config.memory_mb == 256 and notes == []
    (project / "template.yaml").write_text(text)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, project / "template.yaml", parameters={"Stage": "prod", "Nope": "x"})
        assert names == ["Sized"] and notes == ["parameter Nope is not in the template's Parameters; ignored"]
        config = lab.function("Sized").config
        assert config.memory_mb == 1024 and config.env_vars == {"T_STAGE": "prod", "T_NAME": "prod-us-east-1"}


@pytest.mark.slow
def test_serve_a_template_with_an_alias_and_queues_over_the_cli(project: Path, tmp_path: Path) -> None:
    from .conftest import cli_env, serve_cli

    (project / "template.yaml").write_text(SQS)
    with serve_cli(
        ["--template", str(project / "template.yaml"), "--port", "0", "--no-urls"], cli_env(tmp_path)
    ) as run:
        c = client(run.url)
        out = c.invoke(FunctionName="Worker", Qualifier="live", Payload=json.dumps({"Records": [{"body": "x"}]}))
        assert out["ExecutedVersion"] == "1" and json.loads(out["Payload"].read()) == {"batchItemFailures": []}
        assert [a["Name"] for a in c.list_aliases(FunctionName="Worker")["Aliases"]] == ["live"]
    assert "WorkerFromOrders: local SQS queue orders-dev delivers to Worker:live" in run.stderr
    assert "StreamMapping: local Kinesis stream clicks delivers to Raw" in run.stderr


def test_a_condition_is_an_intrinsic_in_the_globals_merge() -> None:
    """SAM's is_intrinsics counts ``{"Condition": X}``: the resource's value wins, no key-by-key merge."""
    from lambdalab.endpoint.template_globals import merge

    defaults = {"Environment": {"Variables": {"T_A": "global"}}, "Tags": {"Condition": "IsProd"}}
    merged = merge("F", defaults, {"Environment": {"Condition": "IsDev"}, "Tags": {"team": "a"}})
    assert merged["Environment"] == {"Condition": "IsDev"}
    assert merged["Tags"] == {"team": "a"}
    samtranslator = pytest.importorskip("samtranslator")
    from samtranslator.plugins.globals.globals import Globals

    template = {"Globals": {"Function": defaults}, "Resources": {}}
    props = {"Environment": {"Condition": "IsDev"}, "Tags": {"team": "a"}}
    assert merged == Globals(template).merge("AWS::Serverless::Function", props, "F", None), samtranslator.__version__


@pytest.mark.slow
def test_a_list_or_mapping_environment_value_is_empty_as_sam_makes_it(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.11\n"
        "      Handler: app.handler\n      Environment:\n        Variables:\n          T_LIST: [a, b]\n"
        "          T_MAP: {k: v}\n          T_ON: true\n          T_N: 5\n"
    )
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        assert names == ["Fn"], notes
        assert lab.function("Fn").config.env_vars == {"T_LIST": "", "T_MAP": "", "T_ON": "true", "T_N": "5"}
