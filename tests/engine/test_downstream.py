"""Handlers calling other AWS services through a local stand-in (moto's server on loopback): ``aws_endpoint_url``
on the Lab or one function, botocore's variable names, lambdalab's fake credentials, and the owner's credentials
never reaching an environment (its variables, ``/proc/<pid>/environ``, ``~/.aws``)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

import lambdalab
from lambdalab import downstream
from lambdalab.errors import ConfigError

pytestmark = pytest.mark.slow

OWNER_KEY = "AKIAOWNERREALLOOKING7"
OWNER_SECRET = "ownerSecretKeyThatMustNeverLeaveThisProcess0"
OWNER_TOKEN = "ownerSessionTokenNeverInAnEnvironment"
FILE_KEY = "AKIAOWNERFROMAWSFILE9"
BUCKET, TABLE = "lambdalab-downstream", "lambdalab-items"

HANDLER = """
import os, boto3

def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="hello.txt", Body=b"from the handler")
    boto3.client("dynamodb").put_item(TableName=event["table"], Item={"id": {"S": "one"}, "said": {"S": "hi"}})
    with open("/proc/self/environ", "rb") as f:
        raw = f.read().decode(errors="replace")
    creds = boto3.Session().get_credentials()
    return {"pid": os.getpid(), "env": dict(os.environ), "raw": raw,
            "key": creds.access_key, "secret": creds.secret_key, "token": creds.token}
"""


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """moto's server on loopback with a bucket and a table; the owner's real-looking credentials in this process's
    environment and in an ``~/.aws/credentials`` file it points at."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(f"[default]\naws_access_key_id = {FILE_KEY}\naws_secret_access_key = x\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", OWNER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", OWNER_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", OWNER_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto's backends live in this process across servers: start from nothing
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
        boto3.client("dynamodb", endpoint_url=url).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield url
    finally:
        server.stop()


def _read_back(url: str) -> tuple[bytes, dict]:
    import boto3

    body = boto3.client("s3", endpoint_url=url).get_object(Bucket=BUCKET, Key="hello.txt")["Body"].read()
    item = boto3.client("dynamodb", endpoint_url=url).get_item(TableName=TABLE, Key={"id": {"S": "one"}})["Item"]
    return body, item


def _owner_secrets_absent(text: str) -> None:
    for secret in (OWNER_KEY, OWNER_SECRET, OWNER_TOKEN, FILE_KEY):
        assert secret not in text


@pytest.mark.parametrize("how", ["lab-url", "lab-services", "function"])
def test_handler_writes_to_moto_s3_and_dynamodb(moto_url: str, how: str) -> None:
    lab_value = {"lab-url": moto_url, "lab-services": {"s3": moto_url, "dynamodb": moto_url}}.get(how)
    with lambdalab.Lab(aws_endpoint_url=lab_value) as lab:
        fn = lab.create_function(
            "writer", HANDLER, timeout_s=30, aws_endpoint_url=moto_url if how == "function" else None
        )
        result = fn.invoke({"bucket": BUCKET, "table": TABLE})
        assert result.error is None, result.payload
        seen = result.payload
        # the environment's own process, read from outside while it is frozen
        environ = Path(f"/proc/{seen['pid']}/environ").read_bytes().decode(errors="replace")
        assert fn.environments()[0].frozen
    assert _read_back(moto_url) == (b"from the handler", {"id": {"S": "one"}, "said": {"S": "hi"}})
    env = seen["env"]
    if how == "lab-services":
        assert env["AWS_ENDPOINT_URL_S3"] == env["AWS_ENDPOINT_URL_DYNAMODB"] == moto_url
        assert "AWS_ENDPOINT_URL" not in env
    else:
        assert env["AWS_ENDPOINT_URL"] == moto_url
    fake = downstream.FAKE_CREDENTIALS
    assert (seen["key"], seen["secret"], seen["token"]) == (
        fake["AccessKeyId"],
        fake["SecretAccessKey"],
        fake["SessionToken"],
    )
    assert env["AWS_ACCESS_KEY_ID"] == "LAMBDALABFAKEKEY0000"
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"] == "/dev/null"
    for text in (json.dumps(env), seen["raw"], environ):
        _owner_secrets_absent(text)
    assert "LAMBDALABFAKEKEY0000" in environ


def test_role_credentials_in_boto3_spelling_win_over_fakes(moto_url: str) -> None:
    role = {"aws_access_key_id": "ASIAROLEGIVENONPURPOSE", "aws_secret_access_key": "rs", "aws_session_token": "rt"}
    with lambdalab.Lab(aws_endpoint_url=moto_url, role_credentials=role) as lab:
        assert dict(lab.settings.role_credentials)["AccessKeyId"] == "ASIAROLEGIVENONPURPOSE"
        seen = lab.create_function("writer", HANDLER, timeout_s=30).invoke({"bucket": BUCKET, "table": TABLE})
    assert seen.error is None, seen.payload
    assert (seen.payload["key"], seen.payload["secret"], seen.payload["token"]) == (
        "ASIAROLEGIVENONPURPOSE",
        "rs",
        "rt",
    )
    _owner_secrets_absent(seen.payload["raw"])
    assert "LAMBDALABFAKEKEY0000" not in seen.payload["raw"]


