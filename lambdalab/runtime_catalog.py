"""What this machine can run: each runtime name mapped to what is installed, or a ``ConfigError`` naming what is not.

* Python: this interpreter (``python`` and ``python-ric``; awslambdaric is a dependency).
* Node.js: the ``node`` on ``PATH`` (or ``$LAMBDALAB_NODE``). ``nodejsNN.x`` needs that major
  version: another is refused, never relabelled, as for Python. ``nodejs-ric`` needs AWS's
  ``aws-lambda-ric`` built by npm: ``$LAMBDALAB_NODE_RIC`` or ``<prefix>/share/lambdalab/node-ric``
  (the folder holding ``node_modules/aws-lambda-ric``; ``make node-ric`` builds it there).
* Custom runtimes (``provided``): nothing to install; the package's or a layer's ``bootstrap`` runs.

Probing runs ``node --version`` once per process (about 40 ms), then answers from memory.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lambdalab import runtime_ids
from lambdalab.errors import ConfigError

NODE_RIC_PACKAGE = "aws-lambda-ric"


@dataclass(frozen=True)
class Installed:
    """A runtime name resolved on this machine: Lambda's identifier, the kind, the program and its version."""

    identifier: str
    kind: str
    executable: str | None  # the interpreter (python, node); None for a custom runtime's own bootstrap
    version: str | None
    client: str | None = None  # the runtime client's folder where it is not lambdalab's (nodejs-ric)


@functools.cache
def node() -> tuple[str, str] | None:
    """(path, version without the ``v``) of the Node.js here, or None."""
    path = os.environ.get("LAMBDALAB_NODE") or shutil.which("node") or shutil.which("nodejs")
    if not path:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path, out.strip().lstrip("v")


_BUILT: set[str] = set()  # folders found to hold a built aws-lambda-ric (a build is not undone under a Lab)


def node_ric_dir() -> Path | None:
    """The folder whose ``node_modules`` holds a built ``aws-lambda-ric``, or None (looked at once per folder)."""
    candidates = [os.environ.get("LAMBDALAB_NODE_RIC"), str(Path(sys.prefix) / "share" / "lambdalab" / "node-ric")]
    for folder in filter(None, candidates):
        package = Path(folder) / "node_modules" / NODE_RIC_PACKAGE
        if folder in _BUILT or ((package / "package.json").is_file() and any(package.glob("**/*.node"))):
            _BUILT.add(folder)
            return Path(folder)
    return None


def resolve(runtime: str) -> Installed:
    """``runtime`` on this machine, or a ``ConfigError`` that says what to install."""
    kind = runtime_ids.kind(runtime)
    if kind in ("python", "python-ric"):
        return Installed(runtime_ids.INTERPRETER, kind, sys.executable, ".".join(map(str, sys.version_info[:3])))
    if kind == "provided":
        return Installed(runtime_ids.identifier(runtime), kind, None, None)
    if kind in ("nodejs", "nodejs-ric"):
        found = node()
        if found is None:
            raise ConfigError(
                f"invalid runtime: {runtime} needs Node.js, which is not installed here; install it "
                "(apt-get install nodejs) or point LAMBDALAB_NODE at a node executable"
            )
        path, version = found
        _visible(path, "node (LAMBDALAB_NODE)" if os.environ.get("LAMBDALAB_NODE") else "node")
        wanted = runtime_ids.node_major(runtime)
        if wanted is not None and str(wanted) != version.split(".")[0]:
            here = runtime_ids.identifier("nodejs", version)
            raise ConfigError(
                f"invalid runtime: {runtime} is not installed here: this machine has Node.js {version}; "
                f"use runtime={here!r} (or 'nodejs'), or install Node.js {wanted} and point "
                "LAMBDALAB_NODE at it"
            )
        client = None
        if kind == "nodejs-ric":
            ric = node_ric_dir()
            if ric is None:
                raise ConfigError(
                    "invalid runtime: nodejs-ric needs AWS's aws-lambda-ric built by npm; run "
                    "`make node-ric` (npm install aws-lambda-ric into <venv>/share/lambdalab/node-ric) "
                    "or point LAMBDALAB_NODE_RIC at a folder holding node_modules/aws-lambda-ric"
                )
            client = str(ric)
            _visible(client, "aws-lambda-ric (LAMBDALAB_NODE_RIC)")
        return Installed(runtime_ids.identifier(runtime, version), kind, path, version, client)
    raise ConfigError(f"invalid runtime: {runtime!r}; expected {runtime_ids.describe()}")


def _visible(path: str, what: str) -> None:
    """Refuse a program a runtime could not reach: under the machine's /tmp, where each environment has its own."""
    from lambdalab.engine import mounts

    if mounts.hidden_by_tmp(path):
        raise ConfigError(
            f"invalid runtime: {what} is at {path}, under /tmp, which each environment has of its own "
            "here, so a runtime cannot reach it; install it elsewhere (e.g. /var/tmp or /opt)"
        )


def available() -> list[Installed]:
    """Every runtime kind this machine can run now."""
    out = []
    for kind in runtime_ids.KINDS:
        try:
            out.append(resolve(kind))
        except ConfigError:
            continue
    return out


def missing() -> dict[str, str]:
    """Each runtime kind this machine cannot run, with what to install."""
    out = {}
    for kind in runtime_ids.KINDS:
        try:
            resolve(kind)
        except ConfigError as exc:
            out[kind] = str(exc)
    return out
