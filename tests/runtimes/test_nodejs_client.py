"""Node.js runtimes on real processes: lambdalab's client (``nodejs``) and AWS's aws-lambda-ric (``nodejs-ric``).

Each test runs against both where the second is built (``make node-ric``); the payloads and log lines
of ``nodejs`` must be the ones AWS's client produces. Tests skip, saying why, where Node.js is missing.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from lambdalab import runtime_catalog
from lambdalab.engine import runtimes
from lambdalab.errors import ConfigError

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]+)\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t(.*)$"
)


def _installed(runtime: str) -> str:
    try:
        runtime_catalog.resolve(runtime)
    except ConfigError as exc:
        pytest.skip(f"{runtime} is not installed here: {exc}")
    return runtime


@pytest.fixture(params=["nodejs", "nodejs-ric"])
def node(request: pytest.FixtureRequest) -> str:
    """Each Node.js runtime client, skipped where it is not installed."""
    return _installed(request.param)


@pytest.fixture
def ours() -> str:
    return _installed("nodejs")


def app_lines(log: str) -> list[tuple[str, str, str]]:
    """(request id, level, message) of each application line of a log."""
    return [m.group(2, 3, 4) for line in log.split("\n") if (m := LOG_LINE.match(line))]


COUNTER = """
let count = 0;
const started = Date.now();
exports.handler = async (event, context) => {
  count += 1;
  return {count, started, pid: process.pid};
};
"""


def test_cold_then_warm_keeps_module_state(lab, node):
    fn = lab.create_function("count", COUNTER, runtime=node, handler="index.handler")
    first, second, third = fn.invoke({}), fn.invoke({}), fn.invoke({})
    assert first.error is None, first.error
    assert (first.cold, second.cold, third.cold) == (True, False, False)
    assert [r.payload["count"] for r in (first, second, third)] == [1, 2, 3]
    assert first.payload["pid"] == third.payload["pid"] and first.payload["started"] == third.payload["started"]
    assert first.init_duration_ms > 0 and second.init_duration_ms is None


ESM = """
import { createHash } from 'node:crypto';
let calls = 0;
export const handler = async (event) => {
  calls += 1;
  return {calls, digest: createHash('sha1').update(event.text).digest('hex').slice(0, 8), esm: typeof require};
};
"""


def test_es_module_handler(lab, node):
    fn = lab.create_function("esm", ESM, runtime=node, handler="index.handler")
    first, second = fn.invoke({"text": "abc"}), fn.invoke({"text": "abc"})
    assert first.payload == {"calls": 1, "digest": "a9993e36", "esm": "undefined"}  # no require in an ES module
    assert second.payload["calls"] == 2 and not second.cold


def test_package_json_type_module_loads_index_js_as_es_module(lab, node, tmp_path):
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "index.js").write_text("export const handler = async () => ({kind: typeof require});\n")
    fn = lab.create_function("pkgesm", path=tmp_path, runtime=node, handler="index.handler")
    assert fn.invoke({}).payload == {"kind": "undefined"}


def test_commonjs_cjs_file_and_nested_handler_path(lab, node, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.cjs").write_text(
        "module.exports = {api: {get: async (event) => ({got: event.id, kind: typeof require})}};\n"
    )
    fn = lab.create_function("nested", path=tmp_path, runtime=node, handler="src/app.api.get")
    assert fn.invoke({"id": 7}).payload == {"got": 7, "kind": "function"}


CALLBACK = """
exports.handler = (event, context, callback) => {
  if (event.wait === false) context.callbackWaitsForEmptyEventLoop = false;
  const started = Date.now();
  globalThis.timerFired = globalThis.timerFired || 0;
  if (event.pendingMs) setTimeout(() => { globalThis.timerFired += 1; }, event.pendingMs);
  callback(null, {
    value: event.value, timerFiredBefore: globalThis.timerFired, waits: context.callbackWaitsForEmptyEventLoop,
  });
};
"""


def test_callback_handler_waits_for_the_event_loop_by_default(lab, node):
    fn = lab.create_function("cb", CALLBACK, runtime=node, handler="index.handler")
    fn.invoke({"value": 0})  # cold start out of the way
    waited = fn.invoke({"value": 1, "pendingMs": 300})
    assert waited.payload == {"value": 1, "timerFiredBefore": 0, "waits": True}
    assert waited.duration_ms >= 280  # the response went out once the pending timer had run
    at_once = fn.invoke({"value": 2, "pendingMs": 300, "wait": False})
    assert at_once.payload == {"value": 2, "timerFiredBefore": 1, "waits": False}
    assert at_once.duration_ms < 250  # posted at once; the timer is left pending (frozen with the process)


def test_sync_handler_without_callback_returns_null(lab, node):
    fn = lab.create_function("sync", "exports.handler = (event) => 42;\n", runtime=node, handler="index.handler")
    result = fn.invoke({})
    assert result.error is None and result.payload is None  # Node's runtime ignores a plain return value


CONTEXT = """
exports.handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 120));
  const second = context.getRemainingTimeInMillis();
  return {first, second, ctx: JSON.parse(JSON.stringify(context)), trace: process.env._X_AMZN_TRACE_ID,
          clientContext: context.clientContext || null, identity: context.identity || null,
          hasSucceed: typeof context.succeed, hasDone: typeof context.done, hasFail: typeof context.fail};
};
"""


def test_context_fields_and_remaining_time(lab, node):
    fn = lab.create_function("ctx", CONTEXT, runtime=node, handler="index.handler", memory_mb=256, timeout_s=5)
    result = fn.invoke({}, client_context={"custom": {"k": "v", "name": "Zoë 雪"}})
    out = result.payload
    assert result.error is None, result.error
    assert 4000 < out["first"] <= 5000 and out["first"] - out["second"] >= 100
    ctx = out["ctx"]
    assert ctx["awsRequestId"] == result.request_id
    assert ctx["functionName"] == "ctx" and ctx["functionVersion"] == "$LATEST"
    assert ctx["memoryLimitInMB"] == "256"  # a string, as on Lambda
    assert ctx["invokedFunctionArn"].endswith(":function:ctx")
    assert ctx["logGroupName"] == "/aws/lambda/ctx" and ctx["logStreamName"]
    assert ctx["callbackWaitsForEmptyEventLoop"] is True
    assert list(ctx)[:2] == ["callbackWaitsForEmptyEventLoop", "functionVersion"]  # the runtime's key order
    assert out["clientContext"]["custom"] == {"k": "v", "name": "Zoë 雪"}  # header values are UTF-8
    assert (out["hasSucceed"], out["hasDone"], out["hasFail"]) == ("function", "function", "function")
    assert out["trace"].startswith("Root=1-")


def test_trace_id_changes_per_invoke(lab, node):
    fn = lab.create_function(
        "trace", "exports.handler = async () => process.env._X_AMZN_TRACE_ID;\n", runtime=node, handler="index.handler"
    )
    first, second = fn.invoke({}).payload, fn.invoke({}).payload
    assert first.startswith("Root=1-") and second.startswith("Root=1-") and first != second


TRACE_SEEN = """
const { execFileSync } = require('child_process');
exports.handler = async () => ({
  env: process.env._X_AMZN_TRACE_ID,
  listed: Object.keys(process.env).includes('_X_AMZN_TRACE_ID'),
  child: execFileSync('/bin/sh', ['-c', 'echo "$_X_AMZN_TRACE_ID"']).toString().trim(),
});
"""


def test_trace_id_reaches_the_handler_and_its_children_without_setenv(lab, ours):
    """lambdalab's client keeps the trace id out of the C-level environment (glibc's setenv keeps every value
    for ever: about 450 bytes an invoke; benchmarks/bench_memory_growth.py measures it), yet the handler,
    Object.keys and a child started with the default environment all see it, as they do with AWS's client."""
    fn = lab.create_function("traceseen", TRACE_SEEN, runtime=ours, handler="index.handler")
    seen = [fn.invoke({}).payload for _ in range(3)]
    for out in seen:
        assert out["env"].startswith("Root=1-") and out["listed"] and out["child"] == out["env"]
    assert len({out["env"] for out in seen}) == 3


