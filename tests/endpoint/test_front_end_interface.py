"""The interface a front-end uses (``Lab`` and ``Function``, never private names): versions, aliases, what a
version runs, provisioned concurrency, invoking on the engine's loop, attaching, and the hooks behind
``lab.serve()`` / ``fn.url()`` / ``lab.sqs_queue()``."""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest

import lambdalab
from lambdalab import frontends

SOURCE = "def handler(event, context):\n    return {'version': context.function_version, 'event': event}\n"


def test_versions_aliases_and_what_each_version_runs(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("fe", SOURCE, memory_mb=256, timeout_s=5)
    assert fn.versions() == ["$LATEST"] and fn.aliases() == {}
    first = fn.version_info()
    assert first.version == "$LATEST" and first.memory_mb == 256 and first.timeout_s == 5
    assert first.config is fn.config and first.provisioned_concurrency == 0
    assert first.code_sha == fn.code_sha and len(first.code_sha) == 64
    assert first.code_folder.is_dir() and (first.code_folder / "lambda_function.py").read_text() == SOURCE

    assert fn.publish() == "1"
    fn.update(source=SOURCE.replace("event}", "event, 'new': True}"), memory_mb=512)
    fn.create_alias("live", "1", {"$LATEST": 0.0})
    assert fn.versions() == ["$LATEST", "1"]
    assert list(fn.aliases()) == ["live"] and fn.aliases()["live"].version == "1"
    one, latest = fn.version_info("1"), fn.version_info("$LATEST")
    assert one.code_sha == first.code_sha != latest.code_sha and (one.memory_mb, latest.memory_mb) == (256, 512)
    assert one.code_folder == first.code_folder != latest.code_folder

    assert fn.resolve() == "$LATEST" and fn.resolve("live") == "1" and lab.resolve("fe", "1") == "1"
    assert fn.arn("live") == lab.arn("fe", "live") == "arn:aws:lambda:us-east-1:123456789012:function:fe:live"
    assert lab.arn("nobody") == "arn:aws:lambda:us-east-1:123456789012:function:nobody"
    for unknown in ("2", "live"):  # a version that is not published; an alias is not a version
        with pytest.raises(lambdalab.UnknownFunctionError, match=f"function:fe:{unknown}"):
            fn.version_info(unknown)
    with pytest.raises(lambdalab.UnknownFunctionError):
        fn.resolve("nope")


def test_provision_a_published_version(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("prov", SOURCE)
    version = fn.publish()
    fn.provision(1, version)
    assert fn.version_info(version).provisioned_concurrency == 1
    assert fn.version_info().provisioned_concurrency == 0
    deadline = time.monotonic() + 30
    while True:  # provisioned environments start at configuration
        ready = [e for e in fn.environments() if e.version == version and e.provisioned and e.state == "idle"]
        if ready or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(ready) == 1
    fn.provision(0, version)
    assert fn.version_info(version).provisioned_concurrency == 0


def test_the_interface_works_on_the_engines_loop(lab: lambdalab.Lab) -> None:
    """A handler of a front-end runs on the loop: reads happen in place (no hop, no deadlock)."""
    fn = lab.create_function("onloop", SOURCE)

    async def handler() -> tuple[list[str], str, str, bytes]:
        assert asyncio.get_running_loop() is lab.loop
        version = fn.publish()
        request_id = lab.enqueue("onloop", b'{"queued": 1}')
        future = lab.start_invoke("onloop", b'{"n": 1}', qualifier=version, request_id="front-1")
        result = await asyncio.wait_for(future, 30)
        return fn.versions(), version, request_id, result.body

    versions, version, request_id, body = lab.run_on_loop(handler(), timeout=60)
    assert versions == ["$LATEST", "1"] and version == "1" and len(request_id) == 36
    assert body == b'{"version": "1", "event": {"n": 1}}'
    records = lab.invocations()
    assert "front-1" in set(records["request_id"])


def test_calls_that_wait_for_the_engine_are_refused_on_its_loop(lab: lambdalab.Lab) -> None:
    """``invoke`` and ``wait_provisioned`` wait for the engine: on its own loop they would block it until their
    timeout, so they raise at once (reads, ``start_invoke`` and ``enqueue`` are the loop's way)."""
    fn = lab.create_function("waits", SOURCE)

    async def handler() -> list[str]:
        refused = []
        for call in (lambda: fn.invoke({"n": 1}), lambda: fn.wait_provisioned(timeout_s=5)):
            started = time.monotonic()
            with pytest.raises(RuntimeError, match="cannot be called on the engine's loop thread") as caught:
                call()
            assert time.monotonic() - started < 1.0
            refused.append(str(caught.value).split()[0])
        return refused

    assert lab.run_on_loop(handler(), timeout=30) == ["invoke", "wait_provisioned"]
    assert fn.invoke({"n": 2}).payload == {"version": "$LATEST", "event": {"n": 2}}  # off the loop it works


def test_attached_items_close_first_newest_first_and_the_loop_refuses_after() -> None:
    closed: list[str] = []

    class Item:
        def __init__(self, name: str, lab: lambdalab.Lab) -> None:
            self.name, self.lab = name, lab

        def close(self) -> None:
            assert not self.lab.closed  # the engine still runs while front-ends close
            closed.append(self.name)

    lab = lambdalab.Lab()
    try:
        lab.attach(first := Item("first", lab))
        lab.attach(second := Item("second", lab))
        assert lab.attached == (first, second)
    finally:
        lab.close()
    assert closed == ["second", "first"] and lab.closed

    async def never() -> None:  # pragma: no cover - closed unrun
        raise AssertionError

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine was never awaited"
        with pytest.raises(lambdalab.LabClosedError):
            lab.run_on_loop(never())
    with pytest.raises(lambdalab.LabClosedError):
        lab.attach(Item("late", lab))
    with pytest.raises(lambdalab.LabClosedError):
        lab.resolve("any")


def test_front_ends_are_plugged_in_by_the_package() -> None:
    from lambdalab import endpoint, sqs

    hooks = frontends.front_ends
    assert hooks.serve is endpoint.serve and hooks.function_url is endpoint.function_url
    assert hooks.sqs_queue is sqs.SqsQueue
    with pytest.raises(lambdalab.ConfigError, match="serve is not available"):
        frontends.FrontEnds().get("serve")


def test_invoke_returns_by_invocation_type(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("kinds", SOURCE)
    result = fn.invoke({"a": 1})
    assert isinstance(result, lambdalab.InvocationResult) and result.payload == {
        "version": "$LATEST",
        "event": {"a": 1},
    }
    queued = fn.invoke({"a": 2}, invocation_type="Event")
    assert isinstance(queued, lambdalab.AsyncInvocation) and queued.status_code == 202
    assert fn.invoke(invocation_type="DryRun") is None


FACADE = ("lambdalab.api", "lambdalab.function", "lambdalab.lab_engine", "lambdalab.frontends", "lambdalab.results")
FRONT_ENDS = ("lambdalab.endpoint", "lambdalab.sqs", "lambdalab.jupyter", "lambdalab.cli")


def test_the_facade_imports_no_front_end_and_no_circle_runs_through_them() -> None:
    """Function-level imports count; imports only for type checking do not."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("lambdalab", exclude_type_checking_imports=True, cache_dir=None)
    front_ends = set(FRONT_ENDS)
    for front in FRONT_ENDS:
        if graph.find_children(front):
            front_ends |= graph.find_descendants(front)
    for facade in FACADE:
        for module in sorted(front_ends):
            assert graph.find_shortest_chain(importer=facade, imported=module) is None, (facade, module)
    mine = set(FACADE) | {"lambdalab.sqs", "lambdalab.endpoint"} | graph.find_descendants("lambdalab.endpoint")
    for module in sorted(mine):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            assert back is None, f"circle: {module} -> {' -> '.join(back or ())}"
