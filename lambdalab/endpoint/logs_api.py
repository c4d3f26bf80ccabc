"""The subset of CloudWatch Logs a Lambda user reads: each function's log group, served from the Lab's own logs.

``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>`` and a JSON 1.1 body, as botocore's ``logs`` model
(2014-03-28) defines it: ``FilterLogEvents``, ``GetLogEvents``, ``DescribeLogGroups``, ``DescribeLogStreams`` and
``DeleteLogGroup``. Function ``f``'s group is ``/aws/lambda/f``; its streams are ``Lab.log_streams("f")`` and its
events ``Lab.log_events("f")`` (one line each; lambdalab/log_events.py says how they are timed). As on Lambda, a
group exists once its function has written a line, and ``DeleteLogGroup`` removes what it holds (later lines make
it anew). A filter pattern is terms matched as substrings, case-sensitive: all plain or quoted terms, at least one
``?term``, no ``-term``. Errors are CloudWatch's: 400 and ``{"__type": ..., "message": ...}``.
docs/ENDPOINT.md ("CloudWatch Logs subset") lists what is left out.

Rules: handlers run on the Lab's loop (``Lab.log_events`` reads the streams in place); nothing here blocks.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lambdalab.endpoint import wire
from lambdalab.errors import UnknownFunctionError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.endpoint.server import Endpoint

TARGET = "Logs_20140328."
GROUP_PREFIX = "/aws/lambda/"
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_EVENTS = 10_000
MAX_DESCRIBE = 50
Params = dict[str, Any]
Events = list[dict[str, Any]]
# per Lab: function -> stream -> the last eventId DeleteLogGroup removed (ids sort as their events)
_deleted: weakref.WeakKeyDictionary[Lab, dict[str, dict[str, str]]] = weakref.WeakKeyDictionary()
_TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')


class LogsError(Exception):
    """One CloudWatch Logs error: ``__type`` and ``message``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def no_group() -> LogsError:
    return LogsError("ResourceNotFoundException", "The specified log group does not exist.")


def invalid(message: str) -> LogsError:
    return LogsError("InvalidParameterException", message)


def _reply(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=b"" if data is None else json.dumps(data).encode(),
        headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": wire.new_request_id()},
    )


async def handle(endpoint: Endpoint, request: web.Request) -> web.Response:
    target = request.headers.get("X-Amz-Target", "")
    if not target.startswith(TARGET):
        raise wire.not_implemented(
            f"lambdalab's endpoint does not implement {request.method} {request.path}; "
            "see docs/ENDPOINT.md for the supported calls"
        )
    try:
        operation = OPERATIONS.get(target[len(TARGET) :])
        if operation is None:
            raise LogsError(
                "UnknownOperationException",
                f"lambdalab's CloudWatch Logs subset does not implement {target[len(TARGET) :]}; it serves "
                f"{', '.join(OPERATIONS)} (docs/ENDPOINT.md)",
            )
        raw = await endpoint.read_body(request, lambda: ValueError("the request body is over the endpoint's limit"))
        return _reply(operation(endpoint.lab, _params(raw)))
    except LogsError as exc:
        return _reply({"__type": exc.code, "message": exc.message}, exc.status)
    except UnknownFunctionError:
        return _reply({"__type": "ResourceNotFoundException", "message": no_group().message}, 400)


