"""Deploying a function's ``$LATEST``: the steps between a validated ``FunctionConfig`` and the control plane.

``prepare`` resolves the layers (published, layer-map or local), builds the dependencies
(``requirements=``, or a ``requirements.txt`` at the top of a ``path=`` folder; pip runs here, on the
caller's thread, never on the engine's loop), writes the task root, checks Lambda's unzipped total
(package + layers) and assembles the runtime's search paths. ``Lab`` hands the result to the control
plane and keeps the ``Package`` for ``Function.code_size`` and ``Function.layer_versions``.

Rules: no engine loop and no processes of a function here; every refusal (``ConfigError``, the layer
store's ``LayerError``) comes before the control plane sees anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab import runtime_catalog, runtime_ids
from lambdalab.config import FunctionConfig
from lambdalab.engine.code import tree_size, write_task_root
from lambdalab.engine.runtimes import RuntimePaths
from lambdalab.errors import ConfigError
from lambdalab.packages.layers import LayerStore, LayerVersion, check_total_size

if TYPE_CHECKING:
    from lambdalab.packages.deps import DependencyBuild

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Package:
    """What one deployed ``$LATEST`` ships besides its code: built dependencies, resolved layers, sizes."""

    dependencies: DependencyBuild | None
    layers: tuple[LayerVersion, ...]
    code_size: int
    pip_args: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Deployment:
    """A written task root, its sha256, the runtime's search paths, and the package they make up."""

    code_dir: Path
    sha: str
    paths: RuntimePaths
    package: Package


def prepare(
    config: FunctionConfig,
    *,
    code_root: Path,
    layer_store: LayerStore,
    layer_map: Mapping[str, Path],
    runtime_dir: Callable[[str], Path],
    source: str | None = None,
    path: str | Path | None = None,
    archive: bytes | None = None,
    progress: Progress | None = None,
    pip_args: Sequence[str] = (),
) -> Deployment:
    """Resolve the layers, build the dependencies, write the code under ``code_root``, check the sizes."""
    if isinstance(pip_args, str) or not all(isinstance(a, str) for a in pip_args):
        raise ConfigError(f"invalid pip_args: {pip_args!r}; expected a list of pip options")
    runtime_catalog.resolve(config.runtime)  # installed here, or a ConfigError naming what to install
    python = runtime_ids.language(config.runtime) == "python"
    if config.requirements and not python:
        raise ConfigError(
            f"invalid requirements: they are built with pip for Python functions; a {config.runtime} "
            "function ships its dependencies in its package (node_modules) or in a layer"
        )
    layers = layer_store.resolve_all(config.layers, layer_map=dict(layer_map))
    if runtime_ids.language(config.runtime) == "provided" and source is not None and not source.startswith("#!"):
        raise ConfigError(
            "invalid source: a custom runtime's source is its bootstrap, a script that starts with a "
            "'#!' line (#!/bin/bash); give path= for a folder or a compiled bootstrap"
        )
    dependencies = _build_dependencies(config, path, progress, tuple(pip_args)) if python else None
    module, _ = config.module_and_function
    code_dir, sha = write_task_root(
        code_root, config.name, module, source=source, path=path, archive=archive, runtime=config.runtime
    )
    code_size = tree_size(code_dir) + (dependencies.size_bytes if dependencies is not None else 0)
    check_total_size(code_size, layers)
    opt = layer_store.view(layers) if layers else None
    paths = RuntimePaths.build(
        dependencies=dependencies.path if dependencies is not None else None,
        layer_python=opt.python_paths if opt is not None else (),
        layer_bin=(opt.bin_dir,) if opt else (),
        layer_lib=(opt.lib_dir,) if opt else (),
        runtime_dir=runtime_dir(config.runtime) if python else None,
        inherit_packages=config.inherit_packages,
        opt=opt.root if opt is not None else None,
    )
    return Deployment(code_dir, sha, paths, Package(dependencies, layers, code_size, tuple(pip_args)))


def _build_dependencies(
    config: FunctionConfig, path: str | Path | None, progress: Progress | None, pip_args: tuple[str, ...]
) -> DependencyBuild | None:
    """``requirements=``, else a ``requirements.txt`` at the top of a ``path=`` folder, built (or found cached)."""
    from lambdalab.packages.deps import build_dependencies, default_cache_dir

    requirements: Sequence[str] | Path | None = config.requirements or None
    if requirements is None and isinstance(path, (str, Path)) and (Path(path) / "requirements.txt").is_file():
        requirements = Path(path) / "requirements.txt"
    if requirements is None:
        return None
    return build_dependencies(requirements, cache_dir=default_cache_dir(), progress=progress, pip_args=pip_args)
