"""Names and paths: every name a user or a template gives follows Lambda's pattern, and no path leaves the task root.

A handler string once wrote its module anywhere (``../../../tmp/x/sitecustomize.handler`` with
``source=``); each case below is refused before anything is written, through the API, a SAM template's
``InlineCode`` and CreateFunction over the endpoint, and each ends with a good invoke.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import lambdalab
from lambdalab import config
from lambdalab.endpoint.templates import load_template
from lambdalab.engine.code import write_task_root
from tests.endpoint.conftest import client, zipped

pytestmark = pytest.mark.slow

GOOD = "def handler(event, context):\n    return {'ok': True}\n"


def _escape_target() -> tuple[Path, str]:
    """A folder outside any task root, and the handler string that used to write a module into it."""
    folder = Path("/tmp") / f"lambdalab_escape_{uuid.uuid4().hex[:12]}"
    return folder, f"../../../{folder.relative_to('/')}/sitecustomize.handler"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _good(lab: lambdalab.Lab) -> None:
    fn = lab.function("good") if "good" in lab.functions() else lab.create_function("good", GOOD)
    assert fn.invoke({}).payload == {"ok": True}


# -- handlers --------------------------------------------------------------------------------------
def test_a_handler_that_climbs_out_is_refused_and_writes_nothing(lab):
    folder, handler = _escape_target()
    before = _files(lab._workdir)
    with pytest.raises(lambdalab.ConfigError, match="invalid handler"):
        lab.create_function("escape", GOOD, handler=handler)
    assert not folder.exists()
    assert _files(lab._workdir) == before and lab.functions() == []
    _good(lab)


BAD_HANDLERS = ["/tmp/x/mod.handler", "../mod.handler", "a..b.handler", "mod.handler\n", "mod.", ".handler",
                "a b.handler", "mod.han-dler", "mod.handler()", "a//b.handler", "x" * 126 + ".h.f", "", "a\\b.handler",
                "mod\0.handler", "mod:x.handler", "a/./b.handler"]


@pytest.mark.parametrize("handler", BAD_HANDLERS)
def test_handlers_that_are_not_module_dot_function_are_refused(lab, handler):
    with pytest.raises(lambdalab.ConfigError, match="invalid handler"):
        lab.create_function("bad", GOOD, handler=handler)
    assert lab.functions() == []
    _good(lab)


@pytest.mark.parametrize("handler", ["pkg/sub/mod.handler", "pkg.sub.mod.handler", "handler", "mod.handler",
                                     "my-app.handler", "v1/my-app.handler", "1mod.handler"])
def test_handlers_with_identifier_paths_work(lab, handler):
    fn = lab.create_function("nested", GOOD, handler=handler)
    assert fn.invoke({}).payload == {"ok": True}


def test_the_task_root_writer_refuses_a_module_path_that_escapes(tmp_path):
    """Defence in depth: even a module name that skipped the handler check cannot leave the root."""
    outside = tmp_path / "outside"
    for module in ("../../outside/evil", "/" + str(outside / "evil").lstrip("/")):
        with pytest.raises(lambdalab.ConfigError, match="outside the task root"):
            write_task_root(tmp_path / "code", "fn", module, source="x = 1\n", path=None)
    assert not outside.exists()
    assert _files(tmp_path / "code") == set()  # no staging folder left either


# -- a template's InlineCode -----------------------------------------------------------------------
def test_a_template_handler_that_climbs_out_is_skipped_and_the_rest_loads(lab, tmp_path):
    folder, handler = _escape_target()
    (tmp_path / "template.yaml").write_text(f"""
Resources:
  Escape:
    Type: AWS::Serverless::Function
    Properties:
      Handler: {handler}
      Runtime: python3.12
      InlineCode: |
        def handler(event, context):
            return 1
  BadName:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: "has space"
      Handler: index.handler
      InlineCode: "def handler(e, c):\\n    return 1\\n"
  Good:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: good
      Handler: index.handler
      Runtime: python3.12
      InlineCode: |
        def handler(event, context):
            return {{"ok": True}}
