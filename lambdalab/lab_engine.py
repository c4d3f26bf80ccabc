"""The state behind one ``Lab``: its folder, its engine (a control plane on a loop thread), what is deployed.

``Lab`` (``api.py``) and ``Function`` (``function.py``) are the facade over one ``LabEngine``; nothing else
holds one, so a front-end reaches the engine only through their public methods. ``call`` runs a function of
the control plane on the engine's loop (in place when already there), ``submit`` starts an invocation from
any thread, ``start_invoke`` one on the loop (remembering the event source batch it carries, for the
invocations table), ``deploy`` makes a function's package ready and registers it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from lambdalab import cache, deploy, downstream, log_events
from lambdalab.config import FunctionConfig, check_lab_options
from lambdalab.core.limits import AccountLimits
from lambdalab.core.logstream import LogStream
from lambdalab.engine import launcher, mounts
from lambdalab.engine.control_plane import ControlPlane, EngineResult, LabSettings
from lambdalab.engine.loop_thread import LoopThread
from lambdalab.engine.reaper import remove_tree
from lambdalab.errors import ConfigError, LabClosedError, TooManyRequestsException, UnknownFunctionError
from lambdalab.packages.layers import LayerStore, load_layer_map
from lambdalab.results import BatchInfo, CallbackThread, InvocationFuture, InvocationResult

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


def lab_settings(options: Mapping[str, Any]) -> LabSettings:
    """The settings of a Lab from its keyword arguments (all of ``Lab()``'s), each checked (``ConfigError``)."""
    options = dict(options)
    options["role_credentials"] = downstream.normalise_credentials(options.get("role_credentials"))
    endpoint = downstream.check_endpoint_url(options.pop("aws_endpoint_url", None))
    check_lab_options(options)
    concurrency, floor = options["account_concurrency"], options["unreserved_floor"]
    floor = min(100, concurrency // 10) if floor is None else floor  # 100, or a tenth of a smaller account
    if floor > concurrency:
        raise ConfigError(f"invalid unreserved_floor: {floor!r}; expected 0 to account_concurrency")
    limits = AccountLimits(concurrency, floor, options["scale_limit"], float(options["scale_period_s"]))
    return LabSettings(
        options["region"],
        options["account_id"],
        float(options["init_timeout_s"]),
        tuple(options["pass_env"]),
        options["use_cgroups"],
        limits,
        float(options["keep_alive_s"]),
        options["keep_alive_policy"],
        float(options["retry_delay_scale"]),
        int(options["max_records"]),
        int(options["max_log_entries"]),
        tuple(sorted((options["role_credentials"] or {}).items())),
        MappingProxyType(endpoint) if isinstance(endpoint, dict) else endpoint,
    )


class LabEngine:
    """One Lab's folder, control plane, loop thread and callback thread, and its deployed packages."""

    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings
        cache.check_visible(mounts.hidden_by_tmp)  # a LAMBDALAB_CACHE_DIR under a /tmp runtimes cannot see: refused
        # outside the machine's /tmp where runtimes get their own /tmp (engine/mounts.py), else tempfile's default
        self.workdir = Path(tempfile.mkdtemp(prefix=f"lambdalab-{os.getpid()}-", dir=mounts.work_base()))
        mounts.share(self.workdir)  # so an environment's /tmp unmounted here is gone from every runtime's view
        self.thread = LoopThread()
        self.closed = False
        self.packages: dict[str, deploy.Package] = {}  # function -> what its $LATEST ships
        self.layer_store = LayerStore(self.workdir / "layers", settings.region, settings.account_id)
        self.layer_map: dict[str, Path] = {}
        self.runtime_dirs: dict[str, Path] = {}
        self.callbacks: CallbackThread | None = None
        # request id -> the batch an event source sent with it (loop thread only); the oldest go past max_records
        self.batches: dict[str, BatchInfo] = {}
        launcher.path()  # built here on first use (a compile), never on the engine's loop

        async def make() -> ControlPlane:
            self.callbacks = CallbackThread(threading.get_ident())
            return ControlPlane(self.workdir, settings, self.workdir.name.rsplit("-", 1)[-1])

        try:
            self.plane = self.thread.run(make(), timeout=30)
        except BaseException:  # the engine could not start: leave no thread or folder behind
            self.thread.stop()
            remove_tree(self.workdir)
            raise
        self.finalizer = weakref.finalize(self, close_quietly, self.thread, self.plane, self.workdir, self.callbacks)
        atexit.register(self.finalizer)

    def close(self) -> None:
        """Shut down every environment and remove the folder. Idempotent."""
        self.closed = True
        self.finalizer()

    def check_open(self) -> None:
        if self.closed:
            raise LabClosedError("this Lab is closed; create a new one")

    # -- the loop ---------------------------------------------------------------------------------
    def on_loop(self) -> bool:
        """Whether the caller runs on the engine's loop thread."""
        try:
            return asyncio.get_running_loop() is self.thread.loop
        except RuntimeError:  # no loop running on this thread
            return False

    def refuse_on_loop(self, what: str) -> None:
        """A call that waits for the engine cannot run on the engine's own loop: it would block it until its timeout."""
        if self.on_loop():
            raise RuntimeError(f"{what} waits for the engine, so it cannot be called on the engine's loop thread")

    def call(self, fn: Callable[[ControlPlane], T]) -> T:
        """``fn(plane)`` on the engine's loop: in place when called there, else handed over and waited for."""
        self.check_open()
        plane = self.plane
        if self.on_loop():
            return fn(plane)

        async def run() -> T:
            return fn(plane)

        return self.thread.run(run(), timeout=30)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """``coro`` on the engine's loop, waited for; ``LabClosedError`` (``coro`` closed, unrun) once it stopped."""
        if not self.thread.is_running:
            coro.close()
            raise LabClosedError("this Lab is closed; create a new one")
        return self.thread.run(coro, timeout=timeout)

    def start_invoke(
        self,
        name: str,
        payload: bytes,
        options: dict[str, str] | None,
        qualifier: str | None,
        request_id: str | None,
        batch: BatchInfo | None,
        tenant_id: str | None = None,
        trace_header: str | None = None,
    ) -> asyncio.Future[EngineResult]:
        """``Lab.start_invoke`` (on the loop): the plane's, remembering ``batch`` under the request id when the
        invocation leaves a record (accepted, or throttled); a refusal that leaves none (too large, an unknown
        function) takes no place among the kept batches."""
        if batch is None:
            return self.plane.start_invoke(
                name, payload, options, qualifier, request_id, tenant_id=tenant_id, trace_header=trace_header
            )
        request_id = request_id or str(uuid.uuid4())
        try:
            future = self.plane.start_invoke(
                name,
                payload,
                options,
                qualifier,
                request_id,
                tenant_id=tenant_id,
                trace_header=trace_header,
                source=batch.event_source_arn,
            )
        except TooManyRequestsException:  # recorded as a throttle: its row shows the batch
            self._remember(request_id, batch)
            raise
        self._remember(request_id, batch)
        return future

    def _remember(self, request_id: str, batch: BatchInfo) -> None:
        self.batches[request_id] = batch
        while len(self.batches) > self.settings.max_records:  # pruned as the records they describe are
            del self.batches[next(iter(self.batches))]

    def submit(
        self,
        name: str,
        payload: bytes,
        options: dict[str, str] | None,
        qualifier: str | None = None,
        tenant_id: str | None = None,
    ) -> concurrent.futures.Future[InvocationResult]:
        """Start a synchronous invocation from any thread; the future resolves with its result (or its error)."""
        self.check_open()
        assert self.callbacks is not None
        answer: concurrent.futures.Future[InvocationResult] = InvocationFuture(self.callbacks)
        plane = self.plane

        def done(future: Any) -> None:
            if future.cancelled() or future.exception() is not None:
                transfer(future, answer)
            else:
                answer.set_result(InvocationResult.from_engine(future.result()))

        def start() -> None:
            try:
                future = plane.start_invoke(name, payload, options, qualifier, tenant_id=tenant_id)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
                answer.set_exception(exc)
                return
            future.add_done_callback(done)

        self.thread.call_soon(start)
        return answer

    # -- deploying --------------------------------------------------------------------------------
    def deploy(
        self,
        config: FunctionConfig,
        *,
        source: str | None = None,
        path: str | Path | None = None,
        archive: bytes | None = None,
        progress: deploy.Progress | None = None,
        pip_args: Sequence[str] = (),
    ) -> deploy.Deployment:
        """Resolve the layers, build the dependencies (here, on the caller's thread), write the code, deploy."""
        self.check_open()
        built = deploy.prepare(
            config,
            code_root=self.workdir / "code",
            layer_store=self.layer_store,
            layer_map=self.layer_map,
            runtime_dir=self.runtime_dir,
            source=source,
            path=path,
            archive=archive,
            progress=progress,
            pip_args=pip_args,
        )
        self.call(lambda plane: plane.deploy(config, built.code_dir, built.sha, built.paths))
        self.packages[config.name] = built.package
        return built

    def map_layers(self, mapping: Mapping[str, str | Path] | str | Path) -> dict[str, Path]:
        """``Lab.map_layers``: ARNs to local folders or .zip files added to the layer map; the whole map after."""
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
        self.layer_map.update(found)
        return dict(self.layer_map)

    def runtime_dir(self, runtime: str) -> Path:
        """The runtime's own directory (the AWS SDK; awslambdaric for python-ric), made once per Lab and kind."""
        from lambdalab.engine import runtime_sdk

        kind = "python-ric" if runtime == "python-ric" else "python"
        if kind not in self.runtime_dirs:
            folder = self.workdir / "runtime" / kind
            self.runtime_dirs[kind] = runtime_sdk.build(folder, runtime_client=kind == "python-ric")
        return self.runtime_dirs[kind]

    # -- reading ----------------------------------------------------------------------------------
    def invocations(self) -> pd.DataFrame:
        """``Lab.invocations()``: one row per finished invocation, with its status's value and ``latency_ms``."""
        import pandas as pd

        from lambdalab.core._value import astuple
        from lambdalab.core.records import InvocationRecord

        columns = list(InvocationRecord._fields)
        frame = pd.DataFrame([astuple(r) for r in list(self.plane.records)], columns=columns)
        frame["status"] = frame["status"].map(lambda s: s.value)
        frame["latency_ms"] = (frame["end"] - frame["submitted"]) * 1000.0
        batches = dict(self.batches)  # one copy (a C-level copy: the loop thread may add one meanwhile)
        found = [batches.get(request_id) for request_id in frame["request_id"]]
        frame["event_source_arn"] = pd.Series([b and b.event_source_arn for b in found], dtype=object)
        frame["shard_id"] = pd.Series([b and b.shard_id for b in found], dtype=object)
        frame["batch_size"] = pd.Series([b.batch_size if b else 0 for b in found], dtype="int64")
        return frame

    def spans(self, *, include_open: bool) -> pd.DataFrame:
        """``Lab.spans()``: one row per phase span (open ones end now, unless not wanted), by start."""
        import pandas as pd

        from lambdalab.core._value import astuple
        from lambdalab.core.records import PhaseSpan
        from lambdalab.engine import observe

        spans = list(self.plane.spans)
        if include_open and not self.closed:
            spans += self.call(lambda plane: observe.open_spans(plane))
        frame = pd.DataFrame([astuple(s) for s in spans], columns=list(PhaseSpan._fields))
        frame["duration_ms"] = (frame["end"] - frame["start"]) * 1000.0
        return frame.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)

    def logs(self, name: str, environment_id: str | None = None) -> str:
        """The log streams of function ``name`` (or one environment's), as Lambda's lines; a deleted function's
        stay readable while its environments are remembered, as its log group stays on Lambda."""
        _check_logged(self.plane, name)
        return "".join(s.text() for s in _streams(self.plane, name, environment_id))

    def log_events(self, name: str, environment_id: str | None = None) -> list[dict[str, Any]]:
        """Function ``name``'s log streams (or one environment's) as CloudWatch Logs events, oldest first."""

        def collect(plane: ControlPlane) -> list[dict[str, Any]]:
            _check_logged(plane, name)
            return [
                event for stream in _streams(plane, name, environment_id) for event in log_events.stream_events(stream)
            ]

        return sorted(self.call(collect), key=lambda event: event["eventId"])

    def destination_records(self, name: str, kind: str) -> list[dict[str, Any]]:
        """Function ``name``'s ``on_success`` or ``on_failure`` destination records, oldest first."""
        return list(self.plane.destinations.get(name, {}).get(kind, []))


def _streams(plane: ControlPlane, name: str, environment_id: str | None) -> list[LogStream]:
    """Function ``name``'s log streams (or one environment's: a worker's id or its group's), each once: a Managed
    Instances environment's workers share one stream (``engine/groups.py``)."""
    streams = {
        id(e.stream): e.stream
        for e in list(plane.environments.values())
        if e.pool.spec.function == name and (environment_id is None or environment_id in (e.id, e.group))
    }
    return list(streams.values())


def _check_logged(plane: ControlPlane, name: str) -> None:
    """``UnknownFunctionError`` unless function ``name`` exists or an environment of it has run (its logs stay)."""
    try:
        plane.function(name)
    except UnknownFunctionError:
        if not any(e.pool.spec.function == name for e in list(plane.environments.values())):
            raise


def transfer(source: Any, target: concurrent.futures.Future[Any]) -> None:
    """Settle ``target`` as ``source`` settled (cancelled, failed or done), unless it is already settled."""
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


def close_quietly(thread: LoopThread, plane: ControlPlane, workdir: Path, callbacks: CallbackThread | None) -> None:
    """Close the control plane, stop the threads and remove the folder; never raises (it runs at exit too)."""
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


def runtime_rows() -> list[dict[str, Any]]:
    """``Lab.runtimes()``: each runtime this machine can run, with its program, version and SDK."""
    from lambdalab import runtime_catalog, runtime_ids
    from lambdalab.engine import runtime_sdk  # importlib.metadata: only when asked

    sdk = runtime_sdk.versions(runtime_sdk.SDK)
    rows = []
    for found in runtime_catalog.available():
        python = found.kind in ("python", "python-ric")
        client = (
            runtime_sdk.versions(runtime_sdk.RUNTIME_CLIENT)
            if found.kind == "python-ric"
            else {"aws-lambda-ric": found.client}
            if found.client
            else {}
        )
        aliases = [found.identifier, found.kind] if found.kind in ("python", "nodejs") else [found.kind]
        if found.kind == "provided":
            aliases = [*runtime_ids.PROVIDED_IDS[:2], "provided"]
        rows.append(
            {
                "identifier": found.identifier,
                "runtime": found.kind,
                "aliases": aliases,
                "interpreter": found.version,
                "executable": found.executable,
                "boto3": sdk.get("boto3") if python else None,
                "sdk": sdk if python else {},
                "runtime_client": client,
            }
        )
    return rows
