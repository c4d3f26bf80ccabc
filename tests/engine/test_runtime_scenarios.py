"""The engine's scenarios on every runtime: one handler per runtime (tests/engine/scenarios), driven by its events.

Each test runs for ``python``, ``python-ric``, ``nodejs``, ``nodejs-ric``, a bash custom runtime
(``provided-bash``) and a compiled Go one (``provided-go``), and asserts what test_lifecycle_engine.py
and test_errors_engine.py assert for Python: the engine's lifecycle (freeze, timeouts, memory, crashes,
REPORT lines) is the same for any runtime process. Where a runtime legitimately differs (the error
payload a runtime client builds, Node.js's log line format), the test asserts that runtime's own value.
A runtime that this machine does not have is skipped, saying what to install.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import lambdalab
from lambdalab import custom_runtimes
from lambdalab import runtime_catalog
from lambdalab.errors import ConfigError
from tests.engine import assert_report_lines

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
RUNTIMES = ["python", "python-ric", "nodejs", "nodejs-ric", "provided-bash", "provided-go"]



def node_line(request_id: str, level: str) -> str:
    """A regex of the start of Lambda's Node.js log line: time, request id, level."""
    return r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(request_id) + r"\t" + level + r"\t"


@dataclass
class Scenario:
    """One runtime's scenario handler, ready to deploy into a Lab (``create``)."""

    id: str
    lab: lambdalab.Lab
    runtime: str                       # as create_function takes it
    language: str                      # python, nodejs or provided
    code: dict[str, Any] = field(default_factory=dict)  # source= or path=, and handler=

    def create(self, name: str, **config: Any) -> lambdalab.Function:
        return self.lab.create_function(name, runtime=self.runtime, **self.code, **config)


