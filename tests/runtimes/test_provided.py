"""Custom runtimes (``provided.al2023``) on real processes: AWS's bash tutorial runtime and the Go example.

The Go binary (``lambdalab/runtimes/examples/go``) answers the scenario events (``{"action": ...}``), so
it is also the handler of the lifecycle tests here: state, errors, freeze, timeout, memory.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lambdalab import custom_runtimes

pytestmark = pytest.mark.slow

PROVIDED = "provided.al2023"
RUNTIME_API = re.compile(r"^127\.0\.0\.1:\d+$")


def _go(lab, go_bootstrap: Path, name: str = "go", **kwargs):
    return lab.create_function(name, path=go_bootstrap, runtime=PROVIDED, **kwargs)


# -- AWS's bash tutorial runtime ------------------------------------------------------------------------
def test_aws_bash_tutorial_runtime_runs_cold_then_warm(lab, curl, tmp_path):
    folder = custom_runtimes.bash_function(dest=tmp_path / "tutorial")
    assert sorted(p.name for p in folder.iterdir()) == ["bootstrap", "function.sh"]
    fn = lab.create_function("bash-runtime", path=folder, handler=custom_runtimes.BASH_HANDLER, runtime=PROVIDED)
    cold = fn.invoke({"text": "Hello"})
    warm = fn.invoke({"text": "again"})
    # the tutorial's answer is not JSON: Lambda passes the bytes through, as here
    assert cold.error is None and cold.raw == b'Echoing request: \'{"text": "Hello"}\''
    assert warm.error is None and warm.raw == b'Echoing request: \'{"text": "again"}\''
    assert cold.cold and cold.init_duration_ms > 0
    assert not warm.cold and warm.environment_id == cold.environment_id and warm.init_duration_ms is None
    # the handler logs the event to stderr, inside its request's START ... REPORT
    assert cold.log.startswith(f"START RequestId: {cold.request_id}")
    assert '{"text": "Hello"}\n' in cold.log and '"again"' not in cold.log
    assert '{"text": "again"}\n' in warm.log
    # the tutorial's POST is a bare curl: its progress meter and the Runtime API's answer land in the logs too
    assert "% Total" in warm.log and '{"status":"OK"}\n' in warm.log
    assert warm.report.startswith(f"REPORT RequestId: {warm.request_id}\tDuration: ")
    log = lab.logs("bash-runtime")
    assert "INIT_START Runtime Version: provided:al2023.v1" in log
    assert log.count("START RequestId") == 2


def test_bash_function_with_its_own_handler_body(lab, curl, tmp_path):
    folder = custom_runtimes.bash_function('echo "{\\"n\\": $(printf %s "$1" | wc -c)}"', tmp_path / "f")
    fn = lab.create_function("count-bytes", path=folder, handler=custom_runtimes.BASH_HANDLER, runtime=PROVIDED)
    assert fn.invoke({"a": 1}).payload == {"n": len('{"a": 1}')}


def test_bootstrap_from_a_layer_runs_the_functions_script(lab, curl, tmp_path):
    """The tutorial's second step: the runtime moves to a layer, the package keeps only function.sh."""
    layer = tmp_path / "runtime-layer"
    layer.mkdir()
    (layer / "bootstrap").write_text(custom_runtimes.bash_bootstrap())
    (layer / "bootstrap").chmod(0o755)
    code = tmp_path / "code"
    code.mkdir()
    (code / "function.sh").write_text(
        custom_runtimes.bash_function_sh('echo "{\\"bootstrap\\": \\"$0\\", \\"task_root\\": \\"$LAMBDA_TASK_ROOT\\"}"')
    )
    fn = lab.create_function(
        "layered", path=code, handler=custom_runtimes.BASH_HANDLER, runtime=PROVIDED, layers=[layer]
    )
    result = fn.invoke({})
    assert result.error is None, result.error
    ran = Path(result.payload["bootstrap"])
    assert ran.name == "bootstrap" and not (Path(result.payload["task_root"]) / "bootstrap").exists()
    assert ran.parent != Path(result.payload["task_root"])  # the layer's copy, under the merged /opt
    assert ran.read_text() == custom_runtimes.bash_bootstrap()


