"""Fixtures for the endpoint tests: a served Lab and boto3 clients with dummy credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import lambdalab

ECHO = """
def handler(event, context):
    print("event", event)
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("boom")
    return {"event": event, "version": context.function_version, "arn": context.invoked_function_arn}
"""

# dummy credentials: the endpoint accepts any signature; never the user's real ones
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDLAMBDALAB", "AWS_SECRET_ACCESS_KEY": "lambdalab-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def client(url: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    return session.client("lambda", endpoint_url=url,
                          config=Config(connect_timeout=5, read_timeout=60, **config))


@pytest.fixture
def served() -> Iterator[tuple[lambdalab.Lab, str]]:
    with lambdalab.Lab() as lab:
        lab.create_function("echo", ECHO)
        yield lab, lab.serve()


def cli_env(tmp_path: Any) -> dict[str, str]:
    """An environment for the AWS CLI: dummy credentials, and none of the user's config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "aws-credentials")
    return env
