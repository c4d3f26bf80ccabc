"""``lambdalab aws cleanup`` as a user runs it: a real subprocess, boto3 pointed at the stand-in by its environment.

Every run here has boto3's endpoints on loopback (the stand-in, or a small server that refuses) and dummy or no
credentials: nothing can reach AWS.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("moto")
pytestmark = pytest.mark.slow


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambdalab.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env if env is not None else dict(os.environ),
    )


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS setting, every endpoint on a closed loopback port."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def test_help() -> None:
    top = cli("--help")
    assert top.returncode == 0 and "lambdalab aws cleanup --dry-run" in top.stdout
    aws = cli("aws", "--help")
    assert aws.returncode == 0 and "cleanup" in aws.stdout and "boto3's usual chain" in aws.stdout
    assert cli("aws").stdout == aws.stdout  # a bare `lambdalab aws`: its help
    cleanup = cli("aws", "cleanup", "--help")
    assert cleanup.returncode == 0
    for option in ("--prefix", "--lab ID", "--region", "--dry-run", "--orphan-log-groups"):
        assert option in cleanup.stdout, option


@pytest.fixture
def stand_in() -> Iterator[Any]:
    from lambdalab.aws import StandIn

    with StandIn() as aws:
        yield aws


def test_cleanup_lists_then_deletes_exactly_what_a_lab_left(stand_in: Any) -> None:
    import lambdalab.aws

    kept = lambdalab.aws.Lab(prefix="cli18-")
    fn = kept.create_function("left", "def handler(e, c):\n    print('hi')\n    return 1\n")
    assert fn.invoke({}).payload == 1
    created = kept.created()
    kept.close(delete=False)
    other = lambdalab.aws.Lab(prefix="cli18-")  # another Lab's function: not this --lab's
    other.create_function("mine", "def handler(e, c):\n    return 2\n")
    try:
        listed = cli("aws", "cleanup", "--dry-run", "--lab", kept.id, "--prefix", "cli18-")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert sorted(lines) == sorted(
            [
                "function arn:aws:lambda:us-east-1:123456789012:function:cli18-left",
                f"role {next(c for c in created if ':role/' in c)}",
                "log-group /aws/lambda/cli18-left",
            ]
        )
        assert "cli18-left" in stand_in.local.functions()  # a dry run deletes nothing
        deleted = cli("aws", "cleanup", "--lab", kept.id, "--prefix", "cli18-")
        assert deleted.returncode == 0 and deleted.stdout.splitlines() == lines
        assert "cli18-left" not in stand_in.local.functions() and "cli18-mine" in stand_in.local.functions()
        again = cli("aws", "cleanup", "--dry-run", "--lab", kept.id, "--prefix", "cli18-")
        assert (again.returncode, again.stdout) == (0, "nothing to clean up\n")
    finally:
        other.close(delete=True)
    assert cli("aws", "cleanup", "--dry-run", "--prefix", "cli18-").stdout == "nothing to clean up\n"


def test_orphan_log_groups_only_when_asked_and_never_with_a_lab(stand_in: Any) -> None:
    import lambdalab.aws

    with lambdalab.aws.Lab(prefix="orph18-") as lab:
        lab.create_function("gone", "def handler(e, c):\n    return 1\n").invoke({})
        stand_in.local.delete_function("orph18-gone")  # deleted behind the Lab's back: its log group stays
        role = f"role {lab.role_arn}"  # the open Lab's own role: listed by every run below
        assert cli("aws", "cleanup", "--dry-run", "--prefix", "orph18-").stdout.splitlines() == [role]
        orphans = cli("aws", "cleanup", "--dry-run", "--prefix", "orph18-", "--orphan-log-groups")
        assert orphans.returncode == 0, orphans.stderr
        assert sorted(orphans.stdout.splitlines()) == sorted([role, "log-group /aws/lambda/orph18-gone"])
        refused = cli("aws", "cleanup", "--dry-run", "--prefix", "orph18-", "--orphan-log-groups", "--lab", lab.id)
        assert refused.returncode == 1 and refused.stdout == "" and len(said(refused.stderr)) == 1


def said(stderr: str) -> list[str]:
    """What the command said on stderr (a development build may add a StaleBuildWarning of its own)."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if "StaleBuildWarning" not in line and "warn_if_stale" not in line]


def test_no_credentials_is_one_line_and_exit_1() -> None:
    result = cli("aws", "cleanup", "--dry-run", env=isolated_env())
    assert result.returncode == 1 and result.stdout == ""
    assert said(result.stderr) == ["lambdalab aws cleanup: Unable to locate credentials"]


class Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every call as AWS answers a caller without permission."""

    def do_GET(self) -> None:
        body = json.dumps({"Type": "User", "Message": "User is not authorized to perform: lambda:ListFunctions"})
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", "AccessDeniedException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def test_access_denied_is_one_line_and_exit_1() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        env = isolated_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=url)
        result = cli("aws", "cleanup", "--dry-run", env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1 and result.stdout == ""
    lines = said(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("lambdalab aws cleanup: AccessDeniedException")
    assert "not authorized" in lines[0]
