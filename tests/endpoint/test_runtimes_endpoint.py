"""Node.js and custom runtimes through the endpoint: boto3 .zip functions and SAM templates served by the CLI."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

import lambdalab
from lambdalab.endpoint.templates import load_template
from lambdalab import runtime_catalog
from lambdalab.errors import ConfigError

from .conftest import cli_env, client, serve_cli, zipped

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "templates" / "runtimes"
ROLE = "arn:aws:iam::123456789012:role/lambdalab"

# a custom runtime: a curl loop on the Runtime API; {"fail": ...} makes it post a function error
BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  echo "bash got $EVENT"
  if [[ "$EVENT" == *'"fail"'* ]]; then
    curl -sS -o /dev/null -H "Lambda-Runtime-Function-Error-Type: HandlerError" \
      -d '{"errorType":"HandlerError","errorMessage":"asked to fail"}' "$API/invocation/$ID/error"
  else
    curl -sS -o /dev/null -d "{\"echo\":$EVENT,\"handler\":\"${_HANDLER:-}\"}" "$API/invocation/$ID/response"
  fi
done
"""

NODE_ESM = """import { GREETING } from "./lib/greeting.mjs";
let count = 0;
export const handler = async (event, context) => {
  count += 1;
  if (event.fail) throw new RangeError(`asked to fail: ${event.fail}`);
  return { greeting: GREETING, count, event, requestId: context.awsRequestId,
           executionEnv: process.env.AWS_EXECUTION_ENV };
};
"""
NODE_CJS = "exports.handler = async (event) => ({ cjs: true, event });\n"


def node_identifier() -> str:
    """``nodejs20.x`` for the Node.js installed here; skips where there is none."""
    try:
        return runtime_catalog.resolve("nodejs").identifier
    except ConfigError as exc:
        pytest.skip(f"Node.js is not installed here: {exc}")


def executable_zip(files: dict[str, str], executable: tuple[str, ...] = ("bootstrap",)) -> bytes:
    """A .zip whose ``executable`` members carry mode 755 in their external attributes (as ``zip`` stores them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buffer.getvalue()


def payload(answer: dict) -> object:  # type: ignore[type-arg]
    return json.loads(answer["Payload"].read())


def test_boto3_nodejs_zip_create_invoke_get_and_error(served: tuple[lambdalab.Lab, str]) -> None:
    identifier = node_identifier()
    lab, url = served
    c = client(url)
    code = zipped({"index.mjs": NODE_ESM, "lib/greeting.mjs": 'export const GREETING = "hi from a module";\n'})
    created = c.create_function(FunctionName="node", Runtime=identifier, Role=ROLE, Handler="index.handler",
                                Code={"ZipFile": code}, MemorySize=256, Timeout=5)
    assert created["Runtime"] == identifier and created["Handler"] == "index.handler"
    c.get_waiter("function_active_v2").wait(FunctionName="node", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert lab.function("node").config.runtime == identifier

    first = payload(c.invoke(FunctionName="node", Payload=b'{"n": 1}'))
    second = payload(c.invoke(FunctionName="node", Payload=b'{"n": 2}'))
    assert first["greeting"] == "hi from a module" and first["event"] == {"n": 1}  # type: ignore[index]
    assert (first["count"], second["count"]) == (1, 2)  # type: ignore[index]  # one warm environment
    assert first["executionEnv"] == f"AWS_Lambda_{identifier}"  # type: ignore[index]

    failed = c.invoke(FunctionName="node", Payload=b'{"fail": "now"}')
    assert failed["FunctionError"] == "Unhandled"
    error = payload(failed)
    assert error["errorType"] == "RangeError" and error["errorMessage"] == "asked to fail: now"  # type: ignore[index]
    assert isinstance(error["trace"], list) and error["trace"][0] == "RangeError: asked to fail: now"  # type: ignore[index]

    config = c.get_function(FunctionName="node")["Configuration"]
    assert (config["Runtime"], config["Handler"], config["MemorySize"]) == (identifier, "index.handler", 256)
    listed = {f["FunctionName"]: f["Runtime"] for f in c.list_functions()["Functions"]}
    assert listed["node"] == identifier and listed["echo"].startswith("python3.")

    c.create_function(FunctionName="cjs", Runtime=identifier, Role=ROLE, Handler="index.handler",
                      Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    assert payload(c.invoke(FunctionName="cjs", Payload=b'{"a": 1}')) == {"cjs": True, "event": {"a": 1}}
    updated = c.update_function_configuration(FunctionName="cjs", Runtime=identifier, Timeout=7)
    assert (updated["Runtime"], updated["Timeout"]) == (identifier, 7)

    missing = c.create_function(FunctionName="nomodule", Runtime=identifier, Role=ROLE, Handler="app.handler",
                                Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    assert missing["Handler"] == "app.handler"
    answer = c.invoke(FunctionName="nomodule")
    assert answer["FunctionError"] == "Unhandled" and payload(answer)["errorType"] == "Runtime.ImportModuleError"  # type: ignore[index]


def test_boto3_refuses_a_node_version_not_installed_and_names_the_one_here(served: tuple[lambdalab.Lab, str]) -> None:
    identifier = node_identifier()
    _, url = served
    c = client(url)
    other = "nodejs22.x" if identifier != "nodejs22.x" else "nodejs20.x"
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=f"{other} is not installed here.*{identifier}"):
        c.create_function(FunctionName="newer", Runtime=other, Role=ROLE, Handler="index.handler",
                          Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="Runtime and Handler are mandatory"):
        c.create_function(FunctionName="nohandler", Runtime=identifier, Role=ROLE,
                          Code={"ZipFile": zipped({"index.js": NODE_CJS})})


@pytest.mark.parametrize("runtime", ["java21", "nodejs", "python-ric", "go1.x"])
def test_boto3_refuses_runtimes_lambdalab_does_not_run(served: tuple[lambdalab.Lab, str], runtime: str) -> None:
    lab, url = served
    c = client(url)
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=f"runtime parameter of {runtime} is not"):
        c.create_function(FunctionName="other", Runtime=runtime, Role=ROLE, Handler="index.handler",
                          Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=f"runtime parameter of {runtime} is not"):
        c.update_function_configuration(FunctionName="echo", Runtime=runtime)
    assert "other" not in lab.functions() and lab.function("echo").config.runtime == "python"


def test_boto3_provided_zip_with_a_bash_bootstrap(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    created = c.create_function(FunctionName="bash", Runtime="provided.al2023", Role=ROLE, Handler="handler",
                                Code={"ZipFile": executable_zip({"bootstrap": BOOTSTRAP})})
    assert created["Runtime"] == "provided.al2023" and created["Handler"] == "handler"
    answer = c.invoke(FunctionName="bash", Payload=b'{"x": 1}', LogType="Tail")
    assert "FunctionError" not in answer and payload(answer) == {"echo": {"x": 1}, "handler": "handler"}
    assert payload(c.invoke(FunctionName="bash", Payload=b'{"x": 2}'))["echo"] == {"x": 2}  # type: ignore[index]
    assert len(lab.function("bash").environments()) == 1  # the loop served both

    failed = c.invoke(FunctionName="bash", Payload=b'{"fail": 1}')
    assert failed["FunctionError"] == "Unhandled"
    assert payload(failed) == {"errorType": "HandlerError", "errorMessage": "asked to fail"}
    assert "bash got {\"fail\": 1}" in lab.function("bash").logs()

    config = c.get_function(FunctionName="bash")["Configuration"]
    assert config["Runtime"] == "provided.al2023" and config["Handler"] == "handler"
    c.create_function(FunctionName="al2", Runtime="provided.al2", Role=ROLE, Handler="my.handler",
                      Code={"ZipFile": executable_zip({"bootstrap": BOOTSTRAP})})
    assert c.get_function_configuration(FunctionName="al2")["Handler"] == "my.handler"
    assert payload(c.invoke(FunctionName="al2", Payload=b"[]")) == {"echo": [], "handler": "my.handler"}
    listed = {f["FunctionName"]: f["Runtime"] for f in c.list_functions()["Functions"]}
    assert (listed["bash"], listed["al2"]) == ("provided.al2023", "provided.al2")


def test_boto3_provided_zip_without_a_bootstrap_fails_with_invalid_entrypoint(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    c = client(url)
    c.create_function(FunctionName="empty", Runtime="provided.al2023", Role=ROLE, Handler="x",
                      Code={"ZipFile": zipped({"README.txt": "no bootstrap here\n"})})
    answer = c.invoke(FunctionName="empty", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    error = payload(answer)
    assert error["errorType"] == "Runtime.InvalidEntrypoint"  # type: ignore[index]
    assert "bootstrap" in error["errorMessage"]  # type: ignore[index]
    # a bootstrap that is not executable (mode 644 in the .zip) is no entry point either
    c.create_function(FunctionName="noexec", Runtime="provided", Role=ROLE, Handler="x",
                      Code={"ZipFile": executable_zip({"bootstrap": BOOTSTRAP}, executable=())})
    assert payload(c.invoke(FunctionName="noexec"))["errorType"] == "Runtime.InvalidEntrypoint"  # type: ignore[index]


def test_template_serves_node_on_the_installed_major_with_a_note(tmp_path: Path) -> None:
    identifier = node_identifier()
    other = "nodejs22.x" if identifier != "nodejs22.x" else "nodejs20.x"
    shutil.copytree(FIXTURES, tmp_path / "app")
    template = tmp_path / "app" / "template.yaml"
    template.write_text(template.read_text().replace("Runtime: nodejs20.x", f"Runtime: {other}"))
    (tmp_path / "app" / "empty").mkdir()
    template.write_text(template.read_text() + """
  NoBootstrap:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: empty/
      Runtime: provided.al2
  Java:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: empty/
      Handler: example.Hello::handleRequest
      Runtime: java21
