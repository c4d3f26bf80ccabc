"""The Runtime API server and a runtime that pipelines ``POST .../response`` with ``GET /next`` (``http_server.py``).

The 202 for a result whose ``/next`` came in the same read is written with whatever answers that ``/next`` (the
next event, or a refusal), in order; a result posted alone is answered at once, as before. A stub endpoint (this
module's only collaborator) stands in for the control plane; the sockets are real.
"""

from __future__ import annotations

import asyncio

from lambdalab.core import runtime_api as api
from lambdalab.engine import http_server

RESPONSE = b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
EVENT_HEADERS = b"Lambda-Runtime-Aws-Request-Id: r2\r\n"


class StubEndpoint:
    def __init__(self, refuse_next: bool = False) -> None:
        self.parked: list[http_server.Connection] = []
        self.responses: list[str] = []
        self.refuse_next = refuse_next

    def on_connect(self, client: object, server: object) -> bool:
        return True

    def on_next(self, connection: http_server.Connection) -> None:
        if self.refuse_next:
            connection.send(403, b'{"errorType":"InvalidStateTransition"}')
        else:
            self.parked.append(connection)

    def on_response(self, request_id: str, body: bytes, too_large: bool) -> tuple[int, bytes]:
        self.responses.append(request_id)
        return 202, api.ACCEPTED_BODY

    def on_disconnect(self, connection: http_server.Connection) -> None:
        pass


async def _exchange(endpoint: StubEndpoint, *sends: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = http_server.listen()
    port = sock.getsockname()[1]
    server = await http_server.serve(sock, endpoint)  # type: ignore[arg-type]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for data in sends:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(0.05)
    endpoint.server = server  # type: ignore[attr-defined]
    return reader, writer


async def _nothing_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        await asyncio.wait_for(reader.read(1), seconds)
    except TimeoutError:
        return True
    return False


async def _read_answers(reader: asyncio.StreamReader, count: int) -> bytes:
    data = b""
    while data.count(b"HTTP/1.1 ") < count or not data.endswith((b"}", b"\n")):
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk, data
        data += chunk
    return data


def test_a_pipelined_result_is_answered_together_with_the_next_event():
    async def run() -> None:
        endpoint = StubEndpoint()
        reader, writer = await _exchange(endpoint, RESPONSE + NEXT)
        assert endpoint.responses == ["r1"] and len(endpoint.parked) == 1  # both handled at once
        assert await _nothing_within(reader, 0.3)  # the 202 waits for the event
        assert endpoint.parked[0].send_invocation(EVENT_HEADERS, b'{"n": 2}')
        data = await _read_answers(reader, 2)
        first, second = data.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"202 Accepted\r\n") and first.endswith(api.ACCEPTED_BODY), data
        assert second.startswith(b"200 OK\r\n") and b"Lambda-Runtime-Aws-Request-Id: r2" in second, data
        assert second.endswith(b'{"n": 2}'), data
        writer.close()
        endpoint.server.close()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_result_posted_alone_is_answered_at_once():
    async def run() -> None:
        endpoint = StubEndpoint()
        reader, writer = await _exchange(endpoint, RESPONSE)
        data = await _read_answers(reader, 1)
        assert data.startswith(b"HTTP/1.1 202 Accepted\r\n") and data.endswith(api.ACCEPTED_BODY), data
        writer.write(NEXT)
        await writer.drain()
        await asyncio.sleep(0.05)
        assert len(endpoint.parked) == 1
        assert await _nothing_within(reader, 0.2)  # the parked /next waits for an event, as ever
        writer.close()
        endpoint.server.close()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_refused_pipelined_next_comes_after_the_results_202():
    async def run() -> None:
        endpoint = StubEndpoint(refuse_next=True)
        reader, writer = await _exchange(endpoint, RESPONSE + NEXT)
        data = await _read_answers(reader, 2)
        first, second = data.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"202 Accepted\r\n"), data
        assert second.startswith(b"403 Forbidden\r\n"), data
        writer.close()
        endpoint.server.close()  # type: ignore[attr-defined]

    asyncio.run(run())


def test_a_100_continue_comes_after_the_held_202_of_the_request_before():
    expecting = (
        b"POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Length: 2\r\n\r\n"
    )

    async def run() -> None:
        endpoint = StubEndpoint()
        reader, writer = await _exchange(endpoint, RESPONSE + expecting)
        data = b""
        while data.count(b"HTTP/1.1 ") < 2:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            assert chunk, data
            data += chunk
        first, second = data.split(b"HTTP/1.1 ")[1:3]
        assert first.startswith(b"202 Accepted\r\n"), data
        assert second.startswith(b"100 Continue\r\n"), data
        writer.close()
        endpoint.server.close()  # type: ignore[attr-defined]

    asyncio.run(run())
