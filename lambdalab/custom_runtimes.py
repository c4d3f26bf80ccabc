"""Custom runtimes (``provided.al2023``) ready to run: AWS's bash tutorial runtime and a compiled Go one.

Two examples ship in ``lambdalab/runtimes/examples`` (sources credited in its README):

* ``bash/bootstrap``: the bash runtime of AWS's custom-runtime tutorial (a ``curl`` loop), which sources
  ``$LAMBDA_TASK_ROOT/<file>.sh`` and calls the function named by the handler's second part. A function
  is that bootstrap plus a ``function.sh`` defining ``handler () { ... }``, with ``handler="function.handler"``::

      folder = custom_runtimes.bash_function('echo "{\\"hello\\": \\"bash\\"}"')
      lab.create_function("b", path=folder, handler="function.handler", runtime="provided.al2023")

* ``go/main.go``: a runtime written against the Runtime API with Go's standard library, compiled here
  (Debian's ``golang-go``) and cached; the binary is the function's whole code::

      lab.create_function("go", path=custom_runtimes.go_bootstrap(), runtime="provided.al2023")

Both also answer lambdalab's scenario events (``{"action": "count"}``...): the Go binary itself, and for
bash ``scenario_folder("bash")``, a bootstrap that speaks the same protocol with ``curl`` and coreutils.

Builds need no network: ``GOPROXY=off``, ``GOTOOLCHAIN=local``, the Go caches under
``~/.cache/lambdalab/go`` (``$LAMBDALAB_CACHE_DIR/go`` when set), binaries keyed by the sources' sha256
and ``go version``, so only the first call compiles (about 20 s cold, then milliseconds).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lambdalab.cache import cache_root
from lambdalab.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parent / "runtimes" / "examples"
BASH_DIR = EXAMPLES / "bash"
GO_DIR = EXAMPLES / "go"
BASH_HANDLER = "function.handler"  # the tutorial's handler: function.sh, shell function `handler`
GO_INSTALL = "Go (apt-get install golang-go)"
_GO_SOURCES = ("go.mod", "main.go")


def cache_dir() -> Path:
    """``$LAMBDALAB_CACHE_DIR/go``, else ``$XDG_CACHE_HOME/lambdalab/go``, else ``~/.cache/lambdalab/go``."""
    return cache_root() / "go"


# ---------------------------------------------------------------------------------------------- bash
def bash_bootstrap() -> str:
    """The text of AWS's tutorial bootstrap (``examples/bash/bootstrap``)."""
    return (BASH_DIR / "bootstrap").read_text()


def bash_function_sh(handler_body: str | None = None) -> str:
    """A ``function.sh``: ``handler () { <handler_body> }``; None gives the tutorial's own (it echoes the event).

    The body gets the event as ``$1``; what it prints to stdout is the response, stderr goes to the logs.
    """
    if handler_body is None:
        return (BASH_DIR / "function.sh").read_text()
    return "function handler () {\n" + handler_body.rstrip("\n") + "\n}\n"


def bash_function(handler_body: str | None = None, dest: str | Path | None = None) -> Path:
    """A function's folder: the tutorial's ``bootstrap`` plus ``function.sh`` (see ``bash_function_sh``).

    Written to ``dest`` (created if missing), else to a folder of the cache named by its contents (made
    once, shared); returns the folder, for
    ``create_function(path=folder, handler=BASH_HANDLER, runtime="provided.al2023")``.
    """
    return _folder(
        dest, "bash", {"bootstrap": (bash_bootstrap(), 0o755), "function.sh": (bash_function_sh(handler_body), 0o644)}
    )


def scenario_bash_bootstrap() -> str:
    """A bash bootstrap answering the scenario events (``examples/bash/scenario/bootstrap``)."""
    return (BASH_DIR / "scenario" / "bootstrap").read_text()


def scenario_folder(kind: str, dest: str | Path | None = None) -> Path:
    """A folder holding a scenario runtime's ``bootstrap``: ``kind`` is ``"bash"`` or ``"go"`` (built).

    Written to ``dest`` (created if missing), else to a folder of the cache named by its contents.
    """
    if kind == "bash":
        return _folder(dest, "bash-scenario", {"bootstrap": (scenario_bash_bootstrap(), 0o755)})
    if kind == "go":  # the cached binary's folder holds it alone
        return go_bootstrap().parent if dest is None else go_bootstrap(Path(dest) / "bootstrap").parent
    raise ConfigError(f"invalid kind: {kind!r}; expected 'bash' or 'go'")


