"""The compiled core and simulator (setup.py, mypyc) and the pure-Python modules they are built from.

The ``.py`` files stay the reference: a copy of the package without any compiled module must give
the very same simulation, number for number, as the installed one. And an installed lambdalab is
compiled unless it was asked not to be (``LAMBDALAB_PURE_PYTHON=1``), so that a silent fallback to
the slow path shows up here rather than only in a benchmark.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lambdalab.core.lifecycle
import lambdalab.sim.driver

PACKAGE = Path(lambdalab.__file__).resolve().parent
SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)

RUN = """
import json, sys
import lambdalab.core.lifecycle, lambdalab.sim.kernel
from lambdalab.load.patterns import Poisson
from lambdalab.sim import Exponential, LogNormal, Simulation

runs = [
    Simulation(Poisson(4.0, seed=3), service=Exponential(0.4), cold_service=Exponential(0.9), keep_alive_s=20.0,
               seed=7).run(count=20_000),
    Simulation(Poisson(30.0, seed=5), service=LogNormal(0.2, 0.1), init=0.3, keep_alive_s=5.0, concurrency=6,
               error_probability=0.05, timeout_s=0.5, seed=11).run(count=10_000),
]
json.dump({"modules": [lambdalab.core.lifecycle.__file__, lambdalab.sim.kernel.__file__],
           "summaries": [r.summary.as_dict() for r in runs],
           "latency_ms": [float(r.invocations["latency_ms"].sum()) for r in runs]}, sys.stdout)
"""


def _run(path: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    proc = subprocess.run(
        [sys.executable, "-c", RUN], capture_output=True, text=True, env=env, timeout=240, cwd=path or Path.cwd()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _is_compiled(module: object) -> bool:
    return str(getattr(module, "__file__", "")).endswith(SUFFIXES)


@pytest.mark.slow
def test_the_pure_python_package_simulates_exactly_what_the_installed_one_does(tmp_path: Path) -> None:
    pure = tmp_path / "pure"
    shutil.copytree(PACKAGE, pure / "lambdalab", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    reference = _run(pure)
    installed = _run(None)
    assert all(m.endswith(".py") and m.startswith(str(pure)) for m in reference["modules"]), reference["modules"]
    assert reference["summaries"] == installed["summaries"]
    assert reference["latency_ms"] == installed["latency_ms"]
    assert reference["summaries"][1]["throttles"] > 0 and reference["summaries"][1]["errors"] > 0  # a busy run


@pytest.mark.skipif(
    os.environ.get("LAMBDALAB_PURE_PYTHON", "") not in ("", "0"), reason="installed with LAMBDALAB_PURE_PYTHON=1"
)
def test_the_installed_core_and_simulator_are_compiled() -> None:
    assert _is_compiled(lambdalab.core.lifecycle) and _is_compiled(lambdalab.sim.driver), (
        "the core runs as pure Python: the build could not compile it (see the pip log for 'lambdalab:'), "
        "or install with LAMBDALAB_PURE_PYTHON=1 on purpose"
    )
