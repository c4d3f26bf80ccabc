"""Build lambdalab. The shared core and the simulator are compiled with mypyc when it can be done.

``pyproject.toml`` holds the metadata; this file only adds the compiled modules. The pure-Python
modules are always installed too and stay the reference: set ``LAMBDALAB_PURE_PYTHON=1`` to
install without compiling (``pip install -e .`` then runs the ``.py`` files; ``make dev`` does that, and
removes compiled modules an earlier build left beside the sources). When mypyc or a C compiler is missing, or
compiling fails, the build warns and installs the pure-Python package. ``lambdalab.devcheck`` warns at run
time when a compiled module is older than its ``.py`` (an edit that would otherwise be silently ignored).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _devcheck() -> ModuleType:
    """lambdalab/devcheck.py, loaded by path (the package is not importable while it builds): it names the
    modules compiled here, and warns at run time when one of them is older than its source."""
    spec = importlib.util.spec_from_file_location("_lambdalab_devcheck", HERE / "lambdalab" / "devcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPILED = [str(p.relative_to(HERE)) for p in _devcheck().compiled_sources(HERE / "lambdalab")]


def _remove_stale_builds() -> None:
    """Compiled modules left in the source tree by an earlier in-place or editable build shadow their ``.py``
    files: when this build compiles nothing, remove them, so the ``.py`` being installed is what runs."""
    for source in COMPILED:
        for built in (HERE / source).parent.glob(Path(source).stem + ".cpython-*.so"):
            built.unlink()
    for group in HERE.glob("*__mypyc.cpython-*.so"):
        group.unlink()


def _compiled_modules() -> list:
    if os.environ.get("LAMBDALAB_PURE_PYTHON", "") not in ("", "0"):
        _remove_stale_builds()
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("lambdalab: mypyc is not available; installing the pure-Python core", file=sys.stderr)
        _remove_stale_builds()
        return []
    # ignore_missing_imports/follow_imports: mypy must not type-check (or fail on) the rest of the
    # package, or third-party packages, while building.
    try:
        return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED], opt_level="3")
    except BaseException as exc:  # noqa: BLE001 - mypyc exits on a type error: fall back, loudly
        print(
            f"lambdalab: mypyc could not compile the core ({exc!r}); installing the pure-Python core", file=sys.stderr
        )
        _remove_stale_builds()
        return []


class OptionalBuildExt(build_ext):
    """Compile if we can; otherwise leave the pure-Python modules in charge (never a broken mix)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "pure Python"
            self._give_up(exc)

    def _give_up(self, exc: BaseException) -> None:
        print(f"lambdalab: compiling the core failed ({exc}); installing the pure-Python core", file=sys.stderr)
        for ext in self.extensions:  # remove whatever part was built, so no half-compiled package is imported
            for base in (Path(self.build_lib), HERE):
                built = base / self.get_ext_filename(ext.name)
                if built.exists():
                    built.unlink()


setup(ext_modules=_compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