def test_legacy_succeed_and_fail(lab, node):
    source = (
        "exports.handler = (event, context) => event.ok ? context.succeed({ok: 1}) "
        ": context.fail(new RangeError('nope'));\n"
    )
    fn = lab.create_function("legacy", source, runtime=node, handler="index.handler")
    assert fn.invoke({"ok": True}).payload == {"ok": 1}
    failed = fn.invoke({"ok": False})
    assert failed.error["errorType"] == "RangeError" and failed.error["errorMessage"] == "nope"


LOGS = """
exports.handler = async (event, context) => {
  console.log('hello %s', 'world', {n: 1});
  console.info('info');
  console.warn('careful');
  console.error('bad');
  console.debug('dbg');
  console.trace('trc');
  console.log('two\\nlines');
  process.stdout.write('raw line\\n');
  return 'ok';
};
"""


def test_log_lines_carry_time_request_id_and_level(lab, node):
    fn = lab.create_function("logs", LOGS, runtime=node, handler="index.handler")
    result = fn.invoke({})
    lines = app_lines(result.log)
    rid = result.request_id
    assert lines == [
        (rid, "INFO", "hello world { n: 1 }"),
        (rid, "INFO", "info"),
        (rid, "WARN", "careful"),
        (rid, "ERROR", "bad"),
        (rid, "DEBUG", "dbg"),
        (rid, "TRACE", "trc"),
        (rid, "INFO", "two\rlines"),
    ]  # one event per call: newlines become \r on stdout
    assert "\nraw line\n" in result.log  # process.stdout.write stays raw
    assert result.log.index("START RequestId") < result.log.index("hello world") < result.log.index("END RequestId")


