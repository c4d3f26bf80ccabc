"""The Telemetry API's HTTP destination is ``sandbox.localdomain`` only (AWS docs, "Telemetry API reference"):
resolved to the environment's own address; a loopback name or address of the Lab's host is refused, so the Lab never
POSTs to a port an extension names there."""

from __future__ import annotations

import asyncio
import json

import pytest

from lambdalab.engine.telemetry import Telemetry

OWN = "127.9.8.7"  # the environment's own loopback address


def subscribe(uri: str) -> tuple[int, dict | str, Telemetry]:
    """Subscribe on a loop (a subscription's batches are timed there), nothing delivered: closed at once."""
    telemetry = Telemetry(OWN, lambda *row: None, lambda: 0.0)
    body = {"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": uri}}

    async def run() -> tuple[int, bytes]:
        answer = telemetry.subscribe("ext", json.dumps(body).encode())
        telemetry.close()
        return answer

    status, answer = asyncio.run(run())
    return status, json.loads(answer), telemetry


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", OWN, "127.0.0.2", "[::1]", "example.com"])
def test_a_destination_other_than_sandbox_localdomain_is_refused(host: str) -> None:
    status, answer, telemetry = subscribe(f"http://{host}:4243/telemetry")
    assert status == 400
    assert answer == {
        "errorType": "ValidationError",
        "errorMessage": "destination.URI must be http://sandbox.localdomain:PORT/...",
    }
    assert telemetry.subscriptions == []


def test_sandbox_localdomain_is_the_environments_own_address() -> None:
    status, answer, telemetry = subscribe("http://sandbox.localdomain:4243/telemetry")
    assert (status, answer) == (200, "OK")
    (subscription,) = telemetry.subscriptions
    assert (subscription.host, subscription.port, subscription.path) == (OWN, 4243, "/telemetry")
