"""Per-invoke cost of an idle registered extension: warm ``fn.invoke`` with one extension against the same function
without, measured in the same run.

Figure: p50 of ``fn.invoke({})`` (no-op handler, runtime "python", one environment, ``freeze=True``) with one
external extension from a layer that registered for no events (it waits on ``event/next`` the whole time: what
it adds is its process being frozen and thawed with the environment), minus the same p50 without extensions.
Also reported: an extension subscribed to ``INVOKE`` with a lean raw-socket client (the ``INVOKE`` event, its
next ``event/next`` and the wait for it, on every invoke). The three functions are invoked round robin, one
invoke each, and the cost is the median of the per-round differences, so drift and other load hit all alike.
Target: ≤ 100 µs per invoke for the idle extension (issue 15).

    python benchmarks/bench_extensions.py [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, leftover_children, pct, us

import lambdalab

NOOP = "def handler(event, context):\n    return None\n"
# a lean extension: one keep-alive socket, register, then event/next forever
EXTENSION = r"""#!/usr/bin/env python3
import os, socket, sys
EVENTS = %s
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
sock = socket.create_connection((host.encode(), int(port)))
stream = sock.makefile("rb")
def request(head, body=b""):
    sock.sendall(head + b"Content-Length: %%d\r\n\r\n" %% len(body) + body)
    headers = {}
    status = stream.readline()
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return headers, stream.read(int(headers.get(b"content-length", 0)))
name = os.path.basename(sys.argv[0]).encode()
headers, _ = request(b"POST /2020-01-01/extension/register HTTP/1.1\r\nLambda-Extension-Name: " + name + b"\r\n",
                     b'{"events": %%s}' %% EVENTS.encode())
ident = headers[b"lambda-extension-identifier"]
nxt = b"GET /2020-01-01/extension/event/next HTTP/1.1\r\nLambda-Extension-Identifier: " + ident + b"\r\n"
while True:
    _, body = request(nxt)
    if b'"SHUTDOWN"' in body:
        break
"""


def make_layer(root: Path, name: str, events: str) -> Path:
    path = root / name / "extensions" / name
    path.parent.mkdir(parents=True)
    path.write_text(EXTENSION % repr(events))
    path.chmod(0o755)
    return root / name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"none": [], "idle": [], "invoke": []}
    with tempfile.TemporaryDirectory() as tmp, lambdalab.Lab() as lab:
        idle = lab.publish_layer_version("idle", make_layer(Path(tmp), "idle", "[]"))
        invoke = lab.publish_layer_version("invoke", make_layer(Path(tmp), "invoke", '["INVOKE"]'))
        functions = {
            "none": lab.create_function("none", NOOP),
            "idle": lab.create_function("idle", NOOP, layers=[idle.arn]),
            "invoke": lab.create_function("invoke", NOOP, layers=[invoke.arn]),
        }
        for fn in functions.values():
            for _ in range(200):
                fn.invoke({})
        for _ in range(args.n):  # round robin, one invoke each: drift and other load hit all three alike
            for key, fn in functions.items():
                t0 = time.perf_counter()
                fn.invoke({})
                times[key].append(time.perf_counter() - t0)
        environments = {key: len(fn.environments()) for key, fn in functions.items()}
    leftover = leftover_children()
    base = pct(times["none"], 0.5)
    idle50, invoke50 = pct(times["idle"], 0.5), pct(times["invoke"], 0.5)
    # the median of the per-round differences (each round: the three functions one after the other)
    idle_cost = pct([i - b for i, b in zip(times["idle"], times["none"], strict=True)], 0.5)
    invoke_cost = pct([i - b for i, b in zip(times["invoke"], times["none"], strict=True)], 0.5)
    n = len(times["none"])
    print(f"fn.invoke p50, {n} warm invokes each, environments {environments}:")
    print(f"  without extensions: p50 {us(base)}  p99 {us(pct(times['none'], 0.99))}")
    print(
        f"  one idle registered extension: p50 {us(idle50)}  p99 {us(pct(times['idle'], 0.99))}"
        f"  -> {us(idle_cost)} per invoke (median per-round difference; p50 difference {us(idle50 - base)})"
    )
    print(
        f"  one extension subscribed to INVOKE: p50 {us(invoke50)}  p99 {us(pct(times['invoke'], 0.99))}"
        f"  -> {us(invoke_cost)} per invoke (median per-round difference; p50 difference {us(invoke50 - base)})"
    )
    rows = [
        {
            "name": "idle registered extension, added per invoke (median per-round difference)",
            "figure": us(idle_cost),
            "floor": us(base),
            "ratio": f"{idle50 / base:.2f}",
            "target": "≤ 100 µs",
            "met": idle_cost <= 100e-6,
        },
        {
            "name": "extension subscribed to INVOKE, added per invoke (median per-round difference)",
            "figure": us(invoke_cost),
            "floor": us(base),
            "ratio": f"{invoke50 / base:.2f}",
            "target": "—",
            "met": None,
        },
    ]
    context = [
        "the floor: the same no-op function without extensions, same Lab; the three are invoked round robin",
        "the cost is the median of the per-round differences (a p50 difference is also printed above)",
    ]
    emit("extensions", "fn.invoke p50 with one extension minus without", rows, context, leftover)


if __name__ == "__main__":
    main()
