"""``Function``: one function of a ``Lab``, as the facade shows it (invoke, versions, environments, logs).

A ``Function`` reaches its Lab's engine through the ``LabEngine`` the Lab gave it (``lab_engine.py``) and
the Lab's public methods; everything here may also be called on the engine's loop thread (see the class).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from lambdalab import deploy
from lambdalab.config import FIXED_AT_CREATION, INTERPRETER, FunctionConfig, check_alias_name, check_alias_weights
from lambdalab.core.scheduler import Alias
from lambdalab.engine import debug, observe, removal
from lambdalab.engine.control_plane import ControlPlane, LabSettings
from lambdalab.errors import ConfigError, FunctionError, UnknownFunctionError
from lambdalab.frontends import front_ends
from lambdalab.lab_engine import LabEngine
from lambdalab.packages.layers import LayerVersion
from lambdalab.payload import encode_client_context, encode_event
from lambdalab.results import AsyncInvocation, Destinations, EnvironmentInfo, InvocationResult, VersionInfo
from lambdalab.tenancy import check_tenant_id

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.api import Lab
    from lambdalab.core.pool import Pool

_INIT_ERROR = re.compile(r"^INIT_REPORT .*\tError Type: (\S+)", re.MULTILINE)  # a template's failed init
SLACK_S = 30.0  # a hang guard on top of init + timeout; the engine answers long before
DURABLE_WAIT_S = 960.0  # a synchronous invoke of a durable function: 15 minutes, and a hang guard
LATEST = "$LATEST"


class Function:
    """A function registered in a ``Lab``; invoke it, update its code, look at its environments.

    Every method may also be called on the engine's loop thread (a front-end's handler), where the Lab's
    tables are read in place; the ones that wait for an invocation or build code (``invoke``, ``update``,
    ``wait_provisioned``, ``profile_init``) would block that loop: front-ends call them from a worker thread.
    """

    def __init__(self, lab: Lab, engine: LabEngine, config: FunctionConfig) -> None:
        self._lab, self._engine = lab, engine
        self.config = config
        # the file or folder the code was last deployed from with ``path=`` (what ``Lab.watch`` watches by default)
        self.source_path: Path | None = None

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
        return self._engine.packages[self.name].code_size

    def layer_versions(self) -> list[LayerVersion]:
        """The function's layers, resolved (published, layer-map or local), in the order they merge."""
        return list(self._engine.packages[self.name].layers)

    def __repr__(self) -> str:
        c = self.config
        return f"<Function {c.name} runtime={c.runtime} memory={c.memory_mb}MB timeout={c.timeout_s}s>"

    @property
    def destinations(self) -> Destinations:
        """Where asynchronous invocations end: ``.on_success`` and ``.on_failure`` records."""
        return Destinations(self.name, self._engine.destination_records)

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
        return self._engine.call(lambda plane: list(removal.entry(plane, self.name).pools))

    def aliases(self) -> dict[str, Alias]:
        """The function's aliases by name: each names its ``version`` and the ``weights`` of other versions."""
        return self._engine.call(lambda plane: dict(removal.entry(plane, self.name).aliases))

    def version_info(self, version: str = LATEST) -> VersionInfo:
        """What ``version`` (``$LATEST`` or a published number, not an alias) runs: its settings, code and
        provisioned concurrency; ``UnknownFunctionError`` if there is no such version."""
        name = self.name

        def read(plane: ControlPlane) -> VersionInfo:
            pools = plane.scheduler.entry(name).pools
            if version not in pools:
                raise UnknownFunctionError(f"Function not found: {plane.arn(name, version)}")
            pool = pools[version]
            config, code_dir = plane.version_code(pool.spec)
            if version == LATEST:
                config = plane.configs[name]
            return VersionInfo(
                version,
                config,
                pool.spec.code,
                code_dir,
                pool.spec.memory_mb,
                pool.spec.timeout_s,
                pool.provisioned_target,
                pool.snapshot,
            )

        return self._engine.call(read)

    def publish(self, timeout_s: float = 60.0) -> str:
        """Publish ``$LATEST`` as an immutable numbered version ("1", "2", ...); returns its number.

        With ``snap_start``, the version's init runs now, once, in a template environment (before-snapshot hooks
        included) and is snapshotted; this returns when the snapshot is ready (new environments of the version are
        then restored from it). A failed init or before-snapshot hook raises ``FunctionError`` with the init's
        error type (``Runtime.BeforeSnapshotError``, ...); ``TimeoutError`` after ``timeout_s``. Where SnapStart
        cannot run (no launcher, cgroup v1 or Linux 6.15: ``engine/snapshot.py``), the version starts cold as others.
        """
        name = self.name
        if self.config.snap_start:
            self._engine.refuse_on_loop("publish")

        def publish(plane: ControlPlane) -> tuple[str, str | None]:
            version = plane.publish(name)  # a SnapStart version's template starts now (where SnapStart can run)
            template = plane.scheduler.pool(name, version).template
            return version, template.id if template is not None else None

        version, template = self._engine.call(publish)
        if template is not None:
            self._wait_snapshot(version, template, timeout_s)
        if self.config.managed_instances and not self._engine.on_loop():  # the version's environments start now
            self.wait_ready(version)
        return version

    def _wait_snapshot(self, version: str, template: str, timeout_s: float) -> None:
        """Until the version's snapshot is ready; ``FunctionError`` with the template's init error type if not."""
        name = self.name
        deadline = time.monotonic() + timeout_s
        while (state := self._engine.call(lambda plane: plane.snapshot_state(name, version))) == "taking":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}:{version}: the SnapStart snapshot was not ready after {timeout_s} s")
            time.sleep(0.01)
        if state == "failed":
            found = _INIT_ERROR.findall(self.logs(template))
            error_type = found[-1] if found else "Runtime.BeforeSnapshotError"
            raise FunctionError(
                error_type, f"{name}:{version}: the SnapStart snapshot failed: init ended with {error_type}"
            )

    def create_alias(self, name: str, version: str, weights: Mapping[str, float] | None = None) -> None:
        """Point alias ``name`` at ``version``; ``weights`` sends shares of traffic to other versions.

        As Lambda: at most one other version, never ``version`` itself, and no weights on ``$LATEST``."""
        check_alias_name(name)
        check_alias_weights(weights)
        _check_routing(version, weights or {})
        self._engine.call(lambda plane: plane.create_alias(self.name, name, version, dict(weights or {})))

    def update_alias(self, name: str, version: str | None = None, weights: Mapping[str, float] | None = None) -> None:
        """Point an existing alias at ``version`` (None: where it points now) with ``weights`` (None: keep them;
        ``{}``: none); ``UnknownFunctionError`` for an alias that does not exist."""
        current = self.aliases().get(name)
        if current is None:
            raise UnknownFunctionError(f"Alias not found: {self.arn(name)}")
        version = current.version if version is None else version
        self.create_alias(name, version, current.weights if weights is None else weights)

    def delete_alias(self, name: str) -> None:
        """Remove alias ``name`` (its versions stay); ``UnknownFunctionError`` if there is none."""

        self._engine.call(lambda plane: removal.delete_alias(plane, self.name, name))

    def delete_version(self, version: str) -> None:
        """Delete published ``version``: its environments retire, it can no longer be invoked. As Lambda,
        ``$LATEST`` cannot be deleted this way and neither can a version an alias routes to (``ConfigError``)."""
        if version == LATEST:
            raise ConfigError("$LATEST version cannot be deleted without deleting the function.")

        self._engine.call(lambda plane: removal.delete_version(plane, self.name, version))

    def set_async_options(self, *, max_retry_attempts: int | None = None, max_event_age_s: int | None = None) -> None:
        """Change how asynchronous invocations are retried (0-2 retries) and how old an event may get
        (60-21,600 s) without redeploying: environments stay warm; events queued from now on take them.
        None keeps a setting."""
        changes: dict[str, Any] = {}
        if max_retry_attempts is not None:
            changes["max_retry_attempts"] = max_retry_attempts
        if max_event_age_s is not None:
            changes["max_event_age_s"] = max_event_age_s
        config = dataclasses.replace(self.config, **changes)  # checks the ranges (ConfigError)

        self._engine.call(lambda plane: removal.set_async_options(plane, self.name, changes))
        self.config = config

    def set_recursion(self, recursion: str) -> None:
        """Recursive loop detection (PutFunctionRecursionConfig): ``"Terminate"`` stops a request chain after 16
        hops, ``"Allow"`` lets it run. The function's setting, changed in place: no redeploy, environments stay warm."""
        config = dataclasses.replace(self.config, recursion=recursion)  # checks the value (ConfigError)
        name = self.name

        def apply(plane: ControlPlane) -> None:
            plane.configs[name] = dataclasses.replace(plane.function(name), recursion=recursion)

        self._engine.call(apply)
        self.config = config

    def set_max_environments(self, most: int | None) -> None:
        """Managed Instances' scaling cap (PutFunctionScalingConfig's ``MaxExecutionEnvironments``; None: no cap),
        changed in place: no redeploy, live environments stay; from now on no more than ``most`` run at once, and an
        invoke that finds every worker busy with no environment to add is throttled."""
        self.set_scaling(self.config.min_environments, most)

    def set_scaling(self, min_environments: int | None, max_environments: int | None) -> None:
        """Managed Instances' FunctionScalingConfig, in place (no redeploy): ``min_environments`` (None: Lambda's 3)
        environments are kept, the ones lacking start now outside any invocation and extra ones go after their
        keep-alive; ``max_environments`` caps them (None: no cap; live environments stay, even above it)."""
        config = dataclasses.replace(self.config, min_environments=min_environments, max_environments=max_environments)
        name = self.name

        def apply(plane: ControlPlane) -> None:
            plane.configs[name] = dataclasses.replace(
                plane.function(name), min_environments=min_environments, max_environments=max_environments
            )
            plane.scheduler.set_max_environments(name, max_environments)
            plane.perform(plane.scheduler.set_min_environments(name, config.prestarted_environments, plane.now()))

        self._engine.call(apply)
        self.config = config

    def provision(self, count: int, qualifier: str | None = None) -> None:
        """Keep ``count`` environments of the version ``qualifier`` names initialised (0: none), as Lambda's
        provisioned concurrency; they start now, and ``wait_provisioned`` waits for them."""
        self._engine.call(lambda plane: plane.provision(self.name, count, qualifier))

    # -- invoking --------------------------------------------------------------------------------
    @overload
    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: Literal["RequestResponse"] = "RequestResponse",
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> InvocationResult: ...

    @overload
    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: Literal["Event"],
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> AsyncInvocation: ...

    @overload
    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: Literal["DryRun"],
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None: ...

    @overload
    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: str,
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> InvocationResult | AsyncInvocation | None: ...

    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: str = "RequestResponse",
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> InvocationResult | AsyncInvocation | None:
        """Invoke the function, as Lambda's Invoke API does.

        ``RequestResponse`` (the default) waits and returns an ``InvocationResult``; ``Event``
        queues the event and returns an ``AsyncInvocation`` at once (retries and destinations
        follow Lambda's rules); ``DryRun`` only validates and returns None. ``event`` is any
        JSON-serialisable value (``None`` sends ``{}``), or ``bytes``/``str`` holding JSON.
        ``qualifier`` is ``$LATEST``, a published version or an alias. ``tenant_id`` is the tenant of a function
        created with ``tenancy="PER_TENANT"`` (its environments serve that tenant only; the handler reads it as
        ``context.tenant_id``): such a function needs one, any other function refuses one.

        Handler errors, timeouts and crashes come back as a result with ``error`` set; API-level
        errors raise: ``TooManyRequestsException`` (throttled, with ``.reason``),
        ``RequestTooLargeException``, ``InvalidRequestContentException`` (not JSON, or ``NaN``/``Infinity``,
        before anything starts; it is also a ``ConfigError``), ``UnknownFunctionError``,
        ``InvalidParameterValueException`` (a tenant id missing or not wanted; also a ``ConfigError``).

        A durable function (``durable=True``) starts an execution: the answer is the workflow's result (or its error),
        carrying the record of the last of the invocations it took (``durable_history``); at most 15 minutes, as a
        synchronous invoke of a durable function (``TimeoutError`` then; the execution goes on); the result's
        ``durable_execution_arn`` is the execution's ARN. ``Event`` starts one and answers at once, the
        ``AsyncInvocation``'s ``request_id`` being the execution's ARN.
        """
        payload = encode_event(event)
        tenant_id = check_tenant_id(tenant_id)
        if invocation_type == "Event":
            return AsyncInvocation(self._lab.enqueue(self.name, payload, qualifier, tenant_id=tenant_id))
        if invocation_type == "DryRun":
            self.resolve(qualifier)
            return None
        if invocation_type != "RequestResponse":
            raise ConfigError(
                f"invalid invocation_type: {invocation_type!r}; expected RequestResponse, Event or DryRun"
            )
        self._engine.refuse_on_loop("invoke")
        if self.config.durable:  # an execution: replayed invocations until the workflow ends; its outcome answers
            return self.submit(event, qualifier=qualifier, tenant_id=tenant_id).result(DURABLE_WAIT_S)
        options = encode_client_context(client_context)
        limit = self.config.timeout_s + self._lab.settings.init_timeout_s + SLACK_S
        return self._engine.submit(self.name, payload, options, qualifier, tenant_id).result(limit)

    def invoke_async(
        self, event: Any = None, *, qualifier: str | None = None, tenant_id: str | None = None
    ) -> AsyncInvocation:
        """Same as ``invoke(event, invocation_type="Event")``."""
        return self.invoke(event, invocation_type="Event", qualifier=qualifier, tenant_id=tenant_id)

    def durable_history(self, execution: str | None = None) -> pd.DataFrame:
        """The checkpoint log of one durable execution of this function (its ARN or name; None: the latest), one row
        per event (``GetDurableExecutionHistory``), each marked with the ``replay`` it happened in;
        ``.attrs["replays"]`` has one row per invocation with the operations it ``skipped`` (replayed from the log)
        and ``ran`` (``lambdalab.viz.durable.replays`` draws them); ``.attrs["caption"]`` says when the clock is
        virtual."""
        return cast("pd.DataFrame", front_ends.get("durable")(self._lab).history_table(self.name, execution))

    def wait_provisioned(self, timeout_s: float = 60.0) -> None:
        """Wait until every provisioned environment has finished its init (they start at configuration)."""
        self._engine.refuse_on_loop("wait_provisioned")
        deadline = time.monotonic() + timeout_s
        want = self.config.provisioned_concurrency
        while sum(e.provisioned and e.state == "idle" for e in self.environments()) < want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {want} provisioned environments not ready after {timeout_s} s")
            time.sleep(0.01)

    def wait_ready(self, qualifier: str | None = None, timeout_s: float | None = None) -> None:
        """Managed Instances: wait until the environments started ahead of traffic (``min_environments``, Lambda's 3)
        have finished their init, or failed it. ``create_function``, ``update`` and ``publish`` of such a function
        call it (as Lambda marks a Managed Instances version Active once they run), so the first invoke finds them
        ready; it is not cold. ``TimeoutError`` after ``timeout_s`` (default: the workers' init limit and 10 s)."""
        self._engine.refuse_on_loop("wait_ready")
        if not self.config.managed_instances:
            return
        name = self.name

        def pool(plane: ControlPlane) -> Pool:
            return plane.scheduler.pool(name, plane.resolve(name, qualifier))

        wait = self._engine.call(pool).spec.init_timeout_s + 10.0 if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        while self._engine.call(lambda plane: pool(plane).statistics().initializing):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: its Managed Instances environments are still starting after {wait} s")
            time.sleep(0.01)

    def kill(self) -> None:
        """Shut down every environment of this function now (in-flight invocations end with an error)."""
        self._engine.call(lambda plane: plane.kill(self.name))

    def submit(
        self,
        event: Any = None,
        *,
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> concurrent.futures.Future[InvocationResult]:
        """Start a synchronous-type invocation without waiting; the future resolves with its result.

        Many submits in flight run concurrently, each in its own environment, as simultaneous
        requests do on Lambda. Errors that ``invoke`` raises are set on the future instead, except
        an invalid event, raised at once. Done-callbacks run on the Lab's callback thread (never on
        the engine's), so a callback may call ``invoke``; they run one at a time, in order.
        """
        payload = encode_event(event)
        tenant_id = check_tenant_id(tenant_id)
        if self.config.durable:  # a durable execution, answered with the workflow's outcome (see ``invoke``)
            return cast(
                "concurrent.futures.Future[InvocationResult]",
                front_ends.get("durable")(self._lab).submit(self.name, payload, qualifier, None, tenant_id),
            )
        return self._engine.submit(self.name, payload, encode_client_context(client_context), qualifier, tenant_id)

    def update(
        self,
        *,
        source: str | None = None,
        path: str | Path | None = None,
        zip_file: bytes | None = None,
        progress: deploy.Progress | None = None,
        pip_args: Sequence[str] | None = None,
        **changes: Any,
    ) -> Function:
        """Deploy new code and/or configuration: existing environments retire, the next invoke is cold.

        ``layers=``, ``requirements=`` and ``inherit_packages=`` change what the function ships, as on
        ``create_function``; ``pip_args`` (kept from the last deploy when not given) and ``progress`` too.
        ``log_format="Text"`` drops levels that are not given again; ``aws_endpoint_url=None`` goes back to the Lab's.
        """
        fixed = sorted(k for k in FIXED_AT_CREATION if k in changes and changes[k] != getattr(self.config, k))
        if fixed:  # Managed Instances, tenancy and durable execution are chosen when a function is created
            raise ConfigError(f"invalid setting: {', '.join(fixed)} cannot be changed after the function is created")
        if "aws_endpoint_url" in changes and changes["aws_endpoint_url"] is None:  # back to the Lab's
            changes["aws_endpoint_url"] = self._lab.settings.aws_endpoint_url
        if self.config.durable and ("aws_endpoint_url" in changes or "env_vars" in changes):  # its SDK: still the Lab
            changes["aws_endpoint_url"], changes["env_vars"] = front_ends.get("durable")(self._lab).function_endpoint(
                changes.get("aws_endpoint_url", self.config.aws_endpoint_url),
                changes.get("env_vars", self.config.env_vars),
            )
        if changes.get("log_format") is not None and str(changes["log_format"]).upper() == "TEXT":
            # back to Text: levels not given again are dropped (they only ever apply to JSON)
            changes.setdefault("application_log_level", None)
            changes.setdefault("system_log_level", None)
        try:
            config = dataclasses.replace(self.config, **changes) if changes else self.config
        except TypeError as exc:  # an unknown keyword
            raise ConfigError(f"invalid setting: {exc}") from None
        if pip_args is None:
            pip_args = self._engine.packages[self.name].pip_args
        if source is None and path is None and zip_file is None:  # the same code, redeployed from its task root
            self._engine.deploy(config, path=self.version_info().code_folder, progress=progress, pip_args=pip_args)
        else:
            self._engine.deploy(
                config, source=source, path=path, archive=zip_file, progress=progress, pip_args=pip_args
            )
        self.config = config
        if path is not None or source is not None or zip_file is not None:
            self.source_path = Path(path).resolve() if path is not None else None
        if config.managed_instances and not self._engine.on_loop():  # the new code's environments start now
            self.wait_ready()
        return self

    def environments(self) -> list[EnvironmentInfo]:
        """The function's environments that are not gone yet: state, phase, request, seconds in it, age.

        Cheap to poll (the environment board lists 200 ten times a second): one hop to the engine's loop.
        """
        rows = self._engine.call(lambda plane: observe.live_environments(plane, self.name))
        return [EnvironmentInfo(*row) for row in rows]

    def debug_ports(self, attached: bool | None = None) -> dict[str, int]:
        """Debug mode (``debug=``): ``{environment id: loopback port}`` of the environments whose runtime runs now
        under debugpy (``attached=True``: only those a debugger client is attached to; ``False``: those waiting)."""
        return self._engine.call(lambda plane: debug.ports(plane, self.name, attached))

    def statistics(self) -> dict[str, Any]:
        """Environments by state, concurrency in use, throttles and queued events; cheap to poll."""
        return self._engine.call(lambda plane: observe.statistics(plane, self.name))

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
            raise ConfigError(
                f"profile_init needs runtime 'python': {self.name} runs {self.config.runtime!r}; it "
                "reads Python's import timing (a python-ric handler is imported inside awslambdaric: "
                "profile a copy with runtime='python')"
            )

        def where(plane: ControlPlane) -> tuple[FunctionConfig, Path, str, Any]:
            spec = plane.scheduler.pool(self.name, plane.resolve(self.name, qualifier)).spec
            sha = spec.code
            config, code_dir = plane.version_code(spec)
            return config, code_dir, sha, plane.paths.get((self.name, sha))

        config, code_dir, sha, paths = self._engine.call(where)
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
        # the Text format: a JSON format's level filter would drop the import timing lines it reads
        text = {"log_format": "Text", "application_log_level": None, "system_log_level": None}
        # one classic cold start: no Managed Instances workers (they would need JSON logs), no tenant to name
        text |= {"max_concurrency_per_environment": None, "max_environments": None, "tenancy": None}
        profiled = ProfiledConfig(**(fields | text | {"provisioned_concurrency": 0, "reserved_concurrency": None}))
        s = self._engine.settings
        scratch = LabEngine(  # a Lab of its own: this one's region, account, init timeout, variables, cgroups
            LabSettings(
                region=s.region,
                account_id=s.account_id,
                init_timeout_s=s.init_timeout_s,
                pass_env=s.pass_env,
                use_cgroups=s.use_cgroups,
                role_credentials=s.role_credentials,
                max_log_entries=1_000_000,
                aws_endpoint_url=s.aws_endpoint_url,
            )
        )
        try:
            scratch.call(lambda plane: plane.deploy(profiled, code_dir, sha, paths))
            limit = config.timeout_s + s.init_timeout_s + SLACK_S
            result = scratch.submit(self.name, b"{}", None).result(limit)
            log = scratch.logs(self.name)
        finally:
            scratch.close()
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


def _check_routing(version: str, weights: Mapping[str, float]) -> None:
    """Lambda's rules for an alias's routing (its messages): one other version at most, never its own."""
    if len(weights) > 1:
        raise ConfigError("Number of items in AdditionalVersionWeights cannot be greater than 1")
    if version in weights:
        raise ConfigError(
            f"Invalid function version {version}. Function version {version} is already included in routing "
            "configuration."
        )
    if weights and version == LATEST:
        raise ConfigError("$LATEST is not supported for an alias pointing to more than 1 version")
