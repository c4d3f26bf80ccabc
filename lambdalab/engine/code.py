"""Task roots: each deployed code version as an importable folder, named by its content hash.

``source=`` (a cell's text) becomes ``<module>.py``; ``path=`` copies a file or a folder. The
folder is written once and never changed, so a version's code is immutable while environments
run it, as on Lambda.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from lambdalab.errors import ConfigError


def _digest_tree(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(item.relative_to(path)).encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()


def write_task_root(root: Path, name: str, module: str, *, source: str | None, path: str | Path | None) -> tuple[Path, str]:
    """Materialise the code under ``root``; returns (task root, sha256 of the code)."""
    if (source is None) == (path is None):
        raise ConfigError("give exactly one of source= (handler code) or path= (a .py file or a folder)")
    staging = root / f".staging-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if source is not None:
        if not isinstance(source, str):
            raise ConfigError(f"invalid source: expected the handler's code as a string, got {type(source).__name__}")
        target = staging / (module.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    else:
        src = Path(path)  # type: ignore[arg-type]
        if src.is_dir():
            shutil.copytree(src, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, staging / src.name)
        else:
            raise ConfigError(f"invalid path: {str(src)!r} is neither a file nor a folder")
    sha = _digest_tree(staging)
    final = root / name / sha[:16]
    if final.exists():
        shutil.rmtree(staging)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
    return final, sha
