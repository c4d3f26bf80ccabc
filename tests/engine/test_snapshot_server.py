"""SnapStart's runtime side on real processes: a template of lambdalab's Python runtime (and of awslambdaric), its
fork server (runtimes/snapshot_server.py) and restored environments, driven by a small Runtime API in the test."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.snapstart_harness import FakeRuntimeAPI, Template

HANDLER = textwrap.dedent(
    """
    import os, random, sys, time
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    time.sleep(float(os.environ.get("SLEEP", "0")))
    INIT_DRAW = random.random()
    SEEN = []

    @register_before_snapshot
    def first():
        print("before-snapshot first", flush=True)

    def second(word, *, mark):
        print("before-snapshot second", word, mark, flush=True)
        if os.environ.get("FAIL_BEFORE"):
            raise ValueError("no snapshot today")

    register_before_snapshot(second, "w", mark="m")

    @register_after_restore
    def one():
        SEEN.append("one")
        print("after-restore one", flush=True)

    def two(word):
        SEEN.append("two " + word)
        if os.environ.get("FAIL_AFTER"):
            raise RuntimeError("cannot reconnect")

    register_after_restore(two, "x")

    def handler(event, context):
        return {
            "init": INIT_DRAW,
            "later": random.random(),
            "pid": os.getpid(),
            "seen": SEEN,
            "fd": os.environ.get("LAMBDALAB_SNAPSHOT_FD"),
            "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
            "token": os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            "urandom": os.urandom(8).hex(),
        }
    """
)


@pytest.fixture
def api() -> Iterator[FakeRuntimeAPI]:
    server = FakeRuntimeAPI()
    yield server
    server.close()


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    return tmp_path


def responses(api: FakeRuntimeAPI, count: int) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(r[3]) for r in api.wait_for("/response", count)]


@pytest.mark.parametrize("ric", [False, True], ids=["python", "python-ric"])
def test_hooks_run_in_lambdas_order_and_restored_environments_share_the_random_state(
    api: FakeRuntimeAPI, task_root: Path, ric: bool
) -> None:
    template = Template(task_root, "app.handler", api, ric=ric, env={"AWS_LAMBDA_LOG_STREAM_NAME": "template"})
    try:
        api.wait_for("/restore/next")
        spares = [template.spare(), template.spare()]
        # before-snapshot hooks: the reverse order of registration, with their arguments
        out = template.output()
        assert out.index("before-snapshot second w m") < out.index("before-snapshot first"), out
        restored = [
            s.restore({"AWS_LAMBDA_LOG_STREAM_NAME": None, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "t2"}) for s in spares
        ]
        template.children += restored
        api.wait_for("/invocation/next", 2)
        api.events.put(b"{}")
        api.events.put(b"{}")
        first, second = responses(api, 2)
        assert {first["pid"], second["pid"]} == {r.pid for r in restored}
        assert first["init"] == second["init"]  # the pitfall: a value drawn at init is in the snapshot
        assert first["later"] == second["later"]  # and the generator state too, unless a hook reseeds
        assert first["urandom"] != second["urandom"]  # the kernel's RNG is not
        for answer in (first, second):
            assert answer["seen"] == ["one", "two x"]  # after-restore hooks in registration order
            assert answer["fd"] is None and answer["stream"] is None and answer["token"] == "t2"
        assert "after-restore one" in restored[0].output()
        assert template.proc.poll() is None  # the snapshot stays for the next restore
    finally:
        template.close()


@pytest.mark.parametrize("ric", [False, True], ids=["python", "python-ric"])
def test_a_failing_before_snapshot_hook_is_an_init_error_and_exit_64(
    api: FakeRuntimeAPI, task_root: Path, ric: bool
) -> None:
    template = Template(task_root, "app.handler", api, ric=ric, env={"FAIL_BEFORE": "1"})
    try:
        assert template.proc.wait(20) == 64
        ((_, _, headers, body, _),) = api.wait_for("/init/error")
        assert headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.BeforeSnapshotError"
        error = json.loads(body)
        assert error["errorType"] == "ValueError" and error["errorMessage"] == "no snapshot today"
        assert not [r for r in api.requests if r[1].endswith("/restore/next")]  # hooks come before the snapshot
    finally:
        template.close()


@pytest.mark.parametrize("ric", [False, True], ids=["python", "python-ric"])
def test_a_failing_after_restore_hook_posts_restore_error_and_exits_65(
    api: FakeRuntimeAPI, task_root: Path, ric: bool
) -> None:
    template = Template(task_root, "app.handler", api, ric=ric, env={"FAIL_AFTER": "1"})
    try:
        api.wait_for("/restore/next")
        child = template.spare().restore()
        template.children.append(child)
        assert child.wait() == 65  # read through its pidfd: it is the template's child, not ours
        ((_, _, headers, body, _),) = api.wait_for("/restore/error")
        assert headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.AfterRestoreError"
        error = json.loads(body)
        assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "cannot reconnect"
        assert error["requestId"] == ""
        assert "cannot reconnect" in child.output()  # the error record goes to the environment's own log
        assert not [r for r in api.requests if r[1].endswith("/invocation/next")]
        assert template.proc.poll() is None  # one failed restore leaves the snapshot alone
    finally:
        template.close()


def test_a_restore_replaces_a_one_second_init_in_milliseconds(api: FakeRuntimeAPI, task_root: Path) -> None:
    template = Template(task_root, "app.handler", api, env={"SLEEP": "1"})
    try:
        api.wait_for("/restore/next")
        times = []
        for _ in range(5):
            child = template.spare().restore()
            template.children.append(child)
            ((*_, arrived),) = [r for r in api.wait_for("/invocation/next", len(times) + 1)][-1:]
            times.append((arrived - child.sent) * 1000)
        times.sort()
        assert times[len(times) // 2] < 50, times  # the init it replaces took over 1,000 ms
    finally:
        template.close()


def test_spares_that_are_never_restored_end_with_their_socket(api: FakeRuntimeAPI, task_root: Path) -> None:
    template = Template(task_root, "app.handler", api)
    try:
        api.wait_for("/restore/next")
        spare = template.spare()
        spare.channel.close()  # not wanted after all
        import select

        assert select.select([spare.pidfd], [], [], 10)[0]
        assert template.proc.poll() is None
    finally:
        template.close()
    assert template.proc.returncode is not None
