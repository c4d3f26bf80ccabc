"""Lambda layers: a versioned store, references from functions, and the merged ``/opt`` a runtime sees.

    store = LayerStore(root, region="us-east-1", account_id="123456789012")
    v1 = store.publish("deps", Path("layer/"))       # or the .zip's bytes → arn:aws:lambda:…:layer:deps:1
    layers = store.resolve_all([v1.arn, "./other-layer"], layer_map=load_layer_map("layers.yaml"))
    check_total_size(code_bytes, layers)               # Lambda's 250 MB rule, with its message
    opt = store.view(layers)                           # merged once, cached: opt.python_paths, bin_dir, lib_dir

Layout under ``root``: ``content/<sha256 of the .zip>/`` holds each distinct archive unpacked once
and never changed (two versions with the same bytes share it); ``views/<digest>/`` each merged
``/opt`` (one per ordered list of contents); ``index.json`` the published versions. Version numbers
count up per name and are never reused, as on Lambda; deleting a version keeps its files, because
functions already using it keep working on Lambda.

A folder is published as the .zip ``sam`` would upload (entries sorted, deflated), so ``CodeSize``
and ``CodeSha256`` (base64 of the sha256, as Lambda reports it) describe that archive. A path given
on a function (``layers=["./dir"]``) becomes an unpublished layer of version 0 named after the
folder; a layer-map file maps ARNs (a SAM template's, another account's) to local folders.

The merged ``/opt`` (later layer wins, hard links, read-only) is ``opt.merge``; ``view`` caches one per
ordered list of layers. The errors, the ``LayerVersion`` record and Lambda's limits are in
``layer_rules`` and re-exported here, so this is the one module to import.

Rules: no api; of the engine only ``packages.zips`` (unpacking, copying); errors are ``LayerError``
(a ``ConfigError``) carrying Lambda's ``code``, ``status`` and exact ``message``, plus a lambdalab
``hint`` where one helps.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.packages._fs import locked, read_json, write_json
from lambdalab.packages.layer_rules import (
    LAYER_ARN,
    MAX_LAYERS,
    LayerError,
    LayerValidationError,
    LayerVersion,
    LayerVersionNotFoundError,
    UnknownLayerError,
    check_layer_refs,
    check_total_size,
    validate_name,
)
from lambdalab.packages.opt import OptView, merge
from lambdalab.packages.zips import copy_folder, unpack


# -------------------------------------------------------------------------------------------- layer maps
def load_layer_map(path: Path) -> dict[str, Path]:
    """ARNs → local folders (or .zip files) from a JSON or YAML mapping; relative paths are from the file.

    A key is a layer version ARN (``…:layer:name:3``) or a layer ARN without a version (every version).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"invalid layer map: cannot read {str(path)!r} ({exc.strerror})") from None
    data = _parse_mapping(text, path)
    out: dict[str, Path] = {}
    for arn, target in data.items():
        if not isinstance(arn, str) or LAYER_ARN.fullmatch(arn) is None or not isinstance(target, str):
            raise ConfigError(f"invalid layer map {path}: {arn!r}: {target!r} is not 'layer ARN: local path'")
        local = (path.parent / os.path.expanduser(target)).resolve()
        if not local.exists():
            raise ConfigError(f"invalid layer map {path}: {arn} maps to {str(local)!r}, which does not exist")
        out[arn] = local
    return out


def _parse_mapping(text: str, path: Path) -> dict[Any, Any]:
    try:
        data = json.loads(text) if path.suffix == ".json" else _yaml(text)
    except ValueError as exc:
        raise ConfigError(
            f"invalid layer map: {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'} ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid layer map: {path} does not hold a mapping of layer ARNs to folders")
    return data


def _yaml(text: str) -> Any:
    import yaml  # a dependency of lambdalab (templates); imported only for a YAML map

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


