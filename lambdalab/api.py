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

import atexit
import concurrent.futures
import dataclasses
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab import deploy, runtime_ids
from lambdalab.config import (INTERPRETER, FunctionConfig, check_alias_name, check_alias_weights, check_handler,
                              check_lab_options)
from lambdalab.core._value import astuple
from lambdalab.core.limits import AccountLimits
from lambdalab.core.records import InvocationRecord
from lambdalab.engine import launcher, mounts, observe
from lambdalab.engine.reaper import remove_tree
from lambdalab.engine.control_plane import ControlPlane, LabSettings
from lambdalab.engine.loop_thread import LoopThread
from lambdalab.errors import ConfigError, LabClosedError
from lambdalab.packages.layers import LayerStore, LayerVersion, load_layer_map
from lambdalab.payload import encode_client_context, encode_event
from lambdalab.results import (AsyncInvocation, CallbackThread, Destinations, EnvironmentInfo, InvocationFuture,
                               InvocationResult)

if TYPE_CHECKING:
    import pandas as pd

_SLACK_S = 30.0  # a hang guard on top of init + timeout; the engine answers long before


class Function:
    """A function registered in a ``Lab``; invoke it, update its code, look at its environments."""

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
        return self._lab._call(lambda plane: plane.scheduler.pool(self.name, "$LATEST").spec.code)  # type: ignore[no-any-return]

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
        return Destinations(self._lab, self.name)

    def invoke(self, event: Any = None, *, invocation_type: str = "RequestResponse", qualifier: str | None = None,
               client_context: Mapping[str, Any] | None = None) -> Any:
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
            return AsyncInvocation(self._lab._call(lambda plane: plane.enqueue(self.name, payload, qualifier)))
        if invocation_type == "DryRun":
            self._lab._call(lambda plane: plane.resolve(self.name, qualifier))
            return None
        if invocation_type != "RequestResponse":
            raise ConfigError(f"invalid invocation_type: {invocation_type!r}; expected RequestResponse, Event or DryRun")
        options = encode_client_context(client_context)
        limit = self.config.timeout_s + self._lab._settings.init_timeout_s + _SLACK_S
        return self._lab._submit(self.name, payload, options, qualifier).result(limit)

    def invoke_async(self, event: Any = None, *, qualifier: str | None = None) -> AsyncInvocation:
        """Same as ``invoke(event, invocation_type="Event")``."""
        return self.invoke(event, invocation_type="Event", qualifier=qualifier)  # type: ignore[no-any-return]

    def publish(self) -> str:
        """Publish ``$LATEST`` as an immutable numbered version ("1", "2", ...); returns its number."""
        return self._lab._call(lambda plane: plane.publish(self.name))  # type: ignore[no-any-return]

    def create_alias(self, name: str, version: str, weights: Mapping[str, float] | None = None) -> None:
        """Point alias ``name`` at ``version``; ``weights`` sends shares of traffic to other versions."""
        check_alias_name(name)
        check_alias_weights(weights)
        self._lab._call(lambda plane: plane.create_alias(self.name, name, version, dict(weights or {})))

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
        return self._lab._call(lambda plane: observe.statistics(plane, self.name))  # type: ignore[no-any-return]

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
        from lambdalab.endpoint import function_url

        return function_url(self._lab, self.name, qualifier)


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
        self._attached: list[Any] = []  # endpoint and SQS triggers (lambdalab.endpoint, .sqs); closed first

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
        self._check_open()
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
        self._check_open()
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
                                layers=layers,
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
        self._check_open()
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
        self._check_open()
        assert self._callbacks is not None
        answer: concurrent.futures.Future[InvocationResult] = InvocationFuture(self._callbacks)
        plane = self._plane

        def done(future: Any) -> None:
            if future.cancelled() or future.exception() is not None:
                _transfer(future, answer)
            else:
                answer.set_result(InvocationResult._from_engine(future.result()))

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
        from lambdalab.endpoint import serve

        return serve(self, port=port, host=host, allow_remote=allow_remote, **options)

    def sqs_queue(self, name: str, function: str | Function, **options: Any) -> Any:
        """A local SQS queue delivering to ``function`` in batches (``lambdalab.sqs.SqsQueue`` takes the options)."""
        from lambdalab.sqs import SqsQueue

        self._check_open()
        queue = SqsQueue(self, name, function.name if isinstance(function, Function) else function, **options)
        self._attached.append(queue)
        return queue

    def statistics(self) -> dict[str, Any]:
        """The whole Lab: environments by state, concurrency, throttles, queued events."""
        return self._call(lambda plane: observe.lab_statistics(plane))  # type: ignore[no-any-return]

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

    # -- plumbing -------------------------------------------------------------------------------
    def _call(self, fn: Any) -> Any:
        self._check_open()

        async def _run() -> Any:
            return fn(self._plane)

        return self._thread.run(_run(), timeout=30)

    def _check_open(self) -> None:
        if self._closed:
            raise LabClosedError("this Lab is closed; create a new one")


def _account_limits(concurrency: int, floor: int | None, scale_limit: int, scale_period_s: float) -> AccountLimits:
    """Account limits (each value checked by ``check_lab_options``); the unreserved floor defaults to 100, or a
    tenth of a smaller account, and never exceeds the account's concurrency."""
    floor = min(100, concurrency // 10) if floor is None else floor
    if floor > concurrency:
        raise ConfigError(f"invalid unreserved_floor: {floor!r}; expected 0 to account_concurrency")
    return AccountLimits(concurrency, floor, scale_limit, float(scale_period_s))


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