@pytest.fixture(scope="module")
def node_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package folder holding the Node.js handler as ``index.mjs`` (handler ``index.handler``)."""
    folder = tmp_path_factory.mktemp("node-scenario")
    (folder / "index.mjs").write_text((SCENARIOS / "index.mjs").read_text())
    return folder


@pytest.fixture(scope="module")
def go_binary() -> Path:
    """The Go custom runtime, built once (cached across runs by custom_runtimes); skips without Go."""
    if not custom_runtimes.go_available():
        pytest.skip(f"provided-go needs {custom_runtimes.GO_INSTALL}")
    try:
        return custom_runtimes.go_bootstrap()
    except ConfigError as exc:
        pytest.skip(f"provided-go: {exc}")


def _installed(runtime: str) -> None:
    try:
        runtime_catalog.resolve(runtime)
    except ConfigError as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=RUNTIMES)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    runtime_id: str = request.param
    if runtime_id == "provided-go":
        code: dict[str, Any] = {"path": request.getfixturevalue("go_binary")}
        runtime, language = "provided.al2023", "provided"
    elif runtime_id == "provided-bash":
        if shutil.which("bash") is None or shutil.which("curl") is None:
            pytest.skip("provided-bash needs bash and curl (apt-get install curl)")
        code = {"source": custom_runtimes.scenario_bash_bootstrap()}
        runtime, language = "provided", "provided"
    elif runtime_id.startswith("nodejs"):
        _installed(runtime_id)
        code = {"path": request.getfixturevalue("node_folder"), "handler": "index.handler"}
        runtime, language = runtime_id, "nodejs"
    else:
        _installed(runtime_id)
        code = {"source": (SCENARIOS / "handler.py").read_text(), "handler": "handler"}
        runtime, language = runtime_id, "python"
    return Scenario(runtime_id, request.getfixturevalue("lab"), runtime, language, code)


def _count(fn: lambdalab.Function) -> Any:
    return fn.invoke({"action": "count"})


def test_cold_then_warm_in_the_same_environment_keeps_module_state(scenario):
    fn = scenario.create("counter")
    first, second = _count(fn), _count(fn)
    assert first.error is None and first.payload == {"count": 1}
    assert first.cold and first.init_duration_ms is not None and first.init_duration_ms > 0
    assert second.error is None and second.payload == {"count": 2}
    assert not second.cold and second.init_duration_ms is None
    assert second.environment_id == first.environment_id
    assert first.billed_duration_ms == -(-round(first.duration_ms + first.init_duration_ms, 3) // 1)


def test_report_line_matches_lambda_format_exactly(scenario):
    fn = scenario.create("fmt")
    cold, warm = _count(fn), _count(fn)
    # measured peak RSS, never the configured size (a bash runtime needs only a few MB)
    assert_report_lines(cold, warm, min_memory_mb=5 if scenario.language != "provided" else 1)


@pytest.mark.parametrize("freeze", [True, False])
def test_timer_stalls_only_while_frozen(scenario, freeze):
    fn = scenario.create("ticker", freeze=freeze)
    assert fn.invoke({"action": "ticker"}).error is None
    assert fn.invoke({"action": "sleep", "ms": 150}).error is None  # ticks while running
    idle_from = time.time() * 1000
    time.sleep(0.35)
    idle_to = time.time() * 1000
    assert fn.invoke({"action": "sleep", "ms": 150}).error is None  # ticks again once thawed
    ticks = fn.invoke({"action": "ticks"}).payload["ticks"]
    assert ticks == sorted(ticks) and len(ticks) >= 5, ticks
    gap = max(b - a for a, b in zip(ticks, ticks[1:]))
    # the freeze lands just after the response: allow 100 ms for it before the idle time counts, and 20 ms
    # at the end (a tick on thawing may read a millisecond earlier than our clock, truncated)
    while_idle = [t for t in ticks if idle_from + 100 < t < idle_to - 20]
    if freeze:
        assert gap >= 250, f"the timer never stopped (largest gap {gap} ms)"
        assert while_idle == [], f"the timer ticked while frozen: {while_idle}"
    else:
        assert gap < 200, f"the timer stalled for {gap} ms without freezing"
        assert len(while_idle) >= 3, f"only {len(while_idle)} ticks in the idle time: {ticks}"
    phases = set(scenario.lab.spans()["phase"])
    assert ("frozen" in phases) is freeze and ("idle" in phases) is (not freeze)


def test_timeout_resets_the_environment_and_next_invoke_reinitialises(scenario):
    fn = scenario.create("slow", timeout_s=1)
    warm = _count(fn)
    started = time.monotonic()
    timed_out = fn.invoke({"action": "sleep", "ms": 3000})
    assert time.monotonic() - started < 2.5
    assert timed_out.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert timed_out.function_error == "Unhandled"
    assert timed_out.report.endswith("\tStatus: timeout")
    assert timed_out.environment_id == warm.environment_id
    again = _count(fn)
    assert again.error is None and again.payload == {"count": 1}  # module state was lost
    assert again.environment_id == warm.environment_id and again.cold
    assert again.record.init_suppressed and "Init Duration" not in again.report


def test_memory_hog_gets_lambdas_error_and_only_its_environment_dies(scenario):
    if scenario.lab.cgroups != "cgroup-v1":
        pytest.skip("needs a writable cgroup v1 memory controller")
    neighbour = scenario.create("neighbour")
    before = _count(neighbour)
    assert before.payload == {"count": 1}
    hog = scenario.create("hog", memory_mb=128)
    result = hog.invoke({"action": "hog", "mb": 400})
    assert result.error == {"errorType": "Runtime.ExitError",
                            "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: signal: killed"}
    assert result.record.error_type == "Runtime.OutOfMemory"
    assert "\tMax Memory Used: 128 MB\t" in result.report
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.OutOfMemory")
    after = _count(neighbour)
    assert after.payload == {"count": 2} and not after.cold and after.environment_id == before.environment_id
    recovered = _count(hog)
    assert recovered.payload == {"count": 1} and recovered.cold and recovered.environment_id == result.environment_id


def test_crash_is_an_exit_error_and_the_environment_recovers_cold(scenario):
    fn = scenario.create("crash")
    warm = _count(fn)
    crashed = fn.invoke({"action": "crash", "code": 3})
    assert crashed.error == {"errorType": "Runtime.ExitError",
                             "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3"}
    assert crashed.function_error == "Unhandled"
    assert crashed.report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    ok = _count(fn)
    assert ok.payload == {"count": 1} and ok.cold and ok.environment_id == crashed.environment_id == warm.environment_id


def _check_error(scenario: Scenario, error: dict, error_type: str, message: str, request_id: str) -> None:
    """``error`` is what this runtime reports for ``error_type: message`` (each client's own payload)."""
    if scenario.language == "python":  # lambdalab's client and awslambdaric: Python's type, with the stack
        assert error["errorType"] == error_type and error["errorMessage"] == message
        assert error["requestId"] == request_id and isinstance(error["stackTrace"], list)
    elif scenario.language == "nodejs":  # Node's shape: the Error's name, message and stack lines as "trace"
        assert set(error) == {"errorType", "errorMessage", "trace"}, error
        assert error["errorType"] == "Error" and error["errorMessage"] == message
        assert error["trace"][0] == f"Error: {message}" and "index.mjs" in error["trace"][1]
    else:  # a custom runtime's error is exactly what it posted
        assert error == {"errorType": error_type, "errorMessage": message}


def test_init_error_reaches_the_caller_with_init_reports(scenario):
    fn = scenario.create("bad", env_vars={"SCENARIO_INIT_FAIL": "1"})
    result = _count(fn)
    expected = {"python": "RuntimeError", "nodejs": "Error", "provided": "InitError"}[scenario.language]
    _check_error(scenario, result.error, expected, "init failed", "")
    assert result.function_error == "Unhandled"
    # the platform's lines keep only Runtime.*/Function.* types; others read Runtime.Unknown (LAMBDA-SPEC §1.5)
    assert result.report.endswith("\tStatus: error\tError Type: Runtime.Unknown")
    assert result.max_memory_used_mb > 0
    log = scenario.lab.logs("bad")
    assert "INIT_REPORT Init Duration: " in log
    assert "\tPhase: init\tStatus: error\tError Type: Runtime.Unknown" in log
    assert "\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown" in log
    assert log.index("Phase: init") < log.index("Phase: invoke") < log.index("START RequestId")
    again = _count(fn)  # every invoke re-runs the failing init
    assert again.error["errorType"] == expected and again.environment_id == result.environment_id


def test_function_error_keeps_the_environment_warm(scenario):
    fn = scenario.create("boom")
    failed = fn.invoke({"action": "fail", "message": "no such thing"})
    _check_error(scenario, failed.error, "HandlerError", "no such thing", failed.request_id)
    assert failed.function_error == "Unhandled"
    if scenario.language == "python":
        assert "[ERROR] HandlerError: no such thing" in failed.log
    elif scenario.language == "nodejs":
        assert re.search(node_line(failed.request_id, "ERROR") + r"Invoke Error \t\{", failed.log)
    assert "Status:" not in failed.report
    ok = _count(fn)
    assert ok.error is None and not ok.cold and ok.environment_id == failed.environment_id


def test_response_over_6_mb_is_rejected_and_the_environment_stays(scenario):
    fn = scenario.create("big")
    first = _count(fn)
    big = fn.invoke({"action": "big", "bytes": 7_000_000})
    assert big.error == {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                         "errorType": "Function.ResponseSizeTooLarge"}
    assert big.function_error == "Unhandled" and big.environment_id == first.environment_id
    after = _count(fn)
    assert after.error is None and after.environment_id == big.environment_id
    # awslambdaric itself exits when the Runtime API answers 413, so its environment re-inits
    assert after.cold is (scenario.id == "python-ric")


def _between(log: str, request_id: str) -> list[str]:
    """The lines of ``log`` between this request's START and END lines."""
    lines = log.splitlines()
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    return lines[start + 1:lines.index(f"END RequestId: {request_id}", start)]


def test_logs_are_attributed_to_their_request(scenario):
    fn = scenario.create("logger")
    texts = [f"scenario line {uuid.uuid4().hex}" for _ in range(2)]
    results = [fn.invoke({"action": "log", "text": text}) for text in texts]
    log = scenario.lab.logs("logger")
    for text, other, result in zip(texts, reversed(texts), results):
        assert result.error is None and result.payload == {"logged": text}
        for lines in (_between(result.log, result.request_id), _between(log, result.request_id)):
            if scenario.language == "nodejs":  # console.log: time, request id and level on the line
                wanted = re.compile(node_line(result.request_id, "INFO") + re.escape(text) + "$")
                assert [line for line in lines if wanted.match(line)], lines
            else:
                assert text in lines, lines
            assert not [line for line in lines if other in line]


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl")
def test_a_large_response_from_curl_gets_100_continue_at_once(lab):
    """curl asks ``Expect: 100-continue`` for a body over 1 MB and waits a second for the answer; Lambda's
    Runtime API (Go's net/http) sends it at once, so AWS's tutorial runtime returns 2 MB without that wait."""
    bootstrap = "\n".join([
        "#!/bin/bash", "while true; do", '  H="$(mktemp)"',
        '  curl -sS -D "$H" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next" -o /dev/null',
        "  R=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | cut -d: -f2)",
        "  printf '\"%2000000s\"' '' > \"$H\"",
        '  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$R/response" '
        '--data-binary @"$H" -o /dev/null', "done", ""])
    fn = lab.create_function("continue", bootstrap, runtime="provided")
    fn.invoke({})
    started = time.perf_counter()
    result = fn.invoke({})
    elapsed = time.perf_counter() - started
    assert result.error is None and result.payload == " " * 2_000_000
    assert elapsed < 0.8, f"{elapsed:.2f} s: curl waited for 100 Continue"