""")
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, template)
        assert names == ["HelloNode", "inline-node", "HelloBash"]
        assert f"HelloNode: Runtime {other} is not installed here; served on {identifier} (its Runtime reads " \
               f"{identifier})" in notes
        assert any(n.startswith("NoBootstrap: CodeUri 'empty/' holds no bootstrap") for n in notes)
        assert any(n.startswith("Java: Runtime java21 is not one lambdalab runs") for n in notes)
        assert lab.function("HelloNode").config.runtime == identifier
        answer = lab.function("HelloNode").invoke({"path": "/hello"})
        assert answer.error is None and json.loads(answer.payload["body"])["path"] == "/hello"


def test_template_builds_a_go_custom_runtime(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed here (apt-get install golang-go)")
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, FIXTURES / "go" / "template.yaml")
        assert names == ["HelloGo"] and notes == ["HelloGo: built with go build (Metadata BuildMethod go1.x)"]
        fn = lab.function("HelloGo")
        assert fn.config.runtime == "provided.al2023"
        assert fn.invoke({"k": "v"}).payload == {"echo": {"k": "v"}, "runtime": "go", "handler": "bootstrap"}
        assert not (FIXTURES / "go" / "hello" / "bootstrap").exists()  # built elsewhere, the source folder untouched


def test_serve_a_template_with_node_and_provided_functions_over_the_cli(tmp_path: Path) -> None:
    identifier = node_identifier()
    with serve_cli(["--template", str(FIXTURES / "template.yaml"), "--port", "0"], cli_env(tmp_path)) as run:
        c = client(run.url)
        listed = {f["FunctionName"]: f["Runtime"] for f in c.list_functions()["Functions"]}
        assert listed == {"HelloNode": identifier, "inline-node": identifier, "HelloBash": "provided.al2023"}
        hello = payload(c.invoke(FunctionName="HelloNode", Payload=b'{"path": "/hello"}'))
        assert hello["statusCode"] == 200  # type: ignore[index]
        body = json.loads(hello["body"])  # type: ignore[index]
        assert body == {"message": "hello world", "stage": "test", "executionEnv": f"AWS_Lambda_{identifier}",
                        "memory": "256", "path": "/hello"}
        assert payload(c.invoke(FunctionName="inline-node", Payload=b"[1]")) == {"inline": True, "got": [1]}
        bash = c.invoke(FunctionName="HelloBash", Payload=b'{"from": "boto3"}')
        assert "FunctionError" not in bash
        assert payload(bash) == {"echo": {"from": "boto3"}, "stage": "test", "runtime": "bash"}
        config = c.get_function(FunctionName="HelloBash")["Configuration"]
        assert (config["Runtime"], config["Handler"], config["MemorySize"]) == ("provided.al2023", "function.handler", 256)
    assert "HelloNode" in run.output and "HelloBash" in run.output


def test_cli_invoke_takes_node_and_custom_runtimes(tmp_path: Path) -> None:
    import subprocess
    import sys

    identifier = node_identifier()
    (tmp_path / "app.mjs").write_text("export const handler = async (event) => ({ node: event.n });\n")
    (tmp_path / "runtime.sh").write_text(BOOTSTRAP)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lambdalab", "invoke", *args], capture_output=True, text=True,
                              timeout=60, check=False, env=cli_env(tmp_path))

    node = cli(str(tmp_path / "app.mjs"), "--runtime", identifier, "--event", '{"n": 7}', "--count", "2")
    assert node.returncode == 0, node.stderr
    assert node.stdout.count('{"node": 7}') == 2 and node.stdout.count("REPORT RequestId") == 2
    bash = cli(str(tmp_path / "runtime.sh"), "--runtime", "provided.al2023", "--event", "[1]")
    assert bash.returncode == 0, bash.stderr
    assert '{"echo": [1], "handler": "handler"}' in bash.stdout and "bash got [1]" in bash.stdout
    unknown = cli(str(tmp_path / "app.mjs"), "--runtime", "cobol")
    assert unknown.returncode == 2 and "invalid runtime 'cobol'" in unknown.stderr and "nodejs-ric" in unknown.stderr


def test_boto3_update_function_configuration_changes_the_runtime(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    c.create_function(FunctionName="custom", Runtime="provided.al2023", Role=ROLE, Handler="handler",
                      Code={"ZipFile": executable_zip({"bootstrap": BOOTSTRAP})})
    first = c.invoke(FunctionName="custom", Payload=b"1")
    assert payload(first) == {"echo": 1, "handler": "handler"}
    updated = c.update_function_configuration(FunctionName="custom", Runtime="provided.al2")
    assert updated["Runtime"] == "provided.al2" and lab.function("custom").config.runtime == "provided.al2"
    assert payload(c.invoke(FunctionName="custom", Payload=b"2")) == {"echo": 2, "handler": "handler"}
    assert lab.function("custom").config.runtime == "provided.al2"
    # a Python function stays on its client (python-ric here) for any python3.x
    lab.create_function("ric", "def handler(e, c):\n    return 'ric'\n", runtime="python-ric")
    again = c.update_function_configuration(FunctionName="ric", Runtime="python3.12", Timeout=4)
    assert again["Runtime"].startswith("python3.") and lab.function("ric").config.runtime == "python-ric"
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="Runtime and Handler are mandatory"):
        c.create_function(FunctionName="noruntime", Role=ROLE, Handler="a.b", Code={"ZipFile": zipped({"a.py": ""})})


GO_TEMPLATE = """Resources:
  BuiltGo:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: go1.x
    Properties:
      CodeUri: hello/
      Handler: bootstrap
      Runtime: provided.al2023