def test_function_url_overrides_the_labs_and_update_goes_back() -> None:
    code = "import os\ndef handler(e, c):\n    return {k: v for k, v in os.environ.items() if 'ENDPOINT' in k}"
    with lambdalab.Lab(aws_endpoint_url="http://127.0.0.1:4566") as lab:
        fn = lab.create_function("f", code, aws_endpoint_url={"s3": "http://127.0.0.1:9000"})
        assert fn.invoke().payload["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
        assert "AWS_ENDPOINT_URL" not in fn.invoke().payload
        fn.update(aws_endpoint_url=None)
        assert fn.config.aws_endpoint_url == "http://127.0.0.1:4566"
        after = fn.invoke()
        assert after.init_duration_ms is not None  # a new configuration: a cold start
        assert after.payload["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
        plain = lab.create_function("plain", code)
        assert plain.invoke().payload["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    with lambdalab.Lab() as lab:  # no endpoint: no variables and no credentials at all
        assert lab.create_function("g", code).invoke().payload == {}


def test_env_vars_endpoint_also_gets_fake_credentials() -> None:
    code = "import os\ndef handler(e, c):\n    return os.environ.get('AWS_ACCESS_KEY_ID')"
    with lambdalab.Lab() as lab:
        fn = lab.create_function("f", code, env_vars={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"})
        assert fn.invoke().payload == "LAMBDALABFAKEKEY0000"


@pytest.mark.parametrize(
    "service, variable",
    [
        ("s3", "AWS_ENDPOINT_URL_S3"),
        ("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"),
        ("cognito-idp", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"),
        ("Cognito Identity Provider", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"),
        ("secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        ("sqs", "AWS_ENDPOINT_URL_SQS"),
    ],
)
def test_variable_names_are_botocores(service: str, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert downstream.variable_name(service) == variable
    # botocore itself reads that variable for that client
    from botocore.configprovider import ConfiguredEndpointProvider

    client = {"Cognito Identity Provider": "cognito-idp"}.get(service, service)
    provider = ConfiguredEndpointProvider({}, {}, client, environ={variable: "http://127.0.0.1:1"})
    assert provider.provide() == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    "value",
    [
        "localhost:4566",
        "ftp://127.0.0.1",
        "http://a b",
        {},
        {"s3": "nope"},
        {"": "http://x"},
        4566,
        {"s3": "http://a", "S3": "http://b"},
    ],
)
def test_bad_endpoint_urls_are_refused_before_anything_starts(value: object) -> None:
    with pytest.raises(ConfigError, match="aws_endpoint_url"):
        lambdalab.Lab(aws_endpoint_url=value)
    with lambdalab.Lab() as lab:
        with pytest.raises(ConfigError, match="aws_endpoint_url"):
            lab.create_function("f", "def handler(e, c):\n    return 1", aws_endpoint_url=value)
        assert lab.functions() == []


def test_env_vars_file_as_sam_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(
        json.dumps({"Parameters": {"TABLE": "p", "STAGE": "dev", "ON": True}, "Fn": {"TABLE": "own", "NONE": None}})
    )
    file = downstream.read_env_vars_file(path)
    assert file["Parameters"]["ON"] == "true" and file["Fn"]["NONE"] == ""
    # Parameters for every function, the function's own entry wins, only the variables it declares
    assert downstream.overrides_for(file, ["Fn"], ["TABLE", "STAGE"]) == {"TABLE": "own", "STAGE": "dev"}
    assert downstream.overrides_for(file, ["Other"], ["TABLE"]) == {"TABLE": "p"}
    assert downstream.overrides_for(file, ["Fn"], None) == {"TABLE": "own", "STAGE": "dev", "ON": "true", "NONE": ""}
    path.write_text(json.dumps({"Fn": "TABLE=x"}))
    with pytest.raises(ConfigError, match="incorrect format"):
        downstream.read_env_vars_file(path)


def test_template_functions_declare_their_own_and_global_variables() -> None:
    template = {
        "Globals": {"Function": {"Environment": {"Variables": {"STAGE": "dev"}}}},
        "Resources": {
            "A": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {"T": "x"}}}},
            "B": {"Type": "AWS::Serverless::Function", "IgnoreGlobals": "*", "Properties": {"FunctionName": "b-fn"}},
            # a property of that name is not SAM's attribute: the globals still apply
            "D": {"Type": "AWS::Serverless::Function", "Properties": {"FunctionName": "d-fn", "IgnoreGlobals": "*"}},
            "C": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": {"Ref": "Name"}}},
            "Q": {"Type": "AWS::SQS::Queue"},
        },
    }
    assert downstream.template_functions(template) == [
        ("A", "A", frozenset({"T", "STAGE"})),
        ("B", "b-fn", frozenset()),
        ("D", "d-fn", frozenset({"STAGE"})),
        ("C", "C", frozenset()),
    ]


@pytest.mark.parametrize(
    "partial",
    [
        {"aws_access_key_id": "AKIDONLY"},
        {"aws_session_token": "token-only"},
        {"aws_access_key_id": "AKID", "aws_session_token": "no-secret"},
        {"SecretAccessKey": "secret-only"},
        {"aws_access_key_id": "AKID", "aws_secret_access_key": ""},
    ],
)
def test_partial_role_credentials_are_refused(partial: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="role_credentials"):
        lambdalab.Lab(role_credentials=partial)


def test_role_credentials_without_a_session_token_are_taken() -> None:
    with lambdalab.Lab(role_credentials={"aws_access_key_id": "AKID", "aws_secret_access_key": "s"}) as lab:
        assert dict(lab.settings.role_credentials) == {"AccessKeyId": "AKID", "SecretAccessKey": "s"}