# -------------------------------------------------------------------------------------------- archives
def folder_zip(folder: Path) -> bytes:
    """The .zip of a folder as a deploy tool uploads it: entries sorted, deflated, modes kept, fixed times."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                path = Path(dirpath, name)
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(data: bytes) -> str:
    """Lambda's ``CodeSha256``: the base64 of the archive's sha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def now_iso() -> str:
    """Lambda's ``CreatedDate`` format: ``2018-11-27T15:10:45.123+0000``."""
    stamp = datetime.now(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


# -------------------------------------------------------------------------------------------- store
class LayerStore:
    """The published layer versions of one account and region, their unpacked files and merged views."""

    def __init__(self, root: Path, region: str = "us-east-1", account_id: str = "123456789012") -> None:
        self.root = Path(root)
        self.region, self.account_id = region, account_id
        (self.root / "content").mkdir(parents=True, exist_ok=True)
        self._local: dict[str, LayerVersion] = {}  # unpublished layers (paths, layer-map entries) by ARN

    def arn(self, name: str, version: int | None = None) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}"
        return base if version is None else f"{base}:{version}"

    # -- the API's operations -------------------------------------------------------------------
    def publish(
        self,
        name: str,
        content: bytes | str | Path,
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] = (),
        compatible_architectures: Sequence[str] = (),
        license_info: str | None = None,
    ) -> LayerVersion:
        """PublishLayerVersion: ``content`` is the .zip's bytes, a .zip file or a folder; numbers count 1, 2, …"""
        name = self._own_name(name)
        if len(description) > 256:
            raise LayerValidationError(
                f"1 validation error detected: Value '{description}' at 'description' failed "
                "to satisfy constraint: Member must have length less than or equal to 256"
            )
        sha, size, unzipped, folder = self._ingest(content)
        with self._index() as index:
            entry = index.setdefault(name, {"next": 1, "versions": {}})
            version = entry["next"]
            entry["next"] = version + 1
            record = LayerVersion(
                name,
                version,
                self.arn(name, version),
                folder,
                sha,
                size,
                unzipped,
                description,
                tuple(compatible_runtimes),
                tuple(compatible_architectures),
                license_info,
                now_iso(),
            )
            entry["versions"][str(version)] = _to_json(record)
        return record

    def get(self, name_or_arn: str, version: int | None = None) -> LayerVersion:
        """GetLayerVersion (a name or layer ARN plus ``version``) or GetLayerVersionByArn (a version ARN)."""
        arn = self._version_arn(name_or_arn, version)
        found = self._published(arn) or self._local.get(arn)
        if found is None:
            raise LayerVersionNotFoundError("The resource you requested does not exist.", hint=f"no layer {arn}")
        return found

    def list_layers(self, compatible_runtime: str | None = None) -> list[LayerVersion]:
        """ListLayers: the newest (matching) version of each layer, by name."""
        out = []
        for name in sorted(self._load()):
            versions = self.list_versions(name, compatible_runtime)
            if versions:
                out.append(versions[0])
        return out

    def list_versions(self, name_or_arn: str, compatible_runtime: str | None = None) -> list[LayerVersion]:
        """ListLayerVersions: newest first; an unknown name has none."""
        entry = self._load().get(self._own_name(name_or_arn), {"versions": {}})
        versions = [_from_json(record) for record in entry["versions"].values()]
        if compatible_runtime is not None:
            versions = [v for v in versions if compatible_runtime in v.compatible_runtimes]
        return sorted(versions, key=lambda v: v.version, reverse=True)

    def delete(self, name_or_arn: str, version: int) -> None:
        """DeleteLayerVersion: idempotent; the files stay, for functions that already use the version."""
        name = self._own_name(name_or_arn)
        with self._index() as index:
            index.get(name, {"versions": {}})["versions"].pop(str(version), None)

    # -- functions' references ------------------------------------------------------------------
    def resolve_all(
        self, refs: Sequence[str | Path], *, layer_map: dict[str, Path] | None = None
    ) -> tuple[LayerVersion, ...]:
        """A function's ``Layers``, checked as Lambda checks them, each resolved (see ``resolve``)."""
        check_layer_refs(refs)
        return tuple(self.resolve(ref, layer_map=layer_map) for ref in refs)

    def resolve(self, ref: str | Path, *, layer_map: dict[str, Path] | None = None) -> LayerVersion:
        """A version ARN (published here, seen before, or in ``layer_map``), or a local folder or .zip."""
        text = str(ref)
        if isinstance(ref, str) and text.startswith("arn:"):
            match = LAYER_ARN.fullmatch(text)
            if match is None or match.group("version") is None:
                raise LayerValidationError(
                    f"1 validation error detected: Value '[{text}]' at 'layers' failed to satisfy constraint: Member "
                    "must satisfy constraint: [Member must satisfy regular expression pattern: "
                    f"{LAYER_ARN.pattern}]"
                )
            found = self._published(text) or self._local.get(text)
            if found is not None:
                return found
            mapped = (layer_map or {}).get(text) or (layer_map or {}).get(text.rsplit(":", 1)[0])
            if mapped is None:
                raise UnknownLayerError(
                    f"Layer version {text} does not exist.",
                    hint="lambdalab has no layer with that ARN: publish one with "
                    "publish_layer_version, or map the ARN to a local folder in a layer map",
                )
            return self._unpublished(mapped, arn=text, source="layer-map")
        path = Path(ref)
        if not path.exists():
            raise ConfigError(f"invalid layer: {text!r} is neither a layer version ARN nor an existing folder or .zip")
        return self._unpublished(path, arn=None, source="local")

    def view(self, layers: Sequence[LayerVersion], *, python_version: str | None = None) -> OptView:
        """The merged ``/opt`` of these layers in this order, built once under ``root/views`` and reused."""
        digest = hashlib.sha256("\n".join(f"{v.arn}\0{v.content}" for v in layers).encode()).hexdigest()[:32]
        views = self.root / "views"
        views.mkdir(exist_ok=True)
        with locked(views / f"{digest}.lock"):
            return merge(layers, views / digest, python_version=python_version)

    # -- internals ------------------------------------------------------------------------------
    def _own_name(self, name_or_arn: str) -> str:
        validate_name(name_or_arn)
        match = LAYER_ARN.fullmatch(name_or_arn)
        if match is None:
            return name_or_arn
        if (match.group("region"), match.group("account")) != (self.region, self.account_id):
            raise LayerError(
                f"Layer {name_or_arn} is not in this account and region.",
                hint=f"lambdalab's store is {self.account_id} in {self.region}",
            )
        return match.group("name")

    def _version_arn(self, name_or_arn: str, version: int | None) -> str:
        if version is None:
            match = LAYER_ARN.fullmatch(name_or_arn)
            if match is None or match.group("version") is None:
                raise LayerValidationError(
                    f"1 validation error detected: Value '{name_or_arn}' at 'arn' failed to "
                    f"satisfy constraint: Member must satisfy regular expression pattern: "
                    f"{LAYER_ARN.pattern}"
                )
            return name_or_arn
        return self.arn(self._own_name(name_or_arn), int(version))

    def _published(self, arn: str) -> LayerVersion | None:
        match = LAYER_ARN.fullmatch(arn)
        if match is None or (match.group("region"), match.group("account")) != (self.region, self.account_id):
            return None
        record = self._load().get(match.group("name"), {"versions": {}})["versions"].get(match.group("version"))
        return None if record is None else _from_json(record)

    def _unpublished(self, path: Path, *, arn: str | None, source: str) -> LayerVersion:
        sha, size, unzipped, folder = self._ingest(path)
        if arn is None:
            stem = re.sub(r"[^a-zA-Z0-9_-]", "-", path.stem)[:60] or "layer"
            arn = self.arn(f"{stem}-{folder.name[:8]}", 0)
        known = self._local.get(arn)
        if known is not None and known.content == folder:
            return known
        match = LAYER_ARN.fullmatch(arn)
        assert match is not None
        layer = LayerVersion(
            match.group("name"),
            int(match.group("version")),
            arn,
            folder,
            sha,
            size,
            unzipped,
            f"lambdalab: {source} layer from {path}",
            created_date=now_iso(),
            source=source,
        )
        self._local[arn] = layer
        return layer

    def _ingest(self, content: bytes | str | Path) -> tuple[str, int, int, Path]:
        """(CodeSha256, CodeSize, unzipped bytes, content folder) of a .zip's bytes, a .zip file or a folder."""
        if isinstance(content, str):
            content = Path(content)
        if isinstance(content, (bytes, bytearray)):
            data = bytes(content)
        elif isinstance(content, os.PathLike) and Path(content).is_dir():
            return self._ingest_folder(Path(content))
        elif isinstance(content, os.PathLike) and Path(content).is_file():
            data = Path(content).read_bytes()
        else:
            raise ConfigError(
                f"invalid layer content: expected the .zip's bytes, a .zip file or a folder, got {content!r}"
            )
        hexsha = hashlib.sha256(data).hexdigest()
        folder = self._content(hexsha, lambda dest: unpack(data, dest, operation="PublishLayerVersion"))
        return code_sha256(data), len(data), self._unzipped(hexsha), folder

    def _ingest_folder(self, src: Path) -> tuple[str, int, int, Path]:
        memo = self.root / "content" / "folders" / f"{_folder_digest(src)}.json"
        known = read_json(memo)
        if known is not None and (self.root / "content" / known["hexsha"]).is_dir():
            return known["sha"], known["size"], self._unzipped(known["hexsha"]), self.root / "content" / known["hexsha"]
        data = folder_zip(src)
        hexsha = hashlib.sha256(data).hexdigest()
        folder = self._content(hexsha, lambda dest: copy_folder(src, dest))
        memo.parent.mkdir(exist_ok=True)
        write_json(memo, {"hexsha": hexsha, "sha": code_sha256(data), "size": len(data)})
        return code_sha256(data), len(data), self._unzipped(hexsha), folder

    def _content(self, hexsha: str, fill: Any) -> Path:
        """``content/<hexsha>``, filled once by ``fill(staging) -> bytes`` and renamed into place."""
        final = self.root / "content" / hexsha
        if final.is_dir():
            return final
        staging = Path(tempfile.mkdtemp(prefix=f".{hexsha[:16]}-", dir=self.root / "content"))
        try:
            written = fill(staging)
            write_json(self.root / "content" / f"{hexsha}.json", {"unzipped_size": written})
            with contextlib.suppress(OSError):  # another publish of the same bytes got there first
                staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def _unzipped(self, hexsha: str) -> int:
        return int(read_json(self.root / "content" / f"{hexsha}.json")["unzipped_size"])

    def _load(self) -> dict[str, Any]:
        return read_json(self.root / "index.json") or {}

    @contextlib.contextmanager
    def _index(self) -> Iterator[dict[str, Any]]:
        with locked(self.root / ".index.lock"):
            index = self._load()
            yield index
            write_json(self.root / "index.json", index)


def _folder_digest(root: Path) -> str:
    """sha256 over what ``folder_zip`` reads: relative paths, modes and contents."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            digest.update(f"{path.relative_to(root).as_posix()}\0{os.stat(path).st_mode & 0o777}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _to_json(layer: LayerVersion) -> dict[str, Any]:
    return asdict(layer) | {"content": str(layer.content)}


def _from_json(record: dict[str, Any]) -> LayerVersion:
    return LayerVersion(
        **(
            record
            | {
                "content": Path(record["content"]),
                "compatible_runtimes": tuple(record["compatible_runtimes"]),
                "compatible_architectures": tuple(record["compatible_architectures"]),
            }
        )
    )


__all__ = [
    "MAX_LAYERS",
    "LayerError",
    "LayerStore",
    "LayerValidationError",
    "LayerVersion",
    "LayerVersionNotFoundError",
    "OptView",
    "UnknownLayerError",
    "check_layer_refs",
    "check_total_size",
    "code_sha256",
    "folder_zip",
    "load_layer_map",
    "merge",
    "validate_name",
]