def _params(raw: bytes) -> Params:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise LogsError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise LogsError("SerializationException", "The request body must be a JSON object")
    for key in ("startTime", "endTime"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise invalid(f"{key} must be milliseconds since the epoch, not {value!r}")
    names = data.get("logStreamNames")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise invalid("logStreamNames must be a list of log stream names")
    for key in ("logStreamName", "logStreamNamePrefix", "logGroupNamePrefix", "logGroupNamePattern", "filterPattern"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise invalid(f"{key} must be a string")
    return data


# -- groups, streams, events --------------------------------------------------------------------------------
_WHOLE = "~"  # a cut above every eventId (decimal digits): the whole stream is deleted


def _visible(lab: Lab, function: str) -> Events:
    cuts = _deleted.get(lab, {}).get(function, {})
    return [e for e in lab.log_events(function) if e["eventId"] > cuts.get(e["logStreamName"], "")]


def _group_name(params: Params) -> str:
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    name = name or identifier
    if not isinstance(name, str) or not name:
        raise invalid("Either logGroupName or logGroupIdentifier must be given.")
    if name.startswith("arn:"):  # arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
        name = name.split(":log-group:", 1)[-1].removesuffix(":*")
    return name


def _group(lab: Lab, params: Params) -> tuple[str, Events]:
    """(function, its visible events) of the request's log group; ResourceNotFoundException when it has none."""
    name = _group_name(params)
    function = name[len(GROUP_PREFIX) :] if name.startswith(GROUP_PREFIX) else ""
    if not function:
        raise no_group()
    try:  # a deleted function's events, once the Lab can read them (Lab.log_events of a deleted function)
        events = _visible(lab, function)
    except UnknownFunctionError:
        raise no_group() from None
    if not events:
        raise no_group()
    return function, events


def _limit(params: Params, most: int) -> int:
    limit = params.get("limit", most)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= most:
        raise invalid(f"limit must be a whole number from 1 to {most}, not {limit!r}")
    return limit


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(params: Params, key: str = "nextToken") -> Any:
    token = params.get(key)
    if token is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except (ValueError, binascii.Error):
        raise invalid(f"The specified {key} is invalid.") from None


def matcher(pattern: str | None) -> Callable[[str], bool]:
    """Whether a message matches a filter pattern of terms: all plain terms, any ``?term``, no ``-term``."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text[0] in "{[":
        raise invalid(
            "lambdalab's CloudWatch Logs subset matches terms and quoted phrases only; JSON ({...}) and "
            "space-delimited ([...]) filter patterns are not supported (docs/ENDPOINT.md)"
        )
    need: list[str] = []
    either: list[str] = []
    never: list[str] = []
    for sign, quoted, plain in _TERM.findall(text):
        term = re.sub(r"\\(.)", r"\1", quoted) if quoted else plain
        {"": need, "?": either, "-": never}[sign].append(term)

    def match(message: str) -> bool:
        return (
            all(t in message for t in need)
            and (not either or any(t in message for t in either))
            and not any(t in message for t in never)
        )

    return match


def _in_range(event: dict[str, Any], start: Any, end: Any, end_inclusive: bool) -> bool:
    ts = event["timestamp"]
    if start is not None and ts < start:
        return False
    return end is None or ts < end or (end_inclusive and ts == end)


# -- the operations -----------------------------------------------------------------------------------------
def filter_log_events(lab: Lab, params: Params) -> Params:
    _, events = _group(lab, params)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    streams = sorted({e["logStreamName"] for e in events})
    if names:
        streams = [s for s in streams if s in set(names)]
    elif prefix:
        streams = [s for s in streams if s.startswith(prefix)]
    limit, after = _limit(params, MAX_EVENTS), _untoken(params)
    if after is not None and not isinstance(after, str):
        raise invalid("The specified nextToken is invalid.")
    match, chosen = matcher(params.get("filterPattern")), set(streams)
    start, end = params.get("startTime"), params.get("endTime")
    found = [
        {k: e[k] for k in ("logStreamName", "timestamp", "message", "ingestionTime", "eventId")}
        for e in events
        if e["logStreamName"] in chosen
        and (after is None or e["eventId"] > after)
        and _in_range(e, start, end, end_inclusive=True)
        and match(e["message"])
    ]
    out: Params = {
        "events": found[:limit],
        "searchedLogStreams": [{"logStreamName": s, "searchedCompletely": True} for s in streams],
    }
    if len(found) > limit:
        out["nextToken"] = _token(found[limit - 1]["eventId"])
    return out


def get_log_events(lab: Lab, params: Params) -> Params:
    _, events = _group(lab, params)
    stream = params.get("logStreamName")
    if not isinstance(stream, str) or not stream:
        raise invalid("logStreamName must be given.")
    start, end = params.get("startTime"), params.get("endTime")
    mine = [e for e in events if e["logStreamName"] == stream]
    if not mine:
        raise LogsError("ResourceNotFoundException", "The specified log stream does not exist.")
    mine = [e for e in mine if _in_range(e, start, end, end_inclusive=False)]
    limit, token = _limit(params, MAX_EVENTS), params.get("nextToken")
    if token is None:
        page = mine[:limit] if params.get("startFromHead") else mine[-limit:]
        at = mine[0]["eventId"] if mine and params.get("startFromHead") else ""
    elif isinstance(token, str) and token[:2] in ("f/", "b/"):
        at = token[2:]
        if token[0] == "f":
            page = [e for e in mine if e["eventId"] > at][:limit]
        else:
            page = [e for e in mine if e["eventId"] < at][-limit:]
    else:
        raise invalid("The specified nextToken is invalid.")
    forward = page[-1]["eventId"] if page else (at if token is not None else "0")
    backward = page[0]["eventId"] if page else (at if token is not None else "0")
    return {
        "events": [{k: e[k] for k in ("timestamp", "message", "ingestionTime")} for e in page],
        "nextForwardToken": f"f/{forward}",
        "nextBackwardToken": f"b/{backward}",
    }


def _arn(lab: Lab, group: str) -> str:
    settings = lab.settings
    return f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:{group}"


def _page(params: Params, rows: list[Params], key: str) -> Params:
    limit, offset = _limit(params, MAX_DESCRIBE), _untoken(params)
    start = 0 if offset is None else offset
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise invalid("The specified nextToken is invalid.")
    out: Params = {key: rows[start : start + limit]}
    if start + limit < len(rows):
        out["nextToken"] = _token(start + limit)
    return out


def describe_log_groups(lab: Lab, params: Params) -> Params:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    if prefix and pattern:
        raise invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive parameters.")
    rows = []
    for function in lab.logged_functions():
        group = GROUP_PREFIX + function
        if (prefix and not group.startswith(prefix)) or (pattern and pattern.lower() not in group.lower()):
            continue
        events = _visible(lab, function)
        if events:
            rows.append(
                {
                    "logGroupName": group,
                    "creationTime": min(e["timestamp"] for e in events),
                    "metricFilterCount": 0,
                    "arn": _arn(lab, group) + ":*",
                    "logGroupArn": _arn(lab, group),
                    "storedBytes": sum(len(e["message"].encode()) for e in events),
                    "logGroupClass": "STANDARD",
                    "deletionProtectionEnabled": False,
                }
            )
    return _page(params, rows, "logGroups")


def describe_log_streams(lab: Lab, params: Params) -> Params:
    function, events = _group(lab, params)
    prefix, order = params.get("logStreamNamePrefix"), params.get("orderBy", "LogStreamName")
    if order not in ("LogStreamName", "LastEventTime"):
        raise invalid(f"orderBy must be LogStreamName or LastEventTime, not {order!r}")
    if prefix and order == "LastEventTime":
        raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    by_stream: dict[str, Events] = {}
    for event in events:
        by_stream.setdefault(event["logStreamName"], []).append(event)
    arn = _arn(lab, GROUP_PREFIX + function)
    rows = [
        {
            "logStreamName": name,
            "creationTime": mine[0]["timestamp"],
            "firstEventTimestamp": mine[0]["timestamp"],
            "lastEventTimestamp": mine[-1]["timestamp"],
            "lastIngestionTime": mine[-1]["ingestionTime"],
            "arn": f"{arn}:log-stream:{name}",
            "storedBytes": 0,  # CloudWatch no longer fills it in (botocore's model: deprecated)
        }
        for name, mine in by_stream.items()
        if not prefix or name.startswith(prefix)
    ]
    key = "logStreamName" if order == "LogStreamName" else "lastEventTimestamp"
    rows.sort(key=lambda row: (row[key], row["logStreamName"]), reverse=bool(params.get("descending")))
    return _page(params, rows, "logStreams")


def delete_log_group(lab: Lab, params: Params) -> None:
    """Hide the group's events from later reads. A deleted function's group stays on Lambda until this call; its
    events cannot be read here (the local Lab no longer reads them), but deleting it works, so a function made
    again under the name starts with an empty group, as on Lambda."""
    if params.get("logGroupName") is None:
        raise invalid("logGroupName must be given.")
    name = _group_name({"logGroupName": params["logGroupName"]})
    gone = name[len(GROUP_PREFIX) :] if name.startswith(GROUP_PREFIX) else ""
    if gone and gone not in lab.functions():
        cuts = _deleted.setdefault(lab, {}).setdefault(gone, {})
        streams = [s for s in lab.log_streams(gone) if cuts.get(s) != _WHOLE]
        if not streams:
            raise no_group()
        for stream in streams:
            cuts[stream] = _WHOLE
        return
    function, events = _group(lab, {"logGroupName": params["logGroupName"]})
    cuts = _deleted.setdefault(lab, {}).setdefault(function, {})
    for event in events:  # oldest first: the last of each stream stays
        cuts[event["logStreamName"]] = event["eventId"]


OPERATIONS: dict[str, Callable[[Lab, Params], Any]] = {
    "FilterLogEvents": filter_log_events,
    "GetLogEvents": get_log_events,
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "DeleteLogGroup": delete_log_group,
}
ROUTES = [("POST", "/", handle)]
