"""Lambda's error types on real processes: init errors, crashes, memory, marshalling, sizes."""

from __future__ import annotations

import pytest

import lambdalab

pytestmark = pytest.mark.slow

INIT_ERRORS = [
    ("def handler(event, context)\n    return 1\n", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'lambda_function': "),
    ("import not_a_module_anywhere\ndef handler(event, context):\n    return 1\n", "Runtime.ImportModuleError",
     "Unable to import module 'lambda_function': No module named 'not_a_module_anywhere'"),
    ("def other(event, context):\n    return 1\n", "Runtime.HandlerNotFound",
     "Handler 'handler' missing on module 'lambda_function'"),
    ("x = 1 / 0\ndef handler(event, context):\n    return 1\n", "ZeroDivisionError", "division by zero"),
]


@pytest.mark.parametrize(("source", "error_type", "message"), INIT_ERRORS, ids=[e[1] for e in INIT_ERRORS])
def test_init_error_reaches_the_caller_as_lambda_does(lab, runtime, source, error_type, message):
    fn = lab.create_function("bad", source, runtime=runtime)
    result = fn.invoke({})
    assert result.error is not None, result
    assert result.error["errorType"] == error_type
    assert result.error["errorMessage"].startswith(message)
    assert result.function_error == "Unhandled"
    # the platform's lines keep only Runtime.*/Function.* types; others read Runtime.Unknown (LAMBDA-SPEC §1.5)
    shown = error_type if error_type.startswith("Runtime.") else "Runtime.Unknown"
    assert result.report.endswith(f"\tStatus: error\tError Type: {shown}")
    assert result.max_memory_used_mb > 0
    log = lab.logs("bad")
    assert "INIT_REPORT Init Duration: " in log
    assert f"\tPhase: init\tStatus: error\tError Type: {shown}" in log
    assert f"\tPhase: invoke\tStatus: error\tError Type: {shown}" in log
    assert log.index("Phase: init") < log.index("Phase: invoke") < log.index("START RequestId")
    again = fn.invoke({})  # every invoke re-runs the failing init
    assert again.error["errorType"] == error_type and again.environment_id == result.environment_id


def test_handler_that_is_not_callable_fails_each_invoke_with_a_type_error(lab, runtime):
    fn = lab.create_function("notcallable", "handler = 42\n", runtime=runtime)
    first, second = fn.invoke(), fn.invoke()
    assert first.error["errorType"] == "TypeError"
    assert first.error["errorMessage"] == "'int' object is not callable"
    assert not second.cold and second.error["errorType"] == "TypeError"


CRASH = """
import ctypes, os, sys
def handler(event, context):
    how = event["how"]
    if how == "exit":
        os._exit(3)
    if how == "sys.exit":
        sys.exit(event.get("code", 0))
    if how == "segfault":
        ctypes.string_at(0)
    return "ok"
"""


@pytest.mark.parametrize(("event", "reason"), [
    ({"how": "exit"}, "Runtime exited with error: exit status 3"),
    ({"how": "segfault"}, "Runtime exited with error: signal: segmentation fault"),
    ({"how": "sys.exit", "code": 0}, "Runtime exited without providing a reason"),
    ({"how": "sys.exit", "code": 2}, "Runtime exited with error: exit status 2"),
])
def test_crash_is_an_exit_error_and_the_environment_recovers(lab, runtime, event, reason):
    fn = lab.create_function("crash", CRASH, runtime=runtime)
    crashed = fn.invoke(event)
    assert crashed.error == {"errorType": "Runtime.ExitError",
                             "errorMessage": f"RequestId: {crashed.request_id} Error: {reason}"}
    assert crashed.report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    ok = fn.invoke({"how": "none"})
    assert ok.payload == "ok" and ok.environment_id == crashed.environment_id and ok.cold


HOG = """
blocks = []
def handler(event, context):
    for _ in range(event["mb"]):
        blocks.append(bytearray(1024 * 1024))
    return len(blocks)
"""


def test_memory_hog_gets_lambdas_error_and_only_its_environment_dies(lab, runtime):
    if lab.cgroups != "cgroup-v1":
        pytest.skip("needs a writable cgroup v1 memory controller")
    neighbour = lab.create_function("neighbour", "def handler(e, c):\n    return 'fine'\n", runtime=runtime)
    assert neighbour.invoke().payload == "fine"
    hog = lab.create_function("hog", HOG, runtime=runtime, memory_mb=128)
    result = hog.invoke({"mb": 400})
    assert result.error == {"errorType": "Runtime.ExitError",
                            "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"}
    assert result.record.error_type == "Runtime.OutOfMemory"
    assert "\tMax Memory Used: 128 MB\t" in result.report
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.OutOfMemory")
    assert neighbour.invoke().payload == "fine"
    assert hog.invoke({"mb": 1}).payload == 1


def test_unserialisable_result_is_a_marshal_error(lab, runtime):
    fn = lab.create_function("marshal", "def handler(e, c):\n    return {1, 2}\n", runtime=runtime)
    result = fn.invoke()
    assert result.error["errorType"] == "Runtime.MarshalError"
    assert result.error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


def test_response_over_6_mb_is_rejected_and_the_environment_stays_warm(lab, runtime):
    fn = lab.create_function("big", "def handler(e, c):\n    return 'x' * e['n']\n", runtime=runtime)
    big = fn.invoke({"n": 7 * 1024 * 1024})
    assert big.error == {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                         "errorType": "Function.ResponseSizeTooLarge"}
    fits = fn.invoke({"n": 6 * 1024 * 1024 - 2})  # quotes included: 6 MiB exactly
    assert fits.error is None and len(fits.raw) == 6 * 1024 * 1024
    assert fits.environment_id == big.environment_id
    # awslambdaric itself exits when the Runtime API answers 413, so its environment re-inits
    assert fits.cold is (runtime == "python-ric")


def test_request_over_6_mb_is_rejected_before_any_environment_starts(lab):
    fn = lab.create_function("req", "def handler(e, c):\n    return 1\n")
    with pytest.raises(lambdalab.RequestTooLargeException) as info:
        fn.invoke({"blob": "x" * (6 * 1024 * 1024)})
    assert info.value.code == "RequestEntityTooLargeException"
    assert "6291456 bytes" in str(info.value)
    assert fn.environments() == [] and lab.invocations().empty


def test_bytes_result_is_passed_through(lab):
    fn = lab.create_function("raw", "def handler(e, c):\n    return b'\\x00\\x01binary'\n")
    result = fn.invoke()
    assert result.raw == b"\x00\x01binary" and result.error is None


def test_init_over_its_limit_times_out_then_retries_inside_the_invoke(runtime):
    slow_init = "import time\ntime.sleep(float(__import__('os').environ['INIT_SLEEP']))\ndef handler(e, c):\n    return 'ready'\n"
    with lambdalab.Lab(init_timeout_s=1.0) as lab:
        fn = lab.create_function("slowinit", slow_init, runtime=runtime, timeout_s=1.5, env_vars={"INIT_SLEEP": "5"})
        result = fn.invoke()
        assert result.error["errorType"] == "Sandbox.Timedout"
        log = lab.logs("slowinit")
        assert "\tPhase: init\tStatus: timeout" in log
        assert result.report.endswith("\tStatus: timeout")
        assert 1400 <= result.duration_ms < 2500  # the retry is bounded by the function timeout
        quick = lab.create_function("quickinit", slow_init, runtime=runtime, env_vars={"INIT_SLEEP": "0.2"})
        ok = quick.invoke()
        assert ok.payload == "ready" and 200 <= ok.init_duration_ms < 1000
