"""Tests of lambdalab.packages; ``make_wheel`` builds tiny wheels so pip runs need no network."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(where: Path, name: str, version: str, *, files: dict[str, str] | None = None,
               requires: tuple[str, ...] = ()) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` (pure Python) into ``where`` and return its path.

    ``files`` maps paths inside the wheel to their text; the default is ``<name>/__init__.py``
    setting ``VERSION``. ``requires`` become ``Requires-Dist`` lines.
    """
    files = files or {f"{name}/__init__.py": f"VERSION = {version!r}\n"}
    dist_info = f"{name}-{version}.dist-info"
    meta = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                    *(f"Requires-Dist: {r}\n" for r in requires)])
    entries = {**files, f"{dist_info}/METADATA": meta,
               f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: lambdalab-tests\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n"}
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
