"""SnapStart over boto3: CreateFunction / UpdateFunctionConfiguration take ``SnapStart {ApplyOn}``,
GetFunctionConfiguration answers ``SnapStartResponse {ApplyOn, OptimizationStatus}`` (On only on a published
version), Lambda's refusals; the Invoke API's three SnapStart errors parse as boto3's modelled exceptions."""

from __future__ import annotations

import json

import pytest

import lambdalab
from lambdalab.core import outcomes
from lambdalab.endpoint import wire
from tests.endpoint.conftest import client, snapshots_here
from tests.packages import zip_bytes

APP = "def main(event, context):\n    return 'ok'\n"
BROKEN_HOOK = """
from snapshot_restore_py import register_before_snapshot

@register_before_snapshot
def refuse():
    raise RuntimeError("no snapshot today")

def main(event, context):
    return "ok"
"""
ROLE = "arn:aws:iam::123456789012:role/r"


def _create(c, name: str, files: dict[str, str] | None = None, **fields: object) -> dict:  # type: ignore[no-untyped-def]
    return c.create_function(  # type: ignore[no-any-return]
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.main",
        Code={"ZipFile": zip_bytes(files or {"app.py": APP})}, **fields,
    )  # fmt: skip


def test_snap_start_round_trip(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    created = _create(c, "snappy", SnapStart={"ApplyOn": "PublishedVersions"})
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}  # $LATEST
    assert lab.function("snappy").config.snap_start is True
    assert c.get_function_configuration(FunctionName="echo")["SnapStart"] == {
        "ApplyOn": "None", "OptimizationStatus": "Off"
    }  # fmt: skip

    updated = c.update_function_configuration(FunctionName="snappy", SnapStart={"ApplyOn": "None"})
    assert updated["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert lab.function("snappy").config.snap_start is False
    back = c.update_function_configuration(FunctionName="snappy", SnapStart={"ApplyOn": "PublishedVersions"})
    assert back["SnapStart"]["ApplyOn"] == "PublishedVersions"
    # fields left out leave SnapStart as it is
    c.update_function_configuration(FunctionName="snappy", MemorySize=256)
    assert c.get_function_configuration(FunctionName="snappy")["SnapStart"]["ApplyOn"] == "PublishedVersions"


def test_snap_start_refusals_are_lambdas(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    c = client(url)
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        c.create_function(
            FunctionName="nodey", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
            Code={"ZipFile": zip_bytes({"index.js": "exports.handler = async () => 1;\n"})},
            SnapStart={"ApplyOn": "PublishedVersions"},
        )  # fmt: skip
    assert caught.value.response["Error"]["Message"] == "nodejs20.x is not supported for SnapStart enabled functions."
    with pytest.raises(c.exceptions.InvalidParameterValueException) as caught:
        _create(c, "bigtmp", SnapStart={"ApplyOn": "PublishedVersions"}, EphemeralStorage={"Size": 1024})
    assert "ephemeral storage greater than 512 MB" in caught.value.response["Error"]["Message"]
    with pytest.raises(c.exceptions.ClientError) as caught:
        c.update_function_configuration(FunctionName="echo", SnapStart={"ApplyOn": "Always"})
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value 'Always' at 'snapStart.applyOn' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PublishedVersions, None]"
    )
    assert {"bigtmp", "nodey"}.isdisjoint(f["FunctionName"] for f in c.list_functions()["Functions"])


def test_a_before_snapshot_failure_fails_the_publish(served: tuple[lambdalab.Lab, str]) -> None:
    lab, _ = served
    if not snapshots_here():
        pytest.skip("no SnapStart snapshots on this machine: a version is published without one")
    fn = lab.create_function("hooked", BROKEN_HOOK, handler="main", snap_start=True)
    with pytest.raises(lambdalab.FunctionError) as caught:
        fn.publish(timeout_s=30)
    assert caught.value.error_type == "Runtime.BeforeSnapshotError"
    assert "no snapshot today" in fn.logs()
    assert fn.version_info("1").snapshot == "failed"


