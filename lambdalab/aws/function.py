"""``Function``: one function of an AWS ``Lab`` (``lambdalab.aws.Lab``), with the local ``Function``'s surface.

Invokes send ``LogType=Tail`` and build the record from the REPORT line in the tail; ``submit`` runs on the
Lab's thread pool; throttles raise ``TooManyRequestsException`` as locally. What AWS cannot show (environments,
freeze intervals) is not offered here; the Lab's frames say what is unknown (``lambdalab.protocol``).
"""

from __future__ import annotations

import base64
import concurrent.futures
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdalab.aws import cost, records
from lambdalab.aws.clients import call, paginate
from lambdalab.aws.package import Code
from lambdalab.aws.results import RemoteResult, decode_payload
from lambdalab.config import check_alias_name, check_alias_weights
from lambdalab.core.scheduler import Alias
from lambdalab.errors import ConfigError, LambdaLabError, UnknownFunctionError
from lambdalab.payload import encode_client_context, encode_event
from lambdalab.results import AsyncInvocation

if TYPE_CHECKING:
    import pandas as pd

    from lambdalab.aws.lab import Lab

LATEST = "$LATEST"


class Function:
    """A function this Lab deployed to AWS Lambda: invoke it, update it, publish versions, read its records."""

    def __init__(self, lab: Lab, name: str, settings: dict[str, Any], code: Code, config: dict[str, Any]) -> None:
        self._lab = lab
        self._name = name
        self.settings = settings  # what create_function/update were given (the local Lab's keywords)
        self.code = code  # where the code of the last deploy came from
        self.config = config  # the last GetFunctionConfiguration
        self.layer_arns: list[str] = []  # the layer versions it runs (local layers as published)

    @property
    def name(self) -> str:
        return self._name

    @property
    def remote_name(self) -> str:
        return self._lab.remote_name(self._name)

    @property
    def lab(self) -> Lab:
        return self._lab

    def __repr__(self) -> str:
        c = self.config
        return (
            f"<lambdalab.aws.Function {self.remote_name} runtime={c.get('Runtime')} "
            f"memory={c.get('MemorySize')}MB timeout={c.get('Timeout')}s region={self._lab.region}>"
        )

    def arn(self, qualifier: str | None = None) -> str:
        base = str(self.config["FunctionArn"]).split(":function:")[0] + f":function:{self.remote_name}"
        return f"{base}:{qualifier}" if qualifier else base

    def refresh(self) -> dict[str, Any]:
        """Read the configuration again (GetFunctionConfiguration)."""
        self.config = self._lab.wait_ready(self.remote_name)
        return self.config

    # -- invoking --------------------------------------------------------------------------------
    def invoke(
        self,
        event: Any = None,
        *,
        invocation_type: str = "RequestResponse",
        qualifier: str | None = None,
        client_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Invoke as Lambda's Invoke API does: ``RequestResponse`` -> ``RemoteResult``, ``Event`` ->
        ``AsyncInvocation``, ``DryRun`` -> None. Throttles raise ``TooManyRequestsException``."""
        payload = encode_event(event)
        context = encode_client_context(client_context)
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ConfigError(
                f"invalid invocation_type: {invocation_type!r}; expected RequestResponse, Event or DryRun"
            )
        self._lab.check_open()
        params: dict[str, Any] = {"FunctionName": self.remote_name, "Payload": payload}
        if qualifier is not None:
            params["Qualifier"] = qualifier
        if context is not None:
            params["ClientContext"] = base64.b64encode(context["client_context"].encode()).decode()
        submitted = time.time()
        if invocation_type == "DryRun":
            call(self._lab.clients.invoke.invoke, InvocationType=invocation_type, **params)
            return None
        if invocation_type == "Event":
            response = self._send(InvocationType=invocation_type, **params)
            request_id = str(response["ResponseMetadata"]["RequestId"])
            self._lab.remember(request_id, self._name, submitted=submitted, sync=False)
            return AsyncInvocation(request_id, int(response.get("StatusCode", 202)))
        response = self._send(LogType="Tail", **params)
        end = time.time()
        return self._result(response, submitted, end)

    def _send(self, **params: Any) -> Any:
        """Invoke; the function's log group is the Lab's to delete once Lambda took an invocation (not a refusal:
        a throttle, an unknown function; but a lost reply, when the function may have run)."""
        self._lab.note_log_group(self.remote_name, sent=True)
        try:
            response = call(self._lab.clients.invoke.invoke, **params)
        except LambdaLabError:
            raise  # Lambda's own answer: it refused the invocation
        except Exception:
            self._lab.note_log_group(self.remote_name)
            raise
        self._lab.note_log_group(self.remote_name)
        return response

    def _result(self, response: dict[str, Any], submitted: float, end: float) -> RemoteResult:
        raw = response["Payload"].read()
        function_error = response.get("FunctionError")
        payload, error = decode_payload(raw, function_error)
        error_type = None
        if error is not None:
            error_type = str(error.get("errorType") or function_error)
        tail = base64.b64decode(response.get("LogResult") or "").decode("utf-8", "replace")
        request_id = str(response["ResponseMetadata"]["RequestId"])
        facts: dict[str, Any] = {
            "function": self._name,
            "version": str(response.get("ExecutedVersion") or LATEST),
            "request_id": request_id,
            "submitted": submitted,
            "end": end,
            "error_type": error_type,
        }
        try:
            record = records.record_from_tail(tail, **facts)
        except ValueError:  # no REPORT: a system log level above INFO (JSON format) leaves it out
            record = records.record_without_report(memory_size_mb=int(self.config.get("MemorySize", 0)), **facts)
        self._lab.remember(request_id, self._name, submitted=submitted, sync=True, record=record)
        return RemoteResult(payload, error, raw, record, tail, function_error, region=self._lab.region)

    def invoke_async(self, event: Any = None, *, qualifier: str | None = None) -> AsyncInvocation:
        """Same as ``invoke(event, invocation_type="Event")``."""
        result: AsyncInvocation = self.invoke(event, invocation_type="Event", qualifier=qualifier)
        return result

    def submit(
        self, event: Any = None, *, qualifier: str | None = None, client_context: Mapping[str, Any] | None = None
    ) -> concurrent.futures.Future[Any]:
        """Start a synchronous invocation on the Lab's thread pool (64 threads); the future holds its result."""
        encode_event(event)  # an invalid event is refused at once, as locally
        encode_client_context(client_context)
        self._lab.check_open()
        return self._lab.executor.submit(self.invoke, event, qualifier=qualifier, client_context=client_context)

    # -- code and configuration -----------------------------------------------------------------
    def update(
        self,
        *,
        source: str | None = None,
        path: str | Path | None = None,
        zip_file: bytes | None = None,
        **changes: Any,
    ) -> Function:
        """Deploy new code and/or configuration (the local ``update``'s keywords); waits until it is live.

        With nothing given, the last package is uploaded again. On Lambda, as locally, environments of the old
        code or configuration are not reused: the next invoke is cold.
        """
        code = Code(source, path, zip_file) if (source, path, zip_file) != (None, None, None) else None
        self._lab.redeploy(self, code, changes)
        return self

    def set_reserved_concurrency(self, count: int | None) -> None:
        """PutFunctionConcurrency (None: DeleteFunctionConcurrency): 0 throttles every invoke."""
        client = self._lab.clients.lambda_
        if count is None:
            call(client.delete_function_concurrency, FunctionName=self.remote_name)
        else:
            call(client.put_function_concurrency, FunctionName=self.remote_name, ReservedConcurrentExecutions=count)
        self.settings["reserved_concurrency"] = count

    # -- versions and aliases ------------------------------------------------------------------
    def publish(self) -> str:
        """PublishVersion of ``$LATEST``; returns the version's number."""
        client = self._lab.clients.lambda_
        published = call(client.publish_version, FunctionName=self.remote_name)
        self._lab.wait_ready(self.remote_name, qualifier=str(published["Version"]))
        return str(published["Version"])

    def versions(self) -> list[str]:
        """``$LATEST`` and the published versions, oldest first."""
        found = paginate(
            self._lab.clients.lambda_, "list_versions_by_function", "Versions", FunctionName=self.remote_name
        )
        numbers = [str(v["Version"]) for v in found if v["Version"] != LATEST]
        return [LATEST, *sorted(numbers, key=int)]

    def aliases(self) -> dict[str, Alias]:
        found = paginate(self._lab.clients.lambda_, "list_aliases", "Aliases", FunctionName=self.remote_name)
        return {
            str(a["Name"]): Alias(
                str(a["Name"]),
                str(a["FunctionVersion"]),
                dict((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}),
            )
            for a in found
        }

    def create_alias(self, name: str, version: str, weights: Mapping[str, float] | None = None) -> None:
        check_alias_name(name)
        check_alias_weights(weights)
        params = _alias_params(version, weights)
        call(self._lab.clients.lambda_.create_alias, FunctionName=self.remote_name, Name=name, **params)

    def update_alias(self, name: str, version: str | None = None, weights: Mapping[str, float] | None = None) -> None:
        """Point alias ``name`` at ``version`` (None: where it points now) with ``weights`` (None: keep; {}: none)."""
        if weights is not None:
            check_alias_weights(weights)
        params: dict[str, Any] = {}
        if version is not None:
            params["FunctionVersion"] = version
        if weights is not None:
            params["RoutingConfig"] = {"AdditionalVersionWeights": dict(weights)}
        call(self._lab.clients.lambda_.update_alias, FunctionName=self.remote_name, Name=name, **params)

    def delete_alias(self, name: str) -> None:
        if name not in self.aliases():  # DeleteAlias of a missing alias succeeds on Lambda; locally it is an error
            raise UnknownFunctionError(f"Alias not found: {self.arn(name)}")
        call(self._lab.clients.lambda_.delete_alias, FunctionName=self.remote_name, Name=name)

    def delete_version(self, version: str) -> None:
        if version == LATEST:
            raise ConfigError("$LATEST version cannot be deleted without deleting the function.")
        call(self._lab.clients.lambda_.delete_function, FunctionName=self.remote_name, Qualifier=version)

    # -- records and costs ----------------------------------------------------------------------
    def logs(self, environment_id: str | None = None) -> str:
        return self._lab.logs(self._name, environment_id)

    def log_streams(self) -> list[str]:
        return self._lab.log_streams(self._name)

    def invocations(self) -> pd.DataFrame:
        """This function's rows of the Lab's ``invocations()``."""
        return self._lab.invocations(names=[self._name])

    def spans(self) -> pd.DataFrame:
        return self._lab.spans(names=[self._name])

    def estimate_cost(self, requests: int, duration_ms: float | None = None) -> float:
        """USD at list prices for ``requests`` invokes of ``duration_ms`` each (None: the mean billed duration of
        this function's invokes so far, else its timeout: the most one can cost)."""
        if duration_ms is None:
            billed = self._lab.billed_durations(self._name)
            duration_ms = sum(billed) / len(billed) if billed else float(self.config.get("Timeout", 3)) * 1000.0
        architecture = (self.config.get("Architectures") or ["x86_64"])[0]
        memory = int(self.config.get("MemorySize", 128))
        return cost.estimate_usd(int(requests), memory, float(duration_ms), architecture)

    def confirm_load(self, requests: int, duration_s: float | None = None, *, confirmed: bool = False) -> None:
        """Before a load run: print its estimate; above the Lab's ``confirm_above_usd`` ask ``Proceed? [y/N]``
        where someone can answer, else raise ``CostConfirmationRequired``. ``confirmed=True`` only prints."""
        usd = self.estimate_cost(int(requests))
        cost.confirm(int(requests), usd, threshold_usd=self._lab.confirm_above_usd, confirmed=confirmed)


def _alias_params(version: str, weights: Mapping[str, float] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"FunctionVersion": version}
    if weights:
        params["RoutingConfig"] = {"AdditionalVersionWeights": dict(weights)}
    return params


def layer_refs(layers: Sequence[str | Path]) -> list[str | Path]:
    if isinstance(layers, (str, Path)) or not isinstance(layers, (list, tuple)):
        raise ConfigError(f"invalid layers: {layers!r}; expected a list of layer ARNs, folders or .zip files")
    return list(layers)
