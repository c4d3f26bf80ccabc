"""The durable execution APIs (``/2025-12-01/...``) a durable function's SDK and its callers use.

CheckpointDurableExecution and GetDurableExecutionState are what the AWS Durable Execution SDK calls from inside the
function (its boto3 client finds this endpoint through ``AWS_ENDPOINT_URL_LAMBDA``); GetDurableExecution,
GetDurableExecutionHistory, ListDurableExecutionsByFunction, StopDurableExecution and
SendDurableExecutionCallback{Success,Failure,Heartbeat} are for callers (boto3, the AWS CLI). Each request is read
with botocore's shapes (the SDK's local runner's request models) and answered by the Lab's durable service
(``lambdalab.durable``) on its own threads, never blocking the loop; its errors come back in Lambda's format. Every
body and query string is first checked against botocore's model (``durable_shapes``): a malformed request is a
400 (``InvalidParameterValueException`` or ``ValidationException``), never a 500. ListDurableExecutionsByFunction
of a function the Lab does not have is 404 ``ResourceNotFoundException``, as every function route.

Not served: DeleteDurableExecution, PauseDurableExecution and ResumeDurableExecution (501).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab import durable
from lambdalab.endpoint import durable_shapes, wire
from lambdalab.endpoint.management import existing, parse_json, reply

if TYPE_CHECKING:
    from lambdalab.durable.service import DurableService
    from lambdalab.endpoint.server import Endpoint

# an execution's ARN (arn:aws:lambda:...:function:NAME:VERSION/durable-execution/NAME/ID) as botocore sends it
# (percent-encoded: one path segment) or as written (its '/' as they are); the routes with a suffix come first
D = "/2025-12-01/durable-executions/{arn:.+}"
C = "/2025-12-01/durable-execution-callbacks/{callback_id}"


def _error(exc: Exception) -> wire.ApiError:
    """The runner's and lambdalab's errors as Lambda's (status, code, message)."""
    from aws_durable_execution_sdk_python_testing.exceptions import AwsApiException, IllegalStateException

    if isinstance(exc, IllegalStateException):  # a callback that is no longer waiting (as the runner answers it)
        return wire.ApiError(409, "ExecutionConflictException", str(exc))
    if isinstance(exc, AwsApiException):
        data = exc.to_dict()
        key = "Message" if "Message" in data else "message"
        status = exc.http_status_code
        return wire.ApiError(status, str(data.get("Type", type(exc).__name__)), str(exc), key=key, user=status < 500)
    if isinstance(exc, (ValueError, KeyError, TypeError)):
        return wire.ApiError(400, "InvalidParameterValueException", str(exc))
    return wire.from_lab(exc)


async def _answer(service: DurableService, call: Callable[..., Any], *args: Any) -> web.Response:
    try:
        result = await service.on_pool(call, *args)
    except wire.ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - every refusal answers in Lambda's format
        raise _error(exc) from None
    data = result.to_dict() if hasattr(result, "to_dict") else {}  # the callbacks' answers are empty
    return web.Response(
        body=json.dumps(data, default=_timestamp).encode(),
        headers={"Content-Type": "application/json", "x-amzn-RequestId": wire.new_request_id()},
    )


def _timestamp(value: Any) -> float:
    """A response's datetimes as botocore reads a rest-json timestamp: epoch seconds."""
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _service(endpoint: Endpoint) -> DurableService:
    try:
        return durable.service_for(endpoint.lab)
    except Exception as exc:  # noqa: BLE001 - the runner not installed: a Lambda-shaped answer
        raise wire.from_lab(exc) from None


async def checkpoint(endpoint: Endpoint, request: web.Request) -> web.Response:
    from aws_durable_execution_sdk_python_testing.model import CheckpointDurableExecutionRequest

    arn = request.match_info["arn"]
    body = parse_json(await request.read())
    durable_shapes.body("CheckpointDurableExecution", body)
    try:
        parsed = CheckpointDurableExecutionRequest.from_dict(body, arn)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise wire.invalid(f"invalid CheckpointDurableExecution request: {exc}") from None
    service = _service(endpoint)
    return await _answer(
        service,
        service.executor.checkpoint_execution,
        arn,
        parsed.checkpoint_token,
        parsed.updates,
        parsed.client_token,
    )


async def get_state(endpoint: Endpoint, request: web.Request) -> web.Response:
    query = durable_shapes.query("GetDurableExecutionState", request.query)
    service = _service(endpoint)

    def read() -> Any:
        return service.executor.get_execution_state(
            request.match_info["arn"],
            checkpoint_token=query.get("CheckpointToken"),
            marker=query.get("Marker"),
            max_items=query.get("MaxItems"),
        )

    return await _answer(service, read)


