"""CreateFunction / GetFunctionConfiguration's fields of the newer execution modes over boto3:
``CapacityProviderConfig`` (Managed Instances), ``TenancyConfig``, ``DurableConfig``; and the pure mapping."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

import lambdalab
from lambdalab.endpoint import function_fields, wire
from tests.endpoint.conftest import client
from tests.packages import zip_bytes

APP = "def main(event, context):\n    return 'ok'\n"
ROLE = "arn:aws:iam::123456789012:role/r"
PROVIDER = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:mine"


def _create(c: Any, name: str, **fields: Any) -> dict[str, Any]:
    return dict(
        c.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.main",
            Code={"ZipFile": zip_bytes({"app.py": APP})},
            **fields,
        )
    )


def test_mode_fields_round_trip(served: tuple[lambdalab.Lab, str]) -> None:
    lab, url = served
    c = client(url)
    lmi = {
        "LambdaManagedInstancesCapacityProviderConfig": {
            "CapacityProviderArn": PROVIDER,
            "PerExecutionEnvironmentMaxConcurrency": 8,
        }
    }
    created = _create(c, "lmi", CapacityProviderConfig=lmi)
    inner = created["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    assert inner["PerExecutionEnvironmentMaxConcurrency"] == 8
    assert inner["CapacityProviderArn"] == PROVIDER  # echoed as given
    assert created["LoggingConfig"]["LogFormat"] == "JSON"  # Managed Instances logs JSON only
    fn = lab.function("lmi")
    assert fn.config.max_concurrency_per_environment == 8 and fn.config.freeze is False

    tenants = _create(c, "tenants", TenancyConfig={"TenantIsolationMode": "PER_TENANT"})
    assert tenants["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert lab.function("tenants").config.tenancy == "PER_TENANT"

    durable = _create(c, "durable", DurableConfig={"ExecutionTimeout": 3600, "RetentionPeriodInDays": 30})
    assert durable["DurableConfig"] == {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 30}
    got = c.get_function_configuration(FunctionName="durable")
    assert got["DurableConfig"] == durable["DurableConfig"]
    assert lab.function("durable").config.durable is True

    plain = c.get_function_configuration(FunctionName="echo")
    assert not {"CapacityProviderConfig", "TenancyConfig", "DurableConfig"} & set(plain)
    # fixed at creation: a durable function's settings cannot change
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        c.update_function_configuration(FunctionName="durable", DurableConfig={"ExecutionTimeout": 60})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "cannot be changed" in caught.value.response["Error"]["Message"]


def test_text_logs_and_tenancy_with_snap_start_are_refused(served: tuple[lambdalab.Lab, str]) -> None:
    _, url = served
    c = client(url)
    lmi = {"LambdaManagedInstancesCapacityProviderConfig": {"CapacityProviderArn": PROVIDER}}
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _create(c, "text", CapacityProviderConfig=lmi, LoggingConfig={"LogFormat": "Text"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _create(
            c, "snap", TenancyConfig={"TenantIsolationMode": "PER_TENANT"}, SnapStart={"ApplyOn": "PublishedVersions"}
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "SnapStart" in caught.value.response["Error"]["Message"]


def test_the_mapping_checks_botocores_ranges() -> None:
    inner = {"CapacityProviderArn": PROVIDER}
    # left out: Python's 16 per vCPU, a vCPU per 2 GiB of memory
    assert function_fields.settings(
        {"CapacityProviderConfig": {"LambdaManagedInstancesCapacityProviderConfig": inner}}
    ) == {"max_concurrency_per_environment": 16, "capacity_provider_arn": PROVIDER}
    assert function_fields.per_environment_setting({"LambdaManagedInstancesCapacityProviderConfig": inner}, 8192) == 64
    bad_values = ((0, "ValidationException"), (1601, "ValidationException"), ("4", "InvalidParameterValueException"))
    for bad, code in bad_values:
        given = {**inner, "PerExecutionEnvironmentMaxConcurrency": bad}
        with pytest.raises(wire.ApiError) as caught:
            function_fields.per_environment_setting({"LambdaManagedInstancesCapacityProviderConfig": given})
        assert caught.value.code == code
    with pytest.raises(wire.ApiError) as caught:
        function_fields.tenancy_setting({"TenantIsolationMode": "SHARED"})
    assert "enum value set: [PER_TENANT]" in str(caught.value.message)
    assert function_fields.durable_settings({}) == {"durable": True}
    with pytest.raises(wire.ApiError):
        function_fields.durable_settings({"RetentionPeriodInDays": 91})
    with pytest.raises(wire.ApiError):
        function_fields.durable_settings({"ExecutionTimeout": 31_622_401})
