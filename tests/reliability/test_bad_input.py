"""The bad-input corpus: each case gets its exact Lambda error, and the next good invoke succeeds.

Every case is listed, with its expected outcome, in docs/RELIABILITY.md.
"""

from __future__ import annotations

import glob
import logging
import os
import tempfile
import threading
import time

import psutil
import pytest

import lambdalab
from lambdalab.errors import InvalidRequestContentException
from tests.reliability.behaviours import SOURCE

pytestmark = pytest.mark.slow

# case -> (expected errorType or None for success, errorMessage fragment or payload check)
INVOKE_CASES = {
    "raise_non_string": ("Weird", "({'nested': [1, 2]}, 42)"),
    "infinite_loop": ("Sandbox.Timedout", "Task timed out after 1.00 seconds"),
    "sleep_forever": ("Sandbox.Timedout", "Task timed out after 1.00 seconds"),
    "ignore_sigterm": ("Sandbox.Timedout", "Task timed out after 1.00 seconds"),
    "recursion": ("RecursionError", "maximum recursion depth exceeded"),
    "sys_exit_0": ("Runtime.ExitError", "Runtime exited without providing a reason"),
    "sys_exit_3": ("Runtime.ExitError", "Runtime exited with error: exit status 3"),
    "os_exit": ("Runtime.ExitError", "Runtime exited with error: exit status 7"),
    "segfault": ("Runtime.ExitError", "Runtime exited with error: signal: segmentation fault"),
    "abort": ("Runtime.ExitError", "Runtime exited with error: signal: aborted"),
    "keyboard_interrupt": ("Runtime.ExitError", "Runtime exited with error: "),
    "non_json": ("Runtime.MarshalError", "Unable to marshal response: Object of type set is not JSON serializable"),
    "return_generator": ("Runtime.MarshalError", "Unable to marshal response: Object of type generator"),
    "big_response": ("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size"),
    "wrong_context_use": ("AttributeError", "no_such_attribute"),
    "huge_exception_message": ("ValueError", "mmmm"),
    "exception_in_str": ("Bad", ""),
    "close_stdio": (None, "closed"),
    "close_stdio_fds": (None, "closed fds"),
    "leave_thread": (None, "thread left"),
    "chdir_and_environ": (None, "changed"),
    "unicode_print": (None, "printed unicode"),
    "invalid_utf8_print": (None, "printed bytes"),
    "fill_tmp": (None, 8 * 1024 * 1024),
}


@pytest.fixture
def fn(lab):
    return lab.create_function("corpus", SOURCE, timeout_s=1, memory_mb=256)


def _good(fn) -> None:
    result = fn.invoke({"case": "ok"})
    assert result.error is None and result.payload["ok"] is True, result


@pytest.mark.parametrize("case", sorted(INVOKE_CASES))
def test_bad_invoke_gets_its_lambda_error_and_the_next_invoke_works(fn, case):
    error_type, expected = INVOKE_CASES[case]
    started = time.monotonic()
    result = fn.invoke({"case": case})
    assert time.monotonic() - started < 1.0 + 2.0  # never longer than the timeout plus slack
    if error_type is None:
        assert result.error is None, result.error
        assert result.payload == expected
    else:
        assert result.error is not None, result
        assert result.error["errorType"] == error_type
        assert expected in result.error["errorMessage"]
        assert result.function_error == "Unhandled"
    _good(fn)


def test_memory_hog_is_killed_at_its_limit(lab):
    if lab.cgroups != "cgroup-v1":
        pytest.skip("needs a writable cgroup v1 memory controller")
    fn = lab.create_function("hog", SOURCE, timeout_s=10, memory_mb=128)
    result = fn.invoke({"case": "memory_hog"})
    assert result.error["errorType"] == "Runtime.ExitError"
    assert result.record.error_type == "Runtime.OutOfMemory"
    _good(fn)


def test_fork_storm_is_contained_by_the_process_limit(lab):
    if not lab._plane.limits.pids_base:
        pytest.skip("needs a writable cgroup v1 pids controller")
    fn = lab.create_function("forks", SOURCE, timeout_s=30, memory_mb=4096)
    result = fn.invoke({"case": "fork_storm"})
    assert result.error is None, result.error
    assert result.payload["stopped_by"] == "BlockingIOError" and result.payload["forked"] < 1024
    _good(fn)


def test_print_flood_keeps_the_owners_memory_bounded(lab):
    fn = lab.create_function("flood", SOURCE, timeout_s=60)
    before = psutil.Process().memory_info().rss
    result = fn.invoke({"case": "print_flood", "mb": 100})
    assert result.payload == "printed"
    grown_mb = (psutil.Process().memory_info().rss - before) / 2**20
    assert grown_mb < 64, f"owner grew by {grown_mb:.0f} MB"
    stream = lab._plane.environments[result.environment_id].stream
    assert stream.dropped_bytes > 80 * 2**20
    assert "[lambdalab] log output over the stream's limit was dropped" in result.log
    assert result.log.rstrip("\n").splitlines()[-1].startswith("REPORT RequestId: ")
    _good(fn)