def test_scenario_bash_runtime_keeps_state_and_reports_errors(lab, curl, tmp_path):
    fn = lab.create_function("bash-scenario", path=custom_runtimes.scenario_folder("bash", tmp_path), runtime=PROVIDED)
    assert [fn.invoke({"action": "count"}).payload for _ in range(3)] == [{"count": 1}, {"count": 2}, {"count": 3}]
    assert fn.invoke({"action": "echo", "value": "a b"}).payload == {"echo": "a b"}
    assert fn.invoke({"action": "echo", "value": 42}).payload == {"echo": 42}
    logged = fn.invoke({"action": "log", "text": "a line"})
    assert logged.payload == {"logged": "a line"} and "\na line\n" in logged.log
    failed = fn.invoke({"action": "fail", "message": "boom"})
    assert failed.error == {"errorType": "HandlerError", "errorMessage": "boom"}
    assert failed.function_error == "Unhandled"
    assert fn.invoke({"action": "count"}).payload == {
        "count": 8
    }  # every invoke counts; a function error keeps the environment


# -- the Go runtime -------------------------------------------------------------------------------------
def test_go_runtime_cold_then_warm_keeps_its_state(lab, go_bootstrap):
    fn = _go(lab, go_bootstrap)
    first, second = fn.invoke({"action": "count"}), fn.invoke({"action": "count"})
    assert first.payload == {"count": 1} and second.payload == {"count": 2}
    assert first.cold and not second.cold and first.environment_id == second.environment_id
    assert first.init_duration_ms > 0 and second.init_duration_ms is None
    assert fn.invoke({"name": "x"}).payload == {"hello": {"name": "x"}, "runtime": "go"}
    # one line per invoke from the runtime, with the request id, inside that request's log
    assert f'{second.request_id} invoke action="count"' in second.log
    assert first.request_id not in second.log
    assert "INIT_START Runtime Version: provided:al2023.v1\t" in lab.logs("go")


def test_go_runtime_sees_lambdas_variables_and_no_execution_env(lab, go_bootstrap):
    fn = _go(lab, go_bootstrap, handler="any.thing")
    names = [
        "_HANDLER",
        "LAMBDA_TASK_ROOT",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ]
    env = fn.invoke({"action": "env", "names": names}).payload["env"]
    assert env["_HANDLER"] == "any.thing"
    assert (Path(env["LAMBDA_TASK_ROOT"]) / "bootstrap").is_file()
    assert RUNTIME_API.match(env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_EXECUTION_ENV"] is None  # Lambda sets none for an OS-only runtime
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "go" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"


def test_go_runtime_errors_keep_or_reset_the_environment(lab, go_bootstrap):
    fn = _go(lab, go_bootstrap)
    assert fn.invoke({"action": "count"}).payload == {"count": 1}
    failed = fn.invoke({"action": "fail", "message": "no such order"})
    assert failed.error == {"errorType": "HandlerError", "errorMessage": "no such order"}
    assert failed.function_error == "Unhandled" and not failed.cold
    assert fn.invoke({"action": "count"}).payload == {"count": 2}  # still warm
    crashed = fn.invoke({"action": "crash", "code": 3})
    reason = "Runtime exited with error: exit status 3"
    assert crashed.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: {reason}",
    }
    assert crashed.report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    again = fn.invoke({"action": "count"})
    assert again.payload == {"count": 1} and again.cold and again.environment_id == crashed.environment_id


@pytest.mark.parametrize("kind", ["go", "bash"])
def test_init_error_reaches_the_caller_and_is_retried_in_each_invoke(lab, kind, request):
    folder = custom_runtimes.scenario_folder(kind) if kind == "bash" else request.getfixturevalue("go_bootstrap")
    if kind == "bash":
        request.getfixturevalue("curl")
    fn = lab.create_function("badinit", path=folder, runtime=PROVIDED, env_vars={"SCENARIO_INIT_FAIL": "1"})
    result = fn.invoke({})
    assert result.error == {"errorType": "InitError", "errorMessage": "init failed"}
    assert result.function_error == "Unhandled"
    # the platform's lines keep only Runtime.*/Function.* types; others read Runtime.Unknown
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.Unknown")
    log = lab.logs("badinit")
    assert "INIT_REPORT Init Duration: " in log
    assert "\tPhase: init\tStatus: error\tError Type: Runtime.Unknown" in log
    assert "\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown" in log
    assert log.index("Phase: init") < log.index("Phase: invoke") < log.index("START RequestId")
    again = fn.invoke({})
    assert again.error == result.error and again.environment_id == result.environment_id


