"""SnapStart's container credentials: a SnapStart version's environments have no keys in their variables but
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` + ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, and the Runtime API serves
``GET /2021-04-23/credentials`` (RAPID's route) with the role's credentials for that token only: boto3's container
provider finds them in the template's init and in every restored environment. No network: all on loopback."""

from __future__ import annotations

import json
import time

import lambdalab
from lambdalab.engine import runtimes
from tests.engine.snapstart_helpers import SNAPSTART_MARKS, publish_snapstart

pytestmark = SNAPSTART_MARKS

ROLE = {
    "aws_access_key_id": "AKIALAMBDALABROLE001",
    "aws_secret_access_key": "role-secret",
    "aws_session_token": "role-session-token",
}

HANDLER = """
import os, time, urllib.error, urllib.request
import boto3

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
INIT = boto3.Session().get_credentials()  # in the template, before the snapshot
INIT_METHOD = INIT.method

def status(token):
    url = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    request = urllib.request.Request(url, headers={"Authorization": token} if token is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        return e.code

def handler(event, context):
    credentials = boto3.Session().get_credentials()  # after the restore: a new session asks again
    frozen = credentials.get_frozen_credentials()
    return {
        "init_method": INIT_METHOD,
        "init_key": INIT.access_key,
        "method": credentials.method,
        "key": frozen.access_key,
        "secret": frozen.secret_key,
        "token": frozen.token,
        "expiry": credentials._expiry_time.timestamp(),
        "keys_in_variables": sorted(k for k in KEYS if k in os.environ),
        "right": status(os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]),
        "wrong": status("not-the-token"),
        "none": status(None),
        "pid": os.getpid(),
    }
"""


def test_boto3_in_restored_environments_gets_the_roles_credentials_from_the_runtime_api() -> None:
    with lambdalab.Lab(role_credentials=ROLE) as lab:
        fn = lab.create_function("creds", HANDLER, snap_start=True, timeout_s=30)
        version = publish_snapstart(lab, fn)
        futures = [fn.submit({}, qualifier=version) for _ in range(2)]
        results = [f.result(timeout=60) for f in futures]
    assert all(r.error is None for r in results), [r.error for r in results]
    assert all(r.record.restore_duration_ms is not None for r in results)
    for result in results:
        answer = result.payload
        assert answer["init_method"] == answer["method"] == "container-role"
        assert answer["init_key"] == answer["key"] == ROLE["aws_access_key_id"]
        assert answer["secret"] == ROLE["aws_secret_access_key"] and answer["token"] == ROLE["aws_session_token"]
        assert answer["keys_in_variables"] == []  # not frozen into the snapshot
        assert (answer["right"], answer["wrong"], answer["none"]) == (200, 404, 404)
        assert 15 * 60 < answer["expiry"] - time.time() <= 16 * 60 + 5  # RAPID's 16 minutes


def test_the_credentials_route_answers_404_without_snapstart() -> None:
    probe = """
import os, urllib.error, urllib.request
def handler(event, context):
    url = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2021-04-23/credentials"
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "x"}), timeout=5)
    except urllib.error.HTTPError as e:
        return [e.code, "AWS_CONTAINER_AUTHORIZATION_TOKEN" in os.environ, os.environ.get("AWS_ACCESS_KEY_ID")]
"""
    with lambdalab.Lab(role_credentials=ROLE) as lab:
        result = lab.create_function("plain", probe).invoke({})
    assert result.payload == [404, False, ROLE["aws_access_key_id"]]  # keys in variables, as ever


def test_the_container_credentials_answer_shape() -> None:
    variables = {
        "AWS_LAMBDA_LOG_GROUP_NAME": "g",
        "AWS_LAMBDA_LOG_STREAM_NAME": "s",
        "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_ACCESS_KEY": "AKID",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "session",
    }
    held = runtimes.snap_start_variables(variables, 9001)
    assert held is not None and held.token == variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    status, body = held.answer(held.token, now=0.0)
    assert status == 200
    assert json.loads(body) == {
        "AccessKeyId": "AKID",
        "SecretAccessKey": "secret",
        "Token": "session",
        "Expiration": "1970-01-01T00:16:00Z",
    }
    assert held.answer("wrong")[0] == held.answer(None)[0] == 404
    assert (
        runtimes.snap_start_variables({"AWS_LAMBDA_LOG_GROUP_NAME": "g", "AWS_LAMBDA_LOG_STREAM_NAME": "s"}, 1) is None
    )
