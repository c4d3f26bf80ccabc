"""Tenant isolation: which tenant ids an invoke may carry, checked as Lambda checks them.

A function created with ``tenancy="PER_TENANT"`` (``TenancyConfig.TenantIsolationMode``) is invoked with a tenant id
(``Function.invoke(..., tenant_id=)``, the Invoke API's ``X-Amz-Tenant-Id``); its environments serve one tenant each
(the core's pools), and the handler reads the id as ``context.tenant_id`` (the Runtime API's
``Lambda-Runtime-Aws-Tenant-Id``). An invoke without a tenant id, or one with a tenant id on a function without
tenant isolation, fails with ``InvalidParameterValueException`` before anything runs (AWS docs, "Troubleshooting
tenant isolation"). A tenant id is 1 to 256 characters of ``[a-zA-Z0-9._:/=+-@ ]`` (botocore's model).

Event sources that poll (SQS, Kinesis, DynamoDB Streams) have no tenant to give, and tenant isolation is documented as
incompatible with "most event sources (only API Gateway is supported)" (AWS CDK, ``TenancyConfig``): such a trigger
on a tenant-isolated function is refused when it is made (``check_event_source``), in the words lambdalab already
uses for function URLs (Lambda's own text for this refusal is not published). Pure.
"""

from __future__ import annotations

import re
from typing import Final

from lambdalab.errors import ConfigError, InvalidParameterValueException

TENANT_ID_MAX: Final = 256
TENANT_ID_PATTERN: Final = re.compile(r"[a-zA-Z0-9\._:\/=+\-@ ]+")
HEADER: Final = "X-Amz-Tenant-Id"
# the error the troubleshooting page names for both cases (its words)
REFUSED: Final = "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled."
# an event source mapping (SQS, Kinesis, DynamoDB Streams) on a tenant-isolated function: lambdalab's words, as the
# function URL refusal's (config.TENANCY_FUNCTION_URL); the endpoint answers it as InvalidParameterValueException
EVENT_SOURCE_REFUSED: Final = (
    "Event source mappings are not supported for functions with tenant isolation mode (PER_TENANT)."
)


def check_tenant_id(tenant_id: object) -> str | None:
    """``tenant_id`` if it is None or a tenant id botocore's model allows; else ``ConfigError`` in the Invoke API's
    validation words."""
    if tenant_id is None:
        return None
    if not isinstance(tenant_id, str):
        raise ConfigError(f"invalid tenant_id: {tenant_id!r}; expected a string of 1 to {TENANT_ID_MAX} characters")
    if not 1 <= len(tenant_id) <= TENANT_ID_MAX:
        raise ConfigError(
            f"1 validation error detected: Value '{tenant_id[:64]}' at 'tenantId' failed to satisfy constraint: "
            f"Member must have length {'greater than or equal to 1' if not tenant_id else 'less than or equal to 256'}"
        )
    if TENANT_ID_PATTERN.fullmatch(tenant_id) is None:
        raise ConfigError(
            f"1 validation error detected: Value '{tenant_id[:64]}' at 'tenantId' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {TENANT_ID_PATTERN.pattern}"
        )
    return tenant_id


def check_invoke(tenancy: str | None, tenant_id: str | None) -> None:
    """An invoke of a function with ``tenancy`` carrying ``tenant_id``: ``InvalidParameterValueException`` when a
    tenant-isolated function gets none, or a function without tenant isolation gets one."""
    if (tenancy is not None) != (tenant_id is not None):
        raise InvalidParameterValueException(REFUSED)


def check_event_source(tenancy: str | None) -> None:
    """An event source mapping (an SQS queue, a Kinesis or DynamoDB stream) delivering to a function with ``tenancy``:
    ``ConfigError`` when the function is tenant-isolated (the source has no tenant id to give each invoke)."""
    if tenancy is not None:
        raise ConfigError(EVENT_SOURCE_REFUSED)
