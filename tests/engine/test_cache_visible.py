"""A cache runtimes cannot see is caught when a Lab starts: where environments get a private /tmp (a mount
namespace), requirements built under the machine's /tmp are hidden from every runtime (each invoke would fail with
``Runtime.ImportModuleError``), so a ``LAMBDALAB_CACHE_DIR`` there is refused and a default cache folder there
(``XDG_CACHE_HOME`` or ``HOME`` under /tmp) is warned about; a cache elsewhere starts quietly."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

import lambdalab
from lambdalab import cache
from lambdalab.engine import mounts
from lambdalab.errors import ConfigError

needs_namespace = pytest.mark.skipif(not mounts.used(), reason="runtimes share the machine's /tmp here")


def _lab_dirs() -> set[str]:
    base = mounts.work_base() or "/tmp"
    return {d for d in os.listdir(base) if d.startswith(f"lambdalab-{os.getpid()}-")}


@needs_namespace
def test_a_cache_dir_under_tmp_is_refused_when_the_lab_starts(monkeypatch):
    monkeypatch.setenv(cache.ENV, "/tmp/lambdalab-test-cache")
    before = _lab_dirs()
    with pytest.raises(ConfigError) as caught:
        lambdalab.Lab()
    text = str(caught.value)
    assert text.startswith("invalid LAMBDALAB_CACHE_DIR: LAMBDALAB_CACHE_DIR=/tmp/lambdalab-test-cache is under /tmp")
    assert "Runtime.ImportModuleError" in text and "outside /tmp" in text
    assert _lab_dirs() == before  # refused before the Lab made its folder
    assert not Path("/tmp/lambdalab-test-cache").exists()


@needs_namespace
def test_a_default_cache_under_tmp_is_warned_about_and_the_lab_runs(monkeypatch, caplog, request):
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/lambdalab-test-xdg")
    request.addfinalizer(lambda: shutil.rmtree("/tmp/lambdalab-test-xdg", ignore_errors=True))  # the launcher's copy
    with caplog.at_level(logging.WARNING, logger="lambdalab"), lambdalab.Lab() as lab:
        assert lab.create_function("plain", "def handler(e, c):\n    return 7\n").invoke({}).payload == 7
    (warning,) = [r.getMessage() for r in caplog.records if "lambdalab's cache" in r.getMessage()]
    assert "(/tmp/lambdalab-test-xdg/lambdalab) is under /tmp" in warning and "LAMBDALAB_CACHE_DIR" in warning


def test_a_cache_outside_tmp_starts_quietly(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))  # tests keep tmp_path outside /tmp (tests/conftest.py)
    with caplog.at_level(logging.WARNING, logger="lambdalab"), lambdalab.Lab():
        pass
    assert not [r for r in caplog.records if "cache" in r.getMessage()]


def test_check_visible_is_decided_by_the_predicate():
    hidden_tmp = lambda path: path.startswith("/tmp/")  # noqa: E731
    assert cache.check_visible(hidden_tmp, {cache.ENV: "/var/tmp/c"}) is None
    with pytest.raises(ConfigError, match="invalid LAMBDALAB_CACHE_DIR"):
        cache.check_visible(hidden_tmp, {cache.ENV: "/tmp/c"})
    assert cache.check_visible(lambda path: False, {cache.ENV: "/tmp/c"}) is None  # no private /tmp: nothing hidden
    text = cache.check_visible(hidden_tmp, {"XDG_CACHE_HOME": "/tmp/x"})
    assert text is not None and "lambdalab's cache (/tmp/x/lambdalab)" in text
