"""The literal /tmp and /opt inside real environments, where the machine allows a mount namespace.

Each environment has its own /tmp (a tmpfs of ``ephemeral_storage_mb``), kept across its warm invokes
and its resets, invisible to every other environment and to the machine; /opt holds the function's
merged layers, read-only; nothing stays mounted once the Lab closes.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

import lambdalab
from lambdalab.engine import mounts

pytestmark = pytest.mark.skipif(not mounts.used(), reason="no private mount namespaces on this machine")

TMP_X = """
import os, time
def handler(event, context):
    found = open("/tmp/x").read() if os.path.exists("/tmp/x") else None
    if "write" in event:
        with open("/tmp/x", "w") as f:
            f.write(event["write"])
    time.sleep(event.get("sleep", 0))
    return {"found": found, "tmpdir": os.environ["TMPDIR"], "home": os.path.isdir(os.environ["HOME"])}
"""


def _mounted(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


def test_tmp_x_belongs_to_one_environment_and_survives_warm_invokes_and_a_timeout_reset():
    machine_before = Path("/tmp/x").read_bytes() if Path("/tmp/x").exists() else None
    with lambdalab.Lab() as lab:
        fn = lab.create_function("writer", TMP_X, timeout_s=1)
        other = lab.create_function("reader", TMP_X)
        first = fn.invoke({"write": "one"})
        assert first.error is None and first.payload == {"found": None, "tmpdir": "/tmp", "home": True}
        warm = fn.invoke({})
        assert warm.environment_id == first.environment_id and warm.payload["found"] == "one"

        # a timeout resets the process, not /tmp: the next invoke of that environment still finds it
        again = fn.invoke({"sleep": 3})
        assert again.error is not None and "timed out" in again.error["errorMessage"]
        assert again.environment_id == first.environment_id
        after = fn.invoke({})
        assert after.environment_id == first.environment_id and after.payload["found"] == "one"
        assert after.cold  # a new process in the same environment

        # a second environment of the same function (the first is busy) sees its own, empty /tmp
        busy = threading.Thread(target=lambda: fn.invoke({"sleep": 0.5}))
        busy.start()
        time.sleep(0.2)
        second = fn.invoke({"write": "two"})
        busy.join(timeout=10)
        assert second.environment_id != first.environment_id and second.payload["found"] is None
        assert other.invoke({}).payload["found"] is None  # another function's environment
        assert (Path("/tmp/x").read_bytes() if Path("/tmp/x").exists() else None) == machine_before  # the machine's

LAYER_MODULE = "def greet():\n    return 'from the layer'\n"
OPT = """
import errno, os
import tmp_opt_layer
def handler(event, context):
    try:
        open("/opt/written", "w")
        refused = None
    except OSError as exc:
        refused = exc.errno
    return {"file": os.path.isfile("/opt/python/tmp_opt_layer.py"), "greet": tmp_opt_layer.greet(),
            "refused": refused, "opt": sorted(os.listdir("/opt"))}
"""


def test_opt_holds_the_layers_read_only_and_is_empty_without_them(lab, tmp_path):
    (tmp_path / "layer" / "python").mkdir(parents=True)
    (tmp_path / "layer" / "python" / "tmp_opt_layer.py").write_text(LAYER_MODULE)
    layer = lab.publish_layer_version("tmp-opt-layer", tmp_path / "layer")
    seen = lab.create_function("layered", OPT, layers=[layer.arn]).invoke({})
    assert seen.error is None, seen.error
    assert seen.payload["file"] is True and seen.payload["greet"] == "from the layer"
    assert seen.payload["refused"] == errno.EROFS and "python" in seen.payload["opt"]
    bare = lab.create_function("bare", "import os\ndef handler(e, c):\n    return os.listdir('/opt')\n").invoke({})
    assert bare.payload == []


FILL = """
import errno, os
def handler(event, context):
    block, written = b"\\0" * (1024 * 1024), 0
    try:
        with open("/tmp/fill.bin", "wb") as f:
            while written < event["mb"]:
                f.write(block)
                f.flush()
                written += 1
    except OSError as exc:
        return {"errno": exc.errno, "mb": written, "size": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize}
    return {"errno": None, "mb": written}
"""


def test_writing_past_ephemeral_storage_gives_enospc_and_nothing_stays_mounted():
    with lambdalab.Lab() as lab:
        workdir = lab._workdir
        # tmpfs pages count toward the environment's memory (docs/FIDELITY.md): give it room for /tmp
        fn = lab.create_function("fill", FILL, memory_mb=1024, timeout_s=30, ephemeral_storage_mb=512)
        assert fn.config.ephemeral_storage_mb == 512
        started = time.monotonic()
        full = fn.invoke({"mb": 520})
        assert time.monotonic() - started < 10
        assert full.error is None, full.error
        assert full.payload["errno"] == errno.ENOSPC and 500 <= full.payload["mb"] <= 512
        assert full.payload["size"] == 512 * 1024 * 1024
        assert any("tmpfs" in line for line in _mounted(workdir))
        with pytest.raises(lambdalab.ConfigError, match="ephemeral_storage_mb"):
            lab.create_function("small", FILL, ephemeral_storage_mb=511)
        with pytest.raises(lambdalab.ConfigError, match="ephemeral_storage_mb"):
            fn.update(ephemeral_storage_mb=10_241)
    assert _mounted(workdir) == [] and not workdir.exists()
    assert os.path.realpath(workdir).startswith("/tmp/") is False


def test_ephemeral_storage_over_the_endpoint_sizes_tmp(lab):
    import boto3
    from botocore.config import Config

    url = lab.serve()
    session = boto3.session.Session(aws_access_key_id="AKIDLAMBDALAB", aws_secret_access_key="secret",
                                    region_name="us-east-1")
    c = session.client("lambda", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
    lab.create_function("sized", "import os\ndef handler(e, c):\n    s = os.statvfs('/tmp')\n"
                        "    return s.f_blocks * s.f_frsize // 2**20\n")
    assert c.get_function(FunctionName="sized")["Configuration"]["EphemeralStorage"] == {"Size": 512}
    assert c.invoke(FunctionName="sized")["Payload"].read() == b"512"
    updated = c.update_function_configuration(FunctionName="sized", EphemeralStorage={"Size": 1024})
    assert updated["EphemeralStorage"] == {"Size": 1024} and lab.function("sized").config.ephemeral_storage_mb == 1024
    assert c.invoke(FunctionName="sized")["Payload"].read() == b"1024"  # a new environment, with a bigger /tmp
    with pytest.raises(c.exceptions.ClientError, match="less than or equal to 10240"):
        c.update_function_configuration(FunctionName="sized", EphemeralStorage={"Size": 10241})
