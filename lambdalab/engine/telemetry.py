"""The Telemetry API (``PUT /2022-07-01/telemetry``) and the Logs API (``PUT /2020-08-15/logs``) of one environment.

Extensions subscribe during init (AWS docs, "Telemetry API reference"): ``schemaVersion`` (``2022-07-01``,
``2022-12-13``, ``2025-01-29``), ``types`` (``platform``, ``function``, ``extension``), ``buffering``
(``maxItems`` 1,000-10,000, ``maxBytes`` 262,144-1,048,576, ``timeoutMs`` 25-30,000) and a ``destination``:
HTTP (a ``POST`` of a JSON array of events to ``URI``, whose host is ``sandbox.localdomain``/``sandbox``: the
environment's own loopback address, ``engine/launcher.py``) or TCP (newline-delimited JSON on one connection
to ``port``). Events are ``{"time", "type", "record"}``; a batch goes when it has ``maxItems`` events or
``maxBytes``, or ``timeoutMs`` after its first event. A subscriber also receives what the environment emitted
before it subscribed (``platform.initStart`` first), as Lambda's do. Nothing is delivered while the
environment is frozen (its listener could not answer): a batch waits for the thaw, as on Lambda, where the
records of one invoke arrive during the next or at shutdown. The three schema versions carry the same records
for a default function (``2025-01-29`` is backward compatible; what differs under Managed Instances is not
emulated).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from lambdalab.engine.jsonlogs import rfc3339

TELEMETRY_PATH: Final = "/2022-07-01/telemetry"
LOGS_PATH: Final = "/2020-08-15/logs"
SCHEMAS: Final = ("2022-07-01", "2022-12-13", "2025-01-29")
LOGS_SCHEMAS: Final = ("2020-08-15", "2021-03-18")
TYPES: Final = ("platform", "function", "extension")
BUFFERING: Final = {
    "maxItems": (1000, 10_000, 10_000),
    "maxBytes": (262_144, 1_048_576, 262_144),
    "timeoutMs": (25, 30_000, 1000),
}
LOGS_BUFFERING: Final = {
    "maxItems": (1000, 10_000, 10_000),
    "maxBytes": (262_144, 1_048_576, 262_144),
    "timeoutMs": (25, 30_000, 1000),
}
SANDBOX_HOSTS: Final = ("sandbox.localdomain", "sandbox")
BACKLOG: Final = 1000  # events kept for late subscribers
SEND_TIMEOUT_S: Final = 5.0


def _validation(message: str) -> tuple[int, bytes]:
    return 400, json.dumps({"errorType": "ValidationError", "errorMessage": message}).encode()


@dataclass
class Subscription:
    """One extension's subscription: where, what, how batched."""

    name: str
    types: frozenset[str]
    host: str
    port: int
    protocol: str  # "HTTP" | "TCP"
    path: str
    max_items: int
    max_bytes: int
    timeout_s: float
    logs_api: bool = False
    batch: list[bytes] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None
    sequence: int = 0
    writer: asyncio.StreamWriter | None = None
    sending: asyncio.Task[None] | None = None
    queue: list[list[bytes]] = field(default_factory=list)
    delivered: int = 0
    failures: int = 0


