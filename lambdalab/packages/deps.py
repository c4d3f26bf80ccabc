"""A function's dependencies, built like ``sam build`` / ``pip install -t``, into a content-addressed cache.

    build = build_dependencies(["requests==2.32.3"], cache_dir=None, progress=print)
    build.path        # a folder to import from, right after the task root (see below)
    build.cache_hit   # True when the same requirements were built for the same interpreter before

What a build is: ``python -m pip install --target <staging> -r <requirements>`` run with the
interpreter that will run the function, so compiled wheels match it; then the staging folder is
renamed into place (an atomic rename), so a reader never sees half a build. The flags:
``--no-compile`` (no ``.pyc``: Lambda's ``/var/task`` is read-only, so the runtime compiles each
module at every cold start, and that is the cost a package adds to Init), ``--prefer-binary``
(wheels first, as Lambda builds do; a source distribution is still built when no wheel exists),
``--progress-bar off``, ``--no-input``, ``--disable-pip-version-check``. ``pip_args`` adds index
options (``--no-index``, ``--find-links DIR``, ``--index-url URL``) or anything else pip takes.

The key: sha256 of the normalised requirements (comments, blank lines and line continuations
removed, whitespace runs collapsed; the text of nested ``-r``/``-c`` files and the content of
local path requirements folded in), ``pip_args``, lambdalab's recipe (the flags above), and the
interpreter (version, implementation, ABI, platform, pip version). Same key → the cached folder is
returned with no pip run; the fast path is one ``stat`` and one small JSON read.

Two builds of one key (threads or processes) never corrupt the cache: the builder holds an
exclusive ``flock`` on ``<key>.lock``; whoever gets it second finds the build done and reuses it.

Where the folder goes: on Lambda the dependencies sit in the package root (``/var/task``) beside
the function's code, so the runtime's path is ``[task root, build.path, layers...]``: the
function's own files win over a dependency of the same name, as in a zip where the code is added
after the dependencies. The runtime must not write ``__pycache__`` into the cache (run it with
``-B`` or ``PYTHONDONTWRITEBYTECODE=1``): the folder is shared by every function with the same key.

Rules: no api, and of the engine only ``engine.code.tree_size``; pip's output goes only to
``progress``; a failure raises ``DependencyBuildError`` with pip's own ``ERROR:`` lines.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lambdalab.cache import cache_root
from lambdalab.engine.code import tree_size
from lambdalab.errors import ConfigError
from lambdalab.packages._fs import locked, read_json

RECIPE = (
    "install",
    "--no-compile",
    "--prefer-binary",
    "--progress-bar",
    "off",
    "--no-input",
    "--disable-pip-version-check",
)
MARKER = ".lambdalab-deps.json"
_TAIL_LINES = 25
_COMMENT = re.compile(r"(^|\s+)#.*$")
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(\s+|=)(?P<file>.+)$")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar")
_SKIP_DIRS = {"__pycache__", ".git", "build", "dist", ".tox", ".venv"}


class DependencyBuildError(ConfigError):
    """pip could not install the requirements; ``output`` holds pip's last lines, ``returncode`` its exit status."""

    def __init__(self, message: str, *, returncode: int | None, output: Sequence[str]) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.output = list(output)


