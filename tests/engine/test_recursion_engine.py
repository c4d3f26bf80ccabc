"""Recursive loop detection in the engine and lambdalab's SQS trigger: the lineage a caller sends is continued one hop
(the handler's ``_X_AMZN_TRACE_ID``), the 17th hop is stopped (``RecursiveInvocationException`` with nothing run,
a dead-lettered message), ``recursion="Allow"`` lets it through; and the pure lineage rules."""

from __future__ import annotations

import json
import time

import pytest

from lambdalab import lineage
from lambdalab.errors import RecursiveInvocationException

TRACE_ECHO = """
import os
def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "records": len(event.get("Records", []))}
"""

ROOT = "1-5f84c7a5-5d0a1b2c3d4e5f6a7b8c9d0e"


def _trace(hop: int, chain: str = "abcdef12") -> str:
    return f"Root={ROOT};Parent=0123456789abcdef;Sampled=0;Lineage={hop}:{chain}:0"


def _start(lab, name: str, trace: str | None) -> dict:
    """``Lab.start_invoke`` on the loop with ``trace`` as the caller's trace header; the handler's answer."""

    async def run() -> bytes:
        return (await lab.start_invoke(name, b"{}", trace_header=trace)).body

    return json.loads(lab.run_on_loop(run(), timeout=30))


def test_a_callers_lineage_is_continued_one_hop_in_the_handlers_trace(lab):
    lab.create_function("echo", TRACE_ECHO)
    seen = _start(lab, "echo", _trace(3))["trace"]
    parts = lineage.fields(seen)
    assert parts["Root"] == ROOT  # the caller's trace goes on
    count, place, counter = parts["Lineage"].split(":")
    assert (count, counter) == ("4", "0")  # a lineage lambdalab did not make: a loop of the function it reaches
    assert len(place) == 8 and place != "abcdef12"  # this invocation's own place in the chain
    assert lineage.hops(seen) == 4


def test_an_invoke_from_outside_any_chain_is_hop_1(lab):
    fn = lab.create_function("echo", TRACE_ECHO)
    seen = fn.invoke({}).payload["trace"]
    assert lineage.hops(seen) == 1
    without = _start(lab, "echo", "Root=" + ROOT)["trace"]  # a trace header without a lineage starts a chain
    assert lineage.hops(without) == 1 and lineage.fields(without)["Root"] == ROOT


def test_the_16th_hop_runs_and_the_17th_is_stopped_with_nothing_run(lab):
    lab.create_function("echo", TRACE_ECHO)
    assert lineage.hops(_start(lab, "echo", _trace(15))["trace"]) == 16
    before = len(lab.invocations())
    with pytest.raises(RecursiveInvocationException) as caught:
        _start(lab, "echo", _trace(16))
    assert caught.value.code == "RecursiveInvocationException" and caught.value.status == 400
    assert len(lab.invocations()) == before  # not recorded as an invocation
    (notice,) = lab.recursion_notices()
    assert notice["function"] == "echo" and notice["hop"] == 17
    assert notice["source"] == "invoke" and notice["action"] == "RecursiveInvocationException"


def test_allow_lets_any_hop_run(lab):
    fn = lab.create_function("echo", TRACE_ECHO, recursion="Allow")
    assert lineage.hops(_start(lab, "echo", _trace(40))["trace"]) == 41
    fn.set_recursion("Terminate")
    with pytest.raises(RecursiveInvocationException):
        _start(lab, "echo", _trace(40))
    assert lab.recursion_notices()[0]["hop"] == 41


def test_the_sqs_trigger_carries_the_messages_trace_header_and_dead_letters_the_17th(lab):
    lab.create_function("echo", TRACE_ECHO)
    queue = lab.sqs_queue("q", "echo", max_receive_count=2, batch_size=10)
    queue.send("ok", trace_header=_trace(15))
    queue.wait_until_empty(30)
    (row,) = lab.invocations().itertuples()
    assert row.event_source_arn == queue.arn
    queue.send("loop", trace_header=_trace(16))
    queue.wait_until_empty(30)
    time.sleep(0.3)
    assert len(lab.invocations()) == 1  # the 17th hop was never invoked
    (dead,) = queue.dead_letters
    assert dead["body"] == "loop" and dead["attributes"]["AWSTraceHeader"] == _trace(16)
    (notice,) = lab.recursion_notices()
    assert notice["source"] == queue.arn and notice["action"] == "dead_letter" and notice["hop"] == 17


def test_a_batch_goes_on_without_its_stopped_message(lab):
    lab.create_function("echo", TRACE_ECHO)
    queue = lab.sqs_queue("q", "echo", batch_size=10, batching_window_s=0.5, enabled=False)
    queue.send("fresh")
    queue.send("looping", trace_header=_trace(16))
    queue.send("deeper", trace_header=_trace(7))
    queue.update(enabled=True)
    queue.wait_until_empty(30)
    time.sleep(0.3)
    table = lab.invocations()
    assert len(table) == 1 and table["batch_size"].iloc[0] == 2
    assert queue.dead_letters == []  # no dead-letter queue: dropped
    assert lab.recursion_notices()[0]["action"] == "dropped"
    outcomes = {d.message_id: d.outcome for d in queue.deliveries}
    assert sorted(outcomes.values()) == ["deleted", "deleted", "recursive_loop"]