@pytest.mark.parametrize(
    ("code", "status"),
    [(outcomes.SNAPSTART_ERROR, 400), (outcomes.SNAPSTART_TIMEOUT, 408), (outcomes.SNAPSTART_NOT_READY, 409)],
)
def test_snapstart_errors_parse_as_boto3s_modelled_exceptions(code: str, status: int) -> None:
    """The endpoint's response for each (status, x-amzn-ErrorType, body) through botocore's rest-json parser."""
    from botocore.parsers import create_parser

    c = client("http://127.0.0.1:9")  # never called: its model and exception classes only
    error = wire.snapstart(code)
    assert error.status == status
    body = json.loads(error.body())
    assert body == {"Type": "User", "Message": outcomes.SNAPSTART_MESSAGES[code]}
    operation = c.meta.service_model.operation_model("Invoke")
    from botocore.awsrequest import HeadersDict

    headers = HeadersDict(error.headers("rid"))  # case-insensitive, as botocore's responses carry them
    response = {"status_code": error.status, "headers": headers, "body": error.body()}
    parsed = create_parser("rest-json").parse(response, operation.output_shape)
    assert parsed["Error"]["Code"] == code and parsed["Error"]["Message"] == outcomes.SNAPSTART_MESSAGES[code]
    modelled = c.exceptions.from_code(code)
    assert modelled is getattr(c.exceptions, code) and modelled.__name__ == code
    assert code in [shape.name for shape in operation.error_shapes]
    # a lambdalab InvokeError of that code (the engine refusing an invoke) becomes the same response
    refused = lambdalab.errors.InvokeError("x")
    refused.code = code
    mapped = wire.from_lab(refused)
    assert (mapped.status, mapped.code, mapped.body()) == (status, code, error.body())


BROKEN_AFTER = """
from snapshot_restore_py import register_after_restore

@register_after_restore
def refuse():
    raise ValueError("after restore broke")

def main(event, context):
    return "ok"
"""


def test_publish_restore_and_the_after_restore_error_over_boto3(served: tuple[lambdalab.Lab, str]) -> None:
    import base64

    lab, url = served
    c = client(url)
    _create(c, "restored", SnapStart={"ApplyOn": "PublishedVersions"})
    published = c.publish_version(FunctionName="restored")
    version = published["Version"]
    if lab.function("restored").version_info(version).snapshot == "none":
        pytest.skip("SnapStart restores need the launcher, v1 cgroups and Linux 6.15+ (versions start cold here)")
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert lab.function("restored").version_info(version).snapshot == "ready"
    got = c.get_function_configuration(FunctionName="restored", Qualifier=version)
    assert got["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert c.get_function_configuration(FunctionName="restored")["SnapStart"]["OptimizationStatus"] == "Off"
    out = c.invoke(FunctionName="restored", Qualifier=version, LogType="Tail")
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read()) == "ok"
    report = base64.b64decode(out["LogResult"]).decode().splitlines()[-1]
    assert report.startswith("REPORT ") and "\tRestore Duration: " in report and "Billed Restore Duration: " in report
    assert "Init Duration" not in report

    _create(c, "broken", {"app.py": BROKEN_AFTER}, SnapStart={"ApplyOn": "PublishedVersions"})
    broken = c.publish_version(FunctionName="broken")["Version"]
    with pytest.raises(c.exceptions.SnapStartException) as caught:
        c.invoke(FunctionName="broken", Qualifier=broken)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == outcomes.SNAPSTART_MESSAGES[outcomes.SNAPSTART_ERROR]
    assert "Runtime.AfterRestoreError" in lab.function("broken").logs()
    with pytest.raises(c.exceptions.SnapStartException):  # the streaming Invoke answers the same
        c.invoke_with_response_stream(FunctionName="broken", Qualifier=broken)
