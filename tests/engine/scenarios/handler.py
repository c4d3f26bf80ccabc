"""The scenario handler in Python: one action per event, as in every runtime of tests/engine/scenarios/README.md."""

import os
import threading
import time

if os.environ.get("SCENARIO_INIT_FAIL") == "1":
    raise RuntimeError("init failed")

count = 0        # invokes seen by this environment since its init
ticks: list[int] = []
blocks: list[bytes] = []
_ticker: threading.Thread | None = None


class HandlerError(Exception):
    """What the ``fail`` action raises (the custom runtimes post the same type)."""


def _tick() -> None:
    while True:
        ticks.append(int(time.time() * 1000))
        time.sleep(0.05)


def handler(event, context):
    global count, _ticker
    count += 1
    action = event.get("action")
    if action == "count":
        return {"count": count}
    if action == "echo":
        return {"echo": event["value"]}
    if action == "log":
        print(event["text"])
        return {"logged": event["text"]}
    if action == "sleep":
        time.sleep(event["ms"] / 1000)
        return {"slept": event["ms"]}
    if action == "ticker":
        if _ticker is None:
            _ticker = threading.Thread(target=_tick, daemon=True)
            _ticker.start()
        return {"ticker": True}
    if action == "ticks":
        return {"ticks": list(ticks)}
    if action == "hog":
        for _ in range(event["mb"]):
            blocks.append(b"\x01" * (1024 * 1024))  # filled, so every page is touched
        return {"hogged": len(blocks)}
    if action == "crash":
        os._exit(event["code"])
    if action == "big":
        return "x" * event["bytes"]
    if action == "fail":
        raise HandlerError(event["message"])
    raise HandlerError(f"unknown action {action!r}")
