"""Exposure: every socket lambdalab listens on is on loopback."""

from __future__ import annotations

import psutil
import pytest

pytestmark = pytest.mark.slow


def test_every_listening_socket_is_on_loopback(lab):
    fns = [lab.create_function(f"f{i}", "def handler(e, c):\n    return 1\n") for i in range(3)]
    futures = [fn.submit({}) for fn in fns for _ in range(2)]
    assert all(f.result(30).payload == 1 for f in futures)
    listening = [c for c in psutil.Process().net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 3
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
