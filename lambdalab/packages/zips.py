"""Deployment packages: a .zip (or a folder) turned into files under a task root, within Lambda's limits.

Lambda's quotas (AWS docs, "Lambda quotas", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
50 MB zipped for a direct upload, 250 MB unzipped counting the
package *and* its layers (so a caller with layers passes a smaller ``budget``; Lambda's message then
names that smaller number). The unzipped size is checked twice: the sum of every entry's declared size
before anything is written, and the bytes actually written while writing, so an archive whose headers
lie stops at the budget. Entries that are symbolic links, absolute paths or climb out with ``..`` are
refused, and every path is resolved and checked to stay under the destination.

Rules: blocking work (call it on a worker thread, never on an event loop); writes only under ``dest``
and leaves cleaning a half-written ``dest`` to the caller; raises ``ConfigError`` (400
InvalidParameterValueException on the wire) or ``RequestTooLargeException`` (413) with Lambda's messages.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path

from lambdalab.errors import ConfigError, RequestTooLargeException
from lambdalab.packages.limits import UNZIPPED_MAX_BYTES as UNZIPPED_MAX_BYTES  # re-exported: stated once there
from lambdalab.packages.limits import ZIPPED_MAX_BYTES as ZIPPED_MAX_BYTES

REQUEST_MAX_BYTES = 69_905_067  # 50 MB as base64 in a JSON body: Lambda's cap on the request
CANNOT_UNZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 1 << 20


def request_too_large(operation: str = "CreateFunction") -> RequestTooLargeException:
    """Lambda's 413 for a code upload over the direct-upload limit."""
    return RequestTooLargeException(
        f"Request must be smaller than {REQUEST_MAX_BYTES} bytes for the {operation} operation"
    )


def unzipped_too_large(budget: int = UNZIPPED_MAX_BYTES) -> ConfigError:
    return ConfigError(f"Unzipped size must be smaller than {budget} bytes")


def cannot_unzip(reason: str) -> ConfigError:
    return ConfigError(f"{CANNOT_UNZIP} (lambdalab: {reason})")


def unpack(
    archive: bytes | Path, dest: Path, *, budget: int = UNZIPPED_MAX_BYTES, operation: str = "CreateFunction"
) -> int:
    """Unpack ``archive`` (the .zip's bytes, or a .zip file) into the folder ``dest``; returns bytes written."""
    size = len(archive) if isinstance(archive, (bytes, bytearray)) else _file_size(archive)
    if size > ZIPPED_MAX_BYTES:
        raise request_too_large(operation)
    source = io.BytesIO(archive) if isinstance(archive, (bytes, bytearray)) else archive
    try:
        with zipfile.ZipFile(source) as opened:
            return _extract(opened, dest.resolve(), budget)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise cannot_unzip(str(exc) or type(exc).__name__) from None


def copy_folder(src: Path, dest: Path, *, budget: int = UNZIPPED_MAX_BYTES) -> int:
    """Copy a folder (``path=``) into ``dest``, refused past the unzipped budget; returns bytes copied.

    Symbolic links are followed (their targets are copied as files and folders); one that cannot be
    followed (dangling, a loop, or a folder link back to a folder it is in) is a ``ConfigError``
    naming it, found before anything is copied through it.
    """
    copied = 0
    src = Path(src)

    def copy(source: str, target: str) -> None:
        nonlocal copied
        copied += os.stat(source).st_size
        if copied > budget:
            raise unzipped_too_large(budget)
        shutil.copy2(source, target)

    def ignore(folder: str, names: list[str]) -> set[str]:
        _check_links(src, Path(folder), names)
        return {"__pycache__"} & set(names)

    try:
        shutil.copytree(src, dest, dirs_exist_ok=True, ignore=ignore, copy_function=copy)
    except shutil.Error as exc:  # anything else copytree collected: an unreadable file...
        source, _, why = exc.args[0][0]
        raise ConfigError(
            f"invalid path: cannot copy {_relative(src, Path(source))!r} from {str(src)!r} ({why})"
        ) from None
    return copied


def _check_links(src: Path, folder: Path, names: list[str]) -> None:
    """Refuse a symbolic link in ``folder`` (a folder of the copy of ``src``) that the copy could not follow."""
    walked = None
    for name in names:
        entry = folder / name
        if not entry.is_symlink():
            continue
        try:
            os.stat(entry)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise ConfigError(
                    f"invalid path: {_relative(src, entry)!r} is a symbolic link to "
                    f"{os.path.realpath(entry)}, which does not exist"
                ) from None
            raise ConfigError(
                f"invalid path: {_relative(src, entry)!r} is a symbolic link loop ({exc.strerror})"
            ) from None
        if entry.is_dir():
            if walked is None:  # the real folders on the way from src down to ``folder``
                parts = folder.relative_to(src).parts
                walked = {os.path.realpath(src.joinpath(*parts[:i])) for i in range(len(parts) + 1)}
            if os.path.realpath(entry) in walked:
                raise ConfigError(
                    f"invalid path: {_relative(src, entry)!r} is a symbolic link loop (it leads back "
                    f"to {os.path.realpath(entry)}, a folder it is in)"
                )


def _relative(src: Path, entry: Path) -> str:
    try:
        return entry.relative_to(src).as_posix()
    except ValueError:
        return str(entry)


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, resolved; ``ConfigError`` if it would land outside ``root`` (``root`` resolved)."""
    target = (root / relative).resolve()
    if target != root and not target.is_relative_to(root):
        raise ConfigError(f"invalid path: {relative!r} resolves outside the task root")
    return target


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"invalid path: cannot read {str(path)!r} ({exc.strerror})") from None


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise cannot_unzip(f"entry {name!r} is a symbolic link; lambdalab unpacks regular files only")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise cannot_unzip(f"entry {name!r} is an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise cannot_unzip(f"entry {name!r} climbs out of the package with '..'")


def _extract(archive: zipfile.ZipFile, root: Path, budget: int) -> int:
    entries = archive.infolist()
    for info in entries:
        _check_entry(info)
    if sum(info.file_size for info in entries) > budget:
        raise unzipped_too_large(budget)
    written = 0
    for info in entries:
        target = inside(root, info.filename)
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        written = _write(archive, info, target, written, budget)
    return written


def _write(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int, budget: int) -> int:
    """Write one entry, counting what really comes out of the decompressor against the budget."""
    with archive.open(info) as source, open(target, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > budget:
                raise unzipped_too_large(budget)
            out.write(chunk)
    mode = (info.external_attr >> 16) & 0o777
    if mode:
        os.chmod(target, mode | 0o600)  # keep executable bits (bin/), never lock the owner out
    return written
