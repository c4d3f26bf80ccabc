"""Layers over the endpoint: boto3's layer calls and ``Layers`` on functions, against a served Lab."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from typing import Any

import pytest

import lambdalab

from .conftest import client, zipped

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ACCOUNT_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer"


LAYER_V1 = zipped({"python/shared_mod.py": "VALUE = 'from-layer-1'\n"})
LAYER_V2 = zipped({"python/shared_mod.py": "VALUE = 'from-layer-2'\n"})
APP = zipped({"app.py": "import shared_mod\n\ndef handler(event, context):\n    return shared_mod.VALUE\n"})


def error_of(excinfo: Any) -> tuple[str, str, int]:
    error = excinfo.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def c(served: tuple[lambdalab.Lab, str]) -> Any:
    return client(served[1])


def test_publish_get_list_and_delete_layer_versions(c: Any) -> None:
    from botocore.exceptions import ClientError

    first = c.publish_layer_version(LayerName="shared", Description="one", Content={"ZipFile": LAYER_V1},
                                    CompatibleRuntimes=[RUNTIME], LicenseInfo="MIT")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["LayerVersionArn"] == f"{ACCOUNT_LAYER}:shared:1" and first["LayerArn"] == f"{ACCOUNT_LAYER}:shared"
    assert first["Version"] == 1 and first["Description"] == "one" and first["LicenseInfo"] == "MIT"
    assert first["Content"]["CodeSize"] == len(LAYER_V1)
    assert first["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(LAYER_V1).digest()).decode()
    assert first["CompatibleRuntimes"] == [RUNTIME]
    second = c.publish_layer_version(LayerName="shared", Content={"ZipFile": LAYER_V2})
    assert second["Version"] == 2

    got = c.get_layer_version(LayerName="shared", VersionNumber=1)
    assert got["LayerVersionArn"] == first["LayerVersionArn"] and got["Content"]["CodeSha256"] == \
        first["Content"]["CodeSha256"]
    by_arn = c.get_layer_version_by_arn(Arn=second["LayerVersionArn"])
    assert by_arn["Version"] == 2 and by_arn["Content"]["CodeSize"] == len(LAYER_V2)

    layers = c.list_layers()["Layers"]
    assert [(item["LayerName"], item["LatestMatchingVersion"]["Version"]) for item in layers] == [("shared", 2)]
    matching = c.list_layers(CompatibleRuntime=RUNTIME)["Layers"]
    assert [item["LatestMatchingVersion"]["Version"] for item in matching] == [1]  # only v1 declared the runtime
    assert [v["Version"] for v in c.list_layer_versions(LayerName="shared")["LayerVersions"]] == [2, 1]
    assert c.list_layer_versions(LayerName="nothing-here")["LayerVersions"] == []

    deleted = c.delete_layer_version(LayerName="shared", VersionNumber=1)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [v["Version"] for v in c.list_layer_versions(LayerName="shared")["LayerVersions"]] == [2]
    with pytest.raises(ClientError) as excinfo:
        c.get_layer_version(LayerName="shared", VersionNumber=1)
    assert error_of(excinfo)[0] == "ResourceNotFoundException" and error_of(excinfo)[2] == 404
    third = c.publish_layer_version(LayerName="shared", Content={"ZipFile": LAYER_V1})
    assert third["Version"] == 3  # version numbers are never reused


def test_publish_refusals(c: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as excinfo:
        c.publish_layer_version(LayerName="bad", Content={"ZipFile": b"not a zip"})
    code, message, status = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400) and "Could not unzip" in message
    with pytest.raises(ClientError) as excinfo:
        c.publish_layer_version(LayerName="s3", Content={"S3Bucket": "my-bucket", "S3Key": "layer.zip"})
    assert error_of(excinfo)[0] == "InvalidParameterValueException" and "ZipFile" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        c.publish_layer_version(LayerName="bad name!", Content={"ZipFile": LAYER_V1})
    assert error_of(excinfo)[0] == "ValidationException"


def test_function_with_a_layer_imports_its_module(c: Any) -> None:
    from botocore.exceptions import ClientError

    layer = c.publish_layer_version(LayerName="shared", Content={"ZipFile": LAYER_V1})
    arn = layer["LayerVersionArn"]
    created = c.create_function(FunctionName="uses-layer", Runtime=RUNTIME, Role="arn:aws:iam::123456789012:role/r",
                                Handler="app.handler", Code={"ZipFile": APP}, Layers=[arn])
    assert created["Layers"] == [{"Arn": arn, "CodeSize": len(LAYER_V1)}]
    answer = c.invoke(FunctionName="uses-layer", Payload=b"{}")
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == "from-layer-1"

    config = c.get_function(FunctionName="uses-layer")["Configuration"]
    assert config["Layers"] == [{"Arn": arn, "CodeSize": len(LAYER_V1)}]
    assert config["Runtime"] == RUNTIME == "python3.11"
    assert config["CodeSize"] > 0 and len(base64.b64decode(config["CodeSha256"])) == 32
    assert c.get_function_configuration(FunctionName="uses-layer")["Layers"] == config["Layers"]

    # a new version of the layer, set by UpdateFunctionConfiguration, is what the next environment imports
    v2 = c.publish_layer_version(LayerName="shared", Content={"ZipFile": LAYER_V2})["LayerVersionArn"]
    updated = c.update_function_configuration(FunctionName="uses-layer", Layers=[v2])
    assert [layer["Arn"] for layer in updated["Layers"]] == [v2]
    assert json.loads(c.invoke(FunctionName="uses-layer")["Payload"].read()) == "from-layer-2"

    # removing the layers: the handler's import fails as on Lambda
    assert "Layers" not in c.update_function_configuration(FunctionName="uses-layer", Layers=[])
    failed = c.invoke(FunctionName="uses-layer")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Runtime.ImportModuleError"

    with pytest.raises(ClientError):  # the function is unchanged by a refused update
        c.update_function_configuration(FunctionName="uses-layer", Layers=[f"{ACCOUNT_LAYER}:missing:1"])


def test_unknown_malformed_and_too_many_layers_are_refused(c: Any) -> None:
    from botocore.exceptions import ClientError

    arn = c.publish_layer_version(LayerName="shared", Content={"ZipFile": LAYER_V1})["LayerVersionArn"]

    def create(layers: list[str]) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as excinfo:
            c.create_function(FunctionName="refused", Runtime=RUNTIME, Role="r", Handler="app.handler",
                              Code={"ZipFile": APP}, Layers=layers)
        return error_of(excinfo)

    missing = f"{ACCOUNT_LAYER}:missing:4"
    code, message, status = create([missing])
    assert (code, status) == ("InvalidParameterValueException", 400) and missing in message
    code, message, _ = create(["./some/local/folder"])  # a caller never names a folder on this machine
    assert code == "ValidationException" and "layers" in message
    code, message, status = create([f"{ACCOUNT_LAYER}:l{i}:1" for i in range(6)])
    assert (code, message, status) == ("InvalidParameterValueException", "Cannot reference more than 5 layers.", 400)
    code, message, _ = create([arn, f"{ACCOUNT_LAYER}:shared:2"])
    assert code == "InvalidParameterValueException" and "versions of the same layer" in message
    assert "refused" not in [f["FunctionName"] for f in c.list_functions()["Functions"]]
