"""The Invoke API's ``X-Amz-Tenant-Id`` header is checked against botocore's ``TenantId`` (1 to 256 characters of its
pattern), each bound refused in its own words: an empty header is "greater than or equal to 1", a 257-character one
"less than or equal to 256" (raw requests: botocore refuses both before sending)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

import lambdalab


def _invoke(url: str, tenant: str) -> tuple[int, str | None, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    try:
        connection.request(
            "POST",
            "/2015-03-31/functions/isolated/invocations",
            body=b"{}",
            headers={"X-Amz-Tenant-Id": tenant, "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        return answer.status, answer.getheader("x-amzn-ErrorType"), json.loads(answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("tenant", "shown", "constraint"),
    [
        ("", "", "Member must have length greater than or equal to 1"),
        ("t" * 257, "t" * 64, "Member must have length less than or equal to 256"),
    ],
)
def test_a_tenant_id_of_the_wrong_length_names_the_bound_it_breaks(tenant: str, shown: str, constraint: str) -> None:
    with lambdalab.Lab() as lab:
        url = lab.serve()
        lab.create_function("isolated", "def handler(e, c):\n    return c.tenant_id\n", tenancy="PER_TENANT")
        status, code, body = _invoke(url, tenant)
        assert (status, code) == (400, "ValidationException")
        assert body["message"] == (
            f"1 validation error detected: Value '{shown}' at 'tenantId' failed to satisfy constraint: {constraint}"
        )
        assert lab.invocations().empty  # refused before anything ran
