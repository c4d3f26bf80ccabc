"""What one environment could change for others: another's /tmp, the task roots, layers and caches they run.

On Lambda each environment's /tmp is its own and /var/task and /opt are read-only. Here the files behind them
are folders of the machine, so where runtimes get a mount namespace the launcher (lambdalab/runtimes/launch.c)
makes the Lab's shared folders read-only and covers its folder of environments, leaving each runtime its own.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import lambdalab
from lambdalab.cache import cache_root

pytestmark = pytest.mark.slow

PROBE = """
import glob, os, sys

def handler(event, context):
    if event.get("secret"):
        with open("/tmp/secret", "w") as f:
            f.write(event["secret"])
    root = os.environ["LAMBDA_TASK_ROOT"]
    lab_dir = root.split("/code/")[0]
    wrote = {}
    for name, target in event.get("targets", {}).items():
        try:
            with open(target, "a") as f:
                f.write("# changed by another function")
            wrote[name] = "written"
        except OSError as exc:
            wrote[name] = exc.strerror
    import shared_module
    return {"task_root": root, "layer": os.path.dirname(shared_module.__file__), "value": shared_module.VALUE,
            "environments": len(glob.glob(lab_dir + "/environments/*")),
            "secrets": [open(p).read() for p in glob.glob(lab_dir + "/environments/*/tmp/secret")],
            "wrote": wrote, "home": os.access(os.environ["HOME"], os.W_OK)}
"""


@pytest.fixture()
def lab():
    with lambdalab.Lab() as the_lab:
        if the_lab.isolation != "namespace":
            pytest.skip("runtimes share the machine's files here (no mount namespace): see docs/FIDELITY.md")
        yield the_lab


def test_an_environment_neither_sees_another_ones_tmp_nor_changes_what_others_run(lab, tmp_path):
    archive = tmp_path / "shared.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("python/shared_module.py", "VALUE = 'original'\n")
    owner = lab.create_function("owner", PROBE, layers=[str(archive)])
    other = lab.create_function("other", PROBE, layers=[str(archive)])
    first = owner.invoke({"secret": "owner's private data"})
    assert first.error is None, first.error
    seen = first.payload
    assert seen["secrets"] == ["owner's private data"] and seen["home"] is True  # its own, writable
    result = other.invoke({"targets": {
        "owner's task root": f"{seen['task_root']}/lambda_function.py",
        "the shared layer": f"{seen['layer']}/shared_module.py",
        "lambdalab's cache": str(cache_root() / "planted"),
    }})
    assert result.error is None, result.error
    assert result.payload["environments"] == 1 and result.payload["secrets"] == []  # only its own folder
    assert result.payload["wrote"] == dict.fromkeys(
        ("owner's task root", "the shared layer", "lambdalab's cache"), "Read-only file system")
    owner.kill()
    again = owner.invoke({})  # a new environment loads what was deployed, untouched
    assert again.payload["value"] == "original" and again.payload["secrets"] == []
    assert Path(seen["task_root"], "lambda_function.py").read_text() == PROBE
