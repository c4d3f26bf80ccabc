"""What a deployment package puts on a Lambda Python function's paths, and the AWS docs' ``package/`` layout.

On Lambda the runtime's import path starts with the task root (``/var/task``) and takes nothing else
from the package: no ``package/``, no ``vendor/``, no ``.python_packages/lib/site-packages``
(Azure Functions' layout, which Lambda does not know). Packages are "vendored" when they sit at the
root, where ``pip install --target .`` puts them. ``LD_LIBRARY_PATH`` holds ``/var/task`` and
``/var/task/lib`` (AWS docs, "Defined runtime environment variables" in configuration-envvars).

The AWS docs build a package by ``pip install --target ./package``, zipping the *contents* of
``package/`` at the root of the .zip and adding the function's code after it. ``lambda_zip_view``
builds that same tree from such a folder, so a folder laid out as the docs
say runs as its .zip would; a ``package/`` that is an ordinary Python package (it has an
``__init__.py``) is the user's code and is left alone.

    layout = inspect_task_root(folder)
    layout.import_paths        # (folder,): all Lambda adds from the package
    layout.package_dir         # folder/"package" when it is a pip --target folder, else None
    layout.notes               # what will not be importable on Lambda, and why

Rules: reads and links files only; never edits the user's folder.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

AZURE_SITE_PACKAGES = Path(".python_packages", "lib", "site-packages")


@dataclass(frozen=True)
class TaskRootLayout:
    """What a task root gives the runtime, and which of its folders Lambda would not import from."""

    root: Path
    import_paths: tuple[Path, ...]
    library_paths: tuple[Path, ...]
    vendored: tuple[str, ...]
    package_dir: Path | None
    not_on_path: tuple[Path, ...]
    notes: tuple[str, ...]


def inspect_task_root(root: Path) -> TaskRootLayout:
    """The paths Lambda adds from ``root``, the distributions vendored at its top, and the folders it ignores."""
    root = Path(root)
    package = root / "package"
    package_dir = package if is_pip_target(package) else None
    ignored, notes = [], []
    if package_dir is not None:
        notes.append(
            f"package/ holds packages installed with pip --target ({', '.join(distributions(package))}): "
            "Lambda imports them only when the contents of package/ are zipped at the root of the .zip, "
            "as the AWS docs do (lambda_zip_view builds that layout)"
        )
    azure = root / AZURE_SITE_PACKAGES
    if azure.is_dir():
        ignored.append(azure)
        notes.append(
            f"{AZURE_SITE_PACKAGES}/ is Azure Functions' layout: Lambda does not put it on the import path, "
            "so its packages are not importable there; install them at the root (pip install --target .), "
            "use requirements=, or a layer"
        )
    for child in sorted(p for p in _subdirs(root) if p != package and p.name != ".python_packages"):
        if distributions(child):
            ignored.append(child)
            notes.append(
                f"{child.name}/ holds installed packages ({', '.join(distributions(child))}), but Lambda "
                f"only imports from the root of the package: {child.name}/ is not on the path"
            )
    return TaskRootLayout(
        root, (root,), (root, root / "lib"), tuple(distributions(root)), package_dir, tuple(ignored), tuple(notes)
    )


def is_pip_target(folder: Path) -> bool:
    """True for a folder pip installed into (``*.dist-info`` inside) that is not itself a Python package."""
    return folder.is_dir() and not (folder / "__init__.py").exists() and bool(distributions(folder))


def distributions(folder: Path) -> list[str]:
    """Names of the distributions installed in ``folder`` (from its ``*.dist-info`` / ``*.egg-info``), sorted."""
    names = []
    for child in _subdirs(folder):
        for suffix in (".dist-info", ".egg-info"):
            if child.name.endswith(suffix):
                names.append(child.name[: -len(suffix)].rsplit("-", 1)[0])
    return sorted(set(names))


def lambda_zip_view(folder: Path, into: Path, *, link: bool = False) -> Path:
    """Build in ``into`` the tree the AWS docs' .zip would hold: ``package/``'s contents, then the rest on top.

    The function's own files win over a dependency of the same path, as when the docs add the code to
    the .zip after the dependencies; ``package/`` itself is left out. Files are copied; ``link=True``
    hard-links them instead (only for a source nobody edits: an editor writing a file in place would
    change the view too). ``into`` must not exist yet.
    """
    folder, into = Path(folder), Path(into)
    package = folder / "package"
    into.mkdir(parents=True)
    flatten = is_pip_target(package)
    if flatten:
        _link_tree(package, into, skip=frozenset(), link=link)
    _link_tree(folder, into, skip=frozenset({package}) if flatten else frozenset(), link=link)
    return into


def _link_tree(src: Path, dest: Path, *, skip: frozenset[Path], link: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and here / d not in skip]
        target_dir = dest / here.relative_to(src)
        target_dir.mkdir(exist_ok=True)
        for name in filenames:
            target = target_dir / name
            if target.exists():
                target.unlink()
            if link:
                try:
                    os.link(here / name, target)
                    continue
                except OSError:
                    pass  # another file system: copy
            shutil.copy2(here / name, target)


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [Path(entry.path) for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []
