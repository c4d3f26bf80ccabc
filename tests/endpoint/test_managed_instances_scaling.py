"""Put/GetFunctionScalingConfig over boto3 (botocore's own model checks the requests and parses the answers):
``MaxExecutionEnvironments`` is a Managed Instances function's ``max_environments``, ``MinExecutionEnvironments`` its
``min_environments`` (the environments started ahead and kept: Lambda's 3 by default)."""

from __future__ import annotations

import time
from typing import Any

import botocore.exceptions
import pytest

import lambdalab
from tests.endpoint.conftest import client

HANDLER = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'ok'\n"
LATEST_PUBLISHED = "$LATEST.PUBLISHED"
LATEST_QUERY = "?Qualifier=%24LATEST.PUBLISHED"


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return dict(response["Error"]) | {"status": response["ResponseMetadata"]["HTTPStatusCode"]}


@pytest.mark.timeout(60)
def test_scaling_config_sets_max_environments() -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("managed", HANDLER, max_concurrency_per_environment=4, min_environments=1)
        lab.create_function("defaults", HANDLER, max_concurrency_per_environment=1)
        lab.create_function("classic", HANDLER)
        c = client(lab.serve(), retries={"total_max_attempts": 1})

        got = c.get_function_scaling_config(FunctionName="defaults", Qualifier=LATEST_PUBLISHED)
        assert got["AppliedFunctionScalingConfig"] == {"MinExecutionEnvironments": 3}  # Lambda's three, running
        assert len({e.environment_id for e in lab.function("defaults").environments()}) == 3
        got = c.get_function_scaling_config(FunctionName="managed", Qualifier=LATEST_PUBLISHED)
        assert got["FunctionArn"].endswith(":function:managed:$LATEST.PUBLISHED")
        assert got["AppliedFunctionScalingConfig"] == {"MinExecutionEnvironments": 1}  # no cap yet
        assert "RequestedFunctionScalingConfig" not in got

        put = c.put_function_scaling_config(
            FunctionName="managed",
            Qualifier=LATEST_PUBLISHED,
            FunctionScalingConfig={"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2},
        )
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 202 and put["FunctionState"] == "Active"
        assert lab.function("managed").config.max_environments == 2
        got = c.get_function_scaling_config(FunctionName="managed", Qualifier=LATEST_PUBLISHED)
        assert got["AppliedFunctionScalingConfig"] == {"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2}
        assert got["RequestedFunctionScalingConfig"] == {"MinExecutionEnvironments": 1, "MaxExecutionEnvironments": 2}

        # in place: the live environment stays warm; the cap holds (one environment of 4 workers: the 5th is throttled)
        assert fn.invoke({}).record.cold is False  # started with the function, not by the invoke
        c.put_function_scaling_config(
            FunctionName="managed", Qualifier=LATEST_PUBLISHED, FunctionScalingConfig={"MaxExecutionEnvironments": 1}
        )
        assert fn.invoke({}).record.cold is False
        busy = [fn.submit({"sleep": 1.0}) for _ in range(4)]
        time.sleep(0.2)
        e = _error(c.invoke, FunctionName="managed", Payload=b"{}")
        assert (e["status"], e["Code"]) == (429, "TooManyRequestsException")
        assert all(f.result(timeout=30).error is None for f in busy)

        # a published version's number names it too (one setting per function); a Put without Max lifts the cap
        version = fn.publish()
        c.put_function_scaling_config(FunctionName="managed", Qualifier=version, FunctionScalingConfig={})
        assert lab.function("managed").config.max_environments is None
        got = c.get_function_scaling_config(FunctionName="managed", Qualifier=version)
        assert got["FunctionArn"].endswith(f":function:managed:{version}")
        assert got["RequestedFunctionScalingConfig"] == {}

        # Lambda's refusals
        e = _error(c.get_function_scaling_config, FunctionName="classic", Qualifier=LATEST_PUBLISHED)
        assert (e["status"], e["Code"]) == (400, "InvalidParameterValueException")
        assert "capacity provider" in e["Message"]
        e = _error(c.get_function_scaling_config, FunctionName="managed", Qualifier="7")
        assert (e["status"], e["Code"]) == (404, "ResourceNotFoundException")
        e = _error(c.get_function_scaling_config, FunctionName="nothing", Qualifier=LATEST_PUBLISHED)
        assert (e["status"], e["Code"]) == (404, "ResourceNotFoundException")
        e = _error(
            c.put_function_scaling_config,
            FunctionName="managed",
            Qualifier=LATEST_PUBLISHED,
            FunctionScalingConfig={"MinExecutionEnvironments": 3, "MaxExecutionEnvironments": 2},
        )
        assert (e["status"], e["Code"]) == (400, "InvalidParameterValueException")
        assert lab.function("managed").config.max_environments is None  # nothing changed


@pytest.mark.timeout(60)
def test_scaling_config_checks_what_botocore_does_not() -> None:
    """A raw request past botocore's client-side checks: the qualifier's pattern and the counts' range."""
    import json
    import urllib.error
    import urllib.request

    with lambdalab.Lab() as lab:
        lab.create_function("managed", HANDLER, max_concurrency_per_environment=2)
        url = lab.serve() + "/2025-11-30/functions/managed/function-scaling-config"

        def put(query: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(
                url + query, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status, json.loads(answer.read() or b"{}")
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        status, body = put("", {"FunctionScalingConfig": {"MaxExecutionEnvironments": 1}})
        assert status == 400 and "qualifier" in body["message"]
        status, body = put("?Qualifier=%24LATEST", {"FunctionScalingConfig": {"MaxExecutionEnvironments": 1}})
        assert status == 400 and "regular expression" in body["message"]
        status, body = put(LATEST_QUERY, {"FunctionScalingConfig": {"MaxExecutionEnvironments": 15001}})
        assert status == 400 and "less than or equal to 15000" in body["message"]
        status, body = put(LATEST_QUERY, {"FunctionScalingConfig": {"MaxExecutionEnvironments": 1}})
        assert (status, body) == (202, {"FunctionState": "Active"})
        assert lab.function("managed").config.max_environments == 1