def test_log_level_filters_console(lab, node):
    fn = lab.create_function(
        "lvl", LOGS, runtime=node, handler="index.handler", env_vars={"AWS_LAMBDA_LOG_LEVEL": "WARN"}
    )
    levels = [level for _, level, _ in app_lines(fn.invoke({}).log)]
    assert levels == ["WARN", "ERROR"]


def test_init_log_lines_say_undefined_request_id(lab, node):
    fn = lab.create_function(
        "initlog", "console.log('loading');\nexports.handler = async () => 1;\n", runtime=node, handler="index.handler"
    )
    fn.invoke({})
    assert ("undefined", "INFO", "loading") in app_lines(lab.logs("initlog"))


THROW = """
exports.handler = async (event) => {
  if (event.kind === 'string') throw 'plain string';
  const err = new TypeError('bad input');
  err.code = 'E_BAD';
  throw err;
};
"""


def test_thrown_error_payload_and_log_line(lab, node):
    fn = lab.create_function("throw", THROW, runtime=node, handler="index.handler")
    result = fn.invoke({})
    assert set(result.error) == {"errorType", "errorMessage", "trace"}
    assert result.error["errorType"] == "TypeError" and result.error["errorMessage"] == "bad input"
    assert result.error["trace"][0] == "TypeError: bad input"
    assert "index.js" in result.error["trace"][1]
    [(rid, level, message)] = app_lines(result.log)
    assert (rid, level) == (result.request_id, "ERROR") and message.startswith("Invoke Error \t{")
    logged = json.loads(message.split("\t", 1)[1])
    assert list(logged) == ["errorType", "errorMessage", "code", "stack"]
    assert logged["code"] == "E_BAD" and logged["stack"][0] == "TypeError: bad input"
    plain = fn.invoke({"kind": "string"})
    assert plain.error == {"errorType": "string", "errorMessage": "plain string", "trace": []}
    assert not plain.cold  # a function error keeps the environment


