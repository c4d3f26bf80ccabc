"""What ``lambdalab.aws`` adds on top of the AWS SDK, measured against the stand-in (no account needed).

Figures, all against ``lambdalab.aws.StandIn()`` (a local Lab's endpoint for Lambda and CloudWatch Logs, moto for
IAM) in one run: (1) a warm ``lambdalab.aws`` ``Function.invoke`` (boto3 ``Invoke`` with ``LogType=Tail``, the tail
decoded and its REPORT line made an ``InvocationRecord``) against the floor of the bare boto3 call it wraps, the same
request to the same function, measured in interleaved blocks; (2) ``lab.invocations()`` after N invokes (paginated
``FilterLogEvents``, parsing, merging with what the client knows, the frame) against the floor of the bare paginated
``FilterLogEvents`` calls it makes; (3) parsing alone: ``records_from_events`` per event. Ratio = figure / floor.
On real AWS the network dominates both sides; these ratios are lambdalab's own share.

    python benchmarks/bench_aws.py [--invokes 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import emit, leftover_children, median, pct, us  # noqa: E402

import lambdalab.aws  # noqa: E402
from lambdalab.aws import records  # noqa: E402
from lambdalab.aws.standin import StandIn  # noqa: E402

NOOP = "def handler(event, context):\n    return {}\n"


def invoke_blocks(fn: lambdalab.aws.Function, client: object, rounds: int, per_block: int) -> tuple[list, list]:
    """Interleaved blocks of lambdalab's invoke and the bare boto3 call; per-call seconds of each."""
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(rounds):
        for _ in range(per_block):
            t = time.perf_counter()
            fn.invoke({})
            ours.append(time.perf_counter() - t)
        for _ in range(per_block):
            t = time.perf_counter()
            client.invoke(FunctionName=fn.remote_name, Payload=b"{}", LogType="Tail")  # type: ignore[attr-defined]
            bare.append(time.perf_counter() - t)
    return ours, bare


def filter_floor(logs: object, group: str) -> tuple[float, list[dict]]:
    """The bare paginated FilterLogEvents calls over the whole group: seconds, events."""
    t = time.perf_counter()
    events: list[dict] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):  # type: ignore[attr-defined]
        events += page["events"]
    return time.perf_counter() - t, events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invokes", type=int, default=200, help="invokes per side per round for (1)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("LAMBDALAB_SPARES", "0")

    with StandIn(), lambdalab.aws.Lab(logs_wait_s=5.0) as lab:
        import boto3

        fn = lab.create_function("noop", NOOP)
        fn.invoke({})  # cold start out of the way
        client = boto3.client("lambda")
        logs = boto3.client("logs")
        ours, bare = invoke_blocks(fn, client, args.rounds, args.invokes // args.rounds)

        reads, floors = [], []
        group = f"/aws/lambda/{fn.remote_name}"
        for _ in range(3):  # alternate: lab.invocations() then the bare calls it makes
            t = time.perf_counter()
            frame = lab.invocations()
            reads.append(time.perf_counter() - t)
            seconds, events = filter_floor(logs, group)
            floors.append(seconds)
        rows_read = len(frame)
        t = time.perf_counter()
        parsed = records.records_from_events(events, function="noop")
        parse_s = time.perf_counter() - t
    leftover = leftover_children()

    ours_p50, bare_p50 = median(ours), median(bare)
    read_s, floor_s = median(reads), median(floors)
    rows = [
        {"name": "lambdalab.aws invoke p50 (stand-in)", "figure": us(ours_p50), "floor": f"{us(bare_p50)} (bare boto3)",
         "ratio": f"{ours_p50 / bare_p50:.2f}", "target": "≤ 1.2× bare boto3", "met": ours_p50 <= 1.2 * bare_p50},
        {"name": f"lambdalab.aws invocations(), {rows_read:,} rows (stand-in)", "figure": f"{read_s * 1e3:,.1f} ms",
         "floor": f"{floor_s * 1e3:,.1f} ms (bare FilterLogEvents)", "ratio": f"{read_s / floor_s:.2f}",
         "target": "≤ 2× the reads it makes", "met": read_s <= 2 * floor_s},
        {"name": "REPORT/START/END events parsed (records_from_events)",
         "figure": f"{parse_s / max(1, len(events)) * 1e6:.1f} µs/event", "floor": "—", "ratio": "—",
         "target": "—", "met": None},
    ]
    print("| measure | figure | floor | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['name']} | {row['figure']} | {row['floor']} | {row['ratio']} |")
    context = [
        f"invoke p99: lambdalab.aws {us(pct(ours, 0.99))}, bare boto3 {us(pct(bare, 0.99))}; "
        f"{len(ours)} calls each in {args.rounds} interleaved blocks",
        f"{len(events):,} log events read; {len(parsed):,} records parsed",
    ]
    for line in context:
        print(line)
    emit("bench_aws", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
