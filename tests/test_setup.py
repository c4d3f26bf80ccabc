"""Setup that fits people: the developer mode and its stale-build warning, and the Makefile's promises.

- ``lambdalab.devcheck``: a compiled module older than its ``.py`` (an edit Python would silently ignore) is
  found, named and warned about once; nothing else is; checking costs well under a millisecond.
- The Makefile: ``make test`` never asks the browser test to rewrite docs/images (only ``make screenshots``);
  ``browser`` installs Chromium without recommended packages, and where it cannot, prints one line and lets the
  browser test skip (an error with CI set); ``make dev`` is an editable, pure-Python install.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from lambdalab import devcheck

ROOT = Path(__file__).resolve().parents[1]
SO = EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so


def _package(root: Path, files: dict[str, float]) -> Path:
    """A package folder ``root/lambdalab`` holding ``files`` ({relative path: mtime}), empty files."""
    package = root / "lambdalab"
    for relative, mtime in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
    return package


T0 = 1_700_000_000.0


# -- devcheck --------------------------------------------------------------------------------------
def test_a_compiled_module_older_than_its_source_is_stale(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "core/lifecycle.py": T0 + 60,
            f"core/lifecycle{SO}": T0,  # edited after the build: stale
            "core/limits.py": T0,
            f"core/limits{SO}": T0 + 30,  # built after the edit: fine
            "core/pool.py": T0 + 0.5,
            f"core/pool{SO}": T0,  # written by one build: fine
            "core/ids.py": T0 + 60,  # not compiled (pure install): fine
            "core/__init__.py": T0 + 60,
            "sim/kernel.py": T0 + 60,
            f"sim/kernel{SO}": T0,  # a compiled simulator module: stale
            "sim/report.py": T0 + 60,
            f"sim/report{SO}": T0,  # the build never compiles it
        },
    )
    assert devcheck.stale_builds(package) == [
        (package / "core" / "lifecycle.py", package / "core" / f"lifecycle{SO}"),
        (package / "sim" / "kernel.py", package / "sim" / f"kernel{SO}"),
    ]


def test_nothing_is_stale_in_a_fresh_build_or_an_installed_copy(tmp_path: Path) -> None:
    fresh = _package(tmp_path / "fresh", {"core/lifecycle.py": T0, f"core/lifecycle{SO}": T0 + 5})
    assert devcheck.stale_builds(fresh) == []
    installed = _package(tmp_path / "lib" / "site-packages", {"core/lifecycle.py": T0 + 60, f"core/lifecycle{SO}": T0})
    assert devcheck.stale_builds(installed) == []  # a wheel writes its files in any order; nobody edits them
    assert devcheck.stale_builds(tmp_path / "nowhere" / "lambdalab") == []


def test_warn_if_stale_names_the_files_and_the_cure_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _package(
        tmp_path, {f"core/m{i}.py": T0 + 60 for i in range(5)} | {f"core/m{i}{SO}": T0 for i in range(5)}
    )
    monkeypatch.setattr(devcheck, "PACKAGE", package)
    monkeypatch.setattr(devcheck, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        devcheck.warn_if_stale()
        devcheck.warn_if_stale()
    assert len(caught) == 1 and caught[0].category is devcheck.StaleBuildWarning
    message = str(caught[0].message)
    assert "lambdalab/core/m0.py (compiled: m0" in message and "and 2 more" in message
    assert "`make dev`" in message and "reinstall" in message


def test_warn_if_stale_is_silent_when_nothing_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devcheck, "PACKAGE", _package(tmp_path, {"core/a.py": T0, f"core/a{SO}": T0 + 1}))
    monkeypatch.setattr(devcheck, "_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        devcheck.warn_if_stale()


def test_the_compiled_modules_are_the_core_and_the_simulators_hot_loop() -> None:
    sources = devcheck.compiled_sources()
    package = ROOT / "lambdalab"
    assert all(path.exists() for path in sources)
    assert {p.parent.name for p in sources} == {"core", "sim"}
    core = {p.name for p in (package / "core").glob("*.py")} - {"__init__.py"}
    assert {p.name for p in sources if p.parent.name == "core"} == core
    assert [p.stem for p in sources if p.parent.name == "sim"] == list(devcheck.COMPILED_SIM)
    assert "compiled_sources(HERE" in (ROOT / "setup.py").read_text()  # the build compiles this list


def test_checking_costs_under_a_millisecond() -> None:
    """The real package (compiled or not): two folder scans and two stats per compiled module."""
    devcheck.stale_builds()
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        devcheck.stale_builds()
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 1e-3, f"{statistics.median(times) * 1e6:.0f} us"


def test_devcheck_imports_only_the_standard_library() -> None:
    """setup.py loads it by path while the package cannot be imported."""
    code = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('d', sys.argv[1]); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "print(sorted(n for n in sys.modules if n.startswith('lambdalab')))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, str(ROOT / "lambdalab" / "devcheck.py")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "[]"


# -- the Makefile ----------------------------------------------------------------------------------
def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_make_test_never_rewrites_the_screenshots_only_make_screenshots_does() -> None:
    test = _make("-n", "test").stdout
    assert "tests/browser" in test and "LAMBDALAB_WRITE_SCREENSHOT" not in test
    screenshots = _make("-n", "screenshots").stdout
    assert "LAMBDALAB_WRITE_SCREENSHOT=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/browser" in screenshots


def test_make_dev_is_an_editable_pure_python_install() -> None:
    dev = _make("-n", "dev").stdout
    assert "LAMBDALAB_PURE_PYTHON=1 .venv/bin/python -m pip install --quiet -e '.[notebook,test,aws]'" in dev


def _no_apt_path(tmp_path: Path) -> str:
    """A PATH with what the Makefile needs but no apt-get (and no sudo)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("make", "sh", "id"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    return str(tools)


def test_browser_without_apt_prints_one_line_and_lets_the_browser_test_skip(tmp_path: Path) -> None:
    env = {"PATH": _no_apt_path(tmp_path), "HOME": str(tmp_path)}
    done = _make("-o", "setup", "test-browser", "CHROMIUM=/nonexistent/chromium", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "browser: no Debian chromium at /nonexistent/chromium (installing it needs apt-get as root or with "
        "password-less sudo): the browser test is skipped"
    ]
    in_ci = _make("-o", "setup", "test-browser", "CHROMIUM=/nonexistent/chromium", env=env | {"CI": "1"})
    assert in_ci.returncode != 0 and "and CI is set" in in_ci.stdout


def test_browser_installs_chromium_without_recommended_packages() -> None:
    recipe = _make("-n", "browser", "CHROMIUM=/nonexistent/chromium").stdout
    assert "install -y -qq --no-install-recommends chromium fonts-dejavu-core" in recipe