def test_unserialisable_result_and_unhandled_rejection(lab, node):
    source = """
exports.handler = async (event) => {
  if (event.kind === 'circular') { const a = {}; a.a = a; return a; }
  if (event.kind === 'function') return () => 1;
  if (event.kind === 'uncaught') setTimeout(() => { throw new RangeError('tick'); }, 0);
  else Promise.reject(new Error('late'));
  await new Promise((r) => setTimeout(r, 50));
  return 'unreached';
};
"""
    fn = lab.create_function("odd", source, runtime=node, handler="index.handler")
    circular = fn.invoke({"kind": "circular"})
    assert circular.error["errorType"] == "Error"
    assert circular.error["errorMessage"] == "Unable to stringify response body"
    function = fn.invoke({"kind": "function"})  # JSON.stringify gives undefined: the client refuses it
    assert (function.error["errorType"], function.error["errorMessage"]) == ("TypeError", "Wrong arguments")
    assert not function.cold
    uncaught = fn.invoke({"kind": "uncaught"})
    assert (uncaught.error["errorType"], uncaught.error["errorMessage"]) == ("RangeError", "tick")
    assert "Uncaught Exception \t{" in uncaught.log
    assert fn.invoke({"kind": "circular"}).cold  # the runtime exited after reporting it
    rejected = fn.invoke({"kind": "reject"})
    assert rejected.error["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert rejected.error["errorMessage"] == "Error: late"
    assert "Unhandled Promise Rejection \t{" in rejected.log
    again = fn.invoke({"kind": "circular"})
    assert again.cold  # the runtime exited after reporting the rejection: a fresh environment


INIT_ERRORS = [
    (
        "exports.other = async () => 1;\n",
        "index.handler",
        "Runtime.HandlerNotFound",
        "index.handler is undefined or not exported",
    ),
    ("exports.handler = 42;\n", "index.handler", "Runtime.HandlerNotFound", "index.handler is not a function"),
    (
        "exports.handler = async () => { return 1 ;;; }}}\n",
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError: Unexpected token '}'",
    ),
    (
        "require('not-a-module-anywhere');\nexports.handler = async () => 1;\n",
        "index.handler",
        "Runtime.ImportModuleError",
        "Error: Cannot find module 'not-a-module-anywhere'\nRequire stack:\n- ",
    ),
    (
        "exports.handler = async () => 1;\n",
        "missing.handler",
        "Runtime.ImportModuleError",
        "Error: Cannot find module 'missing'\nRequire stack:\n- ",
    ),
    ("throw new Error('init failed');\n", "index.handler", "Error", "init failed"),
    (
        "import x from 'not-a-package-anywhere';\nexport const handler = async () => x;\n",
        "index.handler",
        "Error",
        "Cannot find package 'not-a-package-anywhere' imported from ",
    ),
    (
        "export const handler = async () => { return 1 ;;; }}}\n",
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError: Unexpected token '}'",
    ),
]


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    INIT_ERRORS,
    ids=[
        "not-exported",
        "not-a-function",
        "syntax",
        "missing-dependency",
        "missing-module",
        "throws",
        "esm-missing-package",
        "esm-syntax",
    ],
)
def test_init_errors_as_node_reports_them(lab, node, tmp_path, source, handler, error_type, message):
    (tmp_path / ("index.mjs" if "export " in source else "index.js")).write_text(source)
    fn = lab.create_function("bad", path=tmp_path, runtime=node, handler=handler)
    result = fn.invoke({})
    assert result.error["errorType"] == error_type
    assert result.error["errorMessage"].startswith(message)
    first = result.error["trace"][0]  # "<name>: <message>" (Node puts an error's code after the name)
    assert first.startswith(error_type) and first.endswith(f": {result.error['errorMessage'].splitlines()[0]}")
    shown = error_type if error_type.startswith("Runtime.") else "Runtime.Unknown"
    log = lab.logs("bad")
    assert f"\tPhase: init\tStatus: error\tError Type: {shown}" in log
    [(rid, level, text), *_] = app_lines(log)
    assert (rid, level) == ("undefined", "ERROR") and text.startswith("Uncaught Exception \t{")
    assert json.loads(text.split("\t", 1)[1])["errorType"] == error_type
    again = fn.invoke({})  # every invoke re-runs the failing init
    assert again.error["errorType"] == error_type