@pytest.mark.parametrize("case", ["leave_child", "leave_setsid_child"])
def test_children_a_handler_leaves_behind_end_with_its_environment(lab, case):
    fn = lab.create_function("kids", SOURCE)
    child = fn.invoke({"case": case}).payload["child"]
    assert psutil.pid_exists(child)
    _good(fn)
    fn.kill()
    deadline = time.monotonic() + 3
    while psutil.pid_exists(child) and psutil.Process(child).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"{case}: child {child} outlived its environment"
        time.sleep(0.02)


@pytest.mark.parametrize("value", ["héllo ✓ 日本語 \U0001F600", "\u0000nul", {"nested": ["ü", 1.5, None]}, "x" * 100_000])
def test_unicode_payloads_round_trip(fn, value):
    assert fn.invoke({"case": "echo", "value": value}).payload == value


def test_binary_results_pass_through(fn):
    assert fn.invoke({"case": "bytes_result"}).raw == bytes(range(256))


def test_nan_result_is_allowed_as_lambda_allows_it(fn):
    result = fn.invoke({"case": "nan"})
    assert result.error is None and result.raw == b"NaN"


INIT_CASES = {
    "syntax_error": ("def handler(event, context)\n    pass\n", "Runtime.UserCodeSyntaxError"),
    "missing_module": ("import lambdalab_no_such_module\ndef handler(e, c):\n    return 1\n", "Runtime.ImportModuleError"),
    "no_handler": ("def other(e, c):\n    return 1\n", "Runtime.HandlerNotFound"),
    "exception_in_init": ("raise RuntimeError('init failed')\n", "RuntimeError"),
    "exit_in_init": ("import sys\nsys.exit(2)\n", "Runtime.ExitError"),
    "segfault_in_init": ("import ctypes\nctypes.string_at(0)\n", "Runtime.ExitError"),
}


@pytest.mark.parametrize("case", sorted(INIT_CASES))
def test_init_failures_get_their_lambda_error(lab, case):
    source, error_type = INIT_CASES[case]
    fn = lab.create_function(case, source)
    result = fn.invoke({})
    assert result.error["errorType"] == error_type
    fixed = fn.update(source="def handler(e, c):\n    return 'fixed'\n").invoke({})
    assert fixed.payload == "fixed"


def test_handler_not_callable_and_wrong_arity_fail_each_invoke_with_type_error(lab):
    for source in ("handler = 'not callable'\n", "def handler(event):\n    return 1\n"):
        fn = lab.create_function(f"arity{len(source)}", source)
        assert fn.invoke({}).error["errorType"] == "TypeError"
        assert fn.invoke({}).error["errorType"] == "TypeError"


def test_init_that_never_finishes_times_out():
    with lambdalab.Lab(init_timeout_s=0.5) as lab:
        fn = lab.create_function("hang", "while True:\n    pass\n", timeout_s=1)
        result = fn.invoke({})
        assert result.error["errorType"] == "Sandbox.Timedout"
        assert "\tPhase: init\tStatus: timeout" in lab.logs("hang")


def test_event_over_6_mb_is_rejected_before_anything_runs(lab):
    fn = lab.create_function("big", "def handler(e, c):\n    return 1\n")
    with pytest.raises(lambdalab.RequestTooLargeException):
        fn.invoke({"x": "y" * (6 * 1024 * 1024)})
    assert fn.environments() == []


@pytest.mark.parametrize("event", [b"{not json", "also not json", b"\xff\xfe"])
def test_non_json_event_is_a_clear_caller_error(lab, event):
    fn = lab.create_function("nj", "def handler(e, c):\n    return 1\n")
    with pytest.raises(lambdalab.ConfigError, match="invalid event") as caught:
        fn.invoke(event)
    assert isinstance(caught.value, InvalidRequestContentException)
    assert fn.environments() == []
    assert fn.invoke({}).payload == 1


NOT_JSON_NUMBERS = [float("nan"), {"x": float("inf")}, [1, float("-inf")], "NaN", b'{"x": NaN}', "[Infinity]",
                    b"-Infinity", b'{"x": 1e999}', "[-1e400]"]