def test_lineage_rules_are_pure():
    assert lineage.hops(None) == 0 and lineage.hops("Root=x") == 0 and lineage.hops("Lineage=bad") == 0
    kept = lineage.Lineages()
    first = kept.step(None, "a", "8f2c0e4a-1111-4222-8333-944445555666", 1_700_000_000.0)
    assert first.hop == 1 and lineage.fields(first.trace)["Lineage"] == "1:8f2c0e4a:0"
    assert lineage.fields(first.trace)["Root"] == "1-6553f100-8f2c0e4a1111422283339444"
    kept.keep(first)
    second = kept.step(first.trace, "b", "1b2c3d4e-0000-4000-8000-000000000000", 0.0)  # a -> b: b's first
    assert second.hop == 1 and dict(second.counts) == {"a": 1, "b": 1}
    assert lineage.fields(second.trace)["Root"] == "1-6553f100-8f2c0e4a1111422283339444"
    kept.keep(second)
    assert kept.hop(second.trace, "a") == 2 and kept.hop(second.trace, "b") == 2 and kept.hop(second.trace, "c") == 1
    foreign = kept.step(_trace(16), "a", "not-a-uuid", 0.0)  # not lambdalab's: a loop of the function it reaches
    assert foreign.hop == 17 and lineage.fields(foreign.trace)["Lineage"].startswith("17:")
    assert lineage.stopped(17, "Terminate") and not lineage.stopped(16, "Terminate")
    assert not lineage.stopped(1000, "Allow")
    assert kept.step(_trace(32_767), "a", "r", 0.0).hop == 32_767  # bounded as the X-Ray propagator bounds it
    retry = kept.step(None, "a", "8f2c0e4a-1111-4222-8333-944445555666", 0.0)  # an event's retry: same request id
    assert retry.place != first.place and len(retry.place) == 8


def test_lineages_forget_the_oldest_places_past_their_bound():
    kept = lineage.Lineages(kept=2)
    steps = [kept.step(None, "a", f"{i:08x}-0000-4000-8000-000000000000", 0.0) for i in range(3)]
    for step in steps:
        kept.keep(step)
    assert len(kept) == 2
    assert dict(kept.counts(steps[0].trace, "b")) == {"b": 1}  # forgotten: its count taken as b's own
    assert dict(kept.counts(steps[2].trace, "b")) == {"a": 1}


def test_a_new_chains_first_place_is_kept_cheaply_and_read_as_its_functions_first_invocation():
    kept = lineage.Lineages(kept=2)
    rid = "8f2c0e4a-1111-4222-8333-944445555666"
    assert kept.begin("a", rid)  # the Runtime API's own header names Lineage=1:8f2c0e4a:0 (engine/runtimes.py)
    header = f"Root=1-6553f100-8f2c0e4a1111422283339444;Parent=9444455556660000;Sampled=0;Lineage=1:{rid[:8]}:0"
    assert dict(kept.counts(header, "b")) == {"a": 1}  # a -> b: b's first, a's count known
    assert kept.hop(header, "a") == 2 and kept.hop(header, "b") == 1
    assert not kept.begin("c", rid)  # its place is taken: the caller steps instead
    assert not kept.begin("c", "not-hex-request-id")
    for i in range(2):
        assert kept.begin("x", f"{i:08x}-0000-4000-8000-000000000000")
    assert len(kept) == 2 and dict(kept.counts(header, "b")) == {"b": 1}  # forgotten past the bound


def _chain(lab, names: list[str], trace: str | None = None) -> tuple[list[str], str | None]:
    """Invoke ``names`` in turn, each with the trace header the one before ran with (as an SDK call from its handler
    sends it); the names that ran until one was stopped, and the last trace."""
    ran = []
    for name in names:
        try:
            trace = _start(lab, name, trace)["trace"]
        except RecursiveInvocationException:
            break
        ran.append(name)
    return ran, trace


def test_a_pipeline_of_17_distinct_functions_is_no_loop(lab):
    names = [f"step{i}" for i in range(1, 18)]
    for name in names:
        lab.create_function(name, TRACE_ECHO)
    ran, trace = _chain(lab, names)
    assert ran == names and lab.recursion_notices() == []
    assert lineage.hops(trace) == 1  # step17's first invocation in the chain
    assert len(lab.invocations()) == 17


def test_the_same_function_is_stopped_at_its_17th_invocation_in_one_chain(lab):
    lab.create_function("echo", TRACE_ECHO)
    ran, trace = _chain(lab, ["echo"] * 20)
    assert len(ran) == 16 and lineage.hops(trace) == 16
    assert len(lab.invocations()) == 16
    (notice,) = lab.recursion_notices()
    assert notice["function"] == "echo" and notice["hop"] == 17


def test_a_ping_pong_loop_is_stopped_when_one_function_reaches_its_limit(lab):
    lab.create_function("ping", TRACE_ECHO)
    lab.create_function("pong", TRACE_ECHO)
    ran, _ = _chain(lab, ["ping", "pong"] * 20)
    assert ran == ["ping", "pong"] * 16  # each ran 16 times; ping's 17th is stopped
    (notice,) = lab.recursion_notices()
    assert notice["function"] == "ping" and notice["hop"] == 17
    assert lab.invocations()["function"].value_counts().to_dict() == {"ping": 16, "pong": 16}
    again, _ = _chain(lab, ["pong", "ping"])  # a new chain from outside: both run again
    assert again == ["pong", "ping"]