class _RuntimeAPI(http.server.BaseHTTPRequestHandler):
    """Just enough of the Runtime API to watch one runtime process's init: records each request."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("index", "Bad handler"),
        (
            "../index.handler",
            "'../index.handler' is not a valid handler name. Use absolute paths when specifying root "
            "directories in handler names.",
        ),
    ],
)
def test_malformed_handler_name_is_posted_to_init_error(ours, tmp_path, handler, message):
    """A name the configuration would refuse, given to the client directly: its own check answers."""
    _RuntimeAPI.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RuntimeAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        }
        node_path = runtime_catalog.resolve(ours).executable
        done = subprocess.run(
            [node_path, str(runtimes.NODE_BOOTSTRAP)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 129  # as Node's runtime exits after reporting an uncaught init error
    [(method, path, headers, body)] = _RuntimeAPI.seen
    assert (method, path) == ("POST", "/2018-06-01/runtime/init/error")
    assert headers["lambda-runtime-function-error-type"] == "Runtime.MalformedHandlerName"
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["errorType"] == "Runtime.MalformedHandlerName" and error["errorMessage"] == message
    assert error["trace"][0] == f"Runtime.MalformedHandlerName: {message}"
    [(rid, level, text)] = app_lines(done.stdout)
    assert (rid, level) == ("undefined", "ERROR") and text.startswith("Uncaught Exception \t{")


def test_timeout_and_crash_reset_the_environment(lab, node):
    source = (
        "exports.handler = async (event) => { if (event.crash) process.exit(3); "
        "await new Promise((r) => setTimeout(r, event.ms || 0)); return process.pid; };\n"
    )
    fn = lab.create_function("tc", source, runtime=node, handler="index.handler", timeout_s=1)
    pid = fn.invoke({}).payload
    timed_out = fn.invoke({"ms": 5000})
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    after = fn.invoke({})
    assert after.cold and after.payload != pid
    crashed = fn.invoke({"crash": True})
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.error["errorMessage"]


def test_freeze_stalls_a_timer_between_invokes(lab, node):
    source = """