@pytest.mark.parametrize("event", NOT_JSON_NUMBERS, ids=repr)
def test_nan_and_infinity_events_are_refused_as_lambda_refuses_them(lab, event):
    fn = lab.create_function("nan", "def handler(e, c):\n    return 1\n")
    with pytest.raises(InvalidRequestContentException, match="^Could not parse request body into json: ") as caught:
        fn.invoke(event)
    assert (caught.value.code, caught.value.status) == ("InvalidRequestContentException", 400)
    with pytest.raises(InvalidRequestContentException):
        fn.submit(event)
    with pytest.raises(InvalidRequestContentException):
        fn.invoke(event, invocation_type="Event")
    assert fn.environments() == []
    assert fn.invoke({"big": 1e308, "int": 10 ** 30}).payload == 1


def test_deeply_nested_events_never_raise_a_raw_recursion_error(lab):
    fn = lab.create_function("deep", "def handler(e, c):\n    return 1\n")
    result = fn.invoke(b"[" * 100_000 + b"]" * 100_000)  # JSON; the runtime decides what it makes of it
    assert isinstance(result, lambdalab.InvocationResult)
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(lambdalab.ConfigError, match="invalid event: not JSON-serialisable"):
        fn.invoke(nested)
    assert fn.invoke({}).payload == 1


@pytest.mark.parametrize(("options", "field"), [
    ({"memory_mb": 64}, "memory_mb"), ({"memory_mb": 10_241}, "memory_mb"), ({"memory_mb": 128.5}, "memory_mb"),
    ({"timeout_s": 0}, "timeout_s"), ({"timeout_s": 901}, "timeout_s"), ({"runtime": "node"}, "runtime"),
    ({"env_vars": {"AWS_LAMBDA_RUNTIME_API": "x"}}, "env_vars"), ({"env_vars": {"1BAD": "x"}}, "env_vars"),
    ({"reserved_concurrency": -1}, "reserved_concurrency"), ({"max_retry_attempts": 3}, "max_retry_attempts"),
    ({"max_event_age_s": 59}, "max_event_age_s"), ({"keep_alive_s": -1}, "keep_alive_s"),
    ({"keep_alive_s": float("nan")}, "keep_alive_s"), ({"keep_alive_s": float("inf")}, "keep_alive_s"),
    ({"timeout_s": float("nan")}, "timeout_s"), ({"memory_mb": True}, "memory_mb"),
    ({"env_vars": {"KEY": "a\0b"}}, "env_vars"), ({"env_vars": {"FOO\n": "x"}}, "env_vars"),
    ({"env_vars": {"A": "x"}}, "env_vars"), ({"handler": "../../../tmp/x/sitecustomize.handler"}, "handler"),
    ({"freeze": "no"}, "freeze"), ({"provisioned_concurrency": 1.5}, "provisioned_concurrency"),
    ({"source": 42}, "source"), ({"path": 42, "source": None}, "path"), ({"zip_file": "PK", "source": None}, "zip_file"),
])
def test_invalid_configuration_is_refused_before_anything_starts(lab, options, field):
    options = {"source": "def handler(e, c):\n    return 1\n", **options}
    with pytest.raises(lambdalab.ConfigError, match=f"invalid {field}"):
        lab.create_function("cfg", options.pop("source"), **options)
    assert lab.functions() == []
    assert not (lab._workdir / "code").exists() or os.listdir(lab._workdir / "code") == []
    assert lab.create_function("cfg", "def handler(e, c):\n    return 1\n").invoke({}).payload == 1


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "semi;colon", "abc\n", "../up", None, 7])
def test_invalid_function_names_are_refused(lab, name):
    with pytest.raises(lambdalab.ConfigError, match="invalid name"):
        lab.create_function(name, "def handler(e, c):\n    return 1\n")
    assert lab.create_function("fine", "def handler(e, c):\n    return 1\n").invoke({}).payload == 1


LAB_CASES = [
    ({"max_records": -1}, "max_records"), ({"max_records": 0}, "max_records"), ({"max_records": 1.5}, "max_records"),
    ({"max_log_entries": 0}, "max_log_entries"), ({"init_timeout_s": float("nan")}, "init_timeout_s"),
    ({"init_timeout_s": 1e12}, "init_timeout_s"), ({"init_timeout_s": 0}, "init_timeout_s"),
    ({"init_timeout_s": "10"}, "init_timeout_s"), ({"keep_alive_s": float("nan")}, "keep_alive_s"),
    ({"keep_alive_s": float("inf")}, "keep_alive_s"), ({"keep_alive_s": -1}, "keep_alive_s"),
    ({"keep_alive_policy": "lru"}, "keep_alive_policy"), ({"retry_delay_scale": float("nan")}, "retry_delay_scale"),
    ({"retry_delay_scale": 0}, "retry_delay_scale"), ({"account_concurrency": "1000"}, "account_concurrency"),
    ({"account_concurrency": 0}, "account_concurrency"), ({"account_concurrency": True}, "account_concurrency"),
    ({"unreserved_floor": -1}, "unreserved_floor"), ({"unreserved_floor": 2000}, "unreserved_floor"),
    ({"scale_limit": 0}, "scale_limit"), ({"scale_period_s": float("inf")}, "scale_period_s"),
    ({"region": "us-east-1\n"}, "region"), ({"region": "../x"}, "region"), ({"account_id": 123456789012}, "account_id"),
    ({"account_id": "12345"}, "account_id"), ({"pass_env": "HOME"}, "pass_env"), ({"pass_env": ("A=B",)}, "pass_env"),
    ({"use_cgroups": "yes"}, "use_cgroups"),
]


