"""Calling into a Lab's loop from any thread: the event sources (SQS queues, Kinesis and DynamoDB streams) keep their
state on the loop and reach it through these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from lambdalab.api import Lab

T = TypeVar("T")


def on_the_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """True when the calling thread is running ``loop``."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop running on this thread
        return False


def call_on_loop(lab: Lab, loop: asyncio.AbstractEventLoop, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on ``loop`` (the Lab's): in place when already there (the endpoint), else run there and waited
    for."""
    if on_the_loop(loop):
        return fn(*args)

    async def run() -> T:
        return fn(*args)

    return lab.run_on_loop(run(), timeout=30)


def stop_quietly(lab: Lab, loop: asyncio.AbstractEventLoop, stop: Callable[[], Any]) -> None:
    """``stop()`` on ``loop`` (the Lab's), never raising (a stopped loop: nothing left to stop)."""
    try:
        call_on_loop(lab, loop, stop)
    except Exception:  # noqa: BLE001 - closing must not raise
        pass