"""


def _go_app(tmp_path: Path, main_go: str) -> Path:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "go.mod").write_text("module hello\n\ngo 1.19\n")
    (tmp_path / "hello" / "main.go").write_text(main_go)
    (tmp_path / "template.yaml").write_text(GO_TEMPLATE)
    return tmp_path / "template.yaml"


def test_template_go_build_asks_custom_runtimes_for_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalab import custom_runtimes

    monkeypatch.setattr(custom_runtimes, "go_available", lambda: False)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, _go_app(tmp_path, "package main\nfunc main() {}\n"))
    assert names == []
    assert notes == [f"BuiltGo: Metadata BuildMethod go1.x needs {custom_runtimes.GO_INSTALL}; or build the bootstrap "
                     "into 'hello/' yourself; not served"]


def test_template_go_build_failure_is_a_note_with_the_compiler_output(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed here (apt-get install golang-go)")
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, _go_app(tmp_path, "package main\nfunc main() { undefinedCall() }\n"))
    assert names == [] and len(notes) == 1
    assert notes[0].startswith("BuiltGo: go build failed (offline: GOPROXY=off): ") and "undefinedCall" in notes[0]


@pytest.mark.parametrize("runtime", ["nodejs", "nodejs-ric", "python-ric", "python"])
def test_template_refuses_lambdalab_short_names(tmp_path: Path, runtime: str) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.js").write_text(NODE_CJS)
    (tmp_path / "template.yaml").write_text(f"""Resources:
  Short:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: index.handler
      Runtime: {runtime}