async def get_execution(endpoint: Endpoint, request: web.Request) -> web.Response:
    durable_shapes.query("GetDurableExecution", request.query)  # IncludeExecutionData: the runner always includes it
    service = _service(endpoint)
    return await _answer(service, service.executor.get_execution_details, request.match_info["arn"])


async def get_history(endpoint: Endpoint, request: web.Request) -> web.Response:
    query = durable_shapes.query("GetDurableExecutionHistory", request.query)
    service = _service(endpoint)
    arn = request.match_info["arn"]

    def read() -> Any:
        return service.executor.get_execution_history(
            arn,
            include_execution_data=query.get("IncludeExecutionData", False),
            reverse_order=query.get("ReverseOrder", False),
            marker=query.get("Marker"),
            max_items=query.get("MaxItems"),
        )

    return await _answer(service, read)


async def list_by_function(endpoint: Endpoint, request: web.Request) -> web.Response:
    name, _ = endpoint.function_name(request, allow_qualifier=False)
    query = durable_shapes.query("ListDurableExecutionsByFunction", request.query)
    existing(endpoint, name)
    service = _service(endpoint)
    statuses: list[str] = query.get("Statuses", [])
    max_items = query.get("MaxItems") or None  # 0: the runner's default page (50)

    def listed(status: str | None, marker: str | None, limit: int | None) -> Any:
        return service.executor.list_executions_by_function(
            function_name=name,
            qualifier=query.get("Qualifier"),
            execution_name=query.get("DurableExecutionName"),
            status_filter=status,
            started_after=_seconds(query.get("StartedAfter")),  # the runner compares epoch seconds
            started_before=_seconds(query.get("StartedBefore")),
            marker=marker,
            max_items=limit,
            reverse_order=query.get("ReverseOrder", False),
        )

    def read() -> Any:
        if len(statuses) <= 1:
            return listed(statuses[0] if statuses else None, query.get("Marker"), max_items)
        return _several(listed(None, None, _EVERY), statuses, query.get("Marker"), max_items or _PAGE)

    return await _answer(service, read)


_PAGE, _EVERY = 50, 1 << 30  # the runner's page when MaxItems is 0 or absent; "every execution"


def _seconds(stamp: float | None) -> str | None:
    return None if stamp is None else repr(stamp)


def _several(every: Any, statuses: list[str], marker: str | None, limit: int) -> Any:
    """The executions of any of ``statuses`` (the runner filters by one), paged as the runner pages (the marker an
    offset)."""
    from aws_durable_execution_sdk_python_testing.model import ListDurableExecutionsByFunctionResponse

    kept = [execution for execution in every.durable_executions if execution.status in statuses]
    offset = int(marker) if marker is not None and marker.isdigit() else 0
    end = offset + limit
    return ListDurableExecutionsByFunctionResponse(
        durable_executions=kept[offset:end], next_marker=str(end) if end < len(kept) else None
    )


def _error_object(body: dict[str, Any]) -> Any:
    from aws_durable_execution_sdk_python.lambda_service import ErrorObject

    return ErrorObject.from_dict(body) if body else None


async def stop(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = parse_json(await request.read())
    durable_shapes.body("StopDurableExecution", body)
    error = _error_object(body)
    service = _service(endpoint)
    return await _answer(service, service.executor.stop_execution, request.match_info["arn"], error)


async def callback_success(endpoint: Endpoint, request: web.Request) -> web.Response:
    result = await request.read()
    durable_shapes.raw_payload("SendDurableExecutionCallbackSuccess", result)
    service = _service(endpoint)
    await _answer(service, service.executor.send_callback_success, request.match_info["callback_id"], result)
    return reply({})


async def callback_failure(endpoint: Endpoint, request: web.Request) -> web.Response:
    body = parse_json(await request.read())
    durable_shapes.body("SendDurableExecutionCallbackFailure", body)
    error = _error_object(body)
    service = _service(endpoint)
    await _answer(service, service.executor.send_callback_failure, request.match_info["callback_id"], error)
    return reply({})


async def callback_heartbeat(endpoint: Endpoint, request: web.Request) -> web.Response:
    service = _service(endpoint)
    await _answer(service, service.executor.send_callback_heartbeat, request.match_info["callback_id"])
    return reply({})


Handler = Callable[["Endpoint", web.Request], Awaitable[web.StreamResponse]]
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", D + "/checkpoint", checkpoint),
    ("GET", D + "/state", get_state),
    ("GET", D + "/history", get_history),
    ("POST", D + "/stop", stop),
    ("GET", D, get_execution),
    ("GET", "/2025-12-01/functions/{name}/durable-executions", list_by_function),
    ("POST", C + "/succeed", callback_success),
    ("POST", C + "/fail", callback_failure),
    ("POST", C + "/heartbeat", callback_heartbeat),
]
