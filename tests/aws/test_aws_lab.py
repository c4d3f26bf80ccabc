"""The AWS backend against the stand-in: the same cell deployed to a local Lab and to ``lambdalab.aws.Lab``, invoked
cold then warm, read back from CloudWatch Logs with the local frames' columns; versions, aliases, updates, errors,
throttles, layers and requirements, as boto3 sends them to Lambda."""

from __future__ import annotations

import pytest

import lambdalab
import lambdalab.aws
from lambdalab.errors import ConfigError, TooManyRequestsException, UnknownFunctionError
from tests.packages import make_wheel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CELL = "import os\n\ndef handler(event, context):\n    print('hello from', os.getpid())\n    return {'got': event}\n"


def test_same_cell_cold_then_warm_gives_the_local_columns(aws_lab: lambdalab.aws.Lab) -> None:
    with lambdalab.Lab() as local:
        here = local.create_function("hello", CELL)
        there = aws_lab.create_function("hello", CELL)
        assert there.remote_name == "lambdalab-hello" and there.config["Handler"] == "lambda_function.handler"
        assert there.config["Runtime"] == lambdalab.runtime_ids.INTERPRETER
        results = {"local": [here.invoke({"n": 1}), here.invoke({"n": 2})]}
        results["aws"] = [there.invoke({"n": 1}), there.invoke({"n": 2})]
        local_frame, local_spans = local.invocations(), local.spans()

    for first, second in results.values():
        assert first.payload == {"got": {"n": 1}} and second.payload == {"got": {"n": 2}}
        assert (first.cold, second.cold) == (True, False)
        assert first.init_duration_ms is not None and second.init_duration_ms is None
    remote = results["aws"][0]
    assert remote.environment_id == "" and "REPORT RequestId: " + remote.request_id in remote.log
    assert remote.status == "success" and remote.memory_size_mb == 128 and remote.version == "$LATEST"

    frame = aws_lab.invocations()
    assert list(frame.columns) == list(local_frame.columns)
    assert frame.dtypes.astype(str).to_dict() == local_frame.dtypes.astype(str).to_dict()
    assert list(frame["request_id"]) == [r.request_id for r in results["aws"]]
    assert list(frame["cold"]) == [True, False] and list(frame["function"]) == ["hello", "hello"]
    environments = set(frame["environment_id"])
    assert len(environments) == 1 and "" not in environments  # one environment, named by its log stream
    assert environments == set(aws_lab.log_streams("hello"))
    assert (frame["latency_ms"] >= frame["duration_ms"]).all()

    spans = aws_lab.spans()
    assert list(spans.columns) == list(local_spans.columns)
    assert sorted(spans["phase"]) == ["init", "invoke", "invoke"]
    assert spans.attrs["unknown_phases"] == ["frozen", "idle", "shutdown"] and spans.attrs["source"] == "aws"
    assert "hello from" in aws_lab.logs("hello")