const ticks = [];
let timer = null;
exports.handler = async (event) => {
  if (!timer) timer = setInterval(() => ticks.push(Date.now()), 50);
  return ticks.slice();
};
"""
    fn = lab.create_function("ticker", source, runtime=node, handler="index.handler")
    fn.invoke({})
    time.sleep(0.6)  # frozen: the interval does not run
    ticks = fn.invoke({}).payload
    assert len(ticks) <= 3, ticks


def test_big_event_and_response(lab, node):
    fn = lab.create_function(
        "big",
        "exports.handler = async (event) => ({n: event.s.length, s: event.s});\n",
        runtime=node,
        handler="index.handler",
    )
    text = "x" * 3_000_000
    result = fn.invoke({"s": text})
    assert result.payload["n"] == 3_000_000 and result.payload["s"] == text


JSON_LOGS = """
exports.handler = async (event) => {
  console.log('plain %d', 5);
  console.warn({k: 1});
  console.error('with', new RangeError('inner'));
  throw new TypeError('outer');
};
"""


def test_json_log_format(lab, node):
    fn = lab.create_function(
        "jsonlogs", JSON_LOGS, runtime=node, handler="index.handler", env_vars={"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    )
    result = fn.invoke({})
    records = [json.loads(line) for line in result.log.split("\n") if line.startswith("{")]
    for record in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record.pop("timestamp"))
        assert record.pop("requestId") == result.request_id
    plain, warn, error, invoke_error = records
    assert plain == {"level": "INFO", "message": "plain 5"}
    assert warn == {"level": "WARN", "message": {"k": 1}}
    assert error["level"] == "ERROR" and error["message"].startswith("with RangeError: inner")
    assert (error["errorType"], error["errorMessage"], error["stackTrace"][0]) == (
        "RangeError",
        "inner",
        "RangeError: inner",
    )
    assert invoke_error["level"] == "ERROR"
    assert (invoke_error["message"]["errorType"], invoke_error["message"]["errorMessage"]) == ("TypeError", "outer")
    assert result.error["errorType"] == "TypeError"


def test_platform_gone_exits_quietly(ours, tmp_path):
    """The Runtime API closes the connection: the client exits 0 and says nothing."""
    (tmp_path / "index.js").write_text("exports.handler = async () => 1;\n")
    listener = socket.create_server(("127.0.0.1", 0))
    closer = threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True)
    closer.start()
    try:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "_HANDLER": "index.handler",
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}",
        }
        done = subprocess.run(
            [runtime_catalog.resolve(ours).executable, str(runtimes.NODE_BOOTSTRAP)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        listener.close()
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


STREAMING = {
    "writes": (
        "responseStream.setContentType('text/plain'); responseStream.write('hello '); "
        "await new Promise((r) => setTimeout(r, 20)); responseStream.write({n: 1}); responseStream.end();",
        b'hello {"n":1}',
        None,
    ),
    "pipeline": (
        "await require('stream/promises').pipeline(require('stream').Readable.from(['a', 'b', 'c']), responseStream);",
        b"abc",
        None,
    ),
    "http-prelude": (
        "const s = awslambda.HttpResponseStream.from(responseStream, {statusCode: 201}); s.write('body'); s.end();",
        b'{"statusCode":201}' + b"\0" * 8 + b"body",
        None,
    ),
    "throws-mid-stream": (
        "responseStream.write('partial'); throw new TypeError('mid-stream');",
        b"partial",
        'Invoke Error \t{"errorType":"TypeError","errorMessage":"mid-stream"',
    ),
    "content-type-too-late": (
        "responseStream.write('a'); responseStream.setContentType('text/plain'); responseStream.end();",
        b"a",
        'Invoke Error \t{"errorType":"Runtime.InvalidStreamingOperation",'
        '"errorMessage":"Cannot set content-type, too late."',
    ),
}


@pytest.mark.parametrize("case", list(STREAMING))
def test_streamed_response(lab, node, case):
    """``awslambda.streamifyResponse``: the chunks reach the platform as one response (an Invoke buffers them)."""
    body, expected, logged = STREAMING[case]
    source = f"exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {{ {body} }});\n"
    fn = lab.create_function("stream", source, runtime=node, handler="index.handler")
    first, second = fn.invoke({}), fn.invoke({})
    assert (first.raw, first.error) == (expected, None)
    assert (second.raw, second.cold) == (expected, False)
    if logged:
        assert logged in first.log
    else:
        assert app_lines(first.log) == []


def test_a_runtime_client_under_the_machines_tmp_is_refused_where_environments_have_their_own(monkeypatch):
    """Each environment has its own /tmp here: aws-lambda-ric (or node) under the machine's /tmp is out of its
    reach, so the deploy says so instead of every invoke failing with Runtime.ExitError."""
    from lambdalab.engine import mounts

    if not mounts.used():
        pytest.skip("runtimes share the machine's /tmp here")
    import shutil
    import tempfile
    from pathlib import Path

    tmp_path = Path(tempfile.mkdtemp(dir="/tmp"))
    package = tmp_path / "node_modules" / runtime_catalog.NODE_RIC_PACKAGE
    package.mkdir(parents=True)
    (package / "package.json").write_text("{}")
    (package / "rapid-client.node").write_bytes(b"")
    monkeypatch.setenv("LAMBDALAB_NODE_RIC", str(tmp_path))
    try:
        with pytest.raises(ConfigError, match="under /tmp, which each environment has of its own"):
            runtime_catalog.resolve("nodejs-ric")
    finally:
        shutil.rmtree(tmp_path)