@dataclass(frozen=True)
class DependencyBuild:
    """One built dependency folder: ``path`` to import from, its cache ``key``, and what the build cost."""

    path: Path
    key: str
    cache_hit: bool
    seconds: float
    size_bytes: int
    requirements: tuple[str, ...]


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$LAMBDALAB_CACHE_DIR/deps``, else ``$XDG_CACHE_HOME/lambdalab/deps``, else ``~/.cache/lambdalab/deps``."""
    return cache_root(environ) / "deps"


def build_dependencies(
    requirements: Sequence[str] | Path,
    *,
    cache_dir: Path | None = None,
    python: str = sys.executable,
    progress: Callable[[str], None] | None = None,
    pip_args: Sequence[str] = (),
    timeout: float = 900.0,
) -> DependencyBuild:
    """Install ``requirements`` (a list of requirement lines, or a requirements.txt) for ``python``, cached."""
    t0 = time.perf_counter()
    lines, base = _requirement_lines(requirements)
    key = requirements_key(lines, base=base, python=python, pip_args=pip_args)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = cache / key
    found = _cached(final, key, t0)
    if found is not None:
        return found
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache / f"{key}.lock"):
        found = _cached(final, key, t0)  # built by another thread or process while we waited
        if found is not None:
            return found
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{key[:16]}-", dir=cache))
        try:
            if lines:
                _run_pip(
                    requirements,
                    lines,
                    staging,
                    python=python,
                    pip_args=pip_args,
                    progress=progress,
                    timeout=timeout,
                    cwd=base,
                )
            size = tree_size(staging)  # counted as the function's code is, for the 250 MB rule
            if final.exists():  # a folder without its marker: not ours to trust
                shutil.rmtree(final)
            (staging / MARKER).write_text(json.dumps({"key": key, "size_bytes": size, "requirements": lines}))
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return DependencyBuild(final, key, False, time.perf_counter() - t0, size, tuple(lines))


def requirements_key(
    lines: Sequence[str], *, base: Path, python: str = sys.executable, pip_args: Sequence[str] = ()
) -> str:
    """The cache key of these normalised requirement lines for this interpreter (hex sha256)."""
    digest = hashlib.sha256()
    for part in ("recipe", *RECIPE, "interpreter", _interpreter_tag(python), "pip_args", *pip_args, "requirements"):
        digest.update(part.encode() + b"\0")
    for line in lines:
        digest.update(line.encode() + b"\n")
        for extra in _local_content(line, base, seen=set()):
            digest.update(extra)
    return digest.hexdigest()


# -------------------------------------------------------------------------------------------- requirements
def _requirement_lines(requirements: Sequence[str] | Path) -> tuple[list[str], Path]:
    if isinstance(requirements, str):
        raise ConfigError(
            f"invalid requirements: {requirements!r} is a string; give a list of requirement lines "
            "(['requests==2.32.3']) or a Path to a requirements.txt"
        )
    if isinstance(requirements, os.PathLike):
        path = Path(requirements)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"invalid requirements: cannot read {str(path)!r} ({exc.strerror})") from None
        return normalise(text), path.resolve().parent
    items = list(requirements)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"invalid requirements: expected requirement strings, got {type(item).__name__}")
    return normalise("\n".join(items)), Path.cwd()


def normalise(text: str) -> list[str]:
    """Requirement lines as pip reads them: continuations joined, comments and blank lines dropped."""
    out = []
    for line in text.replace("\\\n", "").splitlines():
        line = " ".join(_COMMENT.sub("", line).split())
        if line:
            out.append(line)
    return out


def _local_content(line: str, base: Path, seen: set[Path]) -> Iterator[bytes]:
    """The bytes a line depends on besides its text: nested requirement files, local packages."""
    include = _INCLUDE.match(line)
    if include is not None:
        path = (base / include.group("file").strip()).resolve()
        if path in seen or not path.is_file():
            return
        seen.add(path)
        for nested in normalise(path.read_text()):
            yield nested.encode() + b"\n"
            yield from _local_content(nested, path.parent, seen)
        return
    if line.startswith("-"):
        return
    token = line.split(" @ ", 1)[1] if " @ " in line else line.split(";")[0].split()[0]
    token = token.strip().removeprefix("file://")
    if "://" in token or not _looks_like_path(token):
        return
    path = (base / os.path.expanduser(token)).resolve()
    if path.is_file():
        yield hashlib.sha256(path.read_bytes()).digest()
    elif path.is_dir():
        yield tree_digest(path).encode()


def _looks_like_path(token: str) -> bool:
    """What pip reads as a local file or folder rather than a project name (a separator, a leading dot, an archive)."""
    return "/" in token or token.startswith((".", "~")) or token.endswith(_ARCHIVES)


def tree_digest(root: Path) -> str:
    """sha256 over the relative paths and contents of the files under ``root`` (caches and VCS skipped)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            with contextlib.suppress(OSError):
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# -------------------------------------------------------------------------------------------- interpreter
_FINGERPRINT = r"""
import json, sys, sysconfig
try:
    from importlib.metadata import version
    pip = version("pip")
except Exception:
    pip = "none"
print(json.dumps([sys.implementation.name, sys.version.split()[0], sys.implementation.cache_tag,
                  getattr(sys, "abiflags", ""), sysconfig.get_config_var("SOABI") or "",
                  sysconfig.get_platform(), pip]))
"""


def _interpreter_tag(python: str) -> str:
    resolved = python if os.sep in python else (shutil.which(python) or python)
    try:
        st = os.stat(resolved)
    except OSError:
        raise ConfigError(f"invalid python: {python!r} is not an interpreter on this machine") from None
    return _fingerprint(resolved, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=16)
