"""Deployment packages for AWS: the same code, dependencies and layers the local Lab runs, as .zip bytes.

A package is built in a staging folder under the Lab's working folder: the dependencies first (built like
``pip install -t`` by ``lambdalab.packages.deps``, cached), then the code on top (a cell's source as
``lambda_function.py``, a .py file, a folder, a .zip file or a .zip's bytes), so the function's own files win
over a dependency of the same name, as in the local task root. Then it is zipped as a deploy tool does.

For AWS itself, dependencies are built for Lambda's platform (``pip_platform_args``: manylinux2014 wheels
of the runtime's Python version, binary only), not for this machine; for a stand-in on this machine they are
built for the interpreter that will run them.

Rules: no boto3 here; writes only under the folder it is given; Lambda's limits and errors
(``lambdalab.packages.zips``).
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalab import runtime_ids
from lambdalab.config import FunctionConfig, check_handler
from lambdalab.errors import ConfigError
from lambdalab.packages import zips
from lambdalab.packages.layers import folder_zip

MARKER = ".lambdalab-deps.json"  # the dependency cache's own file (lambdalab.packages.deps), not shipped
_LAYER_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class Code:
    """Where a function's code comes from: exactly one of ``source``, ``path``, ``zip_file``."""

    source: str | None = None
    path: str | Path | None = None
    zip_file: bytes | None = None

    def check(self) -> None:
        if sum(x is not None for x in (self.source, self.path, self.zip_file)) != 1:
            raise ConfigError(
                "give exactly one of source= (handler code), path= (a .py file, a folder or a .zip) "
                "or zip_file= (a .zip's bytes)"
            )
        if self.source is not None and not isinstance(self.source, str):
            raise ConfigError(f"invalid source: expected the handler's code as a string, got {type(self.source)}")
        if self.path is not None and not Path(self.path).exists():
            raise ConfigError(f"invalid path: {str(self.path)!r} is neither a file nor a folder")


def lambda_runtime(runtime: str, node_version: str | None = None) -> str:
    """Lambda's identifier for ``runtime``: ``python`` -> this interpreter's (``python3.11``); an identifier stays."""
    if not isinstance(runtime, str) or runtime_ids.kind(runtime) is None:
        raise ConfigError(f"invalid runtime: {runtime!r}; expected {runtime_ids.describe()}")
    found = runtime_ids.identifier(runtime, node_version)
    if found == "nodejs":
        raise ConfigError("invalid runtime: 'nodejs' needs Node.js here to name its version; give nodejsNN.x")
    return found


def config_for(name: str, runtime: str, **settings: object) -> FunctionConfig:
    """The local ``FunctionConfig`` of these settings: the same checks (and messages) as the local Lab's.

    The runtime is checked as its kind (``python3.12`` as ``python``): the Python version is AWS's to run,
    not this machine's.
    """
    kind = runtime_ids.kind(runtime) if isinstance(runtime, str) else None
    if kind is None:
        raise ConfigError(f"invalid runtime: {runtime!r}; expected {runtime_ids.describe()}")
    return FunctionConfig(name=name, runtime=kind, **settings)  # type: ignore[arg-type]


def configuration(name: str, settings: Mapping[str, Any], code: Code) -> dict[str, Any]:
    """CreateFunction's configuration fields for the local Lab's keywords ``settings``, checked as it checks them
    (``ConfigError`` with its messages) before anything is built or sent."""
    runtime = settings["runtime"]
    checked = config_for(
        name,
        runtime,
        memory_mb=settings["memory_mb"],
        timeout_s=settings["timeout_s"],
        env_vars=settings["env_vars"],
        ephemeral_storage_mb=settings.get("ephemeral_storage_mb", 512),
        log_format=settings.get("log_format", "Text"),
        application_log_level=settings.get("application_log_level"),
        system_log_level=settings.get("system_log_level"),
        snap_start=settings.get("snap_start", False),
    )
    as_given = bool(settings.get("handler_as_given"))
    check_handler(settings["handler"], checked.runtime, as_given=as_given)
    found: dict[str, Any] = {
        "Handler": settings["handler"] if as_given else handler_for(settings["handler"], code, runtime),
        "Runtime": lambda_runtime(runtime),
        "MemorySize": checked.memory_mb,
        "Timeout": math.ceil(checked.timeout_s),  # whole seconds on Lambda
        "Environment": {"Variables": dict(checked.env_vars)},
        "LoggingConfig": {"LogFormat": "JSON" if checked.log_format.upper() == "JSON" else "Text"},
    }
    if settings.get("description"):
        found["Description"] = str(settings["description"])
    if checked.ephemeral_storage_mb != 512:
        found["EphemeralStorage"] = {"Size": checked.ephemeral_storage_mb}
    if checked.application_log_level:
        found["LoggingConfig"]["ApplicationLogLevel"] = checked.application_log_level.upper()
    if checked.system_log_level:
        found["LoggingConfig"]["SystemLogLevel"] = checked.system_log_level.upper()
    if "snap_start" in settings:  # SnapStart on published versions (PublishVersion then waits for the snapshot)
        found["SnapStart"] = {"ApplyOn": "PublishedVersions" if settings["snap_start"] else "None"}
    return found


