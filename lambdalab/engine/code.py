"""Task roots: each deployed code version as an importable folder, named by its content hash.

``source=`` (a cell's text) becomes ``<module>.py``; ``path=`` copies a file or a folder, and unpacks
a ``.zip`` file; ``archive=`` unpacks a .zip given as bytes (``packages/zips.py`` keeps Lambda's
limits). The folder is written once and never changed, so a version's code is immutable while
environments run it, as on Lambda.

Rules: every path written is resolved and must stay inside the task root (a ``ConfigError``
otherwise, with nothing left behind); a failed write removes its staging folder.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from lambdalab import runtime_ids
from lambdalab.config import check_function_name
from lambdalab.errors import ConfigError
from lambdalab.packages import zips as package

# task root -> the folder its files were copied from (``path=`` a folder or a .py file): what a debugger's
# breakpoints name (engine/debug.py maps one to the other); the last deploys only, across this process's Labs
_ORIGINS: dict[str, str] = {}
_ORIGINS_KEPT = 4096


def origin(task_root: Path) -> str | None:
    """The folder ``task_root``'s files were last copied from; None for a cell's source or a .zip."""
    return _ORIGINS.get(str(task_root))


def _digest_tree(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(item.relative_to(path)).encode() + b"\0")
        with open(item, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (a package's unzipped size, as Lambda counts it)."""
    total = 0
    for item in Path(path).rglob("*"):
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
    return total


def _check_inputs(name: str, source: str | None, path: str | Path | None, archive: bytes | None) -> None:
    check_function_name(name)  # it names folders below
    if sum(x is not None for x in (source, path, archive)) != 1:
        raise ConfigError(
            "give exactly one of source= (handler code), path= (a .py file, a folder or a .zip) "
            "or zip_file= (a .zip's bytes)"
        )
    if source is not None and not isinstance(source, str):
        raise ConfigError(f"invalid source: expected the handler's code as a string, got {type(source).__name__}")
    if path is not None and not isinstance(path, (str, Path)):
        raise ConfigError(f"invalid path: expected a str or Path, got {type(path).__name__}")
    if archive is not None and not isinstance(archive, (bytes, bytearray)):
        raise ConfigError(f"invalid zip_file: expected the .zip's bytes, got {type(archive).__name__}")


def write_task_root(
    root: Path,
    name: str,
    module: str,
    *,
    source: str | None,
    path: str | Path | None,
    archive: bytes | None = None,
    runtime: str = "python",
) -> tuple[Path, str]:
    """Materialise the code under ``root``; returns (task root, sha256 of the code).

    ``runtime`` names the file a cell's source becomes (``runtime_ids.source_filename``); a custom
    runtime's single file (``path=`` a script or a binary) is copied as ``bootstrap``, executable.
    """
    _check_inputs(name, source, path, archive)
    staging = root / f".staging-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _fill(staging.resolve(), module, source, path, archive, runtime)
        sha = _digest_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = root / name / sha[:16]
    if final.exists():
        shutil.rmtree(staging)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
    if path is not None and not str(path).endswith(".zip"):
        copied = Path(path).resolve()
        _ORIGINS.pop(str(final), None)
        _ORIGINS[str(final)] = str(copied if copied.is_dir() else copied.parent)
        while len(_ORIGINS) > _ORIGINS_KEPT:
            del _ORIGINS[next(iter(_ORIGINS))]
    return final, sha


def _fill(
    staging: Path, module: str, source: str | None, path: str | Path | None, archive: bytes | None, runtime: str
) -> None:
    if source is not None:
        filename, mode = runtime_ids.source_filename(runtime, module, source)
        target = package.inside(staging, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        target.chmod(mode)
    elif archive is not None:
        package.unpack(archive, staging)
    else:
        src = Path(path)  # type: ignore[arg-type]
        if src.is_dir():
            package.copy_folder(src, staging)
        elif src.is_file() and src.suffix == ".zip":
            package.unpack(src, staging)
        elif src.is_file():
            if src.stat().st_size > package.UNZIPPED_MAX_BYTES:
                raise package.unzipped_too_large()
            single = "bootstrap" if runtime_ids.language(runtime) == "provided" else src.name
            shutil.copy2(src, package.inside(staging, single))
            if single == "bootstrap":
                (staging / single).chmod(0o755)
        else:
            raise ConfigError(f"invalid path: {str(src)!r} is neither a file nor a folder")