class Telemetry:
    """The telemetry of one environment incarnation: its records, subscriptions and deliveries."""

    def __init__(
        self, address: str, sink: Callable[[float, str, dict[str, Any] | str], None], now: Callable[[], float]
    ) -> None:
        """``address``: the environment's loopback address (what ``sandbox.localdomain`` means inside it);
        ``sink(time, type, record)``: the Lab's table of every record (``lab.telemetry()``)."""
        self.address = address
        self._sink = sink
        self._now = now
        self.subscriptions: list[Subscription] = []
        self.backlog: list[tuple[str, str, bytes]] = []  # (type's category, type, encoded event)
        self.open = True  # subscriptions are accepted during init only
        self.frozen = False
        self.closed = False

    # -- subscribing --------------------------------------------------------------------------
    def subscribe(self, name: str, body: bytes, *, logs_api: bool = False) -> tuple[int, bytes]:
        """``PUT /2022-07-01/telemetry`` (or ``/2020-08-15/logs``) for extension ``name``."""
        try:
            request = json.loads(body)
        except ValueError:
            return _validation("request body is not valid JSON")
        if not isinstance(request, dict):
            return _validation("request body must be a JSON object")
        schema = request.get("schemaVersion", "2020-08-15" if logs_api else None)
        if schema not in (LOGS_SCHEMAS if logs_api else SCHEMAS) and not (logs_api and schema in SCHEMAS):
            return _validation(f"schemaVersion {schema!r} is not supported")
        types = request.get("types")
        if not isinstance(types, list) or not types or any(t not in TYPES for t in types):
            return _validation(f"types must be a non-empty subset of {list(TYPES)}")
        limits = LOGS_BUFFERING if logs_api else BUFFERING
        buffering = request.get("buffering") or {}
        if not isinstance(buffering, dict):
            return _validation("buffering must be an object")
        values = {}
        for key, (low, high, default) in limits.items():
            value = buffering.get(key, default)
            if not isinstance(value, int) or not low <= value <= high:
                return _validation(f"buffering.{key} must be an integer in [{low}, {high}]")
            values[key] = value
        destination = request.get("destination")
        if not isinstance(destination, dict):
            return _validation("destination is required")
        protocol = destination.get("protocol")
        if protocol == "HTTP":
            parsed = urllib.parse.urlsplit(str(destination.get("URI", "")))
            if parsed.scheme != "http" or not parsed.hostname or parsed.port is None:
                return _validation("destination.URI must be http://sandbox.localdomain:PORT/...")
            if parsed.hostname not in SANDBOX_HOSTS:  # Lambda's only destination; never the Lab's loopback
                return _validation("destination.URI must be http://sandbox.localdomain:PORT/...")
            host = self.address  # what sandbox.localdomain means inside this environment
            port, path = parsed.port, parsed.path or "/"
        elif protocol == "TCP":
            tcp_port = destination.get("port")
            if not isinstance(tcp_port, int) or not 1 <= tcp_port <= 65535:
                return _validation("destination.port must be in [1, 65535]")
            port = tcp_port
            host, path = self.address, ""
        else:
            return _validation("destination.protocol must be HTTP or TCP")
        if not self.open:
            # RAPID: subscriptions are closed once init is done
            message = "Subscription API is closed"
            return 403, json.dumps({"errorType": "Telemetry.SubscriptionClosed", "errorMessage": message}).encode()
        subscription = Subscription(
            name,
            frozenset(types),
            host,
            port,
            protocol,
            path,
            values["maxItems"],
            values["maxBytes"],
            values["timeoutMs"] / 1000.0,
            logs_api=logs_api,
        )
        self.subscriptions = [s for s in self.subscriptions if s.name != name or s.logs_api != logs_api]
        self.subscriptions.append(subscription)
        for category, kind, data in self.backlog:
            if category in subscription.types and not (
                logs_api and kind.startswith("platform.") and kind not in _LOGS_API_PLATFORM
            ):
                self._add(subscription, data)
        self.emit(
            self._now(),
            "platform.telemetrySubscription" if not logs_api else "platform.logsSubscription",
            {"name": name, "state": "Subscribed", "types": sorted(types)},
        )
        return 200, b'"OK"'

    # -- emitting -----------------------------------------------------------------------------
    def emit(self, at: float, kind: str, record: dict[str, Any] | str) -> None:
        """One record: to the Lab's table and every subscriber of its category."""
        if self.closed:
            return
        self._sink(at, kind, record)
        if not self.subscriptions and not self.open:
            return  # nobody listens, and nobody can subscribe any more: nothing to encode
        category = "platform" if kind.startswith("platform.") else kind
        data = json.dumps({"time": rfc3339(at), "type": kind, "record": record}, separators=(",", ":")).encode()
        if self.open and len(self.backlog) < BACKLOG:
            self.backlog.append((category, kind, data))
        for subscription in self.subscriptions:
            if category in subscription.types:
                if subscription.logs_api and kind.startswith("platform.") and kind not in _LOGS_API_PLATFORM:
                    continue
                self._add(subscription, data)

    @property
    def listening(self) -> bool:
        """Whether a record must be encoded now: someone subscribed, or may still (during init)."""
        return bool(self.subscriptions) or self.open

    def defer(self, at: float, kind: str, build: Callable[[], dict[str, Any]]) -> None:
        """A record nobody listens to: to the Lab's table only, built when the table is read."""
        if not self.closed:
            self._sink(at, kind, build)  # type: ignore[arg-type]

    def _add(self, subscription: Subscription, data: bytes) -> None:
        subscription.batch.append(data)
        subscription.size += len(data)
        if len(subscription.batch) >= subscription.max_items or subscription.size >= subscription.max_bytes:
            self._cut(subscription)
        elif subscription.timer is None:
            loop = asyncio.get_running_loop()
            subscription.timer = loop.call_later(subscription.timeout_s, self._cut, subscription)

    def _cut(self, subscription: Subscription) -> None:
        if subscription.timer is not None:
            subscription.timer.cancel()
            subscription.timer = None
        if subscription.batch:
            subscription.queue.append(subscription.batch)
            subscription.batch, subscription.size = [], 0
        self._pump(subscription)

    def _pump(self, subscription: Subscription) -> None:
        if self.frozen or not subscription.queue or subscription.sending is not None:
            return
        subscription.sending = asyncio.get_running_loop().create_task(self._send_all(subscription))

    async def _send_all(self, subscription: Subscription) -> None:
        try:
            while subscription.queue and not self.frozen:
                batch = subscription.queue.pop(0)
                try:
                    await asyncio.wait_for(self._send(subscription, batch), SEND_TIMEOUT_S)
                    subscription.delivered += len(batch)
                except (TimeoutError, OSError, ValueError):
                    subscription.failures += 1  # dropped, as Lambda drops what a listener refuses
                    if subscription.writer is not None:
                        subscription.writer.close()
                        subscription.writer = None
        finally:
            subscription.sending = None

    async def _send(self, subscription: Subscription, batch: list[bytes]) -> None:
        if subscription.protocol == "TCP":
            if subscription.writer is None or subscription.writer.is_closing():
                _, subscription.writer = await asyncio.open_connection(subscription.host, subscription.port)
            subscription.writer.write(b"".join(line + b"\n" for line in batch))
            await subscription.writer.drain()
            return
        body = b"[" + b",".join(batch) + b"]"
        subscription.sequence += 1
        reader, writer = await asyncio.open_connection(subscription.host, subscription.port)
        try:
            head = (
                f"POST {subscription.path} HTTP/1.1\r\nHost: sandbox.localdomain:{subscription.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Sequence-Id: {subscription.sequence}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + body)
            await writer.drain()
            status = await reader.readline()
            parts = status.split()
            if len(parts) < 2 or int(parts[1]) >= 400:
                raise ValueError(f"the listener answered {status!r}")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # -- the environment's phases -------------------------------------------------------------
    def init_done(self) -> None:
        """Init is over: no more subscriptions (RAPID turns the subscription APIs off)."""
        self.open = False
        self.backlog = []

    def freeze(self) -> None:
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False
        for subscription in self.subscriptions:
            self._pump(subscription)

    def flush(self) -> None:
        """Send every batch now (at shutdown, before the extensions get SHUTDOWN)."""
        self.frozen = False
        for subscription in self.subscriptions:
            self._cut(subscription)

    async def drain(self, until: float) -> None:
        """Wait (until loop time ``until``) for what is being sent."""
        loop = asyncio.get_running_loop()
        while loop.time() < until and any(s.sending is not None or s.queue for s in self.subscriptions):
            await asyncio.sleep(0.005)

    def close(self) -> None:
        self.closed = True
        for subscription in self.subscriptions:
            if subscription.timer is not None:
                subscription.timer.cancel()
            if subscription.sending is not None:
                subscription.sending.cancel()
            if subscription.writer is not None:
                subscription.writer.close()


# the platform records the Logs API (2020-08-15) delivered: the rest are the Telemetry API's
_LOGS_API_PLATFORM: Final = frozenset(
    {
        "platform.start",
        "platform.end",
        "platform.report",
        "platform.extension",
        "platform.logsSubscription",
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.runtimeDone",
    }
)


def span(name: str, start: float, end: float) -> dict[str, Any]:
    return {"name": name, "start": rfc3339(start), "durationMs": round((end - start) * 1000.0, 3)}
