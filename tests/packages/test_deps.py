"""Dependency builds: real pip runs against local wheels (no network), a real cache on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lambdalab.errors import ConfigError
from lambdalab.packages.deps import (
    MARKER,
    DependencyBuildError,
    build_dependencies,
    default_cache_dir,
    normalise,
    requirements_key,
)
from tests.packages import make_wheel, offline

pytestmark = pytest.mark.slow


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    where = tmp_path / "wheels"
    make_wheel(where, "alpha", "1.0", requires=("beta>=1",))
    make_wheel(where, "alpha", "2.0")
    make_wheel(where, "beta", "1.5")
    return where


def test_first_build_runs_pip_and_second_is_a_cache_hit_without_pip(tmp_path: Path, wheels: Path) -> None:
    lines: list[str] = []
    cache = tmp_path / "cache"
    first = build_dependencies(["alpha==1.0"], cache_dir=cache, pip_args=offline(wheels), progress=lines.append)
    assert first.cache_hit is False
    assert (first.path / "alpha" / "__init__.py").read_text() == "VERSION = '1.0'\n"
    assert (first.path / "beta" / "__init__.py").is_file()  # the dependency of alpha came too
    assert not list(first.path.rglob("*.pyc"))  # --no-compile
    assert any("Successfully installed" in line and "alpha-1.0" in line for line in lines)
    assert first.size_bytes == sum(p.stat().st_size for p in first.path.rglob("*") if p.is_file() and p.name != MARKER)
    assert first.requirements == ("alpha==1.0",)

    for wheel in wheels.iterdir():  # with no wheels left, any pip run would fail
        wheel.unlink()
    lines.clear()
    t0 = time.perf_counter()
    second = build_dependencies(["alpha==1.0"], cache_dir=cache, pip_args=offline(wheels), progress=lines.append)
    elapsed = time.perf_counter() - t0
    assert second.cache_hit is True
    assert second.path == first.path and second.key == first.key
    assert second.size_bytes == first.size_bytes
    assert lines == []
    assert elapsed < 0.05, f"a cache hit took {elapsed * 1e3:.1f} ms"


def test_a_changed_requirement_misses_and_builds_its_own_folder(tmp_path: Path, wheels: Path) -> None:
    cache = tmp_path / "cache"
    one = build_dependencies(["alpha==1.0"], cache_dir=cache, pip_args=offline(wheels))
    two = build_dependencies(["alpha==2.0"], cache_dir=cache, pip_args=offline(wheels))
    assert two.cache_hit is False and two.key != one.key
    assert (two.path / "alpha" / "__init__.py").read_text() == "VERSION = '2.0'\n"
    assert not (two.path / "beta").exists()
    assert (one.path / "alpha" / "__init__.py").read_text() == "VERSION = '1.0'\n"  # untouched
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == sorted([one.key, two.key])


def test_a_requirements_file_with_comments_and_includes_shares_the_key_of_the_same_lines(
    tmp_path: Path, wheels: Path
) -> None:
    cache = tmp_path / "cache"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "base.txt").write_text("beta==1.5\n")
    req = tmp_path / "app" / "requirements.txt"
    req.write_text("# pinned\nalpha==1.0   # the one we need\n\n-r base.txt\n")
    built = build_dependencies(req, cache_dir=cache, pip_args=offline(wheels))
    assert built.cache_hit is False and (built.path / "beta").is_dir()
    again = build_dependencies(req, cache_dir=cache, pip_args=offline(wheels))
    assert again.cache_hit is True and again.path == built.path
    (tmp_path / "app" / "base.txt").write_text("beta==1.5\nalpha==1.0\n")  # the included file changed
    assert requirements_key(normalise(req.read_text()), base=req.parent, pip_args=offline(wheels)) != built.key


def test_a_local_package_folder_is_part_of_the_key(tmp_path: Path) -> None:
    pkg = tmp_path / "mylib"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text("[project]\nname = 'mylib'\nversion = '0.1'\n")
    before = requirements_key(["./mylib"], base=tmp_path)
    assert requirements_key(["./mylib"], base=tmp_path) == before
    (pkg / "mylib.py").write_text("X = 1\n")
    assert requirements_key(["./mylib"], base=tmp_path) != before


def test_a_requirement_pip_cannot_find_fails_fast_with_pips_message(tmp_path: Path, wheels: Path) -> None:
    cache = tmp_path / "cache"
    t0 = time.perf_counter()
    with pytest.raises(DependencyBuildError) as caught:
        build_dependencies(["alpha==1.0", "no-such-package-here==1.0"], cache_dir=cache, pip_args=offline(wheels))
    assert time.perf_counter() - t0 < 30
    message = str(caught.value)
    assert "No matching distribution found for no-such-package-here==1.0" in message
    assert message.startswith("pip could not install the requirements (exit status 1):\nERROR:")
    assert caught.value.returncode == 1 and isinstance(caught.value, ConfigError)
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []  # no half build, no staging left


def test_an_invalid_requirement_fails_with_pips_message(tmp_path: Path, wheels: Path) -> None:
    with pytest.raises(DependencyBuildError, match=r"Invalid requirement: 'alpha\[x==1'"):
        build_dependencies(["alpha[x==1"], cache_dir=tmp_path / "cache", pip_args=offline(wheels))


def test_concurrent_builds_of_one_key_run_pip_once(tmp_path: Path, wheels: Path) -> None:
    cache = tmp_path / "cache"
    results = []
    pip_lines: list[str] = []

    def build() -> None:
        results.append(
            build_dependencies(["alpha==1.0"], cache_dir=cache, pip_args=offline(wheels), progress=pip_lines.append)
        )

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == 4
    assert sorted(r.cache_hit for r in results) == [False, True, True, True]
    assert len({r.path for r in results}) == 1
    assert sum("Successfully installed" in line for line in pip_lines) == 1
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [results[0].key]


def test_concurrent_builds_in_two_processes_agree(tmp_path: Path, wheels: Path) -> None:
    script = (
        "import json, sys; from pathlib import Path\n"
        "from lambdalab.packages.deps import build_dependencies\n"
        "b = build_dependencies(['alpha==2.0'], cache_dir=Path(sys.argv[1]),"
        " pip_args=['--no-index', '--find-links', sys.argv[2]])\n"
        "print(json.dumps([b.cache_hit, str(b.path)]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "cache"), str(wheels)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert sorted(hit for hit, _ in outs) == [False, True]
    assert outs[0][1] == outs[1][1]
    assert (Path(outs[0][1]) / "alpha" / "__init__.py").read_text() == "VERSION = '2.0'\n"


def test_a_pip_that_hangs_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    fake = tmp_path / "python"  # answers the fingerprint like the real one, then hangs as pip
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-I" ]; then exec {sys.executable} "$@"; fi\nexec sleep 60\n')
    fake.chmod(0o755)
    t0 = time.perf_counter()
    with pytest.raises(DependencyBuildError, match="did not finish within 1 s"):
        build_dependencies(["alpha==1.0"], cache_dir=tmp_path / "cache", python=str(fake), timeout=1)
    assert time.perf_counter() - t0 < 10


def test_no_requirements_build_an_empty_folder_without_pip(tmp_path: Path) -> None:
    built = build_dependencies(["# nothing yet", ""], cache_dir=tmp_path / "cache")
    assert built.cache_hit is False and built.size_bytes == 0
    assert [p.name for p in built.path.iterdir()] == [MARKER]


def test_misuse_is_reported_plainly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a string; give a list"):
        build_dependencies("requests", cache_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot read"):
        build_dependencies(tmp_path / "missing.txt", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="is not an interpreter"):
        build_dependencies(["x"], cache_dir=tmp_path, python="/nonexistent/python3")


def test_normalise_reads_lines_as_pip_does() -> None:
    text = "a==1 \\\n  ; python_version>'3'\n# c\nb  >=  2 # why\nhttps://x.org/p.whl#egg=p\n\n"
    assert normalise(text) == ["a==1 ; python_version>'3'", "b >= 2", "https://x.org/p.whl#egg=p"]


def test_default_cache_dir_follows_the_environment() -> None:
    assert default_cache_dir({"LAMBDALAB_CACHE_DIR": "/c"}) == Path("/c/deps")
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/lambdalab/deps")
    assert default_cache_dir({}) == Path.home() / ".cache" / "lambdalab" / "deps"