def test_publish_and_aliases_round_trip(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("versions", "def handler(event, context):\n    return 'v1'\n")
    assert fn.publish() == "1"
    fn.update(source="def handler(event, context):\n    return 'v2'\n")
    assert fn.publish() == "2"
    assert fn.versions() == ["$LATEST", "1", "2"]
    fn.create_alias("live", "1")
    assert fn.aliases()["live"].version == "1"
    result = fn.invoke(qualifier="live")
    assert (result.payload, result.version) == ("v1", "1")
    fn.update_alias("live", "2")
    assert fn.invoke(qualifier="live").payload == "v2"
    assert fn.arn("live") == fn.arn() + ":live"
    fn.delete_alias("live")
    assert fn.aliases() == {}
    with pytest.raises(UnknownFunctionError):
        fn.delete_alias("live")


def test_update_makes_the_next_invoke_cold(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("updated", "def handler(event, context):\n    return 1\n")
    assert [fn.invoke().cold, fn.invoke().cold] == [True, False]
    fn.update(source="def handler(event, context):\n    return 2\n", memory_mb=256)
    after = fn.invoke()
    assert (after.payload, after.cold, after.memory_size_mb) == (2, True, 256)
    assert fn.config["MemorySize"] == 256
    fn.update(timeout_s=5)  # configuration only
    assert fn.invoke().cold and fn.config["Timeout"] == 5
    fn.update()  # the same package again
    assert [fn.invoke().cold, fn.invoke().cold] == [True, False]
    with pytest.raises(ConfigError, match="keep_alive_s"):
        fn.update(keep_alive_s=60)


def test_a_handler_error_is_a_result_with_its_type(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("fails", "def handler(event, context):\n    raise ValueError('no')\n")
    result = fn.invoke()
    assert result.status == "error" and result.function_error == "Unhandled"
    assert result.error is not None and result.error["errorType"] == "ValueError"
    assert result.record.error_type == "ValueError"
    with pytest.raises(lambdalab.errors.FunctionError, match="ValueError: no"):
        result.raise_for_error()
    frame = aws_lab.invocations()
    assert list(frame["status"]) == ["error"] and list(frame["error_type"]) == ["ValueError"]


def test_a_throttle_raises_too_many_requests_at_once(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("throttled", "def handler(event, context):\n    return 1\n", reserved_concurrency=0)
    with pytest.raises(TooManyRequestsException) as raised:
        fn.invoke()
    assert raised.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    future = fn.submit()
    assert isinstance(future.exception(timeout=30), TooManyRequestsException)
    fn.set_reserved_concurrency(None)
    assert fn.invoke().payload == 1


def test_submit_runs_on_the_labs_threads(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function(
        "many", "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return event\n"
    )
    futures = [fn.submit(i) for i in range(4)]
    assert sorted(f.result(timeout=30).payload for f in futures) == [0, 1, 2, 3]
    frame = aws_lab.invocations()
    assert len(frame) == 4 and frame["environment_id"].nunique() == 4  # simultaneous: one environment each


def test_an_event_invocation_is_read_back_from_the_logs(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("later", "def handler(event, context):\n    print('event', event)\n")
    accepted = fn.invoke({"x": 1}, invocation_type="Event")
    assert accepted.status_code == 202 and accepted.request_id
    assert fn.invoke(invocation_type="DryRun") is None
    for _ in range(100):
        frame = aws_lab.invocations()
        if len(frame):
            break
        import time

        time.sleep(0.05)
    assert list(frame["request_id"]) == [accepted.request_id] and frame["environment_id"][0]


def test_layers_and_requirements_are_shipped(aws_lab: lambdalab.aws.Lab, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    layer = tmp_path / "greeting"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "greeting.py").write_text("WORD = 'hello from a layer'\n")
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinydep", "1.2.3")
    source = "import greeting, tinydep\n\ndef handler(event, context):\n    return [greeting.WORD, tinydep.VERSION]\n"
    fn = aws_lab.create_function(
        "shipped", source, layers=[layer], requirements=["tinydep==1.2.3"], pip_args=["--no-index", "-f", str(wheels)]
    )
    assert fn.invoke().payload == ["hello from a layer", "1.2.3"]
    layer_arn = fn.config["Layers"][0]["Arn"]
    assert f":layer:lambdalab-{aws_lab.id}-greeting:1" in layer_arn and layer_arn in aws_lab.created()
    again = aws_lab.create_function("by-arn", source, layers=[layer_arn], requirements=["tinydep==1.2.3"],
                                    pip_args=["--no-index", "-f", str(wheels)])  # fmt: skip
    assert again.invoke().payload == ["hello from a layer", "1.2.3"]


def test_what_the_local_lab_refuses_is_refused_before_any_call(aws_lab: lambdalab.aws.Lab) -> None:
    with pytest.raises(ConfigError, match="memory_mb"):
        aws_lab.create_function("bad", CELL, memory_mb=1)
    with pytest.raises(ConfigError, match="freeze"):
        aws_lab.create_function("bad", CELL, freeze=False)
    with pytest.raises(ConfigError, match="exactly one"):
        aws_lab.create_function("bad")
    assert aws_lab.created() == []  # not even the role
    with pytest.raises(UnknownFunctionError):
        aws_lab.function("nothing")


def test_a_deleted_function_is_unknown_and_its_records_stay(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("brief", CELL)
    fn.invoke(1)
    aws_lab.delete_function("brief")
    assert aws_lab.functions() == []
    with pytest.raises(UnknownFunctionError):
        fn.invoke(2)
    assert len(aws_lab.invocations()) == 1


def test_the_json_log_format_is_read_back_the_same(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("json", CELL, log_format="JSON", application_log_level="INFO")
    assert fn.config["LoggingConfig"]["LogFormat"] == "JSON"
    first, second = fn.invoke(1), fn.invoke(2)
    assert (first.cold, second.cold) == (True, False) and first.init_duration_ms is not None
    frame = aws_lab.invocations()
    assert list(frame["cold"]) == [True, False] and frame["environment_id"].nunique() == 1
    fn.update(log_format="Text")
    assert fn.config["LoggingConfig"]["LogFormat"] == "Text" and fn.invoke(3).cold


def test_for_aws_itself_dependencies_are_built_for_lambdas_platform(tmp_path, monkeypatch) -> None:
    import io
    import zipfile

    from lambdalab.aws import package
    from lambdalab.aws.clients import Clients

    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    assert package.pip_platform_args("python3.12") == (
        "--platform", "manylinux2014_x86_64", "--only-binary=:all:", "--python-version", "3.12", "--implementation",
        "cp")  # fmt: skip
    with pytest.raises(ConfigError):
        package.pip_platform_args("nodejs20.x")
    make_wheel(tmp_path / "wheels", "tinydep", "2.0")
    lines: list[str] = []
    data = package.build_zip(
        tmp_path, handler_module="lambda_function", code=package.Code(source=CELL), runtime="python3.12",
        requirements=["tinydep==2.0"], pip_args=["--no-index", "-f", str(tmp_path / "wheels")], for_aws=True,
        progress=lines.append,
    )  # fmt: skip
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "lambda_function.py" in names and "tinydep/__init__.py" in names and package.MARKER not in names

    class Meta:
        def __init__(self, url: str) -> None:
            self.meta = type("meta", (), {"endpoint_url": url})()

    def on_aws(url: str) -> bool:
        return Clients(Meta(url), None, None, None, "us-east-1").on_aws

    assert on_aws("https://lambda.eu-west-1.amazonaws.com") and on_aws("https://lambda.cn-north-1.amazonaws.com.cn")
    assert not on_aws("http://127.0.0.1:3001") and not on_aws("http://amazonaws.com.example.org")


def test_a_new_role_is_retried_while_lambda_cannot_assume_it() -> None:
    from botocore.exceptions import ClientError

    from lambdalab.aws import roles
    from lambdalab.aws.clients import translate

    def refusal(message: str) -> ClientError:
        return ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": message}}, "CreateFunction")

    calls = []

    def create() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise refusal("The role defined for the function cannot be assumed by Lambda.")
        return "made"

    assert roles.retry_new_role(create, wait_s=5, pause_s=0.01) == "made" and len(calls) == 3
    with pytest.raises(ClientError):  # any other refusal at once
        roles.retry_new_role(lambda: (_ for _ in ()).throw(refusal("Unzipped size must be smaller")), pause_s=0.01)
    assert isinstance(translate(refusal("bad")), ConfigError) and "bad" in str(translate(refusal("bad")))
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Function not found: x"}}, "Op")
    assert isinstance(translate(missing), UnknownFunctionError) and str(translate(missing)) == "Function not found: x"


def test_client_context_and_large_events_as_locally(aws_lab: lambdalab.aws.Lab) -> None:
    from lambdalab.errors import RequestTooLargeException

    fn = aws_lab.create_function("ctx", "def handler(event, context):\n    return context.client_context.custom\n")
    assert fn.invoke(client_context={"custom": {"who": "me"}}).payload == {"who": "me"}
    assert fn.submit(client_context={"custom": {"n": 1}}).result(timeout=30).payload == {"n": 1}
    with pytest.raises(RequestTooLargeException):
        fn.invoke({"blob": "x" * (7 * 1024 * 1024)})
