"""Fixtures for the endpoint tests: a served Lab, boto3 clients with dummy credentials, .zip packages,
and ``lambdalab serve`` run as a subprocess."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import lambdalab
from tests.packages import zip_bytes

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


@pytest.fixture
def lab_url() -> Iterator[tuple[lambdalab.Lab, str]]:
    """A Lab with no function yet, and its endpoint's URL."""
    with lambdalab.Lab() as lab:
        yield lab, lab.serve()


def wait_for(condition: Any, timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 50 ms until it is true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {timeout_s} s"
        time.sleep(0.05)


def cli_env(tmp_path: Any) -> dict[str, str]:
    """An environment for the AWS CLI: dummy credentials, and none of the user's config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "aws-credentials")
    return env


zipped = zip_bytes  # a deflated .zip holding ``files`` (archive name -> text): the packages tests' builder


@dataclasses.dataclass
class ServeRun:
    """A ``lambdalab serve`` subprocess: its endpoint URL and output up to "Ctrl-C..."; ``stderr`` once it ended."""

    url: str
    output: str
    stderr: str = ""


@contextlib.contextmanager
def serve_cli(args: list[str], env: dict[str, str]) -> Iterator[ServeRun]:
    """``python -m lambdalab serve ARGS`` until its banner (60 s at most); then SIGTERM, which must exit it with 0."""
    proc = subprocess.Popen([sys.executable, "-m", "lambdalab", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    run = None
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not (seen and seen[-1].startswith("Ctrl-C")) and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        output = "".join(seen)
        match = re.search(r"Lambda API at (http://127\.0\.0\.1:\d+)", output)
        assert match, f"no endpoint URL in the output within 60 s: {output!r}"
        run = ServeRun(match.group(1), output)
        yield run
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            reader.join(10)
            stderr = proc.stderr.read()  # type: ignore[union-attr]
            if run is not None:
                run.stderr = stderr
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]


@functools.cache
def snapshots_here() -> bool:
    """Whether this machine takes SnapStart snapshots (the launcher, cgroups, mount namespaces, pidfd exit status);
    elsewhere a SnapStart version is published without one and starts cold."""
    with lambdalab.Lab() as lab:
        fn = lab.create_function("probe", "def handler(event, context):\n    return 1\n", snap_start=True)
        return fn.version_info(fn.publish()).snapshot == "ready"
