"""``Lab``: functions on real AWS Lambda (or a stand-in), with the local ``lambdalab.Lab``'s surface.

    with lambdalab.aws.Lab() as lab:                     # boto3's usual credentials, region and endpoints
        fn = lab.create_function("hello", "def handler(event, context):\\n    return event")
        fn.invoke({"x": 1}).payload                      # cold; then warm
        lab.invocations()                                # the same columns as a local run
    # close(delete=True): the functions, layer versions, log groups and role this Lab made are gone

Every resource is named with ``prefix`` (functions ``{prefix}{name}``, layers ``{prefix}{id}-{layer}``, the
role ``{prefix}exec-{id}`` under ``/lambdalab/``) and the taggable ones carry ``lambdalab:lab`` and
``lambdalab:prefix``, so ``lambdalab.aws.cleanup`` (``lambdalab aws cleanup``) finds whatever a Lab left.
Records are read from CloudWatch Logs (``reading.py``); packages are built here (``package.py``).
Nothing reaches AWS until a method that needs it is called; credentials stay inside boto3.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.aws import package, reading, roles
from lambdalab.aws.cleanup import cleanup_command, delete_one, layer_versions, left_behind, tagged_function
from lambdalab.aws.clients import (
    POOL,
    call,
    error_code,
    error_message,
    make_clients,
    region_of,
    session_or_default,
    translate,
    wait_active,
)
from lambdalab.aws.function import Function, layer_refs
from lambdalab.aws.package import Code
from lambdalab.config import check_function_name
from lambdalab.errors import ConfigError, LabClosedError, LambdaLabError, UnknownFunctionError

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.core.records import InvocationRecord

# create_function's keywords beyond the protocol's, and what update() may change
SETTINGS = (
    "handler", "memory_mb", "timeout_s", "env_vars", "runtime", "layers", "requirements", "pip_args",
    "log_format", "application_log_level", "system_log_level", "ephemeral_storage_mb", "reserved_concurrency",
    "handler_as_given", "description", "snap_start",
)  # fmt: skip
_CODE_KEYS = ("requirements", "pip_args")
READY_TIMEOUT_S = 300.0


class Lab:
    """Functions on AWS Lambda, deployed, invoked and recorded as the local Lab does them."""

    def __init__(
        self,
        session: Any = None,
        role_arn: str | None = None,
        prefix: str = "lambdalab-",
        region: str | None = None,
        *,
        confirm_above_usd: float = 1.0,
        logs_wait_s: float = 30.0,
    ) -> None:
        if not isinstance(prefix, str) or not prefix or len(prefix) > 30:
            raise ConfigError(f"invalid prefix: {prefix!r}; expected 1 to 30 characters")
        self.session = session_or_default(session)
        self.region = region_of(self.session, region)
        self.clients = make_clients(self.session, self.region)
        self.prefix = prefix
        self.id = secrets.token_hex(4)
        self.role_arn = role_arn
        self.confirm_above_usd = float(confirm_above_usd)
        self.logs_wait_s = float(logs_wait_s)
        # packages are built in a folder made for each build and removed after it (none lives with the Lab: a
        # process killed or ended without running finalizers left one behind); this path is never made
        self.workdir = Path(tempfile.gettempdir()) / f"lambdalab-aws-{self.id}"
        self.executor = ThreadPoolExecutor(POOL, thread_name_prefix=f"lambdalab-aws-{self.id}")
        self.started = time.time()
        self.log = reading.InvocationLog()
        self._own_role = False
        self._functions: dict[str, Function] = {}
        self._remote_names: list[str] = []  # every function this Lab created, deleted or not (their logs stay)
        self._created: list[tuple[str, str]] = []  # (kind, ARN or name), in creation order
        self._lock = threading.Lock()
        self._closed = False
        self._closing = False  # close() began: nothing new starts; close() may be called again until it succeeds
        self._deleted_events: dict[str, list[dict[str, Any]]] = {}  # remote name -> events read before deletion
        self._sent_to: set[str] = set()  # functions an invocation was sent to: their log group may exist
        # a Lab never closed says at exit what it left (a network call while the interpreter ends could hang)
        self._at_exit = weakref.finalize(
            self, left_behind, self.id, self.prefix, self.region, self._created, self.workdir
        )

    @property
    def tags(self) -> dict[str, str]:
        return {"lambdalab:lab": self.id, "lambdalab:prefix": self.prefix}

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._functions)} functions"
        return f"<lambdalab.aws.Lab {self.id} region={self.region} prefix={self.prefix!r} {state}>"

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(delete=True)

    @property
    def closed(self) -> bool:
        return self._closed

    def check_open(self) -> None:
        if self._closed or self._closing:
            raise LabClosedError(f"this AWS Lab ({self.id}) is closed; create a new one")

    def close(self, delete: bool = True) -> None:
        """Stop; with ``delete`` (the default) remove every function, layer version, log group and role this Lab
        created. ``delete=False`` leaves them (``lambdalab aws cleanup --lab ID`` removes them later).

        Invocations under way are not waited for (their functions are deleted under them). If a delete fails or
        close is interrupted, the Lab stays not ``closed`` (nothing new starts) and ``close()`` tries again; what
        is left is still named at exit."""
        if self._closed:
            return
        self._closing = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if delete:
            failures = []
            maybe = [("log-group", f"/aws/lambda/{remote}") for remote in sorted(self._sent_to)]
            for kind, ident in [*reversed(self._created_list()), *maybe]:  # a group that may exist: gone or not
                try:
                    delete_one(self.clients.lambda_, self.clients.logs, self.clients.iam, kind, ident)
                except Exception as exc:
                    failures.append(f"{kind} {ident}: {translate(exc)}")
                    continue
                self._forget(kind, ident)
            if failures:
                raise LambdaLabError(
                    "could not delete: "
                    + "; ".join(failures)
                    + ". Try again with close(), or: "
                    + cleanup_command(self.id, self.prefix, self.region)
                )
        self._closed = True
        self._at_exit.detach()
        if not delete:
            left_behind(self.id, self.prefix, self.region, self._created)

    def _created_list(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._created)

    def created(self) -> list[str]:
        """ARNs (a log group: its name) of everything this Lab created and has not deleted, oldest first."""
        with self._lock:
            return [ident for _, ident in self._created]

    def _note(self, kind: str, ident: str) -> None:
        with self._lock:
            if (kind, ident) not in self._created:
                self._created.append((kind, ident))

    def _forget(self, kind: str, ident: str) -> None:
        with self._lock:
            if (kind, ident) in self._created:
                self._created.remove((kind, ident))

    def note_log_group(self, remote_name: str, *, sent: bool = False) -> None:
        """The function's log group exists once an invocation ran (Lambda made it): the Lab deletes it at close.
        ``sent``: an invocation is on its way (it may exist): close deletes it too, ``created()`` does not list it."""
        if sent:
            with self._lock:
                self._sent_to.add(remote_name)
        elif not self._closed:
            self._note("log-group", f"/aws/lambda/{remote_name}")

    def remember(
        self, request_id: str, name: str, *, submitted: float, sync: bool, record: InvocationRecord | None = None
    ) -> None:
        """What the client saw of one invocation, merged into the records read from CloudWatch Logs."""
        self.log.remember(request_id, name, submitted=submitted, sync=sync, record=record)

    def billed_durations(self, name: str) -> list[int]:
        return self.log.billed_durations(name)

    # -- functions ------------------------------------------------------------------------------
    def remote_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

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
        layers: Sequence[str | Path] = (),
        requirements: Sequence[str] | str | None = None,
        **options: Any,
    ) -> Function:
        """Build the package here, upload it (CreateFunction, tagged) and wait until the function is Active.

        Takes the local Lab's keywords that mean something on Lambda (``reserved_concurrency``, ``log_format``,
        ``application_log_level``, ``system_log_level``, ``ephemeral_storage_mb``, ``pip_args``,
        ``handler_as_given``, ``description``, ``snap_start``: ``SnapStart={"ApplyOn": "PublishedVersions"}``);
        local-only ones (``freeze``, ``keep_alive_s``...) are refused.
        ``runtime="python"`` is this interpreter's identifier; Lambda's identifiers are taken as they are.
        Local layers (folders, .zip files) are published as ``{prefix}{lab id}-{name}``; ARNs pass through.
        """
        self.check_open()
        unknown = sorted(set(options) - set(SETTINGS) - {"progress"})
        if unknown:
            raise ConfigError(f"invalid setting: {', '.join(unknown)} cannot be set on AWS Lambda (a local Lab's)")
        if name in self._functions:
            raise ConfigError(f"invalid name: {name!r} is already registered; use update() to change it")
        progress = options.pop("progress", None)
        settings: dict[str, Any] = {
            "handler": handler, "memory_mb": memory_mb, "timeout_s": timeout_s, "env_vars": dict(env_vars or {}),
            "runtime": runtime, "layers": layer_refs(layers), "requirements": _requirements(requirements), **options,
        }  # fmt: skip
        code = Code(source, path, zip_file)
        remote = self.remote_name(name)
        check_function_name(remote)
        configuration, zipped = self._prepare(name, settings, code, progress)
        role = self._role()
        params = {"FunctionName": remote, "Role": role, "Code": {"ZipFile": zipped}, "Tags": self.tags}
        noted = {ident for kind, ident in self._created_list() if kind == "function"}
        try:
            made = roles.retry_new_role(
                lambda: self.clients.lambda_.create_function(**params, **configuration, Publish=False),
                wait_s=roles.ROLE_WAIT_S if self._own_role else 0.0,
            )
            arn = str(made["FunctionArn"])
        except Exception as exc:
            # the reply may have been lost after Lambda made it (a read timeout; botocore's retry then meets
            # ResourceConflictException): a function of this name tagged with this Lab's id is this call's
            found = tagged_function(self.clients.lambda_, remote, self.tags)
            if found is not None and found not in noted:
                arn = found
            elif found is not None:
                self._note("function", found)
                raise ConfigError(
                    f"invalid name: {remote} already exists: this Lab made it in an earlier create_function that "
                    f"failed; close() deletes it ({error_message(exc)})"
                ) from None
            elif error_code(exc) == "ResourceConflictException":  # left by an earlier Lab, or made by someone else
                raise ConfigError(
                    f"invalid name: {remote} already exists in {self.region} ({error_message(exc)}); a Lab left "
                    f"open? `lambdalab aws cleanup --dry-run` lists what Labs left, or use another prefix"
                ) from None
            else:
                raise translate(exc) from None
        self._note("function", arn)
        self._remote_names.append(remote)
        fn = Function(self, name, settings, code, self.wait_ready(remote))
        fn.layer_arns = configuration.get("Layers", [])
        self._functions[name] = fn
        if settings.get("reserved_concurrency") is not None:
            fn.set_reserved_concurrency(settings["reserved_concurrency"])
        return fn

    def redeploy(self, fn: Function, code: Code | None, changes: dict[str, Any]) -> None:
        """``Function.update``: new code (UpdateFunctionCode) and/or settings (UpdateFunctionConfiguration)."""
        self.check_open()
        progress = changes.pop("progress", None)
        unknown = sorted(set(changes) - set(SETTINGS))
        if unknown:
            raise ConfigError(f"invalid setting: {', '.join(unknown)} cannot be set on AWS Lambda")
        if str(changes.get("log_format", "")).upper() == "TEXT":  # as locally: levels only ever apply to JSON
            changes.setdefault("application_log_level", None)
            changes.setdefault("system_log_level", None)
        if "layers" in changes:
            changes["layers"] = layer_refs(changes["layers"])
        if "requirements" in changes:
            changes["requirements"] = _requirements(changes["requirements"])
        settings = {**fn.settings, **changes}
        new_code = code or fn.code
        configuration, zipped = self._prepare(fn.name, settings, new_code, progress, layers="layers" in changes)
        if "layers" not in changes:
            configuration["Layers"] = list(getattr(fn, "layer_arns", []))
        lam, remote = self.clients.lambda_, fn.remote_name
        code_changed = code is not None or any(k in changes for k in _CODE_KEYS) or "handler" in changes
        if code_changed or not changes:
            call(lam.update_function_code, FunctionName=remote, ZipFile=zipped)
            self.wait_ready(remote)
        if set(changes) - {"reserved_concurrency", *_CODE_KEYS}:
            call(lam.update_function_configuration, FunctionName=remote, **configuration)
            self.wait_ready(remote)
        if "reserved_concurrency" in changes:
            fn.set_reserved_concurrency(changes["reserved_concurrency"])
        fn.settings, fn.code, fn.layer_arns = settings, new_code, configuration["Layers"]
        fn.refresh()

    def _prepare(
        self, name: str, settings: dict[str, Any], code: Code, progress: Any, *, layers: bool = True
    ) -> tuple[dict[str, Any], bytes]:
        """The function's Lambda configuration and its package's bytes, checked as the local Lab checks them."""
        configuration = package.configuration(name, settings, code)
        configuration.setdefault("Description", f"lambdalab {self.id}: {name}")
        identifier = configuration["Runtime"]
        workdir = Path(tempfile.mkdtemp(prefix=f"lambdalab-aws-{self.id}-"))  # this build's only
        try:
            zipped = package.build_zip(
                workdir,
                handler_module=configuration["Handler"].rpartition(".")[0] or "lambda_function",
                code=code,
                runtime=identifier,
                requirements=settings.get("requirements") or (),
                pip_args=settings.get("pip_args") or (),
                for_aws=self.clients.on_aws,
                progress=progress,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if layers:
            configuration["Layers"] = self._layer_arns(settings["layers"], identifier)
        return configuration, zipped

    def _layer_arns(self, layers: Sequence[str | Path], runtime: str) -> list[str]:
        arns = []
        for ref in layers:
            if isinstance(ref, str) and package.is_layer_arn(ref):
                arns.append(ref)
                continue
            layer_name, data = package.layer_zip(ref)
            full_name = f"{self.prefix}{self.id}-{layer_name}"  # this Lab's id is in the name: every version is ours
            try:
                published = call(
                    self.clients.lambda_.publish_layer_version,
                    LayerName=full_name,
                    Description=f"lambdalab {self.id}: {Path(ref).name}",
                    Content={"ZipFile": data},
                    CompatibleRuntimes=[runtime],
                )
            except Exception:
                for arn in layer_versions(self.clients.lambda_, full_name):  # published before the reply was lost?
                    self._note("layer", arn)
                raise
            self._note("layer", str(published["LayerVersionArn"]))
            arns.append(str(published["LayerVersionArn"]))
        return arns

    def _role(self) -> str:
        with self._lock:
            if self.role_arn is None:
                name = roles.role_name(self.prefix, self.id)
                try:
                    # a role IAM made whose reply was lost is adopted (roles.create_role)
                    self.role_arn = roles.create_role(self.clients.iam, name, self.tags)
                except Exception as exc:
                    raise translate(exc) from None
                self._own_role = True
                self._created.append(("role", self.role_arn))
            return self.role_arn

    def wait_ready(
        self, remote: str, qualifier: str | None = None, timeout_s: float = READY_TIMEOUT_S
    ) -> dict[str, Any]:
        """GetFunctionConfiguration until the function is Active and no update is in progress; returns it."""
        return wait_active(self.clients.lambda_, remote, qualifier, timeout_s)

    def function(self, name: str) -> Function:
        found = self._functions.get(name)
        if found is None:
            raise UnknownFunctionError(f"Function not found: {self.remote_name(name)} (not created by this Lab)")
        return found

    def functions(self) -> list[str]:
        return list(self._functions)

    def delete_function(self, name: str) -> None:
        """DeleteFunction: its versions and aliases go; its log group stays until ``close``.

        Its events as they are now are kept too, for a log group that goes with its function (the stand-in's)."""
        fn = self.function(name)
        arn = fn.arn()
        try:
            kept = reading.events(self.clients.logs, fn.remote_name, self.started)
        except Exception:  # logs not readable (no permission): nothing kept, the delete goes on
            kept = []
        call(self.clients.lambda_.delete_function, FunctionName=fn.remote_name)
        self._deleted_events[fn.remote_name] = kept
        self._forget("function", arn)
        self._functions.pop(name, None)

    def invoke(self, name: str, event: Any = None, **options: Any) -> Any:
        return self.function(name).invoke(event, **options)

    # -- records (CloudWatch Logs) --------------------------------------------------------------
    def _targets(self, names: Sequence[str] | None) -> list[tuple[str, str]]:
        remote = self._remote_names if names is None else [self.remote_name(n) for n in names]
        return [(r[len(self.prefix) :], r) for r in dict.fromkeys(remote)]

    def invocations(self, *, names: Sequence[str] | None = None, wait_s: float | None = None) -> pd.DataFrame:
        """One row per finished invocation, read from CloudWatch Logs (the local frame's columns); waits up to
        ``logs_wait_s`` for the REPORT of every synchronous invoke this Lab saw."""
        wait = self.logs_wait_s if wait_s is None else wait_s
        return reading.invocations(
            self.clients.logs, self._targets(names), self.log, self.started, wait, self._deleted_events
        )

    def spans(self, *, names: Sequence[str] | None = None, wait_s: float | None = None) -> pd.DataFrame:
        """Init and invoke spans from CloudWatch Logs; ``attrs["unknown_phases"]`` names what AWS does not show."""
        wait = self.logs_wait_s if wait_s is None else wait_s
        return reading.spans(
            self.clients.logs, self._targets(names), self.log, self.started, wait, self._deleted_events
        )

    def logs(self, name: str, environment_id: str | None = None) -> str:
        """Function ``name``'s log lines (or one log stream's: an environment's), stream by stream."""
        remote = self.remote_name(name)
        return reading.log_text(self.clients.logs, remote, self.started, environment_id, self._deleted_events)

    def log_streams(self, name: str) -> list[str]:
        return reading.log_streams(self.clients.logs, self.remote_name(name), self._deleted_events)


def _requirements(requirements: Sequence[str] | str | None) -> list[str]:
    if isinstance(requirements, str):
        return requirements.split()
    return list(requirements or ())
