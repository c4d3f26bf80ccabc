"""Deployment packages within Lambda's limits: zip bombs, hostile entries and big uploads, on real processes.

A 1 MB .zip that expands to 300 MB was once accepted (the owner grew by it and the unzip blocked the
loop). Now: 50 MB zipped, 250 MB unzipped (declared sizes first, bytes written as they come), no
symbolic link, absolute or ``..`` entry, all with Lambda's errors; unpacking runs off the loop, so
another function's invoke is answered on time meanwhile. Each case ends with a good invoke.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest

import lambdalab
from lambdalab.endpoint.templates import load_template
from lambdalab.packages import zips as package
from tests.endpoint.conftest import client

pytestmark = pytest.mark.slow

APP = "def handler(event, context):\n    return {'ok': True}\n"
MB = 1024 * 1024
UNZIPPED_MESSAGE = "Unzipped size must be smaller than 262144000 bytes"


def _zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zeros_zip(path: Path, megabytes: int) -> Path:
    """``app.py`` plus one entry of ``megabytes`` MB of zeros, written in chunks (the test never holds it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.py", APP)
        with archive.open("zeros.bin", "w") as out:
            chunk = bytes(MB)
            for _ in range(megabytes):
                out.write(chunk)
    return path


def _lie_about_sizes(data: bytes, declared: int) -> bytes:
    """Rewrite every header's uncompressed size (local, central and zip64 extra) to ``declared``."""
    out = bytearray(data)
    at = 0
    while (at := out.find(b"PK\x03\x04", at)) != -1:  # local headers: size at +22, extra after the name
        name_len, extra_len = struct.unpack_from("<HH", out, at + 26)
        _patch_sizes(out, at + 22, at + 30 + name_len, extra_len, declared)
        at += 4
    at = 0
    while (at := out.find(b"PK\x01\x02", at)) != -1:  # central directory: size at +24
        name_len, extra_len = struct.unpack_from("<HH", out, at + 28)
        _patch_sizes(out, at + 24, at + 46 + name_len, extra_len, declared)
        at += 4
    return bytes(out)


def _patch_sizes(out: bytearray, size_at: int, extra_at: int, extra_len: int, declared: int) -> None:
    if struct.unpack_from("<I", out, size_at)[0] == 0xFFFFFFFF:
        end = extra_at + extra_len
        while extra_at + 4 <= end:
            tag, length = struct.unpack_from("<HH", out, extra_at)
            if tag == 0x0001:  # zip64: the uncompressed size comes first
                struct.pack_into("<Q", out, extra_at + 4, declared)
            extra_at += 4 + length
    else:
        struct.pack_into("<I", out, size_at, declared)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> bytes:
    """About 300 KB that expands to 300 MB, honest about it."""
    data = _zeros_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", 300).read_bytes()
    assert len(data) < MB
    return data


@pytest.fixture(scope="module")
def big_but_legal(tmp_path_factory) -> bytes:
    return _zeros_zip(tmp_path_factory.mktemp("legal") / "legal.zip", 240).read_bytes()


def _disk_used(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _good(lab: lambdalab.Lab) -> None:
    fn = lab.function("good") if "good" in lab.functions() else lab.create_function("good", APP)
    assert fn.invoke({}).payload == {"ok": True}


# -- the API ---------------------------------------------------------------------------------------
def test_a_zip_bomb_is_refused_with_lambdas_message_and_nothing_grows(lab, bomb):
    rss = psutil.Process().memory_info().rss
    with pytest.raises(lambdalab.ConfigError, match=UNZIPPED_MESSAGE):
        lab.create_function("bomb", zip_file=bomb, handler="app.handler")
    assert _disk_used(lab._workdir) < MB
    assert (psutil.Process().memory_info().rss - rss) < 50 * MB
    assert lab.functions() == []
    _good(lab)


def test_a_zip_bomb_that_lies_in_its_headers_is_stopped(lab, bomb):
    liar = _lie_about_sizes(bomb, 1000)
    with zipfile.ZipFile(io.BytesIO(liar)) as archive:  # the lie is in place: 300 MB declared as 1,000 bytes
        assert [i.file_size for i in archive.infolist()] == [1000, 1000]
    with pytest.raises(lambdalab.ConfigError, match="Could not unzip uploaded file"):
        lab.create_function("liar", zip_file=liar, handler="app.handler")
    assert _disk_used(lab._workdir) < MB
    _good(lab)


def test_bytes_written_are_counted_whatever_the_headers_say(tmp_path):
    """The second check on its own: an entry that produces more than the budget stops while writing."""
    data = _zip({"big.bin": bytes(4096)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        with pytest.raises(lambdalab.ConfigError, match="Unzipped size must be smaller than 1000 bytes"):
            package._write(archive, archive.infolist()[0], tmp_path / "big.bin", 0, 1000)
    assert (tmp_path / "big.bin").stat().st_size <= package._CHUNK


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", APP)
        link = zipfile.ZipInfo("etc")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc")
        archive.writestr("etc/passwd-copy", "x")  # would be written through the link
    return buffer.getvalue()


HOSTILE = {
    "symlink": (_symlink_zip, "is a symbolic link"),
    "absolute": (lambda: _zip({"app.py": APP, "/tmp/lambdalab_abs_entry.py": "x"}), "is an absolute path"),
    "dotdot": (lambda: _zip({"app.py": APP, "../../../lambdalab_dotdot_entry.py": "x"}), "climbs out"),
    "nested_dotdot": (lambda: _zip({"app.py": APP, "pkg/../../lambdalab_dotdot_entry.py": "x"}), "climbs out"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entries_are_refused_and_nothing_is_written(lab, case):
    make, reason = HOSTILE[case]
    with pytest.raises(lambdalab.ConfigError, match=f"Could not unzip uploaded file.*{reason}"):
        lab.create_function("hostile", zip_file=make(), handler="app.handler")
    assert not Path("/tmp/lambdalab_abs_entry.py").exists()
    assert not list(lab._workdir.parent.glob("lambdalab_dotdot_entry.py"))
    assert not list(lab._workdir.rglob("lambdalab_dotdot_entry.py"))
    assert _disk_used(lab._workdir) < MB and lab.functions() == []
    _good(lab)


def test_a_zip_over_50_mb_is_too_large_before_it_is_opened(lab):
    with pytest.raises(lambdalab.RequestTooLargeException,
                       match="Request must be smaller than 69905067 bytes for the CreateFunction operation"):
        lab.create_function("huge", zip_file=os.urandom(package.ZIPPED_MAX_BYTES + 1), handler="app.handler")
    _good(lab)


def test_a_good_zip_through_the_api_and_a_zip_path_work(lab, tmp_path):
    data = _zip({"app.py": APP, "bin/tool": "#!/bin/sh\necho hi\n"})
    fn = lab.create_function("zipped", zip_file=data, handler="app.handler")
    assert fn.invoke({}).payload == {"ok": True}
    (tmp_path / "code.zip").write_bytes(data)
    fn = lab.create_function("zippath", path=tmp_path / "code.zip", handler="app.handler")
    assert fn.invoke({}).payload == {"ok": True}
    fn.update(zip_file=_zip({"app.py": APP.replace("True", "'v2'")}))
    assert fn.invoke({}).payload == {"ok": "v2"}


def test_a_folder_over_250_mb_is_refused(lab, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    with open(folder / "blob.bin", "wb") as f:  # sparse: no real disk used
        f.truncate(package.UNZIPPED_MAX_BYTES + 1)
    with pytest.raises(lambdalab.ConfigError, match=UNZIPPED_MESSAGE):
        lab.create_function("bigdir", path=folder, handler="app.handler")
    assert _disk_used(lab._workdir) < MB
    _good(lab)


# -- a template's CodeUri ---------------------------------------------------------------------------
def test_a_template_with_a_zip_bomb_skips_that_function_and_serves_the_rest(lab, tmp_path, bomb):
    (tmp_path / "bomb.zip").write_bytes(bomb)
    (tmp_path / "good.zip").write_bytes(_zip({"app.py": APP}))
    (tmp_path / "template.yaml").write_text("""
Resources:
  Bomb:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: bomb.zip, Handler: app.handler, Runtime: python3.12}
  Good:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: good, CodeUri: good.zip, Handler: app.handler, Runtime: python3.12}
""")
    names, notes = load_template(lab, tmp_path / "template.yaml")
    assert names == ["good"]
    assert any(n.startswith("Bomb: " + UNZIPPED_MESSAGE) for n in notes), notes
    _good(lab)


# -- the endpoint ----------------------------------------------------------------------------------
@pytest.fixture
def served():
    with lambdalab.Lab() as lab:
        lab.create_function("good", APP)
        lab.create_function("quick", "import time\ndef handler(e, c):\n    time.sleep(0.05)\n    return 'quick'\n",
                            timeout_s=1)
        yield lab, client(lab.serve(), retries={"max_attempts": 1})


def _create(c, name: str, data: bytes):
    return c.create_function(FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/r",
                             Handler="app.handler", Code={"ZipFile": data})


def test_create_function_refuses_a_zip_bomb_with_lambdas_error(served, bomb):
    lab, c = served
    with pytest.raises(c.exceptions.InvalidParameterValueException, match=UNZIPPED_MESSAGE) as caught:
        _create(c, "bomb", bomb)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(c.exceptions.InvalidParameterValueException, match="Could not unzip uploaded file"):
        c.update_function_code(FunctionName="good", ZipFile=_symlink_zip())
    assert _disk_used(lab._workdir) < 2 * MB
    _good(lab)


def test_create_function_over_the_upload_limit_is_a_413(served):
    lab, c = served
    with pytest.raises(c.exceptions.ClientError) as caught:
        _create(c, "huge", os.urandom(package.ZIPPED_MAX_BYTES + MB))
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (413,
                                                                                    "RequestEntityTooLargeException")
    assert error["Error"]["Message"] == "Request must be smaller than 69905067 bytes for the CreateFunction operation"
    _good(lab)


def test_invokes_are_answered_on_time_while_a_big_zip_unpacks(served, big_but_legal):
    lab, c = served
    assert lab.function("quick").invoke({}).payload == "quick"  # warm
    window: list[float] = []
    failure: list[BaseException] = []

    def create() -> None:
        window.append(time.monotonic())
        try:
            _create(client(lab.serve(), retries={"max_attempts": 1}), "big", big_but_legal)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)
        window.append(time.monotonic())

    worker = threading.Thread(target=create)
    worker.start()
    latencies = []
    while worker.is_alive() or not latencies:
        started = time.monotonic()
        result = lab.function("quick").invoke({})
        latencies.append((started, time.monotonic() - started))
        assert result.payload == "quick", result.error
    worker.join(120)
    assert not failure, failure
    during = [took for at, took in latencies if window[0] <= at <= window[1]]
    assert during, "no invoke overlapped the unpacking"
    assert max(during) < 1.5, during
    assert lab.function("big").invoke({}).payload == {"ok": True}
    shutil.rmtree(lab._workdir / "code" / "big", ignore_errors=True)
