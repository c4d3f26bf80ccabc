"""The newer execution modes' configuration (issue 16): Managed Instances, tenant isolation, durable functions,
recursion detection. Ranges are botocore's; incompatibilities are the documented ones, as ``ConfigError``s."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import lambdalab
from lambdalab import config
from lambdalab.config import FunctionConfig
from lambdalab.errors import ConfigError
from lambdalab.protocol import LabLike

HANDLER = "def handler(event, context):\n    return 1\n"


def test_defaults_are_the_classic_model() -> None:
    c = FunctionConfig(name="f")
    assert c.max_concurrency_per_environment is None and c.max_environments is None and not c.managed_instances
    assert c.tenancy is None and c.durable is False and c.recursion == "Terminate"
    assert (c.durable_execution_timeout_s, c.durable_retention_days) == (86_400, 14)
    assert c.freeze is True and c.log_format == "Text"


@pytest.mark.parametrize("n", [1, 4, 1600])
def test_managed_instances_takes_botocores_range_and_turns_freezing_off(n: int) -> None:
    c = FunctionConfig(name="f", max_concurrency_per_environment=n, log_format="JSON")
    assert c.managed_instances and c.max_concurrency_per_environment == n
    assert c.freeze is False  # Managed Instances never freezes an environment


@pytest.mark.parametrize("n", [0, -1, 1601, 2.0, True, "4"])
def test_managed_instances_outside_the_range_is_refused(n: object) -> None:
    with pytest.raises(ConfigError, match=r"invalid max_concurrency_per_environment: .*from 1 to 1600"):
        FunctionConfig(name="f", max_concurrency_per_environment=n, log_format="JSON")  # type: ignore[arg-type]


def test_managed_instances_writes_json_logs_only() -> None:
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="Text")
    assert str(caught.value) == config.MANAGED_INSTANCES_TEXT_LOGS
    c = FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="json", application_log_level="debug")
    assert c.log_format == "JSON" and c.log_levels == ("DEBUG", "INFO")


def test_managed_instances_refuses_snap_start_and_provisioned_concurrency() -> None:
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="JSON", snap_start=True)
    assert str(caught.value) == config.MANAGED_INSTANCES_SNAP_START
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="JSON", provisioned_concurrency=1)
    assert str(caught.value) == config.MANAGED_INSTANCES_PROVISIONED


def test_max_environments_is_managed_instances_only_and_in_range() -> None:
    c = FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="JSON", max_environments=1)
    assert c.max_environments == 1
    assert FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="JSON", max_environments=0)
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", max_environments=2)
    assert str(caught.value) == config.MAX_ENVIRONMENTS_NEEDS_MANAGED_INSTANCES
    for bad in (-1, 15_001, 1.5):
        with pytest.raises(ConfigError, match="invalid max_environments"):
            FunctionConfig(name="f", max_concurrency_per_environment=4, log_format="JSON", max_environments=bad)  # type: ignore[arg-type]


def test_min_environments_is_lambdas_three_at_most_max_environments() -> None:
    lmi = {"name": "f", "max_concurrency_per_environment": 4, "log_format": "JSON"}
    assert FunctionConfig(**lmi).prestarted_environments == 3  # Lambda's default
    assert FunctionConfig(**lmi, max_environments=1).prestarted_environments == 1
    assert FunctionConfig(**lmi, min_environments=0).prestarted_environments == 0
    assert FunctionConfig(**lmi, min_environments=5, max_environments=8).prestarted_environments == 5
    assert FunctionConfig(name="f").prestarted_environments == 0
    with pytest.raises(ConfigError, match="invalid min_environments: 5 is more than max_environments"):
        FunctionConfig(**lmi, min_environments=5, max_environments=2)
    with pytest.raises(ConfigError, match="invalid min_environments"):
        FunctionConfig(name="f", min_environments=1)
    for bad in (-1, 15_001, 1.5, True):
        with pytest.raises(ConfigError, match="invalid min_environments"):
            FunctionConfig(**lmi, min_environments=bad)  # type: ignore[arg-type]
    arn = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:mine"
    assert FunctionConfig(**lmi, capacity_provider_arn=arn).capacity_provider_arn == arn
    with pytest.raises(ConfigError, match="invalid capacity_provider_arn"):
        FunctionConfig(name="f", capacity_provider_arn=arn)


def test_tenancy_is_per_tenant_and_refuses_snap_start_and_provisioned_concurrency() -> None:
    assert FunctionConfig(name="f", tenancy="PER_TENANT").tenancy == "PER_TENANT"
    for bad in ("per_tenant", "SHARED", "", 1):
        with pytest.raises(ConfigError, match=r"invalid tenancy: .*None or 'PER_TENANT'"):
            FunctionConfig(name="f", tenancy=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", tenancy="PER_TENANT", snap_start=True)
    assert str(caught.value) == config.TENANCY_SNAP_START
    with pytest.raises(ConfigError) as caught:
        FunctionConfig(name="f", tenancy="PER_TENANT", provisioned_concurrency=2)
    assert str(caught.value) == config.TENANCY_PROVISIONED


def test_durable_ranges_are_botocores() -> None:
    c = FunctionConfig(name="f", durable=True, durable_execution_timeout_s=31_622_400, durable_retention_days=90)
    assert c.durable and c.durable_execution_timeout_s == 31_622_400 and c.durable_retention_days == 90
    assert FunctionConfig(name="f", durable=True, durable_execution_timeout_s=1, durable_retention_days=1)
    bad: list[dict[str, object]] = [
        {"durable": 1},
        {"durable_execution_timeout_s": 0},
        {"durable_execution_timeout_s": 31_622_401},
        {"durable_execution_timeout_s": 60.0},
        {"durable_retention_days": 0},
        {"durable_retention_days": 91},
    ]
    for fields in bad:
        with pytest.raises(ConfigError, match="invalid " + next(iter(fields))):
            FunctionConfig(name="f", **fields)  # type: ignore[arg-type]


def test_recursion_is_terminate_or_allow() -> None:
    assert FunctionConfig(name="f", recursion="Allow").recursion == "Allow"
    for bad in ("allow", "Stop", None):
        with pytest.raises(ConfigError, match="invalid recursion"):
            FunctionConfig(name="f", recursion=bad)  # type: ignore[arg-type]


def test_create_function_takes_the_keywords_and_defaults_managed_instances_to_json_logs() -> None:
    with lambdalab.Lab() as lab:
        lmi = lab.create_function("lmi", HANDLER, max_concurrency_per_environment=4, max_environments=3)
        assert lmi.config.max_concurrency_per_environment == 4 and lmi.config.max_environments == 3
        assert lmi.config.log_format == "JSON" and lmi.config.freeze is False
        plain = lab.create_function("plain", HANDLER)
        assert plain.config.log_format == "Text" and plain.config.freeze is True
        with pytest.raises(ConfigError, match="JSON logs only"):
            lab.create_function("text", HANDLER, max_concurrency_per_environment=2, log_format="Text")
        modes = lab.create_function(
            "modes",
            HANDLER,
            tenancy="PER_TENANT",
            durable=True,
            durable_execution_timeout_s=3600,
            durable_retention_days=7,
            recursion="Allow",
        )
        c = modes.config
        assert (c.tenancy, c.durable, c.durable_execution_timeout_s, c.durable_retention_days, c.recursion) == (
            "PER_TENANT",
            True,
            3600,
            7,
            "Allow",
        )
        assert "text" not in lab.functions()


def test_update_changes_recursion_only_of_the_modes() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("f", HANDLER, tenancy="PER_TENANT")
        fn.update(recursion="Allow")
        assert fn.config.recursion == "Allow"
        fn.update(tenancy="PER_TENANT")  # unchanged: fine
        for change in (
            {"tenancy": None},
            {"max_concurrency_per_environment": 2, "log_format": "JSON"},
            {"durable": True},
            {"durable_retention_days": 3},
        ):
            with pytest.raises(ConfigError, match="cannot be changed after the function is created"):
                fn.update(**change)
        assert fn.config.tenancy == "PER_TENANT" and fn.config.durable is False


def test_the_protocol_names_the_keywords_with_the_local_labs_defaults() -> None:
    wanted = inspect.signature(LabLike.create_function).parameters
    have = inspect.signature(lambdalab.Lab.create_function).parameters
    for name in config.FIXED_AT_CREATION + ("max_environments", "min_environments", "recursion"):
        assert wanted[name].default == have[name].default
        assert have[name].default == getattr(FunctionConfig(name="f"), name)
    assert {f.name for f in dataclasses.fields(FunctionConfig)} >= set(config.FIXED_AT_CREATION)


def test_max_environments_is_set_in_place_on_managed_instances_only() -> None:
    with lambdalab.Lab() as lab:
        lmi = lab.create_function("lmi", HANDLER, max_concurrency_per_environment=2, max_environments=1)
        lmi.set_max_environments(5)
        assert lmi.config.max_environments == 5 and lab.function("lmi").config.max_environments == 5
        lmi.set_max_environments(None)
        assert lmi.config.max_environments is None
        with pytest.raises(ConfigError, match="invalid max_environments"):
            lmi.set_max_environments(-1)
        plain = lab.create_function("plain", HANDLER)
        with pytest.raises(ConfigError, match="set max_concurrency_per_environment too"):
            plain.set_max_environments(2)
        lmi.update(max_environments=3)  # a scaling setting: update takes it too (a redeploy)
        assert lmi.config.max_environments == 3


def test_profile_init_of_a_managed_instances_function_profiles_one_classic_cold_start() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("p", "import json\n" + HANDLER, max_concurrency_per_environment=2)
        table = fn.profile_init()
        assert table.attrs["error"] is None and "json" in set(table["module"])