# ------------------------------------------------------------------------------------------------ Go
def go_available() -> bool:
    """Whether a Go toolchain is on ``PATH`` (``go_bootstrap`` can build)."""
    return _go() is not None


def go_bootstrap(dest: str | Path | None = None) -> Path:
    """Build ``examples/go`` (once per source and Go version, cached) and return the binary's path.

    ``dest``: also copy the binary there (a folder gets ``<dest>/bootstrap``) and return that path.
    Raises ``ConfigError`` naming what to install when Go is missing, or with the compiler's output.
    """
    go = _go()
    if go is None:
        raise ConfigError(f"the Go example runtime needs {GO_INSTALL}, which is not installed here")
    binary = cache_dir() / "bin" / _go_key(go) / "bootstrap"
    if not binary.is_file():
        go_build(GO_DIR, binary, flags=("-ldflags=-s -w",))
    if dest is None:
        return binary
    target = Path(dest)
    if target.is_dir():
        target = target / "bootstrap"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(binary, target)
    target.chmod(0o755)
    return target


def go_env() -> dict[str, str]:
    """The environment ``go build`` runs with: offline, local toolchain, static binary, caches in ``cache_dir()``."""
    root = cache_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(
        GOPATH=str(root / "path"),
        GOCACHE=str(root / "build"),
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOPROXY="off",
        GO111MODULE="on",
    )
    return env


@functools.cache
def _go() -> str | None:
    return shutil.which("go")


@functools.cache
def _go_version(go: str) -> str:
    try:
        return subprocess.run(
            [go, "version"], capture_output=True, text=True, timeout=30, check=True, env=go_env()
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"the Go example runtime needs {GO_INSTALL}; `go version` failed: {exc}") from exc


def _go_key(go: str) -> str:
    digest = hashlib.sha256(_go_version(go).encode())
    for name in _GO_SOURCES:
        digest.update(b"\0" + name.encode() + b"\0" + (GO_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


class GoBuildError(ConfigError):
    """``go build`` failed (``output``: the compiler's, empty for a timeout) or took too long."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def go_build(folder: str | Path, binary: str | Path, *, flags: tuple[str, ...] = (), timeout_s: float = 600) -> Path:
    """``go build`` of ``folder``'s main package into ``binary``, offline (``go_env``), executable, atomically.

    The build writes a temporary file beside ``binary``'s folder (so that folder holds the binary alone,
    ``scenario_folder``), renamed into place: concurrent builds are safe. Raises ``GoBuildError``.
    """
    binary = Path(binary)
    binary.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bootstrap-", dir=binary.parent.parent)
    os.close(fd)
    try:
        done = subprocess.run(
            [_go() or "go", "build", "-trimpath", *flags, "-o", tmp, "."],
            cwd=folder,
            env=go_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if done.returncode != 0:
            raise GoBuildError(f"go build failed:\n{done.stderr.strip()}", done.stderr)
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
    except subprocess.TimeoutExpired as exc:
        raise GoBuildError(f"go build took over {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise GoBuildError(f"go build could not start ({exc.strerror})") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


def _folder(dest: str | Path | None, name: str, files: dict[str, tuple[str, int]]) -> Path:
    """``files`` (name: (text, mode)) written into ``dest``, or once into ``<cache>/runtimes/<name>-<sha>``."""
    if dest is not None:
        folder = Path(dest)
        folder.mkdir(parents=True, exist_ok=True)
        _write_files(folder, files)
        return folder
    digest = hashlib.sha256()
    for filename, (text, mode) in sorted(files.items()):
        digest.update(f"{filename}\0{mode:o}\0".encode() + text.encode() + b"\0")
    folder = cache_dir().parent / "runtimes" / f"{name}-{digest.hexdigest()[:16]}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
        _write_files(staging, files)
        staging.chmod(0o755)
        try:
            staging.rename(folder)
        except OSError:  # made meanwhile by another process: theirs has the same contents
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_files(folder: Path, files: dict[str, tuple[str, int]]) -> None:
    for filename, (text, mode) in files.items():
        (folder / filename).write_text(text)
        (folder / filename).chmod(mode)
