"""The public, headless API: ``Lab``, ``Function`` and ``InvocationResult``.

A ``Lab`` owns one engine (a control plane on its own loop thread) and a working folder; its
methods are plain synchronous calls that hand work to the loop and wait. Nothing here imports
IPython, ipywidgets or plotly; pandas is imported only by the methods that return tables.

Examples
--------
>>> with Lab() as lab:                                              # doctest: +SKIP
...     fn = lab.create_function("hello", source="def handler(event, context):\\n    return event")
...     fn.invoke({"x": 1}).payload
{'x': 1}
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast, overload

from lambdalab import deploy, runtime_ids
from lambdalab.config import (INTERPRETER, FunctionConfig, check_alias_name, check_alias_weights, check_handler,
                              check_lab_options)
from lambdalab.core._value import astuple
from lambdalab.core.limits import AccountLimits
from lambdalab.core.records import InvocationRecord
from lambdalab.core.scheduler import Alias
from lambdalab.engine import launcher, mounts, observe
from lambdalab.engine.reaper import remove_tree
from lambdalab.engine.control_plane import ControlPlane, EngineResult, LabSettings
from lambdalab.engine.loop_thread import LoopThread
from lambdalab.errors import ConfigError, LabClosedError, UnknownFunctionError
from lambdalab.packages.layers import LayerStore, LayerVersion, load_layer_map
from lambdalab.payload import encode_client_context, encode_event
from lambdalab.results import (AsyncInvocation, CallbackThread, Destinations, EnvironmentInfo, InvocationFuture,
                               InvocationResult, VersionInfo)

if TYPE_CHECKING:
    import pandas as pd

_SLACK_S = 30.0  # a hang guard on top of init + timeout; the engine answers long before
LATEST = "$LATEST"
T = TypeVar("T")
InvocationType = Literal["RequestResponse", "Event", "DryRun"]


class Closeable(Protocol):
    """Anything a front-end ties to a Lab with ``Lab.attach``: closed (idempotently, never raising) before the engine."""

    def close(self) -> None: ...


@dataclasses.dataclass
class FrontEnds:
    """What the front-ends add to the facade: ``Lab.serve``, ``Function.url`` and ``Lab.sqs_queue``.

    This module imports no front-end (they import it): ``lambdalab/__init__.py``, which runs before anything
    of the package, plugs them in with ``plug_in``. ``serve(lab, port=, host=, allow_remote=, **options)`` and
    ``function_url(lab, name, qualifier)`` return URLs; ``sqs_queue(lab, name, function, **options)`` makes a
    queue, which the Lab then attaches (closes first).
    """

    serve: Callable[..., str] | None = None
    function_url: Callable[..., str] | None = None
    sqs_queue: Callable[..., Closeable] | None = None

    def get(self, name: str) -> Callable[..., Any]:
        hook = getattr(self, name)
        if hook is None:
            raise ConfigError(f"{name} is not available: import lambdalab (the package plugs its front-ends in)")
        return cast("Callable[..., Any]", hook)


front_ends = FrontEnds()


def plug_in(*, serve: Callable[..., str] | None = None, function_url: Callable[..., str] | None = None,
            sqs_queue: Callable[..., Closeable] | None = None) -> None:
    """For the package: provide the front-ends behind ``Lab.serve``, ``Function.url`` and ``Lab.sqs_queue``."""
    for name, hook in (("serve", serve), ("function_url", function_url), ("sqs_queue", sqs_queue)):
        if hook is not None:
            setattr(front_ends, name, hook)


class Function:
    """A function registered in a ``Lab``; invoke it, update its code, look at its environments.

    Every method may also be called on the engine's loop thread (a front-end's handler), where the Lab's
    tables are read in place; the ones that wait for an invocation or build code (``invoke``, ``update``,
    ``wait_provisioned``, ``profile_init``) would block that loop: front-ends call them from a worker thread.
    """

    def __init__(self, lab: Lab, config: FunctionConfig) -> None:
        self._lab = lab
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def lab(self) -> Lab:
        """The Lab this function lives in."""
        return self._lab

    @property
    def code_sha(self) -> str:
        """The sha256 of the deployed ``$LATEST`` code (the task root's content)."""
        return self.version_info(LATEST).code_sha

    @property
    def code_size(self) -> int:
        """Bytes of the deployed package unzipped: the task root plus its built dependencies (not the layers)."""
        return self._lab._packages[self.name].code_size

    def layer_versions(self) -> list[LayerVersion]:
        """The function's layers, resolved (published, layer-map or local), in the order they merge."""
        return list(self._lab._packages[self.name].layers)

    def __repr__(self) -> str:
        c = self.config
        return f"<Function {c.name} runtime={c.runtime} memory={c.memory_mb}MB timeout={c.timeout_s}s>"

    @property
    def destinations(self) -> Destinations:
        """Where asynchronous invocations end: ``.on_success`` and ``.on_failure`` records."""
        return Destinations(self.name, self._lab._destination_records)

    # -- versions and aliases ------------------------------------------------------------------
    def arn(self, qualifier: str | None = None) -> str:
        """The function's ARN, qualified with a version or alias when given (as Lambda's ``FunctionArn``)."""
        return self._lab.arn(self.name, qualifier)

    def resolve(self, qualifier: str | None = None) -> str:
        """The version an invocation with ``qualifier`` runs now (``$LATEST``, a number, or an alias's draw
        between its versions); ``UnknownFunctionError`` for a qualifier that names nothing."""
        return self._lab.resolve(self.name, qualifier)

    def versions(self) -> list[str]:
        """``$LATEST`` and the published versions, oldest first."""
        return self._lab._call(lambda plane: list(plane.scheduler.entry(self.name).pools))

    def aliases(self) -> dict[str, Alias]:
        """The function's aliases by name: each names its ``version`` and the ``weights`` of other versions."""
        return self._lab._call(lambda plane: dict(plane.scheduler.entry(self.name).aliases))

    def version_info(self, version: str = LATEST) -> VersionInfo:
        """What ``version`` (``$LATEST`` or a published number, not an alias) runs: its settings, code and
        provisioned concurrency; ``UnknownFunctionError`` if there is no such version."""
        name = self.name

        def read(plane: ControlPlane) -> VersionInfo:
            pools = plane.scheduler.entry(name).pools
            if version not in pools:
                raise UnknownFunctionError(f"Function not found: {plane.arn(name, version)}")
            pool = pools[version]
            config, code_dir = plane.code[(name, pool.spec.code)]
            if version == LATEST:
                config = plane.configs[name]
            return VersionInfo(version, config, pool.spec.code, code_dir, pool.spec.memory_mb, pool.spec.timeout_s,
                               pool.provisioned_target)

        return self._lab._call(read)

    def publish(self) -> str:
        """Publish ``$LATEST`` as an immutable numbered version ("1", "2", ...); returns its number."""
        return self._lab._call(lambda plane: plane.publish(self.name))

    def create_alias(self, name: str, version: str, weights: Mapping[str, float] | None = None) -> None:
        """Point alias ``name`` at ``version``; ``weights`` sends shares of traffic to other versions."""
        check_alias_name(name)
        check_alias_weights(weights)
        self._lab._call(lambda plane: plane.create_alias(self.name, name, version, dict(weights or {})))

    def provision(self, count: int, qualifier: str | None = None) -> None:
        """Keep ``count`` environments of the version ``qualifier`` names initialised (0: none), as Lambda's
        provisioned concurrency; they start now, and ``wait_provisioned`` waits for them."""
        self._lab._call(lambda plane: plane.provision(self.name, count, qualifier))

    # -- invoking --------------------------------------------------------------------------------
    @overload
    def invoke(self, event: Any = None, *, invocation_type: Literal["RequestResponse"] = "RequestResponse",
               qualifier: str | None = None, client_context: Mapping[str, Any] | None = None) -> InvocationResult: ...

    @overload
    def invoke(self, event: Any = None, *, invocation_type: Literal["Event"], qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> AsyncInvocation: ...

    @overload
    def invoke(self, event: Any = None, *, invocation_type: Literal["DryRun"], qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> None: ...

    @overload
    def invoke(self, event: Any = None, *, invocation_type: str, qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> InvocationResult | AsyncInvocation | None: ...

    def invoke(self, event: Any = None, *, invocation_type: str = "RequestResponse", qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> InvocationResult | AsyncInvocation | None:
        """Invoke the function, as Lambda's Invoke API does.

        ``RequestResponse`` (the default) waits and returns an ``InvocationResult``; ``Event``
        queues the event and returns an ``AsyncInvocation`` at once (retries and destinations
        follow Lambda's rules); ``DryRun`` only validates and returns None. ``event`` is any
        JSON-serialisable value (``None`` sends ``{}``), or ``bytes``/``str`` holding JSON.
        ``qualifier`` is ``$LATEST``, a published version or an alias.

        Handler errors, timeouts and crashes come back as a result with ``error`` set; API-level
        errors raise: ``TooManyRequestsException`` (throttled, with ``.reason``),
        ``RequestTooLargeException``, ``InvalidRequestContentException`` (not JSON, or ``NaN``/``Infinity``,
        before anything starts; it is also a ``ConfigError``), ``UnknownFunctionError``.
        """
        payload = encode_event(event)
        if invocation_type == "Event":
            return AsyncInvocation(self._lab.enqueue(self.name, payload, qualifier))
        if invocation_type == "DryRun":
            self.resolve(qualifier)
            return None
        if invocation_type != "RequestResponse":
            raise ConfigError(f"invalid invocation_type: {invocation_type!r}; expected RequestResponse, Event or DryRun")
        options = encode_client_context(client_context)
        limit = self.config.timeout_s + self._lab.settings.init_timeout_s + _SLACK_S
        return self._lab._submit(self.name, payload, options, qualifier).result(limit)

    def invoke_async(self, event: Any = None, *, qualifier: str | None = None) -> AsyncInvocation:
        """Same as ``invoke(event, invocation_type="Event")``."""
        return self.invoke(event, invocation_type="Event", qualifier=qualifier)

    def wait_provisioned(self, timeout_s: float = 60.0) -> None:
        """Wait until every provisioned environment has finished its init (they start at configuration)."""
        deadline = time.monotonic() + timeout_s
        want = self.config.provisioned_concurrency
        while sum(e.provisioned and e.state == "idle" for e in self.environments()) < want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {want} provisioned environments not ready after {timeout_s} s")
            time.sleep(0.01)

    def kill(self) -> None:
        """Shut down every environment of this function now (in-flight invocations end with an error)."""
        self._lab._call(lambda plane: plane.kill(self.name))

    def submit(self, event: Any = None, *, qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> concurrent.futures.Future[InvocationResult]:
        """Start a synchronous-type invocation without waiting; the future resolves with its result.

        Many submits in flight run concurrently, each in its own environment, as simultaneous
        requests do on Lambda. Errors that ``invoke`` raises are set on the future instead, except
        an invalid event, raised at once. Done-callbacks run on the Lab's callback thread (never on
        the engine's), so a callback may call ``invoke``; they run one at a time, in order.
        """
        payload = encode_event(event)
        return self._lab._submit(self.name, payload, encode_client_context(client_context), qualifier)

    def update(self, *, source: str | None = None, path: str | Path | None = None, zip_file: bytes | None = None,
               progress: deploy.Progress | None = None, pip_args: Sequence[str] | None = None,
               **changes: Any) -> Function:
        """Deploy new code and/or configuration: existing environments retire, the next invoke is cold.

        ``layers=``, ``requirements=`` and ``inherit_packages=`` change what the function ships, as on
        ``create_function``; ``pip_args`` (kept from the last deploy when not given) and ``progress`` too.
        """
        try:
            config = dataclasses.replace(self.config, **changes) if changes else self.config
        except TypeError as exc:  # an unknown keyword
            raise ConfigError(f"invalid setting: {exc}") from None
        if pip_args is None:
            pip_args = self._lab._packages[self.name].pip_args
        if source is None and path is None and zip_file is None:
            source_dir = self._lab._code_dirs[self.name]
            self.config = self._lab._deploy(config, path=source_dir, progress=progress, pip_args=pip_args).config
        else:
            self.config = self._lab._deploy(config, source=source, path=path, archive=zip_file, progress=progress,
                                            pip_args=pip_args).config
        return self

    def environments(self) -> list[EnvironmentInfo]:
        """The function's environments that are not gone yet."""
        rows = self._lab._call(lambda plane: observe.live_environments(plane, self.name))
        return [EnvironmentInfo(*row) for row in rows]

    def statistics(self) -> dict[str, Any]:
        """Environments by state, concurrency in use, throttles and queued events; cheap to poll."""
        return self._lab._call(lambda plane: observe.statistics(plane, self.name))

    def logs(self, environment_id: str | None = None) -> str:
        return self._lab.logs(self.name, environment_id)

    def profile_init(self, qualifier: str | None = None) -> pd.DataFrame:
        """Why an init is slow: one cold start with import timing on, as a table (slowest first).

        One row per import of the init: ``module``, ``parent``, ``depth``, ``self_ms``,
        ``cumulative_ms``, ``origin`` (``package``, ``dependencies``, ``layer``, ``runtime``, ``stdlib``,
        ``other`` such as inherited packages, ``not found`` for a failed import), ``file``; draw it with
        ``lambdalab.viz.init_profile``. The cold start runs the same code, configuration and packages
        in a throwaway Lab of its own, invoked once with ``{}``: this function's environments, records
        and logs are untouched, and its next invoke is as cold or warm as before. ``.attrs`` holds
        the profiling run's ``init_duration_ms``, ``error`` (its init or invoke error, or None) and ``log``.
        Needs the ``python`` runtime (``python-ric`` loads the handler inside awslambdaric).
        """
        from lambdalab.engine.runtimes import RUNTIME_DIR, ProfiledConfig
        from lambdalab.init_profile import MODULES_MARKER, parse_importtime, parse_modules_line, profile_table

        if self.config.runtime != "python" and self.config.runtime != INTERPRETER:
            raise ConfigError(f"profile_init needs runtime 'python': {self.name} runs {self.config.runtime!r}; it "
                              "reads Python's import timing (a python-ric handler is imported inside awslambdaric: "
                              "profile a copy with runtime='python')")
        lab = self._lab

        def where(plane: ControlPlane) -> tuple[FunctionConfig, Path, str, Any]:
            sha = plane.scheduler.pool(self.name, plane.resolve(self.name, qualifier)).spec.code
            config, code_dir = plane.code[(self.name, sha)]
            return config, code_dir, sha, plane.paths.get((self.name, sha))

        config, code_dir, sha, paths = lab._call(where)
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        profiled = ProfiledConfig(**(fields | {"provisioned_concurrency": 0, "reserved_concurrency": None}))
        s = lab._settings
        with Lab(region=s.region, account_id=s.account_id, init_timeout_s=s.init_timeout_s, pass_env=s.pass_env,
                 use_cgroups=s.use_cgroups, role_credentials=dict(s.role_credentials) or None,
                 max_log_entries=1_000_000) as scratch:
            scratch._call(lambda plane: plane.deploy(profiled, code_dir, sha, paths))
            limit = config.timeout_s + s.init_timeout_s + _SLACK_S
            result = scratch._submit(self.name, b"{}", None).result(limit)
            log = scratch.logs(self.name)
        rows = parse_importtime(log, until=MODULES_MARKER)
        roots: dict[str, list[str]] = {origin: list(folders) for origin, folders in (paths.roots if paths else ())}
        roots["package"] = [str(code_dir), "/var/task"]
        if roots.get("layer"):  # where the runtime sees its layers at /opt (a mount namespace)
            roots["layer"] += ["/opt/python", f"/opt/python/lib/{INTERPRETER}/site-packages"]
        roots["runtime"] = [*roots.get("runtime", []), str(RUNTIME_DIR)]
        table = profile_table(rows, parse_modules_line(log), roots)
        table.attrs.update(init_duration_ms=result.init_duration_ms, error=result.error, log=log)
        return table

    def url(self, qualifier: str | None = None) -> str:
        """This function's URL (a loopback port of its own), created on first use; starts ``lab.serve()`` if needed."""
        return cast(str, front_ends.get("function_url")(self._lab, self.name, qualifier))


class Lab:
    """A local Lambda: functions, their environments, and the records of what happened.

    Use it as a context manager, or call ``close()``; environments also end when the owning
    process exits or is killed.
    """

    def __init__(self, *, account_concurrency: int = 1000, unreserved_floor: int | None = None,
                 scale_limit: int = 1000, scale_period_s: float = 10.0, keep_alive_s: float = 600.0,
                 keep_alive_policy: str = "fixed", retry_delay_scale: float = 1.0, region: str = "us-east-1",
                 account_id: str = "123456789012", init_timeout_s: float = 10.0, pass_env: tuple[str, ...] = (),
                 use_cgroups: bool = True, max_records: int = 100_000, max_log_entries: int = 10_000,
                 role_credentials: Mapping[str, str] | None = None) -> None:
        # every argument is checked before a thread, a process or a folder exists
        check_lab_options({
            "account_concurrency": account_concurrency, "unreserved_floor": unreserved_floor,
            "scale_limit": scale_limit, "scale_period_s": scale_period_s, "keep_alive_s": keep_alive_s,
            "keep_alive_policy": keep_alive_policy, "retry_delay_scale": retry_delay_scale, "region": region,
            "account_id": account_id, "init_timeout_s": init_timeout_s, "pass_env": pass_env,
            "use_cgroups": use_cgroups, "max_records": max_records, "max_log_entries": max_log_entries,
            "role_credentials": role_credentials})
        limits = _account_limits(account_concurrency, unreserved_floor, scale_limit, scale_period_s)
        # outside the machine's /tmp where runtimes get their own /tmp (engine/mounts.py), else tempfile's default
        self._workdir = Path(tempfile.mkdtemp(prefix=f"lambdalab-{os.getpid()}-", dir=mounts.work_base()))
        mounts.share(self._workdir)  # so an environment's /tmp unmounted here is gone from every runtime's view
        self._settings = LabSettings(region, account_id, float(init_timeout_s), tuple(pass_env), use_cgroups, limits,
                                     float(keep_alive_s), keep_alive_policy, float(retry_delay_scale),
                                     int(max_records), int(max_log_entries),
                                     tuple(sorted((role_credentials or {}).items())))
        self._thread = LoopThread()
        self._closed = False
        self._functions: dict[str, Function] = {}
        self._code_dirs: dict[str, Path] = {}
        self._packages: dict[str, deploy.Package] = {}
        self._layer_store = LayerStore(self._workdir / "layers", region, account_id)
        self._layer_map: dict[str, Path] = {}
        self._runtime_dirs: dict[str, Path] = {}
        self._attached: list[Closeable] = []  # endpoint and SQS triggers (lambdalab.endpoint, .sqs); closed first

        self._callbacks: CallbackThread | None = None
        launcher.path()  # built here on first use (a compile), never on the engine's loop

        async def _make() -> ControlPlane:
            self._callbacks = CallbackThread(threading.get_ident())
            return ControlPlane(self._workdir, self._settings, self._workdir.name.rsplit("-", 1)[-1])

        try:
            self._plane = self._thread.run(_make(), timeout=30)
        except BaseException:  # the engine could not start: leave no thread or folder behind
            self._thread.stop()
            remove_tree(self._workdir)
            raise
        self._finalizer = weakref.finalize(self, _close_quietly, self._thread, self._plane, self._workdir,
                                           self._callbacks)
        atexit.register(self._finalizer)

    # -- context manager ------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut down every environment and remove the Lab's files. Idempotent."""
        if self._closed:
            return
        for item in reversed(self._attached):  # stop serving and delivering before the engine goes
            item.close()
        self._attached.clear()
        self._closed = True
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def cgroups(self) -> str:
        """How limits are enforced here: ``cgroup-v1`` or the ``rlimit`` fallback."""
        return self._plane.limits.kind

    @property
    def isolation(self) -> str:
        """How ``/tmp`` and ``/opt`` could be private here: ``namespace`` (a mount namespace) or ``tmpdir``."""
        return mounts.isolation()

    def runtimes(self) -> list[dict[str, Any]]:
        """The runtimes functions can use here: Lambda's identifier, lambdalab's name, the program and its version.

        Only what this machine can run now is listed (``lambdalab.engine.runtime_catalog.missing()``
        says what is not, and what to install).
        """
        from lambdalab.engine import runtime_catalog, runtime_sdk  # importlib.metadata: only when asked

        sdk = runtime_sdk.versions(runtime_sdk.SDK)
        rows = []
        for found in runtime_catalog.available():
            python = found.kind in ("python", "python-ric")
            client = (runtime_sdk.versions(runtime_sdk.RUNTIME_CLIENT) if found.kind == "python-ric"
                      else {"aws-lambda-ric": found.client} if found.client else {})
            aliases = [found.identifier, found.kind] if found.kind in ("python", "nodejs") else [found.kind]
            if found.kind == "provided":
                aliases = [*runtime_ids.PROVIDED_IDS[:2], "provided"]
            rows.append({"identifier": found.identifier, "runtime": found.kind, "aliases": aliases,
                         "interpreter": found.version, "executable": found.executable,
                         "boto3": sdk.get("boto3") if python else None, "sdk": sdk if python else {},
                         "runtime_client": client})
        return rows

    # -- layers ---------------------------------------------------------------------------------
    @property
    def layers(self) -> LayerStore:
        """This Lab's published layer versions (``get``, ``list_layers``, ``list_versions``, ``delete``)."""
        return self._layer_store

    def publish_layer_version(self, name: str, content: str | Path | bytes, *, description: str = "",
                              compatible_runtimes: Sequence[str] = (), license_info: str | None = None
                              ) -> LayerVersion:
        """PublishLayerVersion: ``content`` is a folder, a .zip file or a .zip's bytes; versions count 1, 2, ..."""
        self.check_open()
        return self._layer_store.publish(name, content, description=description,
                                         compatible_runtimes=tuple(compatible_runtimes), license_info=license_info)

    def map_layers(self, mapping: Mapping[str, str | Path] | str | Path) -> dict[str, Path]:
        """Layer ARNs → local folders or .zip files (a dict, or a JSON/YAML file), for ARNs not published here."""
        if isinstance(mapping, Mapping):
            found = {}
            for arn, target in mapping.items():
                if not isinstance(arn, str) or not Path(target).exists():
                    raise ConfigError(f"invalid layer map: {arn!r}: {str(target)!r} is not 'layer ARN: existing path'")
                found[arn] = Path(target).resolve()
        elif isinstance(mapping, (str, Path)):
            found = load_layer_map(Path(mapping))
        else:
            raise ConfigError(f"invalid layer map: {mapping!r}; expected a mapping or a JSON/YAML file")
        self._layer_map.update(found)
        return dict(self._layer_map)

    # -- functions ------------------------------------------------------------------------------
    def create_function(self, name: str, source: str | None = None, *, path: str | Path | None = None,
                        zip_file: bytes | None = None, handler: str = "handler", memory_mb: int = 128, timeout_s: float = 3,
                        env_vars: Mapping[str, str] | None = None, runtime: str = "python",
                        freeze: bool = True, reserved_concurrency: int | None = None,
                        provisioned_concurrency: int = 0, keep_alive_s: float | None = None,
                        max_event_age_s: int = 21_600, max_retry_attempts: int = 2,
                        layers: Sequence[str | Path] = (), requirements: Sequence[str] | str | None = None,
                        inherit_packages: bool = False, progress: deploy.Progress | None = None,
                        pip_args: Sequence[str] = (), ephemeral_storage_mb: int = 512,
                        handler_as_given: bool = False) -> Function:
        """Register a function from handler source code or a file/folder; nothing starts yet.

        The handler imports what it would on Lambda: its package, ``requirements`` (a list of requirement
        lines, or a ``requirements.txt`` in a ``path=`` folder) built like ``pip install -t`` into a shared
        cache (``pip_args`` adds index options; ``progress`` gets pip's lines), up to 5 ``layers`` (layer
        version ARNs, or local folders/.zip files; later wins), and the runtime (the standard library
        and the AWS SDK). ``inherit_packages=True`` also puts the owner's site-packages on the path
        (quick experiments; not as on Lambda). ``ephemeral_storage_mb`` (512 to 10,240) is the size of
        ``/tmp``: a handler writing past it gets ``ENOSPC`` where ``lab.isolation`` is ``"namespace"``.

        ``handler`` is ``"function"`` (in module ``lambda_function``, or the file's module for
        ``path=`` a .py file) or ``"module.function"``, the module's parts joined by ``.`` or ``/``.
        ``path=`` is a .py file, a folder or a .zip file; ``zip_file=`` a .zip's bytes (as
        CreateFunction's ``ZipFile``). Packages keep Lambda's limits: 50 MB zipped, 250 MB unzipped.
        ``handler_as_given=True`` hands ``handler`` to the runtime verbatim, as the Lambda API does (the
        endpoint's Handler): a bare name is then the runtime's ``Runtime.MalformedHandlerName``.

        Raises ``ConfigError`` for any invalid argument before anything is written or started.
        """
        self.check_open()
        check_handler(handler, runtime if isinstance(runtime, str) else "python", as_given=handler_as_given is True)
        if (not handler_as_given and isinstance(path, (str, Path)) and "." not in handler and Path(path).suffix != ".zip"
                and Path(path).is_file() and runtime_ids.language(str(runtime)) != "provided"):
            handler = f"{Path(path).stem}.{handler}"
        if env_vars is not None and not isinstance(env_vars, Mapping):
            raise ConfigError(f"invalid env_vars: {env_vars!r}; expected a mapping of names to strings")
        config = FunctionConfig(name=name, handler=handler, runtime=runtime, memory_mb=memory_mb,
                                timeout_s=timeout_s, env_vars=dict(env_vars or {}), freeze=freeze,
                                reserved_concurrency=reserved_concurrency,
                                provisioned_concurrency=provisioned_concurrency, keep_alive_s=keep_alive_s,
                                max_event_age_s=max_event_age_s, max_retry_attempts=max_retry_attempts,
                                layers=_layer_refs(layers),
                                requirements=tuple(requirements.split()) if isinstance(requirements, str)
                                else tuple(requirements or ()), inherit_packages=inherit_packages,
                                ephemeral_storage_mb=ephemeral_storage_mb, handler_as_given=handler_as_given)
        if name in self._functions:
            raise ConfigError(f"invalid name: {name!r} is already registered; use update() to change it")
        return self._deploy(config, source=source, path=path, archive=zip_file, progress=progress,
                            pip_args=pip_args)

    def function(self, name: str) -> Function:
        self._plane.function(name)  # raises UnknownFunctionError
        return self._functions[name]

    def functions(self) -> list[str]:
        return list(self._functions)

    def _deploy(self, config: FunctionConfig, *, source: str | None = None, path: str | Path | None = None,
                archive: bytes | None = None, progress: deploy.Progress | None = None,
                pip_args: Sequence[str] = ()) -> Function:
        """Resolve the layers, build the dependencies (here, on the caller's thread), write the code, deploy."""
        self.check_open()
        built = deploy.prepare(config, code_root=self._workdir / "code", layer_store=self._layer_store,
                               layer_map=self._layer_map, runtime_dir=self._runtime_dir, source=source, path=path,
                               archive=archive, progress=progress, pip_args=pip_args)
        self._call(lambda plane: plane.deploy(config, built.code_dir, built.sha, built.paths))
        self._packages[config.name] = built.package
        self._code_dirs[config.name] = built.code_dir
        fn = self._functions.get(config.name)
        if fn is None:
            fn = self._functions[config.name] = Function(self, config)
        fn.config = config
        return fn

    def _runtime_dir(self, runtime: str) -> Path:
        """The runtime's own directory (the AWS SDK; awslambdaric for python-ric), made once per Lab and kind."""
        from lambdalab.engine import runtime_sdk

        kind = "python-ric" if runtime == "python-ric" else "python"
        if kind not in self._runtime_dirs:
            self._runtime_dirs[kind] = runtime_sdk.build(self._workdir / "runtime" / kind,
                                                         runtime_client=kind == "python-ric")
        return self._runtime_dirs[kind]

    # -- invoking -------------------------------------------------------------------------------
    def _submit(self, name: str, payload: bytes, options: dict[str, str] | None, qualifier: str | None = None
                ) -> concurrent.futures.Future[InvocationResult]:
        self.check_open()
        assert self._callbacks is not None
        answer: concurrent.futures.Future[InvocationResult] = InvocationFuture(self._callbacks)
        plane = self._plane

        def done(future: Any) -> None:
            if future.cancelled() or future.exception() is not None:
                _transfer(future, answer)
            else:
                answer.set_result(InvocationResult.from_engine(future.result()))

        def start() -> None:
            try:
                future = plane.start_invoke(name, payload, options, qualifier)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
                answer.set_exception(exc)
                return
            future.add_done_callback(done)

        self._thread.call_soon(start)
        return answer

    def invoke(self, name: str, event: Any = None, **options: Any) -> Any:
        return self.function(name).invoke(event, **options)

    def serve(self, port: int = 0, host: str = "127.0.0.1", allow_remote: bool = False, **options: Any) -> str:
        """Serve this Lab's functions over Lambda's HTTP API (boto3, the AWS CLI); returns the endpoint URL.

        Binds loopback only unless ``allow_remote=True``. Other keyword ``options`` go to
        ``lambdalab.endpoint.serve``. See ``lambdalab.endpoint`` and docs/ENDPOINT.md.
        """
        serve = front_ends.get("serve")
        return cast(str, serve(self, port=port, host=host, allow_remote=allow_remote, **options))

    def sqs_queue(self, name: str, function: str | Function, **options: Any) -> Any:
        """A local SQS queue delivering to ``function`` in batches (``lambdalab.sqs.SqsQueue`` takes the options)."""
        self.check_open()
        make = front_ends.get("sqs_queue")
        queue = make(self, name, function.name if isinstance(function, Function) else function, **options)
        self.attach(queue)
        return queue

    def statistics(self) -> dict[str, Any]:
        """The whole Lab: environments by state, concurrency, throttles, queued events."""
        return self._call(lambda plane: observe.lab_statistics(plane))

    @property
    def settings(self) -> LabSettings:
        return self._settings

    # -- records --------------------------------------------------------------------------------
    def invocations(self) -> pd.DataFrame:
        """One row per finished invocation (the REPORT numbers, times in epoch seconds)."""
        import pandas as pd

        records = list(self._plane.records)
        columns = list(InvocationRecord._fields)
        frame = pd.DataFrame([astuple(r) for r in records], columns=columns)
        frame["status"] = frame["status"].map(lambda s: s.value)
        frame["latency_ms"] = (frame["end"] - frame["submitted"]) * 1000.0
        return frame

    def spans(self, *, include_open: bool = True) -> pd.DataFrame:
        """One row per phase span: init, invoke, frozen, idle, shutdown (open ones end now)."""
        import pandas as pd

        from lambdalab.core.records import PhaseSpan

        spans = list(self._plane.spans)
        if include_open and not self._closed:
            spans += self._call(lambda plane: observe.open_spans(plane))
        columns = list(PhaseSpan._fields)
        frame = pd.DataFrame([astuple(s) for s in spans], columns=columns)
        frame["duration_ms"] = (frame["end"] - frame["start"]) * 1000.0
        return frame.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)

    def logs(self, name: str, environment_id: str | None = None) -> str:
        """The log streams of function ``name`` (or one environment's), as Lambda's lines."""
        self._plane.function(name)
        streams = [e.stream for e in list(self._plane.environments.values())
                   if e.pool.spec.function == name and (environment_id is None or e.id == environment_id)]
        return "".join(s.text() for s in streams)

    def log_streams(self, name: str) -> list[str]:
        return [e.stream.name for e in list(self._plane.environments.values()) if e.pool.spec.function == name]

    # -- for front-ends (the endpoint, triggers) and other backends -----------------------------
    # A front-end that lives on the engine's loop (an HTTP server, a queue's poller) uses these and the
    # public methods above, never this module's private names. On the loop thread, every ``Lab`` and
    # ``Function`` method reads and changes the tables in place (no hop); ``start_invoke`` runs only there.
    def check_open(self) -> None:
        """Raise ``LabClosedError`` if this Lab is closed."""
        if self._closed:
            raise LabClosedError("this Lab is closed; create a new one")

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The engine's event loop, on a thread of its own: front-ends schedule their callbacks and timers here
        from that thread, and reach it from others with ``run_on_loop``."""
        return self._thread.loop

    def run_on_loop(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the engine's loop and wait for its result (from any thread but the loop's own).

        Raises ``LabClosedError`` (the coroutine closed, unrun) once the loop has stopped."""
        if not self._thread.is_running:
            coro.close()
            raise LabClosedError("this Lab is closed; create a new one")
        return self._thread.run(coro, timeout=timeout)

    def attach(self, item: Closeable) -> None:
        """Tie ``item`` (a server, a trigger) to this Lab: ``close()`` closes it, newest first, before the engine."""
        self.check_open()
        self._attached.append(item)

    @property
    def attached(self) -> tuple[Closeable, ...]:
        """What front-ends attached (``attach``), oldest first."""
        return tuple(self._attached)

    def arn(self, name: str, qualifier: str | None = None) -> str:
        """The ARN Lambda gives function ``name`` (qualified when given) in this Lab's region and account."""
        return self._plane.arn(name, qualifier)

    def resolve(self, name: str, qualifier: str | None = None) -> str:
        """The version an invocation of ``name`` with ``qualifier`` runs now (an alias draws between its
        versions); ``UnknownFunctionError`` for a function or qualifier that does not exist."""
        return self._call(lambda plane: plane.resolve(name, qualifier))

    def start_invoke(self, name: str, payload: bytes, *, qualifier: str | None = None,
                     client_context: str | None = None, request_id: str | None = None
                     ) -> asyncio.Future[EngineResult]:
        """On the engine's loop only: submit one synchronous invocation of ``payload`` (JSON bytes, already
        checked) and return the loop's future of its outcome at once. ``client_context`` is the decoded JSON
        text of ``X-Amz-Client-Context``; ``request_id`` defaults to a new UUID.

        Raises what ``Function.invoke`` raises before anything runs (``TooManyRequestsException``,
        ``RequestTooLargeException``, ``UnknownFunctionError``, ``LabClosedError``)."""
        options = None if client_context is None else {"client_context": client_context}
        return self._plane.start_invoke(name, payload, options, qualifier, request_id)

    def enqueue(self, name: str, payload: bytes, qualifier: str | None = None) -> str:
        """Accept an asynchronous (``Event``) invocation of ``payload`` (JSON bytes); returns its request id."""
        return self._call(lambda plane: plane.enqueue(name, payload, qualifier))

    # -- plumbing -------------------------------------------------------------------------------
    def _call(self, fn: Callable[[ControlPlane], T]) -> T:
        """``fn(plane)`` on the engine's loop: in place when called there, else handed over and waited for."""
        self.check_open()
        if self._on_loop():
            return fn(self._plane)

        async def _run() -> T:
            return fn(self._plane)

        return self._thread.run(_run(), timeout=30)

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._thread.loop
        except RuntimeError:  # no loop running on this thread
            return False

    def _destination_records(self, name: str, kind: str) -> list[dict[str, Any]]:
        """Function ``name``'s ``on_success`` or ``on_failure`` destination records, oldest first."""
        return list(self._plane.destinations.get(name, {}).get(kind, []))


def _account_limits(concurrency: int, floor: int | None, scale_limit: int, scale_period_s: float) -> AccountLimits:
    """Account limits (each value checked by ``check_lab_options``); the unreserved floor defaults to 100, or a
    tenth of a smaller account, and never exceeds the account's concurrency."""
    floor = min(100, concurrency // 10) if floor is None else floor
    if floor > concurrency:
        raise ConfigError(f"invalid unreserved_floor: {floor!r}; expected 0 to account_concurrency")
    return AccountLimits(concurrency, floor, scale_limit, float(scale_period_s))


def _layer_refs(layers: Sequence[str | Path]) -> tuple[str, ...]:
    """``layers`` as ``FunctionConfig`` takes them: paths as strings; anything but a list or tuple goes through as it
    is, for ``FunctionConfig`` to refuse in its own words."""
    if not isinstance(layers, (list, tuple)):
        return cast("tuple[str, ...]", layers)
    return tuple(str(ref) if isinstance(ref, Path) else ref for ref in layers)


def _transfer(source: Any, target: concurrent.futures.Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


def _close_quietly(thread: LoopThread, plane: ControlPlane, workdir: Path, callbacks: CallbackThread | None) -> None:
    try:
        if thread.is_running:
            thread.run(plane.close(), timeout=15)
    except Exception:  # noqa: BLE001 - closing must not raise at exit
        pass
    finally:
        plane.reaper.close()
        thread.stop()
        if callbacks is not None:
            callbacks.stop()
        remove_tree(workdir)  # what is mounted in it first (environments' /tmp), if the reaper could not
