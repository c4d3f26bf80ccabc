"""Runtimes: the command that speaks the Runtime API, and the environment it starts with.

A runtime is any command that reads ``AWS_LAMBDA_RUNTIME_API`` and loops on ``/next``
(``lambdalab/runtime_ids.py`` names them). ``python`` is lambdalab's stdlib runtime
(``lambdalab/runtimes/python_bootstrap.py``, fast to start); ``python-ric`` is AWS's own
``awslambdaric``, unchanged, started by ``lambdalab/runtimes/ric_bootstrap.py`` so that its modules
load before the task root is on the path. ``nodejs`` is lambdalab's dependency-free Node.js client
(``lambdalab/runtimes/node_bootstrap.cjs``), ``nodejs-ric`` AWS's ``aws-lambda-ric`` from npm, and
``provided`` execs the package's (or a layer's) ``bootstrap`` itself; without one, a stand-in
reports Lambda's ``Runtime.InvalidEntrypoint`` (``lambdalab/runtimes/invalid_entrypoint.py``).
The environment is built from scratch (Lambda's reserved variables plus the function's own),
never copied from the owner, so no credentials or tokens leak from the user's shell; ``pass_env``
opts chosen names in. ``HOME`` is a private folder of the environment and the AWS SDK's shared
files point at nothing, so an SDK inside a handler cannot find the owner's ``~/.aws`` through the
password database; the execution role's credentials arrive only when given (``credentials=``). A function with an
``aws_endpoint_url`` gets the SDK's endpoint variables, and lambdalab's fake credentials when no role's were given
(``lambdalab/downstream.py``), so its SDK calls reach a local stand-in signed with keys of no one's.

What a handler can import is what it would see on Lambda (``RuntimePaths``, resolved by the API at
deploy time): the task root, its dependencies (``requirements=``), its layers' ``python`` folders in
Lambda's order, the runtime's own directory (the AWS SDK, ``engine/runtime_sdk.py``), then the standard
library; never the owner's site-packages unless the function inherits them (``inherit_packages=True``).
Layers' ``bin/`` go first on ``PATH`` and their ``lib/`` last on ``LD_LIBRARY_PATH``, as ``/opt`` does there.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import site
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalab import downstream, runtime_catalog, runtime_ids
from lambdalab.config import FunctionConfig
from lambdalab.core import runtime_api as api
from lambdalab.core.events import Invocation
from lambdalab.engine import debug, http_server, mounts

if TYPE_CHECKING:
    from lambdalab.engine.environment import EngineEnvironment

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtimes"
BOOTSTRAP = RUNTIME_DIR / "python_bootstrap.py"
RIC_BOOTSTRAP = RUNTIME_DIR / "ric_bootstrap.py"
NODE_BOOTSTRAP = RUNTIME_DIR / "node_bootstrap.cjs"
INVALID_ENTRYPOINT = RUNTIME_DIR / "invalid_entrypoint.py"
# the variables Lambda sets from the execution role's credentials, by the names STS answers with
_CREDENTIALS = {
    "AccessKeyId": ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
    "SecretAccessKey": ("AWS_SECRET_ACCESS_KEY",),
    "SessionToken": ("AWS_SESSION_TOKEN",),
}
# isolation defaults that a name in pass_env replaces (the user asked for it)
_ISOLATION = ("HOME", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_EC2_METADATA_DISABLED")
_PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
SNAP_START = "snap-start"  # AWS_LAMBDA_INITIALIZATION_TYPE of a SnapStart version's template (awslambdaric's word)
CREDENTIALS_PATH = http_server.CREDENTIALS_PATH  # the Runtime API's credentials route under SnapStart (RAPID's)
CREDENTIALS_LIFETIME_S = 16 * 60  # RAPID's credentials service: each answer expires 16 minutes after it is given
CONTAINER_CREDENTIALS_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
CONTAINER_CREDENTIALS_TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"


def library_path() -> list[str]:
    """Where handlers find installed libraries (the owner's site-packages), without running ``site``.

    Runtimes start with ``-S``: the ``site`` module and the ``.pth`` files it executes (an editable
    install's import hook among them) cost milliseconds of every cold start.
    """
    return [p for p in site.getsitepackages() if os.path.isdir(p)]


@dataclass(frozen=True)
class RuntimePaths:
    """Where a function's runtime looks besides its task root: imports, programs, shared libraries."""

    python: tuple[str, ...] = ()  # after the task root, in order; the standard library comes after them
    bin: tuple[str, ...] = ()  # before the system's PATH
    lib: tuple[str, ...] = ()  # after the task root's on LD_LIBRARY_PATH
    # which of ``python`` came from where ("dependencies", "layer", "runtime"): an import profile's origins
    roots: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # the merged layers' folder, or None without layers: what runtimes see at /opt where they get a mount
    # namespace (engine/mounts.py)
    opt: str | None = None

    @classmethod
    def build(
        cls,
        *,
        dependencies: Path | None = None,
        layer_python: Sequence[Path] = (),
        layer_bin: Sequence[Path] = (),
        layer_lib: Sequence[Path] = (),
        runtime_dir: Path | None = None,
        inherit_packages: bool = False,
        opt: Path | None = None,
    ) -> RuntimePaths:
        """Lambda's order: dependencies, layers, (the owner's site-packages if inherited), the runtime directory."""
        python = [dependencies] if dependencies is not None else []
        python += list(layer_python)
        python += [Path(p) for p in library_path()] if inherit_packages else []
        python += [runtime_dir] if runtime_dir is not None else []
        roots = (
            ("dependencies", (dependencies,) if dependencies is not None else ()),
            ("layer", tuple(layer_python)),
            ("runtime", (runtime_dir,) if runtime_dir is not None else ()),
        )
        return cls(
            tuple(str(p) for p in python),
            tuple(str(p) for p in layer_bin),
            tuple(str(p) for p in layer_lib),
            tuple((origin, tuple(str(p) for p in folders)) for origin, folders in roots if folders),
            str(opt) if opt is not None else None,
        )


class ProfiledConfig(FunctionConfig):
    """A function's configuration, started with import timing on (``Function.profile_init``).

    The runtime runs with ``-X importtime`` and writes the file of every loaded module after its
    init (``lambdalab.init_profile``). Only a throwaway environment of ``profile_init`` uses it: no
    field of ``FunctionConfig`` says so, so nothing of it shows in a function's configuration.
    """


def bootstraps(task_root: Path, opt: str | None) -> list[Path]:
    """Where a custom runtime's ``bootstrap`` is looked for, in Lambda's order: the task root, then ``/opt``."""
    return [Path(task_root) / "bootstrap"] + ([Path(opt) / "bootstrap"] if opt else [])


def entrypoint_problem(path: Path) -> str | None:
    """Why the kernel would refuse to exec ``path``, in Go's words as Lambda reports them; None if it can run."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return "no such file or directory"
    if not os.access(path, os.X_OK):
        return "permission denied"
    if head[:4] == b"\x7fELF":
        return None
    if head[:2] != b"#!":
        return "exec format error"
    interpreter = head[2:].split(b"\n", 1)[0].strip(b" \t").split(b" ", 1)[0]
    if not interpreter or not os.access(os.fsdecode(interpreter), os.X_OK):  # a CRLF line names "/bin/sh\r"
        return "no such file or directory"
    return None


def node_memory_flags(memory_mb: int) -> list[str]:
    """V8's heap sized from the function's memory: a tenth for the young generation, the rest for the old.

    So a handler that fills its heap gets V8's own out-of-memory error near the function's limit, as
    a Node.js function on Lambda does, rather than a heap sized for the whole machine.
    """
    young = max(memory_mb // 10, 1)
    return [f"--max-semi-space-size={max(young // 2, 1)}", f"--max-old-space-size={memory_mb - young}"]


def command(config: FunctionConfig, task_root: Path | None = None, opt: str | None = None) -> list[str]:
    """The argv that starts ``config``'s runtime in ``task_root`` (``opt``: the merged layers, for ``bootstrap``).

    ``AWS_LAMBDA_EXEC_WRAPPER`` among the function's variables: a managed runtime's start goes through that
    program, given the runtime's command as its arguments, as Lambda's runtimes ``exec`` it (a layer's wrapper
    named ``/opt/...`` is found in the merged layers where runtimes get no mount namespace). OS-only runtimes
    ignore it, as there.
    """
    argv = _runtime_command(config, task_root, opt)
    wrapper = config.env_vars.get("AWS_LAMBDA_EXEC_WRAPPER")
    if not wrapper or runtime_ids.kind(config.runtime) == "provided":
        return argv
    if opt and not mounts.used() and (wrapper == "/opt" or wrapper.startswith("/opt/")):
        wrapper = opt + wrapper[len("/opt") :]
    return [wrapper, *argv]


def _runtime_command(config: FunctionConfig, task_root: Path | None, opt: str | None) -> list[str]:
    kind = runtime_ids.kind(config.runtime)
    if kind in ("nodejs", "nodejs-ric"):
        installed = runtime_catalog.resolve(config.runtime)
        assert installed.executable is not None
        flags = node_memory_flags(config.memory_mb)
        if kind == "nodejs-ric":
            assert installed.client is not None
            ric = Path(installed.client) / "node_modules" / runtime_catalog.NODE_RIC_PACKAGE / "bin" / "index.mjs"
            return [installed.executable, *flags, str(ric), config.full_handler]
        return [installed.executable, *flags, str(NODE_BOOTSTRAP)]
    if kind == "provided":
        assert task_root is not None, "a custom runtime's bootstrap is looked for in its task root"
        places = bootstraps(task_root, opt)
        found = next((p for p in places if p.is_file()), None)  # the first that exists is the one, as on Lambda
        if found is None:
            message = f"Couldn't find valid bootstrap(s): [{' '.join(map(str, bootstraps(task_root, opt or '/opt')))}]"
        elif (problem := entrypoint_problem(found)) is not None:
            message = f"fork/exec {found}: {problem}"
        else:
            return [str(found)]
        return [sys.executable, "-I", "-S", str(INVALID_ENTRYPOINT), message]
    # -B: no bytecode is written into the task root, which is read-only on Lambda, so every cold start
    # compiles the handler's own modules as it would there
    if config.runtime == "python-ric":  # -P: the launcher's folder is not on sys.path
        return [sys.executable, "-B", "-P", "-S", "-u", str(RIC_BOOTSTRAP), config.full_handler]
    if isinstance(config, ProfiledConfig):
        from lambdalab.init_profile import IMPORTTIME_FLAG

        return [sys.executable, "-B", "-I", "-S", "-u", *IMPORTTIME_FLAG, str(BOOTSTRAP)]
    if config.debug is not False:  # debugpy's flag (engine/debug.py); the port comes in _LAMBDALAB_DEBUG
        return [sys.executable, *debug.FLAGS, "-B", "-I", "-S", "-u", str(BOOTSTRAP)]
    return [sys.executable, "-B", "-I", "-S", "-u", str(BOOTSTRAP)]


def environment_variables(
    config: FunctionConfig,
    *,
    environment: EngineEnvironment,
    port: int,
    init_type: str,
    region: str,
    pass_env: Iterable[str],
    log_group: str,
    credentials: Mapping[str, str] | None = None,
    paths: RuntimePaths | None = None,
) -> dict[str, str]:
    """Lambda's reserved variables (AWS docs, "Defined runtime environment variables") plus the function's own.

    ``paths`` is what the function may import and run besides its task root (None: the owner's
    site-packages, for callers that resolve no package).

    ``credentials`` are the execution role's (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``, as
    STS returns them): set as ``AWS_ACCESS_KEY_ID`` (and ``AWS_ACCESS_KEY``), ``AWS_SECRET_ACCESS_KEY`` and
    ``AWS_SESSION_TOKEN``, as Lambda does. Without them a handler has no AWS credentials at all.
    """
    task_root = str(environment.code_dir)
    paths = paths if paths is not None else RuntimePaths(tuple(library_path()))
    language = runtime_ids.language(config.runtime)
    # Lambda's identifier of what runs (python3.11, nodejs20.x): the Node.js here names its own major
    identifier = _PY if language == "python" else runtime_catalog.resolve(config.runtime).identifier
    home = environment.tmp.parent / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    values = {
        # the interpreter's folder only for Python (its runtime's own programs); Lambda's PATH otherwise
        "PATH": os.pathsep.join(
            [
                *paths.bin,
                *([str(Path(sys.executable).parent)] if language == "python" else []),
                "/usr/local/bin",
                "/usr/bin",
                "/bin",
            ]
        ),
        "LD_LIBRARY_PATH": os.pathsep.join([task_root, os.path.join(task_root, "lib"), *paths.lib]),
        "LANG": "C.UTF-8",
        "LC_CTYPE": "C.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": config.full_handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{identifier}",
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": environment.pool.spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": environment.stream.name,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_DIR),
        "PWD": task_root,
        "SHLVL": "0",
        "TMPDIR": "/tmp" if mounts.used() else str(environment.tmp),  # the environment's own /tmp either way
        "HOME": str(home),
        # the SDK's shared files point at nothing: no profile or key of the owner's is found, even if HOME changes;
        # nor the owner's machine role (on EC2, the instance metadata service would hand it to any local process)
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    per_environment = config.max_concurrency_per_environment
    if per_environment is not None and config.runtime != "python-ric":
        # set by Lambda in a Managed Instances environment; lambdalab's runtimes serve one request per worker process
        # whatever it says. Not for awslambdaric (python-ric), which would fork that many workers of its own
        values["AWS_LAMBDA_MAX_CONCURRENCY"] = str(per_environment)
    if language == "provided":  # Lambda sets no execution environment for an OS-only runtime
        del values["AWS_EXECUTION_ENV"]
    elif language == "nodejs":
        values["NODE_PATH"] = os.pathsep.join(_node_path(identifier, paths.opt, task_root))
    elif config.runtime == "python-ric":  # the task root goes first once awslambdaric is loaded (ric_bootstrap)
        values["PYTHONPATH"] = os.pathsep.join(paths.python)
    else:
        values["_LAMBDALAB_PATH"] = os.pathsep.join(paths.python)
    if isinstance(config, ProfiledConfig):  # run by the runtime after the init, then gone from its environment
        from lambdalab.init_profile import collect_modules_snippet

        values["_LAMBDALAB_INIT_MODULES"] = collect_modules_snippet()
    for key, value in (credentials or {}).items():
        if key not in _CREDENTIALS:
            raise ValueError(f"unknown credential {key!r}: expected AccessKeyId, SecretAccessKey, SessionToken")
        for name in _CREDENTIALS[key]:
            values[name] = str(value)
    for name in pass_env:  # chosen on purpose: may also replace the isolation defaults (HOME, the SDK's files)
        if name in os.environ and (name not in values or name in _ISOLATION):
            values[name] = os.environ[name]
    values.update(downstream.endpoint_variables(config.aws_endpoint_url))
    values.update(config.env_vars)
    if any(k.startswith(downstream.GLOBAL_VARIABLE) for k in values) and not any(
        name in values for names in _CREDENTIALS.values() for name in names
    ):  # the SDK's calls go to a stand-in: signed with obviously fake keys, as no role's were given
        for key, value in downstream.FAKE_CREDENTIALS.items():
            for name in _CREDENTIALS[key]:
                values[name] = value
    if init_type == SNAP_START:  # the keys leave the variables for the Runtime API's credentials route
        environment.container_credentials = snap_start_variables(values, port)
    levels = config.log_levels
    if levels is not None:  # advanced logging controls: the runtime formats and filters its own records
        values["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        values["AWS_LAMBDA_LOG_LEVEL"] = levels[0]
    return values


@dataclass(frozen=True)
class ContainerCredentials:
    """What ``GET /2021-04-23/credentials`` answers an environment of a SnapStart version, for its token only."""

    token: str
    credentials: Mapping[str, str]  # as ``snap_start_credentials`` makes them

    def answer(self, authorization: str | None, now: float | None = None) -> tuple[int, bytes]:
        """RAPID's answer: 200 with the container provider's JSON (``AccessKeyId``, ``SecretAccessKey``,
        ``Token``, ``Expiration`` 16 minutes on) for the environment's token, else 404 as its credentials
        service says (no credentials for that token)."""
        if not authorization or not hmac.compare_digest(authorization.encode(), self.token.encode()):
            return 404, b"cannot get credentials for the provided token\n"
        expires = (time.time() if now is None else now) + CREDENTIALS_LIFETIME_S
        body = {**self.credentials, "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))}
        return 200, json.dumps(body).encode()


def snap_start_variables(values: dict[str, str], port: int) -> ContainerCredentials | None:
    """A SnapStart template's variables: what Lambda's snapshot may hold and what it may not.

    No log group or stream (a snapshot serves many environments, each with its own stream); no credentials in
    variables, which would be frozen into the snapshot: the SDK's container provider instead
    (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` on the Runtime API's address, ``AWS_CONTAINER_AUTHORIZATION_TOKEN``),
    whose answer the platform refreshes at each restore. The token is new for each template. Returns what that
    route answers (None without credentials).
    """
    del values["AWS_LAMBDA_LOG_GROUP_NAME"], values["AWS_LAMBDA_LOG_STREAM_NAME"]
    answer = snap_start_credentials(values)
    for names in _CREDENTIALS.values():
        for name in names:
            values.pop(name, None)
    if answer is None:
        return None
    token = secrets.token_urlsafe(24)
    values[CONTAINER_CREDENTIALS_URI] = f"http://127.0.0.1:{port}{CREDENTIALS_PATH}"
    values[CONTAINER_CREDENTIALS_TOKEN] = token
    del answer["Expiration"]  # given at each answer
    return ContainerCredentials(token, answer)


def snap_start_credentials(variables: Mapping[str, str]) -> dict[str, str] | None:
    """What ``GET /2021-04-23/credentials`` answers a template's environment (the SDK's container provider's JSON).

    ``variables``: the ones ``environment_variables`` made *before* ``snap_start_variables`` removed the keys,
    i.e. called with another ``init_type``; None when the function has no credentials.
    """
    key = variables.get("AWS_ACCESS_KEY_ID")
    if key is None:
        return None
    return {
        "AccessKeyId": key,
        "SecretAccessKey": variables.get("AWS_SECRET_ACCESS_KEY", ""),
        "Token": variables.get("AWS_SESSION_TOKEN", ""),
        "Expiration": "2099-01-01T00:00:00Z",
    }


def _node_path(identifier: str, opt: str | None, task_root: str) -> list[str]:
    """``NODE_PATH`` as Lambda's Node.js runtimes set it: the layers' ``nodejs`` folders, then the task root."""
    major = identifier.removeprefix("nodejs").removesuffix(".x")
    layers = [f"{opt}/nodejs/node{major}/node_modules", f"{opt}/nodejs/node_modules"] if opt else []
    return [*layers, task_root]  # Lambda's /var/runtime (the SDK for JavaScript) has no counterpart here


_NEXT_HEAD = (
    f"{api.H_REQUEST_ID}: %s\r\n{api.H_DEADLINE_MS}: %d\r\n{api.H_FUNCTION_ARN}: %s\r\n{api.H_TRACE_ID}: %s\r\n"
    "Content-Type: application/json\r\n"
)
_OPTIONAL = (
    ("client_context", api.H_CLIENT_CONTEXT),
    ("cognito_identity", api.H_COGNITO_IDENTITY),
    ("tenant_id", api.H_TENANT_ID),
)


def next_headers(invocation: Invocation, deadline_at: float) -> bytes:
    """The ``GET /next`` answer's headers for one invocation (AWS docs, "Using the Lambda runtime API")."""
    options = invocation.options if isinstance(invocation.options, dict) else None
    trace = options.get("trace_id") if options else None
    head = _NEXT_HEAD % (
        invocation.request_id,
        int(deadline_at * 1000),
        invocation.invoked_arn,
        trace or _trace_id(invocation),
    )
    if options:
        for key, header in _OPTIONAL:
            if options.get(key):
                head += f"{header}: {options[key]}\r\n"
    return head.encode()


def _trace_id(invocation: Invocation) -> str:
    """An X-Ray trace header derived from the request: ``Root=1-<epoch hex>-<24 hex>;...``."""
    rid = invocation.request_id.replace("-", "")
    return f"Root=1-{int(invocation.submitted):08x}-{rid[:24]};Parent={rid[-16:]};Sampled=0;Lineage=1:{rid[:8]}:0"