def _lab_leftovers() -> tuple[int, set[str]]:
    from lambdalab.engine import mounts  # where Labs make their work dirs (outside /tmp where runtimes own /tmp)

    base = mounts.work_base() or tempfile.gettempdir()
    return threading.active_count(), set(glob.glob(os.path.join(base, f"lambdalab-{os.getpid()}-*")))


@pytest.mark.parametrize(("options", "field"), LAB_CASES, ids=lambda v: repr(v)[:40])
def test_invalid_lab_settings_are_refused_before_any_thread_or_folder(options, field):
    before = _lab_leftovers()
    with pytest.raises(lambdalab.ConfigError, match=f"invalid {field}"):
        lambdalab.Lab(**options)
    assert _lab_leftovers() == before
    with lambdalab.Lab() as lab:
        assert lab.create_function("good", "def handler(e, c):\n    return 1\n").invoke({}).payload == 1


def test_init_timeout_is_bounded_and_used(lab):
    with lambdalab.Lab(init_timeout_s=900, keep_alive_s=86_400, retry_delay_scale=0.01) as other:
        assert other.create_function("ok", "def handler(e, c):\n    return 1\n").invoke({}).payload == 1


# -- callbacks ---------------------------------------------------------------------------------------
CALLBACK_FN = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return e.get('n')\n"


def test_a_done_callback_may_invoke_without_freezing_the_lab(lab):
    fn = lab.create_function("cb", CALLBACK_FN, timeout_s=5)
    fn.invoke({})
    seen: list[tuple[str, object]] = []
    done = threading.Event()

    def callback(future):
        seen.append((threading.current_thread().name, future.result().payload))
        seen.append((threading.current_thread().name, fn.invoke({"n": 2}).payload))  # froze the Lab for 41 s before
        done.set()

    started = time.monotonic()
    fn.submit({"n": 1}).add_done_callback(callback)
    assert done.wait(10)
    assert time.monotonic() - started < 5
    assert seen == [("lambdalab-callbacks", 1), ("lambdalab-callbacks", 2)]
    future = fn.submit({"n": 3})
    future.result(10)
    later = []
    future.add_done_callback(lambda f: later.append(threading.current_thread().name))
    assert later == [threading.current_thread().name]  # already done: runs at once, on the caller's thread


def test_a_slow_callback_does_not_hold_the_engine(lab):
    fn = lab.create_function("cb", CALLBACK_FN, timeout_s=5)
    fn.invoke({})
    release = threading.Event()
    fn.submit({"n": 1}).add_done_callback(lambda f: release.wait(10))
    started = time.monotonic()
    assert fn.invoke({"n": 2}).payload == 2  # the engine answers while the callback blocks
    assert time.monotonic() - started < 2
    release.set()


def test_a_failing_callback_is_logged_and_the_lab_goes_on(lab, caplog):
    fn = lab.create_function("cb", CALLBACK_FN, timeout_s=5)
    done = threading.Event()

    def boom(future):
        raise RuntimeError("callback failed")

    future = fn.submit({"n": 1})
    future.add_done_callback(boom)
    future.add_done_callback(lambda f: done.set())
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        assert done.wait(10)
    assert "exception calling callback" in caplog.text and "callback failed" in caplog.text
    assert fn.invoke({"n": 4}).payload == 4


def test_serve_forwards_options_to_the_endpoint(lab):
    url = lab.serve(allow_origins=["http://localhost:8888"])
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(TypeError):
        lambdalab.Lab.serve(lab, no_such_option=1)


def test_bad_alias_weights_client_context_and_settings_are_caller_errors(lab):
    fn = lab.create_function("more", "def handler(e, c):\n    return 1\n")
    version = fn.publish()
    for weights in ({version: float("nan")}, {version: 2}, ["x"]):
        with pytest.raises(lambdalab.ConfigError, match="invalid weights"):
            fn.create_alias("live", version, weights)
    with pytest.raises(lambdalab.ConfigError, match="invalid client_context"):
        fn.invoke({}, client_context={"custom": {"x": float("nan")}})
    with pytest.raises(lambdalab.ConfigError, match="invalid setting"):
        fn.update(no_such_setting=1)
    fn.create_alias("live", version)
    assert fn.invoke({}, qualifier="live").payload == 1
