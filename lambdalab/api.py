"""The public, headless API: ``Lab`` here, ``Function`` (``function.py``) and the results (``results.py``).

A ``Lab`` owns one engine (a control plane on its own loop thread) and a working folder (``lab_engine.py``);
its methods are plain synchronous calls that hand work to the loop and wait. Nothing here imports
IPython, ipywidgets or plotly; pandas is imported only by the methods that return tables.

This is the one seam of the front-ends (the endpoint, the SQS trigger, the magics, a future backend): they
use the public methods of ``Lab`` and ``Function``, among them a few for code on the engine's loop
(``loop``, ``run_on_loop``, ``start_invoke``, ``enqueue``, ``attach``), and never a private name. This module
imports no front-end: ``lab.serve()``, ``fn.url()`` and ``lab.sqs_queue()`` call what the package plugged
in (``frontends.py``).

Examples
--------
>>> with Lab() as lab:                                              # doctest: +SKIP
...     fn = lab.create_function("hello", source="def handler(event, context):\\n    return event")
...     fn.invoke({"x": 1}).payload
{'x': 1}
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lambdalab import deploy, runtime_ids
from lambdalab.config import FunctionConfig, check_handler
from lambdalab.engine import mounts, observe, removal
from lambdalab.engine.control_plane import EngineResult, LabSettings
from lambdalab.errors import ConfigError, UnknownFunctionError
from lambdalab.frontends import Closeable, front_ends
from lambdalab.function import Function
from lambdalab.lab_engine import LabEngine, lab_settings, runtime_rows
from lambdalab.packages.layers import LayerStore, LayerVersion
from lambdalab.results import AsyncInvocation, BatchInfo, EnvironmentInfo, InvocationResult, VersionInfo

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.streams import DynamoDBStream, KinesisStream
    from lambdalab.watch import Watcher

__all__ = ["AsyncInvocation", "EnvironmentInfo", "Function", "InvocationResult", "Lab", "VersionInfo"]

T = TypeVar("T")


class Lab:
    """A local Lambda: functions, their environments, and the records of what happened.

    Use it as a context manager, or call ``close()``; environments also end when the owning
    process exits or is killed.

    ``role_credentials`` (``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, or STS's
    ``AccessKeyId``...) reach every environment as Lambda passes the execution role's. ``aws_endpoint_url`` (a URL,
    or ``{"s3": url, "dynamodb": url}``) points the handlers' AWS SDK at a local stand-in, with obviously fake
    credentials when no role's are given (``lambdalab/downstream.py``); a function's own overrides it.
    ``time_scale`` runs durable functions' clock that many times faster than real time (their waits, step retry
    delays and execution timeouts; ``lambdalab/durable/clock.py``): their tables and charts say so.
    """

    def __init__(
        self,
        *,
        account_concurrency: int = 1000,
        unreserved_floor: int | None = None,
        scale_limit: int = 1000,
        scale_period_s: float = 10.0,
        keep_alive_s: float = 600.0,
        keep_alive_policy: str = "fixed",
        retry_delay_scale: float = 1.0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        init_timeout_s: float = 10.0,
        pass_env: tuple[str, ...] = (),
        use_cgroups: bool = True,
        max_records: int = 100_000,
        max_log_entries: int = 10_000,
        role_credentials: Mapping[str, str] | None = None,
        aws_endpoint_url: str | Mapping[str, str] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not 0 < time_scale < math.inf:
            raise ConfigError(f"invalid time_scale: {time_scale!r}; expected a number above 0 (1: real time)")
        # every argument is checked before a thread, a process or a folder exists
        settings = lab_settings(
            {
                "account_concurrency": account_concurrency,
                "unreserved_floor": unreserved_floor,
                "scale_limit": scale_limit,
                "scale_period_s": scale_period_s,
                "keep_alive_s": keep_alive_s,
                "keep_alive_policy": keep_alive_policy,
                "retry_delay_scale": retry_delay_scale,
                "region": region,
                "account_id": account_id,
                "init_timeout_s": init_timeout_s,
                "pass_env": pass_env,
                "use_cgroups": use_cgroups,
                "max_records": max_records,
                "max_log_entries": max_log_entries,
                "role_credentials": role_credentials,
                "aws_endpoint_url": aws_endpoint_url,
            }
        )
        self._engine = engine = LabEngine(settings)
        # durable functions' clock: N times faster than real time (waits, retries, execution timeouts; durable/clock.py)
        self.time_scale = float(time_scale)
        self._functions: dict[str, Function] = {}
        self._attached: list[Closeable] = []  # endpoint and SQS triggers (lambdalab.endpoint, .sqs); closed first
        # the engine's parts under the names tests and tools read
        self._workdir, self._plane = engine.workdir, engine.plane
        self._thread, self._packages = engine.thread, engine.packages

    # -- context manager ------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut down every environment and remove the Lab's files. Idempotent."""
        if self.closed:
            return
        for item in reversed(self._attached):  # stop serving and delivering before the engine goes
            item.close()
        self._attached.clear()
        self._engine.close()

    @property
    def closed(self) -> bool:
        return self._engine.closed

    @property
    def cgroups(self) -> str:
        """How limits are enforced here: ``cgroup-v1`` or the ``rlimit`` fallback."""
        return self._engine.plane.limits.kind

    @property
    def isolation(self) -> str:
        """How ``/tmp`` and ``/opt`` could be private here: ``namespace`` (a mount namespace) or ``tmpdir``."""
        return mounts.isolation()

    def runtimes(self) -> list[dict[str, Any]]:
        """The runtimes functions can use here: Lambda's identifier, lambdalab's name, the program and its version.

        Only what this machine can run now is listed (``lambdalab.runtime_catalog.missing()``
        says what is not, and what to install).
        """
        return runtime_rows()

    # -- layers ---------------------------------------------------------------------------------
    @property
    def layers(self) -> LayerStore:
        """This Lab's published layer versions (``get``, ``list_layers``, ``list_versions``, ``delete``)."""
        return self._engine.layer_store

    def publish_layer_version(
        self,
        name: str,
        content: str | Path | bytes,
        *,
        description: str = "",
        compatible_runtimes: Sequence[str] = (),
        license_info: str | None = None,
    ) -> LayerVersion:
        """PublishLayerVersion: ``content`` is a folder, a .zip file or a .zip's bytes; versions count 1, 2, ..."""
        self.check_open()
        return self._engine.layer_store.publish(
            name,
            content,
            description=description,
            compatible_runtimes=tuple(compatible_runtimes),
            license_info=license_info,
        )

    def map_layers(self, mapping: Mapping[str, str | Path] | str | Path) -> dict[str, Path]:
        """Layer ARNs → local folders or .zip files (a dict, or a JSON/YAML file), for ARNs not published here."""
        return self._engine.map_layers(mapping)

    # -- functions ------------------------------------------------------------------------------
    def create_function(
        self,
        name: str,
        source: str | None = None,
        *,
        path: str | Path | None = None,
        zip_file: bytes | None = None,
        handler: str = "handler",
        memory_mb: int = 128,
        timeout_s: float = 3,
        env_vars: Mapping[str, str] | None = None,
        runtime: str = "python",
        freeze: bool = True,
        reserved_concurrency: int | None = None,
        provisioned_concurrency: int = 0,
        keep_alive_s: float | None = None,
        max_event_age_s: int = 21_600,
        max_retry_attempts: int = 2,
        layers: Sequence[str | Path] = (),
        requirements: Sequence[str] | str | None = None,
        inherit_packages: bool = False,
        progress: deploy.Progress | None = None,
        pip_args: Sequence[str] = (),
        ephemeral_storage_mb: int = 512,
        handler_as_given: bool = False,
        log_format: str | None = None,
        application_log_level: str | None = None,
        system_log_level: str | None = None,
        aws_endpoint_url: str | Mapping[str, str] | None = None,
        debug: bool | int = False,
        snap_start: bool = False,
        max_concurrency_per_environment: int | None = None,
        max_environments: int | None = None,
        min_environments: int | None = None,
        capacity_provider_arn: str | None = None,
        tenancy: str | None = None,
        durable: bool = False,
        durable_execution_timeout_s: int = 86_400,
        durable_retention_days: int = 14,
        recursion: str = "Terminate",
    ) -> Function:
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
        ``log_format="JSON"`` writes the logs as Lambda's JSON format does (``platform.*`` records, and the
        Python runtime's ``logging`` records as JSON objects), filtered by ``application_log_level``
        (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) and ``system_log_level`` (DEBUG, INFO, WARN), INFO by default;
        as on Lambda, a level with the Text format is refused. ``aws_endpoint_url`` (None: the Lab's) is where the
        handler's AWS SDK calls go (``Lab``). ``debug=True`` runs each environment's runtime under debugpy on a
        free loopback port (``debug=5678``: the first environment on 5678, the next ones on the next free ports;
        ``Function.debug_ports()`` lists them): while a debugger is attached, no timeout fires and keep-alive does
        not reap the environment; debug environments are never frozen (``lambdalab/engine/debug.py``).
        ``snap_start=True`` is Lambda's SnapStart on published versions: ``Function.publish()`` runs the init once and
        snapshots it, and new environments of that version are restored from the snapshot (Python runtimes only; not
        with provisioned concurrency or ``/tmp`` over 512 MB). ``$LATEST`` starts cold as always.

        ``max_concurrency_per_environment=N`` (1 to 1600) runs the function as Lambda Managed Instances does: each
        environment runs N worker processes sharing one ``/tmp``, each serving one request at a time; nothing is
        frozen, logs are JSON (``log_format`` defaults to ``"JSON"``; ``"Text"`` is refused), invokes fill an
        environment's free workers before another environment starts, and a timeout fails the invocation while its
        code keeps running. As on Lambda, environments never start inside an invocation: ``min_environments``
        (FunctionScalingConfig's MinExecutionEnvironments; None: Lambda's 3) start now, and this returns once their
        init has run (``Function.wait_ready``), so no invoke is cold; an invoke that finds every worker busy is
        throttled while one more environment starts in the background. ``max_environments`` caps the environments
        (MaxExecutionEnvironments). ``capacity_provider_arn`` is only echoed (every environment runs here).
        ``tenancy="PER_TENANT"`` is tenant isolation: every invoke names a ``tenant_id`` and environments are never
        shared across tenants (not with SnapStart, provisioned concurrency or function URLs). ``durable=True`` makes
        a durable function (DurableConfig: ``durable_execution_timeout_s`` up to 366 days,
        ``durable_retention_days`` 1 to 90). ``recursion`` is recursive loop detection: ``"Terminate"`` stops a chain
        of the same request after 16 hops, ``"Allow"`` lets it run. Only ``recursion`` can change later (``update``).

        Raises ``ConfigError`` for any invalid argument before anything is written or started.
        """
        self.check_open()
        check_handler(handler, runtime if isinstance(runtime, str) else "python", as_given=handler_as_given is True)
        if (
            not handler_as_given
            and isinstance(path, (str, Path))
            and "." not in handler
            and Path(path).suffix != ".zip"
            and Path(path).is_file()
            and runtime_ids.language(str(runtime)) != "provided"
        ):
            handler = f"{Path(path).stem}.{handler}"
        if env_vars is not None and not isinstance(env_vars, Mapping):
            raise ConfigError(f"invalid env_vars: {env_vars!r}; expected a mapping of names to strings")
        config = FunctionConfig(
            name=name,
            handler=handler,
            runtime=runtime,
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            env_vars=dict(env_vars or {}),
            freeze=freeze,
            reserved_concurrency=reserved_concurrency,
            provisioned_concurrency=provisioned_concurrency,
            keep_alive_s=keep_alive_s,
            max_event_age_s=max_event_age_s,
            max_retry_attempts=max_retry_attempts,
            layers=_layer_refs(layers),
            requirements=tuple(requirements.split()) if isinstance(requirements, str) else tuple(requirements or ()),
            inherit_packages=inherit_packages,
            ephemeral_storage_mb=ephemeral_storage_mb,
            handler_as_given=handler_as_given,
            log_format=log_format
            if log_format is not None
            else "JSON"
            if max_concurrency_per_environment is not None
            else "Text",
            application_log_level=application_log_level,
            system_log_level=system_log_level,
            aws_endpoint_url=self.settings.aws_endpoint_url if aws_endpoint_url is None else aws_endpoint_url,
            debug=debug,
            snap_start=snap_start,
            max_concurrency_per_environment=max_concurrency_per_environment,
            max_environments=max_environments,
            min_environments=min_environments,
            capacity_provider_arn=capacity_provider_arn,
            tenancy=tenancy,
            durable=durable,
            durable_execution_timeout_s=durable_execution_timeout_s,
            durable_retention_days=durable_retention_days,
            recursion=recursion,
        )
        if name in self._functions:
            raise ConfigError(f"invalid name: {name!r} is already registered; use update() to change it")
        if config.durable:  # every argument is valid: its SDK checkpoints through this Lab's endpoint, started now
            wired_url, wired_env = front_ends.get("durable")(self).function_endpoint(
                config.aws_endpoint_url, config.env_vars
            )
            config = dataclasses.replace(config, aws_endpoint_url=wired_url, env_vars=wired_env)
        self._engine.deploy(config, source=source, path=path, archive=zip_file, progress=progress, pip_args=pip_args)
        fn = self._functions[name] = Function(self, self._engine, config)
        fn.source_path = Path(path).resolve() if isinstance(path, (str, Path)) else None
        if config.managed_instances and not self._engine.on_loop():  # its environments start now, outside invokes
            fn.wait_ready()
        return fn

    def watch(self, fn: str | Function, path: str | Path | None = None, *, debounce_ms: int = 200) -> Watcher:
        """Redeploy ``fn`` whenever ``path`` (a file or folder; default: what it was created from with ``path=``)
        changes: its environments retire, the next invoke is cold with the new ``code_sha``. Changes within
        ``debounce_ms`` are one; one that cannot deploy keeps the running code (``Watcher.errors``). The returned
        ``Watcher`` stops with ``stop()``, a ``with`` block or this Lab's ``close()``; ``reloads`` counts redeploys."""
        from lambdalab.watch import watch_function

        self.check_open()
        watcher = watch_function(fn if isinstance(fn, Function) else self.function(fn), path, debounce_ms=debounce_ms)
        self.attach(watcher)
        return watcher

    def function(self, name: str) -> Function:
        self._engine.plane.function(name)  # raises UnknownFunctionError
        found = self._functions.get(name)
        if found is None:  # registered on the engine, not yet here: CreateFunction is still returning
            raise UnknownFunctionError(f"Function not found: {self.arn(name)}")
        return found

    def functions(self) -> list[str]:
        return list(self._functions)

    def delete_function(self, name: str) -> None:
        """Delete function ``name`` with its versions and aliases: its environments shut down now (an invocation
        in flight ends with an error), queued events of it are dropped; its records and logs stay.
        ``UnknownFunctionError`` if there is no such function."""
        self.function(name)
        self._engine.call(lambda plane: removal.delete_function(plane, name))
        self._engine.packages.pop(name, None)
        self._functions.pop(name, None)

    # -- invoking -------------------------------------------------------------------------------
    def invoke(self, name: str, event: Any = None, **options: Any) -> Any:
        return self.function(name).invoke(event, **options)

    def serve(self, port: int = 0, host: str = "127.0.0.1", allow_remote: bool = False, **options: Any) -> str:
        """Serve this Lab's functions over Lambda's HTTP API (boto3, the AWS CLI); returns the endpoint URL.

        Binds loopback only unless ``allow_remote=True``. Other keyword ``options`` go to
        ``lambdalab.endpoint.serve``. See ``lambdalab.endpoint`` and docs/ENDPOINT.md.
        """
        serve = front_ends.get("serve")
        return cast(str, serve(self, port=port, host=host, allow_remote=allow_remote, **options))

    def serve_api(self, template: str | Path, port: int = 0, **options: Any) -> str:
        """Load a SAM template and serve its ``Api`` (payload 1.0) and ``HttpApi`` (2.0) routes on one port, as
        ``sam local start-api`` does; returns that port's URL (``port=0``: any free port). Other keyword
        ``options`` (``host``, ``allow_remote``, ``parameters``, ``out``) go to
        ``lambdalab.endpoint.api_server.serve_api``. See docs/ENDPOINT.md, "serve --api"."""
        serve_api = front_ends.get("serve_api")
        return cast(str, serve_api(self, template, port=port, **options))

    def sqs_queue(self, name: str, function: str | Function, **options: Any) -> Any:
        """A local SQS queue delivering to ``function`` in batches (``lambdalab.sqs.SqsQueue`` takes the options)."""
        self.check_open()
        make = front_ends.get("sqs_queue")
        queue = make(self, name, function.name if isinstance(function, Function) else function, **options)
        self.attach(queue)
        return queue

    def kinesis_stream(self, name: str, function: str | Function, **options: Any) -> KinesisStream:
        """A local Kinesis data stream read by an event source mapping that invokes ``function`` with batches of
        each shard's records, in order (``lambdalab.streams.KinesisStream`` takes the options: ``shards``,
        ``batch_size``, ``batching_window_s``, ``starting_position``, ``bisect_batch_on_function_error``,
        ``maximum_retry_attempts``, ``maximum_record_age_s``, ``report_batch_item_failures``, ``enabled``, ...).
        Closed with this Lab."""
        from lambdalab.streams.kinesis import KinesisStream

        self.check_open()
        stream = KinesisStream(self, name, function.name if isinstance(function, Function) else function, **options)
        self.attach(stream)
        return stream

    def dynamodb_stream(self, table: str, function: str | Function, **options: Any) -> DynamoDBStream:
        """A local DynamoDB table's stream read by an event source mapping that invokes ``function``
        (``lambdalab.streams.DynamoDBStream``: ``put_item``, ``remove_item``, ``record``; the mapping's options as
        ``kinesis_stream``'s, with ``stream_view_type`` and ``key_attributes``). Closed with this Lab."""
        from lambdalab.streams.dynamodb import DynamoDBStream

        self.check_open()
        stream = DynamoDBStream(self, table, function.name if isinstance(function, Function) else function, **options)
        self.attach(stream)
        return stream

    def statistics(self) -> dict[str, Any]:
        """The whole Lab: environments by state, concurrency, throttles, queued events."""
        return self._engine.call(lambda plane: observe.lab_statistics(plane))

    @property
    def settings(self) -> LabSettings:
        return self._engine.settings

    # -- records --------------------------------------------------------------------------------
    def invocations(self) -> pd.DataFrame:
        """One row per finished invocation (the REPORT numbers, times in epoch seconds)."""
        return self._engine.invocations()

    def durable_executions(self) -> pd.DataFrame:
        """One row per durable execution started here, oldest first: ``execution_arn``, ``name``, ``function``,
        ``status``, ``start``/``end``/``duration_s`` (the durable clock: virtual under ``time_scale``, said in
        ``.attrs["caption"]``), ``replays`` (invocations), ``cold_starts``, ``billed_ms``, ``result``,
        ``error_type``."""
        return cast("pd.DataFrame", front_ends.get("durable")(self).executions_table())

    def spans(self, *, include_open: bool = True) -> pd.DataFrame:
        """One row per phase span: init, invoke, frozen, idle, shutdown (open ones end now)."""
        return self._engine.spans(include_open=include_open)

    def telemetry(self) -> pd.DataFrame:
        """Every Telemetry API record, oldest first: ``time`` (epoch seconds), ``type`` (``platform.start``, ...,
        ``function``, ``extension``), ``record`` (Lambda's fields), ``environment_id``, ``function``, ``version``."""
        import pandas as pd

        rows = self._engine.call(lambda plane: plane.telemetry())
        return pd.DataFrame(rows, columns=["time", "type", "record", "environment_id", "function", "version"])

    def logs(self, name: str, environment_id: str | None = None) -> str:
        """The log streams of function ``name`` (or one environment's), as Lambda's lines."""
        return self._engine.logs(name, environment_id)

    def log_events(self, name: str, environment_id: str | None = None) -> list[dict[str, Any]]:
        """Function ``name``'s log lines (or one environment's) as CloudWatch Logs events, one line each, oldest first:
        ``logStreamName``, ``timestamp`` (ms), ``message``, ``ingestionTime``, ``eventId`` (``log_events.py``)."""
        return self._engine.log_events(name, environment_id)

    def log_streams(self, name: str) -> list[str]:
        environments = list(self._engine.plane.environments.values())  # a Managed Instances environment's workers
        return list(dict.fromkeys(e.stream.name for e in environments if e.pool.spec.function == name))  # share one

    def logged_functions(self) -> list[str]:
        """Every function with a log stream here, deleted ones included (their logs stay, as log groups do)."""
        return sorted({e.pool.spec.function for e in list(self._engine.plane.environments.values())})

    # -- for front-ends (the endpoint, triggers) and other backends -----------------------------
    # A front-end that lives on the engine's loop (an HTTP server, a queue's poller) uses these and the
    # public methods above, never this module's private names. On the loop thread, every ``Lab`` and
    # ``Function`` method reads and changes the tables in place (no hop); ``start_invoke`` runs only there.
    def check_open(self) -> None:
        """Raise ``LabClosedError`` if this Lab is closed."""
        self._engine.check_open()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The engine's event loop, on a thread of its own: front-ends schedule their callbacks and timers here
        from that thread, and reach it from others with ``run_on_loop``."""
        return self._engine.thread.loop

    def run_on_loop(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run ``coro`` on the engine's loop and wait for its result (from any thread but the loop's own).

        Raises ``LabClosedError`` (the coroutine closed, unrun) once the loop has stopped."""
        return self._engine.run(coro, timeout)

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
        return self._engine.plane.arn(name, qualifier)

    def resolve(self, name: str, qualifier: str | None = None) -> str:
        """The version an invocation of ``name`` with ``qualifier`` runs now (an alias draws between its
        versions); ``UnknownFunctionError`` for a function or qualifier that does not exist."""
        return self._engine.call(lambda plane: plane.resolve(name, qualifier))

    def start_invoke(
        self,
        name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        request_id: str | None = None,
        batch: BatchInfo | None = None,
        tenant_id: str | None = None,
        trace_header: str | None = None,
        durable_execution_name: str | None = None,
        durable_replay: bool = False,
    ) -> asyncio.Future[EngineResult]:
        """On the engine's loop only: submit one synchronous invocation of ``payload`` (JSON bytes, already
        checked) and return the loop's future of its outcome at once. ``client_context`` is the decoded JSON
        text of ``X-Amz-Client-Context``; ``request_id`` defaults to a new UUID. An event source passes ``batch``
        (``BatchInfo``: its ARN, the shard, the batch's size), which ``invocations()`` shows with the request.
        ``tenant_id`` is the invoke's tenant (``X-Amz-Tenant-Id``); ``trace_header`` the X-Ray trace header the caller
        sent (``X-Amzn-Trace-Id``, an SQS message's ``AWSTraceHeader``): the invocation continues its ``Lineage``.
        On a durable function the invoke starts an execution (``durable_execution_name``:
        ``X-Amz-Durable-Execution-Name``; the same name joins the same execution) and the future resolves with the
        workflow's outcome; the durable service itself passes ``durable_replay=True`` for each replay (the payload is
        then the SDK's input, sent as is).

        Raises what ``Function.invoke`` raises before anything runs (``TooManyRequestsException``,
        ``RequestTooLargeException``, ``UnknownFunctionError``, ``LabClosedError``,
        ``InvalidParameterValueException``, ``RecursiveInvocationException``)."""
        if not durable_replay and name in self._functions and self._functions[name].config.durable:
            service = front_ends.get("durable")(self)
            future = service.start_invoke(
                name, payload, qualifier, durable_execution_name, tenant_id=tenant_id, trace_header=trace_header
            )
            return cast("asyncio.Future[EngineResult]", future)
        options = None if client_context is None else {"client_context": client_context}
        return self._engine.start_invoke(name, payload, options, qualifier, request_id, batch, tenant_id, trace_header)

    def enqueue(
        self,
        name: str,
        payload: bytes,
        qualifier: str | None = None,
        *,
        tenant_id: str | None = None,
        trace_header: str | None = None,
        durable_execution_name: str | None = None,
    ) -> str:
        """Accept an asynchronous (``Event``) invocation of ``payload`` (JSON bytes); returns its request id.
        ``tenant_id`` and ``trace_header`` as for ``start_invoke`` (a recursive loop's event goes to on-failure).
        A durable function's execution starts instead: its ARN is the answer (``durable_execution_name`` as for
        ``start_invoke``: the same name and payload joins the execution)."""
        if name in self._functions and self._functions[name].config.durable:
            service = front_ends.get("durable")(self)
            return cast(
                str,
                service.start(
                    name,
                    payload,
                    qualifier,
                    durable_execution_name,
                    tenant_id=tenant_id,
                    trace_header=trace_header,
                ),
            )
        return self._engine.call(
            lambda plane: plane.enqueue(name, payload, qualifier, tenant_id=tenant_id, trace_header=trace_header)
        )

    def recursion_notices(self) -> list[dict[str, Any]]:
        """Every request recursive loop detection stopped, oldest first (Lambda notifies through the AWS Health
        Dashboard and email): ``time`` (epoch seconds), ``function``, ``qualifier``, ``request_id``, ``hop`` (which
        invocation of the function in its chain it would have been: 17 and up), ``source`` (``invoke``, ``event``, or
        the SQS queue's ARN) and ``action`` (``RecursiveInvocationException``, ``on_failure``, ``dead_letter``,
        ``dropped``)."""
        return self._engine.call(lambda plane: list(plane.recursion_notices))

    def note_recursion(self, name: str, request_id: str, hop: int, source: str, action: str) -> None:
        """For an event source on the engine's loop (the SQS trigger): record that it stopped a request of a recursive
        loop itself (a message past the 16th hop, ``action`` ``dead_letter`` or ``dropped``), as ``recursion_notices``
        shows it."""
        self._engine.call(lambda plane: plane.note_recursion(name, None, request_id, hop, source, action))

    def recursion_hop(self, name: str, trace_header: str | None) -> int:
        """For an event source on the engine's loop (the SQS trigger): how many times function ``name`` would have run
        in the chain of requests of ``trace_header`` (an SQS message's ``AWSTraceHeader``) were it invoked with it
        now, this invocation included (1: a new chain). Past 16 recursive loop detection stops it (``lineage.py``)."""
        return self._engine.call(lambda plane: plane.lineages.hop(trace_header, name))


def _layer_refs(layers: Sequence[str | Path]) -> tuple[str, ...]:
    """``layers`` as ``FunctionConfig`` takes them: paths as strings; anything but a list or tuple goes through as it
    is, for ``FunctionConfig`` to refuse in its own words."""
    if not isinstance(layers, (list, tuple)):
        return cast("tuple[str, ...]", layers)
    return tuple(str(ref) if isinstance(ref, Path) else ref for ref in layers)