@pytest.mark.parametrize("kind", ["go", "bash"])
def test_response_over_6_mb_is_rejected_and_the_runtime_stays_warm(lab, kind, request):
    folder = custom_runtimes.scenario_folder(kind) if kind == "bash" else request.getfixturevalue("go_bootstrap")
    if kind == "bash":
        request.getfixturevalue("curl")
    fn = lab.create_function("big", path=folder, runtime=PROVIDED)
    big = fn.invoke({"action": "big", "bytes": 7 * 1024 * 1024})
    assert big.error == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    fits = fn.invoke({"action": "big", "bytes": 6 * 1024 * 1024 - 2})  # quotes included: 6 MiB exactly
    assert fits.error is None and len(fits.raw) == 6 * 1024 * 1024
    assert fits.duration_ms < 900  # curl does not wait its 1 s for a "100 Continue"
    assert not fits.cold and fits.environment_id == big.environment_id


# -- Runtime.InvalidEntrypoint --------------------------------------------------------------------------
MISSING = r"Couldn't find valid bootstrap\(s\): \[\S+/bootstrap \S*/opt/bootstrap\]"


def _invalid_entrypoint(lab, name: str, folder: Path, message: str = MISSING):
    fn = lab.create_function(name, path=folder, runtime=PROVIDED)
    result = fn.invoke({})
    assert result.error["errorType"] == "Runtime.InvalidEntrypoint"
    # Lambda: "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]", or for one it cannot
    # start "fork/exec /var/task/bootstrap: permission denied"; here the folders' real paths
    assert re.fullmatch(message, result.error["errorMessage"]), result.error
    assert result.function_error == "Unhandled"
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.InvalidEntrypoint")
    log = lab.logs(name)
    assert "\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint" in log
    assert "\tPhase: invoke\tStatus: error\tError Type: Runtime.InvalidEntrypoint" in log
    assert log.index("Phase: init") < log.index("Phase: invoke") < log.index("START RequestId")
    again = fn.invoke({})  # every invoke looks again (and fails again)
    assert again.error == result.error and again.environment_id == result.environment_id
    return result


def test_missing_bootstrap_is_an_invalid_entrypoint(lab, tmp_path):
    (tmp_path / "function.sh").write_text(custom_runtimes.bash_function_sh())
    _invalid_entrypoint(lab, "nobootstrap", tmp_path)


def test_non_executable_bootstrap_is_an_invalid_entrypoint(lab, tmp_path):
    (tmp_path / "bootstrap").write_text(custom_runtimes.bash_bootstrap())
    (tmp_path / "bootstrap").chmod(0o644)
    _invalid_entrypoint(lab, "notexec", tmp_path, r"fork/exec \S+/bootstrap: permission denied")


def test_bootstrap_whose_interpreter_line_ends_in_a_carriage_return_is_an_invalid_entrypoint(lab, tmp_path):
    """Saved with Windows line endings, ``#!/bin/bash\\r`` names no program: Lambda's exec fails with ENOENT."""
    (tmp_path / "bootstrap").write_bytes(custom_runtimes.bash_bootstrap().replace("\n", "\r\n").encode())
    (tmp_path / "bootstrap").chmod(0o755)
    _invalid_entrypoint(lab, "crlf", tmp_path, r"fork/exec \S+/bootstrap: no such file or directory")


def test_executable_bootstrap_that_is_neither_script_nor_binary_is_an_invalid_entrypoint(lab, tmp_path):
    (tmp_path / "bootstrap").write_text("echo no interpreter line\n")
    (tmp_path / "bootstrap").chmod(0o755)
    _invalid_entrypoint(lab, "noshebang", tmp_path, r"fork/exec \S+/bootstrap: exec format error")


