"""Where lambdalab.aws's clients go: boto3's own settings, and AWS_ENDPOINT_URL_LOGS, which boto3 alone ignores."""

from __future__ import annotations

import pytest

from lambdalab.aws.clients import make_clients


def _session():
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def test_aws_endpoint_url_logs_points_the_logs_client_when_boto3s_name_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LOGS", "http://127.0.0.1:9/logs")
    assert make_clients(_session(), "us-east-1").logs.meta.endpoint_url == "http://127.0.0.1:9/logs"
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:9/cw")  # boto3's own name wins
    assert make_clients(_session(), "us-east-1").logs.meta.endpoint_url == "http://127.0.0.1:9/cw"
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")  # the user asked for AWS itself
    assert make_clients(_session(), "us-east-1").logs.meta.endpoint_url == "https://logs.us-east-1.amazonaws.com"