def handler_for(handler: str, code: Code, runtime: str) -> str:
    """The ``Handler`` Lambda gets, named as the local Lab names it (``handler`` -> ``lambda_function.handler``)."""
    path = code.path
    if (
        isinstance(path, (str, Path))
        and "." not in handler
        and Path(path).suffix != ".zip"
        and Path(path).is_file()
        and runtime_ids.language(runtime) != "provided"
    ):
        handler = f"{Path(path).stem}.{handler}"
    kind = runtime_ids.kind(runtime) or "python"
    return FunctionConfig(name="handler-check", handler=handler, runtime=kind).full_handler


def pip_platform_args(runtime: str) -> tuple[str, ...]:
    """pip's options that build for Lambda's x86_64 Linux and ``runtime``'s Python, binary wheels only."""
    match = re.fullmatch(r"python3\.(\d+)", runtime)
    if match is None:
        raise ConfigError(f"invalid requirements: they are built with pip for Python functions, not {runtime}")
    return (
        "--platform",
        "manylinux2014_x86_64",
        "--only-binary=:all:",
        "--python-version",
        f"3.{match.group(1)}",
        "--implementation",
        "cp",
    )


def build_zip(
    workdir: Path,
    *,
    handler_module: str,
    code: Code,
    runtime: str,
    requirements: Sequence[str] = (),
    pip_args: Sequence[str] = (),
    for_aws: bool = False,
    progress: Callable[[str], None] | None = None,
) -> bytes:
    """The deployment package's bytes: dependencies, then the code; checked against Lambda's limits."""
    code.check()
    staging = Path(tempfile.mkdtemp(prefix="package-", dir=workdir))
    try:
        requirement_source = _requirements(requirements, code)
        if requirement_source is not None:
            if runtime_ids.language(runtime) != "python":
                raise ConfigError(f"invalid requirements: they are built with pip for Python functions, not {runtime}")
            extra = pip_platform_args(runtime) if for_aws else ()
            _add_dependencies(staging, requirement_source, (*pip_args, *extra), progress)
        _add_code(staging, handler_module, code, runtime)
        data = folder_zip(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if len(data) > zips.ZIPPED_MAX_BYTES:
        raise zips.request_too_large()
    return data


def layer_zip(content: str | Path) -> tuple[str, bytes]:
    """A local layer (a folder, or a .zip file) as (its name, the .zip's bytes); the folder is ``/opt``."""
    path = Path(content)
    if path.is_dir():
        data = folder_zip(path)
    elif path.is_file() and path.suffix == ".zip":
        data = path.read_bytes()
    else:
        raise ConfigError(f"invalid layers: {str(content)!r} is not a layer ARN, a folder or a .zip file")
    if len(data) > zips.ZIPPED_MAX_BYTES:
        raise zips.request_too_large("PublishLayerVersion")
    name = _LAYER_NAME.sub("-", path.stem if path.is_file() else path.name).strip("-") or "layer"
    return name, data


def is_layer_arn(ref: str) -> bool:
    return isinstance(ref, str) and ref.startswith("arn:") and ":layer:" in ref


def _requirements(requirements: Sequence[str], code: Code) -> Sequence[str] | Path | None:
    if requirements:
        return list(requirements)
    path = code.path
    if isinstance(path, (str, Path)) and (Path(path) / "requirements.txt").is_file():
        return Path(path) / "requirements.txt"
    return None


def _add_dependencies(
    staging: Path,
    requirements: Sequence[str] | Path,
    pip_args: Sequence[str],
    progress: Callable[[str], None] | None,
) -> None:
    from lambdalab.packages.deps import build_dependencies, default_cache_dir

    built = build_dependencies(requirements, cache_dir=default_cache_dir(), progress=progress, pip_args=pip_args)
    zips.copy_folder(built.path, staging)
    (staging / MARKER).unlink(missing_ok=True)


def _add_code(staging: Path, handler_module: str, code: Code, runtime: str) -> None:
    if code.source is not None:
        filename, mode = runtime_ids.source_filename(runtime, handler_module, code.source)
        target = zips.inside(staging, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code.source)
        target.chmod(mode)
    elif code.zip_file is not None:
        zips.unpack(bytes(code.zip_file), staging)
    else:
        src = Path(code.path)  # type: ignore[arg-type]
        if src.is_dir():
            zips.copy_folder(src, staging)
        elif src.suffix == ".zip":
            zips.unpack(src, staging)
        else:
            single = "bootstrap" if runtime_ids.language(runtime) == "provided" else src.name
            shutil.copy2(src, zips.inside(staging, single))
            if single == "bootstrap":
                (staging / single).chmod(0o755)