# -- freeze, timeout, memory ----------------------------------------------------------------------------
@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_stalls_the_go_ticker_between_invokes(lab, go_bootstrap, freeze):
    fn = _go(lab, go_bootstrap, freeze=freeze)
    fn.invoke({"action": "ticker"})
    parked_at = time.time() * 1000
    time.sleep(0.5)
    resumed_at = time.time() * 1000
    ticks = fn.invoke({"action": "ticks"}).payload["ticks"]
    during = [t for t in ticks if parked_at + 60 < t < resumed_at - 60]  # 50 ms ticker, with slack
    if freeze:
        assert during == [], f"the ticker ran while frozen: {during}"
        assert len(ticks) <= 3
    else:
        assert len(during) >= 5, f"only {len(during)} ticks in 0.5 s without freezing"


def test_timeout_resets_the_go_environment(lab, go_bootstrap):
    fn = _go(lab, go_bootstrap, timeout_s=1)
    warm = fn.invoke({"action": "count"})
    started = time.monotonic()
    timed_out = fn.invoke({"action": "sleep", "ms": 5000})
    assert time.monotonic() - started < 2.5
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert timed_out.report.endswith("\tStatus: timeout")
    again = fn.invoke({"action": "count"})
    assert again.payload == {"count": 1}  # the process was replaced: its state is gone
    assert again.cold and again.environment_id == warm.environment_id and again.record.init_suppressed


def test_go_memory_hog_gets_lambdas_error_and_only_its_environment_dies(lab, go_bootstrap):
    if lab.cgroups != "cgroup-v1":
        pytest.skip("needs a writable cgroup v1 memory controller")
    neighbour = _go(lab, go_bootstrap, "neighbour")
    assert neighbour.invoke({"action": "count"}).payload == {"count": 1}
    hog = _go(lab, go_bootstrap, "hog", memory_mb=128)
    result = hog.invoke({"action": "hog", "mb": 400})
    reason = "Runtime exited with error: signal: killed"
    assert result.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: {reason}",
    }
    assert result.record.error_type == "Runtime.OutOfMemory"
    assert "\tMax Memory Used: 128 MB\t" in result.report
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.OutOfMemory")
    assert neighbour.invoke({"action": "count"}).payload == {"count": 2}
    assert hog.invoke({"action": "hog", "mb": 1}).payload == {"hogged": 1}


# -- the helper module ----------------------------------------------------------------------------------
def test_go_bootstrap_is_cached_and_copied_where_asked(go_bootstrap, tmp_path):
    assert go_bootstrap.read_bytes()[:4] == b"\x7fELF" and go_bootstrap.stat().st_mode & 0o111
    started = time.monotonic()
    assert custom_runtimes.go_bootstrap() == go_bootstrap
    assert time.monotonic() - started < 1.0  # no rebuild
    copied = custom_runtimes.go_bootstrap(tmp_path)
    assert copied == tmp_path / "bootstrap" and copied.read_bytes() == go_bootstrap.read_bytes()


def test_go_bootstrap_names_what_to_install_without_go(monkeypatch):
    monkeypatch.setattr(custom_runtimes, "_go", lambda: None)
    assert not custom_runtimes.go_available()
    with pytest.raises(custom_runtimes.ConfigError, match=r"apt-get install golang-go"):
        custom_runtimes.go_bootstrap()


def test_folders_without_dest_are_made_once_in_the_cache(tmp_path, monkeypatch, go_bootstrap):
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    first = custom_runtimes.bash_function('echo "{}"')
    assert first == custom_runtimes.bash_function('echo "{}"') and first.is_relative_to(tmp_path / "cache")
    assert first != custom_runtimes.bash_function('echo "[]"')
    assert (first / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert (first / "function.sh").read_text() == 'function handler () {\necho "{}"\n}\n'
    monkeypatch.delenv("LAMBDALAB_CACHE_DIR")
    assert [p.name for p in custom_runtimes.scenario_folder("go").iterdir()] == ["bootstrap"]
    with pytest.raises(custom_runtimes.ConfigError, match="expected 'bash' or 'go'"):
        custom_runtimes.scenario_folder("rust")
