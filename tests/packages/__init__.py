"""Tests of lambdalab.packages, and their helpers.

``make_wheel`` builds tiny wheels and ``offline`` points pip at them, so pip runs need no network;
``make_tree`` writes a folder of files (a layer, a task root) and ``zip_bytes`` a .zip of them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path


def make_wheel(
    where: Path, name: str, version: str, *, files: dict[str, str] | None = None, requires: tuple[str, ...] = ()
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` (pure Python) into ``where`` and return its path.

    ``files`` maps paths inside the wheel to their text; the default is ``<name>/__init__.py``
    setting ``VERSION``. ``requires`` become ``Requires-Dist`` lines.
    """
    files = files or {f"{name}/__init__.py": f"VERSION = {version!r}\n"}
    dist_info = f"{name}-{version}.dist-info"
    meta = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires)]
    )
    entries = {
        **files,
        f"{dist_info}/METADATA": meta,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lambdalab-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    entries[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    where.mkdir(parents=True, exist_ok=True)
    wheel = where / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in entries.items():
            zf.writestr(path, text)
    return wheel


def offline(wheels: Path) -> list[str]:
    """pip arguments that install only from the wheels in ``wheels`` (no index, no network)."""
    return ["--no-index", "--find-links", str(wheels)]


def make_tree(root: Path, files: dict[str, str], *, executable: tuple[str, ...] = ()) -> Path:
    """Write ``files`` (relative path -> text) under ``root``, ``executable`` ones mode 755; returns ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel in executable:
            path.chmod(0o755)
    return root


def zip_bytes(files: dict[str, str]) -> bytes:
    """A deflated .zip holding ``files`` (path inside the archive -> text)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, text in files.items():
            archive.writestr(rel, text)
    return buffer.getvalue()