""")
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
    assert names == [] and len(notes) == 1
    assert notes[0].startswith(f"Short: Runtime {runtime} is not one lambdalab runs (python3.x, nodejsNN.x")


MANDATORY = "Runtime and Handler are mandatory parameters for functions created with deployment packages."


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2", "provided", "python3.11", "nodejs"])
def test_boto3_create_function_needs_a_handler_for_every_zip_runtime(served: tuple[lambdalab.Lab, str],
                                                                     runtime: str) -> None:
    lab, url = served
    runtime = node_identifier() if runtime == "nodejs" else runtime
    c = client(url)
    code = {"ZipFile": executable_zip({"bootstrap": BOOTSTRAP, "index.js": NODE_CJS})}
    with pytest.raises(c.exceptions.InvalidParameterValueException) as refused:
        c.create_function(FunctionName="nohandler", Runtime=runtime, Role=ROLE, Code=code)
    assert refused.value.response["Error"]["Message"] == MANDATORY
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for bad in ("", "two words", "x" * 129):
        with pytest.raises(c.exceptions.ClientError) as invalid:
            c.create_function(FunctionName="badhandler", Runtime=runtime, Role=ROLE, Handler=bad, Code=code)
        assert invalid.value.response["Error"]["Code"] == "ValidationException"
        assert "Member must satisfy regular expression pattern: [^\\s]+" in invalid.value.response["Error"]["Message"]
    assert "nohandler" not in lab.functions() and "badhandler" not in lab.functions()


# Node.js handlers as Lambda takes them: any [^\s]+ at create time; the runtime reports what it cannot resolve

@pytest.mark.parametrize("handler", ["handler", "index"])
def test_boto3_node_handler_without_a_dot_is_malformed_at_init(served: tuple[lambdalab.Lab, str], handler: str) -> None:
    identifier = node_identifier()
    _, url = served
    c = client(url)
    created = c.create_function(FunctionName="bare", Runtime=identifier, Role=ROLE, Handler=handler,
                                Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    assert created["Handler"] == handler
    answer = c.invoke(FunctionName="bare", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    error = payload(answer)
    assert (error["errorType"], error["errorMessage"]) == ("Runtime.MalformedHandlerName", "Bad handler")  # type: ignore[index]


def test_boto3_node_handler_that_is_no_javascript_name_fails_at_init(served: tuple[lambdalab.Lab, str]) -> None:
    identifier = node_identifier()
    _, url = served
    c = client(url)
    created = c.create_function(FunctionName="dashed", Runtime=identifier, Role=ROLE, Handler="index.handler-x",
                                Code={"ZipFile": zipped({"index.js": NODE_CJS})})
    assert created["Handler"] == "index.handler-x"
    answer = c.invoke(FunctionName="dashed", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    error = payload(answer)
    assert error["errorType"] == "Runtime.HandlerNotFound"  # type: ignore[index]
    assert error["errorMessage"] == "index.handler-x is undefined or not exported"  # type: ignore[index]