def _fingerprint(python: str, dev: int, inode: int, mtime_ns: int, size: int) -> str:
    """Version, implementation, ABI, platform and pip version of ``python`` (memoised per binary)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        namespace: dict[str, object] = {}
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(compile(_FINGERPRINT, "<fingerprint>", "exec"), namespace)  # noqa: S102 - our own constant
        return out.getvalue().strip()
    try:
        done = subprocess.run([python, "-I", "-c", _FINGERPRINT], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"invalid python: cannot run {python!r} ({exc})") from None
    if done.returncode != 0:
        raise ConfigError(f"invalid python: {python!r} failed to start: {done.stderr.strip()[-400:]}")
    return done.stdout.strip()


# -------------------------------------------------------------------------------------------- cache
def _cached(final: Path, key: str, t0: float) -> DependencyBuild | None:
    meta = read_json(final / MARKER)
    if meta is None:
        return None
    return DependencyBuild(
        final, key, True, time.perf_counter() - t0, int(meta["size_bytes"]), tuple(meta["requirements"])
    )


# -------------------------------------------------------------------------------------------- pip
def _run_pip(
    requirements: Sequence[str] | Path,
    lines: list[str],
    target: Path,
    *,
    python: str,
    pip_args: Sequence[str],
    progress: Callable[[str], None] | None,
    timeout: float,
    cwd: Path,
) -> None:
    with tempfile.TemporaryDirectory(prefix="lambdalab-req-") as scratch:
        if isinstance(requirements, os.PathLike):
            req_file = Path(requirements).resolve()
        else:
            req_file = Path(scratch) / "requirements.txt"
            req_file.write_text("\n".join(lines) + "\n")
        argv = [python, "-m", "pip", *RECIPE, "--target", str(target), *pip_args, "-r", str(req_file)]
        env = dict(os.environ, PYTHONUNBUFFERED="1", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        returncode, tail, timed_out = _stream(argv, env=env, cwd=cwd, progress=progress, timeout=timeout)
    if timed_out:
        raise DependencyBuildError(
            f"pip did not finish within {timeout:g} s; stopped it. Its last lines:\n" + "\n".join(tail),
            returncode=returncode,
            output=tail,
        )
    if returncode != 0:
        raise DependencyBuildError(_failure_message(returncode, tail), returncode=returncode, output=tail)


# pip processes running now, by the thread that waits for each: whoever started a build in a thread it owns (a
# watcher) can end it (``stop_builds``) when it stops, so no pip outlives what asked for it
_BUILDS: dict[int, tuple[int, subprocess.Popen[str]]] = {}
_BUILDS_LOCK = threading.Lock()


def running_builds(thread_id: int | None = None) -> list[int]:
    """The pids of the pip builds running now (those waited for by thread ``thread_id``, when given)."""
    with _BUILDS_LOCK:
        return [proc.pid for owner, proc in _BUILDS.values() if thread_id is None or owner == thread_id]


def stop_builds(thread_id: int) -> int:
    """SIGKILL the process groups of the pip builds thread ``thread_id`` waits for (their build fails); how many."""
    with _BUILDS_LOCK:
        procs = [proc for owner, proc in _BUILDS.values() if owner == thread_id]
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def _stream(
    argv: list[str], *, env: dict[str, str], cwd: Path, progress: Callable[[str], None] | None, timeout: float
) -> tuple[int, list[str], bool]:
    """Run pip in its own session, hand each output line to ``progress``; (exit status, last lines, timed out)."""
    tail: collections.deque[str] = collections.deque(maxlen=200)
    scratch = tempfile.mkdtemp(prefix="lambdalab-pip-")  # pip's temporary folders, removed even when pip is killed
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**env, "TMPDIR": scratch},
        cwd=cwd,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    with _BUILDS_LOCK:
        _BUILDS[proc.pid] = (threading.get_ident(), proc)
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            if progress is not None:
                progress(line)
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted (KeyboardInterrupt, a failing progress callback): stop pip too
            _kill_group(proc)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        with _BUILDS_LOCK:
            _BUILDS.pop(proc.pid, None)
        shutil.rmtree(scratch, ignore_errors=True)
    return returncode, list(tail), expired.is_set()


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _failure_message(returncode: int, tail: list[str]) -> str:
    """pip's own error: its lines from the first ``ERROR:`` on, else its last lines."""
    first = next((i for i, line in enumerate(tail) if line.startswith("ERROR:")), None)
    shown = tail[first:] if first is not None else tail
    shown = [line for line in shown if line.strip()][-_TAIL_LINES:]
    return f"pip could not install the requirements (exit status {returncode}):\n" + "\n".join(shown)
