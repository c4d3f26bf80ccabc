"""Private /tmp and /opt for a process, where the machine allows a mount namespace (root here)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lambdalab.engine import mounts, runtime_sdk

pytestmark = pytest.mark.skipif(not mounts.available(), reason="no private mount namespaces on this machine")

CHILD = """
import os
open("/tmp/mine", "w").write("x")
print(sorted(os.listdir("/tmp")), sorted(os.listdir("/opt")))
try:
    open("/opt/written", "w")
except OSError as exc:
    print("opt", exc.errno)
"""


def test_a_process_sees_its_own_tmp_and_opt_and_the_machine_sees_neither(tmp_path):
    tmp, opt = tmp_path / "tmp", tmp_path / "opt"
    (opt / "python").mkdir(parents=True)
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD], preexec_fn=mounts.preexec(str(tmp), str(opt)),
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['mine'] ['python']", "opt 30"]  # EROFS: /opt is read-only, as on Lambda
    assert (tmp / "mine").read_text() == "x"
    assert not os.path.exists("/tmp/mine")
    assert mounts.isolation() == mounts.NAMESPACE


def test_the_runtime_directory_holds_the_sdk_and_nothing_else(tmp_path):
    target = runtime_sdk.build(tmp_path / "runtime")
    names = {p.name for p in target.iterdir()}
    assert {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3"} <= names
    assert "pandas" not in names and "awslambdaric" not in names
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import boto3\ntry:\n import pandas\nexcept ImportError: print('isolated')"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "isolated", done.stderr
    assert runtime_sdk.versions()["boto3"]