""")
    names, notes = load_template(lab, tmp_path / "template.yaml")
    assert names == ["good"]
    assert any(n.startswith("Escape: invalid handler") for n in notes), notes
    assert any(n.startswith("BadName: invalid name") for n in notes), notes
    assert not folder.exists()
    _good(lab)


# -- the management API ----------------------------------------------------------------------------
@pytest.fixture
def served():
    with lambdalab.Lab() as lab:
        lab.create_function("good", GOOD)
        yield lab, client(lab.serve(), retries={"max_attempts": 1})


def _create(c, name="made", handler="app.handler", **extra):
    return c.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
                             Handler=handler, Code={"ZipFile": zipped({"app.py": GOOD})}, **extra)


def test_create_function_with_a_handler_that_climbs_out_is_a_400(served):
    lab, c = served
    folder, handler = _escape_target()
    before = _files(lab._workdir)
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="invalid handler"):
        _create(c, handler=handler)
    assert not folder.exists() and _files(lab._workdir) == before
    assert [f["FunctionName"] for f in c.list_functions()["Functions"]] == ["good"]
    _good(lab)


@pytest.mark.parametrize(("field", "value", "code", "message"), [
    ("FunctionName", "abc\n", "ValidationException", "at 'functionName' failed to satisfy constraint"),
    ("Handler", "app handler", "ValidationException", "at 'handler' failed to satisfy constraint"),
    ("Environment", {"Variables": {"FOO\n": "x"}}, "ValidationException", "Map keys must satisfy constraint"),
    ("Environment", {"Variables": {"A": "x"}}, "ValidationException", "[a-zA-Z]([a-zA-Z0-9_])+"),
    ("Environment", {"Variables": {"AWS_REGION": "x"}}, "InvalidParameterValueException",
     "Reserved keys used in this request: AWS_REGION"),
    ("Environment", {"Variables": {"NUL_VALUE": "a\0b"}}, "InvalidParameterValueException", "NUL"),
])
def test_create_function_refuses_names_as_lambda_does(served, field, value, code, message):
    lab, c = served
    fields = {"FunctionName": "made", "Handler": "app.handler", field: value}
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.create_function(Runtime="python3.12", Role="r", Code={"ZipFile": zipped({"app.py": GOOD})}, **fields)
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, code)
    assert message in error["Error"]["Message"]
    assert lab.functions() == ["good"]
    _good(lab)


@pytest.mark.parametrize("name", ["good\n", "arn:aws:lambda:us-east-1:123456789012:function:good\n",
                                  "123456789012:function:good\n", "good:$LATEST\n"])
def test_a_name_with_a_trailing_newline_never_reaches_the_function(served, name):
    lab, c = served
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.invoke(FunctionName=name, Payload=b"{}")
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, "ValidationException")
    assert "at 'functionName' failed to satisfy constraint" in error["Error"]["Message"]
    assert lab.invocations().empty
    _good(lab)


@pytest.mark.parametrize("alias", ["live\n", "123", "has space", "x" * 129])
def test_create_alias_refuses_names_as_lambda_does(served, alias):
    lab, c = served
    version = c.publish_version(FunctionName="good")["Version"]
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.create_alias(FunctionName="good", Name=alias, FunctionVersion=version)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert c.list_aliases(FunctionName="good")["Aliases"] == []
    _good(lab)


# -- names through the API -------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "field"), [
    ({"name": "abc\n"}, "name"), ({"name": "a" * 65}, "name"), ({"name": "ab/c"}, "name"),
    ({"env_vars": {"FOO\n": "x"}}, "env_vars"), ({"env_vars": {"A": "x"}}, "env_vars"),
    ({"env_vars": {"GOOD_KEY": "a\0b"}}, "env_vars"), ({"env_vars": {"_X": "x"}}, "env_vars"),
    ({"env_vars": "FOO=1"}, "env_vars"), ({"handler": 42}, "handler"), ({"freeze": "yes"}, "freeze"),
])
def test_invalid_names_through_the_api_are_refused(lab, options, field):
    kwargs = {"name": "named", **options}
    with pytest.raises(lambdalab.ConfigError, match=f"invalid {field}"):
        lab.create_function(kwargs.pop("name"), GOOD, **kwargs)
    assert lab.functions() == []
    _good(lab)


@pytest.mark.parametrize("alias", ["live\n", "42", "", "a b", "x" * 129])
def test_invalid_alias_names_are_refused(lab, alias):
    fn = lab.create_function("good", GOOD)
    version = fn.publish()
    with pytest.raises(lambdalab.ConfigError, match="invalid alias"):
        fn.create_alias(alias, version)
    fn.create_alias("live", version)
    assert fn.invoke({}, qualifier="live").payload == {"ok": True}


def test_layer_names_follow_lambdas_pattern():
    for good in ("my-layer", "L_1", "x" * 140):
        config.check_layer_name(good)
    for bad in ("", "x" * 141, "my layer", "layer\n", "../up", "a:b", None):
        with pytest.raises(lambdalab.ConfigError, match="invalid layer name"):
            config.check_layer_name(bad)


def test_env_vars_with_a_nul_never_reach_a_runtime(lab):
    with pytest.raises(lambdalab.ConfigError, match="NUL"):
        lab.create_function("nul", GOOD, env_vars={"GOOD_KEY": "before\0after"})
    fn = lab.create_function("nul", GOOD, env_vars={"GOOD_KEY": "before after"})
    assert fn.invoke({}).payload == {"ok": True}
