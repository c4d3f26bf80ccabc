"""``lab.watch``: an edited handler file is redeployed (debounced), the next invoke is cold and answers with the new
code within 2 s; a change that cannot deploy keeps the old code and is kept in ``Watcher.errors``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError

pytestmark = pytest.mark.slow
pytest.importorskip("watchfiles")

HANDLER = "def handler(event, context):\n    return {answer!r}\n"


def _write(path: Path, answer: str) -> None:
    path.write_text(HANDLER.format(answer=answer))


def _until(fn: lambdalab.Function, answer: str, timeout_s: float = 5.0) -> tuple[float, lambdalab.InvocationResult]:
    """Invoke until the answer is ``answer``: (seconds it took, that first result)."""
    start = time.monotonic()
    while True:
        result = fn.invoke()
        if result.payload == answer:
            return time.monotonic() - start, result
        assert time.monotonic() - start < timeout_s, f"still {result.payload!r} after {timeout_s} s"
        time.sleep(0.01)


def test_edit_redeploys_within_two_seconds_and_the_next_invoke_is_cold(tmp_path: Path) -> None:
    code = tmp_path / "app"
    code.mkdir()
    handler = code / "app.py"
    _write(handler, "v1")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("w", path=code, handler="app.handler")
        assert fn.source_path == code.resolve()
        assert fn.invoke().payload == "v1"
        assert fn.invoke().init_duration_ms is None  # warm
        before = fn.code_sha
        with lab.watch(fn) as watcher:
            latencies = []
            for version in ("v2", "v3"):
                _write(handler, version)
                took, first = _until(fn, version)
                latencies.append(took)
                assert first.init_duration_ms is not None, "the first answer of new code comes from a cold start"
                assert fn.invoke().init_duration_ms is None
            assert watcher.reloads == 2 and watcher.errors == []
            assert fn.code_sha != before
        print(f"reload latency (edit -> first new answer): {', '.join(f'{t * 1000:.0f} ms' for t in latencies)}")
        assert max(latencies) < 2.0
        assert not watcher.running
        _write(handler, "v4")  # no longer watched
        time.sleep(0.6)
        assert fn.invoke().payload == "v3"


def test_a_burst_of_writes_is_one_redeploy(tmp_path: Path) -> None:
    handler = tmp_path / "burst.py"
    _write(handler, "v0")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("b", path=handler)
        watcher = lab.watch(fn, debounce_ms=300)
        for i in range(6):  # 6 writes 40 ms apart: inside one quiet period
            _write(handler, f"w{i}")
            time.sleep(0.04)
        _until(fn, "w5")
        time.sleep(0.8)
        assert watcher.reloads == 1
    assert not watcher.running  # closed with the Lab


def test_a_change_that_cannot_deploy_keeps_the_old_code(tmp_path: Path) -> None:
    handler = tmp_path / "gone.py"
    _write(handler, "old")
    errors: list[Exception] = []
    with lambdalab.Lab() as lab:
        fn = lab.create_function("g", path=handler)
        assert fn.invoke().payload == "old"
        watcher = lab.watch(fn)
        handler.unlink()
        deadline = time.monotonic() + 5
        while not watcher.errors and time.monotonic() < deadline:
            time.sleep(0.02)
        errors = list(watcher.errors)
        assert len(errors) == 1 and isinstance(errors[0], ConfigError), errors
        assert fn.invoke().payload == "old" and watcher.reloads == 0
        _write(handler, "back")
        took, first = _until(fn, "back")
        assert watcher.reloads == 1 and first.init_duration_ms is not None


def test_watch_needs_a_path(tmp_path: Path) -> None:
    with lambdalab.Lab() as lab:
        fn = lab.create_function("s", "def handler(e, c):\n    return 1\n")
        with pytest.raises(ConfigError, match="path"):
            lab.watch(fn)
        with pytest.raises(ConfigError, match="nothing to watch"):
            lab.watch(fn, tmp_path / "missing.py")
        with pytest.raises(ConfigError, match="debounce_ms"):
            lab.watch(fn, tmp_path, debounce_ms=0)
        other = tmp_path / "lambda_function.py"  # the module a function from source= imports
        _write(other, "from a file")
        with lab.watch("s", other):  # a function made from source, redeployed from the file given
            _write(other, "edited")
            _until(fn, "edited")
        assert fn.source_path == other.resolve()


def test_repeated_writes_to_one_file_are_one_redeploy(tmp_path: Path) -> None:
    handler = tmp_path / "again.py"
    _write(handler, "v0")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("again", path=handler)
        watcher = lab.watch(fn, debounce_ms=300)
        for i in range(30):  # one file written every 50 ms for 1.5 s: never quiet for 300 ms, under the 3 s cap
            _write(handler, f"w{i}")
            time.sleep(0.05)
        _until(fn, "w29")
        time.sleep(0.8)
        assert watcher.reloads == 1, watcher


def test_a_file_inside_a_folder_redeploys_the_whole_folder(tmp_path: Path) -> None:
    code = tmp_path / "pkg"
    code.mkdir()
    (code / "helper.py").write_text("WORD = 'from helper'\n")
    app = code / "app.py"
    app.write_text("import helper\ndef handler(event, context):\n    return helper.WORD + ' v1'\n")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("folder", path=code, handler="app.handler")
        with lab.watch(fn, app) as watcher:
            app.write_text("import helper\ndef handler(event, context):\n    return helper.WORD + ' v2'\n")
            _until(fn, "from helper v2")
            assert watcher.errors == []
        assert fn.source_path == code.resolve()


def test_a_folder_deleted_and_made_again_is_still_watched(tmp_path: Path) -> None:
    import shutil

    code = tmp_path / "gone"
    code.mkdir()
    _write(code / "app.py", "v1")
    with lambdalab.Lab() as lab:
        fn = lab.create_function("regone", path=code, handler="app.handler")
        with lab.watch(fn, debounce_ms=100) as watcher:
            shutil.rmtree(code)
            time.sleep(0.5)
            code.mkdir()
            _write(code / "app.py", "v2")
            _until(fn, "v2")
            time.sleep(0.3)
            _write(code / "app.py", "v3")  # the new folder's own files are watched too
            _until(fn, "v3")
            assert watcher.running


def test_stop_does_not_wait_for_a_long_redeploy_and_does_not_count_it(tmp_path: Path) -> None:
    from lambdalab.watch import Watcher

    target = tmp_path / "f.txt"
    target.write_text("a")
    started = []

    def slow(changed: set[Path]) -> None:
        started.append(time.monotonic())
        time.sleep(2.0)

    watcher = Watcher([target], slow, debounce_ms=50)
    target.write_text("b")
    deadline = time.monotonic() + 5
    while not started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started
    t0 = time.monotonic()
    watcher.stop()
    assert time.monotonic() - t0 < 1.0
    time.sleep(2.2)  # the redeploy ends after stop(): not counted
    assert watcher.reloads == 0 and watcher.errors == [] and not watcher.running


def test_closing_the_lab_ends_a_dependency_build_a_redeploy_started(tmp_path: Path) -> None:
    """pip runs in its own session: without the watcher ending it, it outlived the Lab and the process."""
    import socket

    import psutil

    from lambdalab.packages import deps

    import glob
    import tempfile

    pip_temps = f"{tempfile.gettempdir()}/pip-*"
    before = set(glob.glob(pip_temps))
    silent = socket.socket()  # an index that accepts and never answers: pip waits on it
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    folder = tmp_path / "app"
    folder.mkdir()
    _write(folder / "lambda_function.py", "one")
    try:
        lab = lambdalab.Lab()
        with lab:
            fn = lab.create_function("slow", path=folder)
            lab.watch(fn)
            (folder / "requirements.txt").write_text(
                f"--index-url http://127.0.0.1:{silent.getsockname()[1]}/simple\nsix\n"
            )
            deadline = time.monotonic() + 10
            while not deps.running_builds() and time.monotonic() < deadline:
                time.sleep(0.05)
            pids = deps.running_builds()
            assert pids, "the redeploy started no build"
            started = time.monotonic()
        assert time.monotonic() - started < 3.0  # close did not wait for pip
        assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
                   for pid in pids)
        deadline = time.monotonic() + 5
        while deps.running_builds() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deps.running_builds() == []
        assert set(glob.glob(pip_temps)) - before == set()  # pip's temporary folders went with it
    finally:
        silent.close()
