"""The runtimes under attack or misuse: each case gets Lambda's answer, and the next good invoke works.

Cases: an event nested 100,000 deep (``Runtime.UnmarshalError``); a task root that shadows the
runtime's own modules (``traceback.py``, ``logging.py``, ...); the owner's AWS credentials and home
out of a handler's reach; no memory growth from the per-invoke trace id; a user ``SIGCONT`` handler
and the thaw. Both runtimes where the case applies (the ``runtime`` fixture).
"""

from __future__ import annotations

import os
import pwd
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

import lambdalab
from lambdalab.engine import runtimes

pytestmark = pytest.mark.slow

GOOD = """
def handler(event, context):
    return {"ok": True, "event": event}
"""


def _good(fn) -> None:
    result = fn.invoke({"case": "ok"})
    assert result.error is None, result.error
    assert result.payload["ok"] is True


# ------------------------------------------------------------------------------------- deep nesting
DEEP = 100_000


@pytest.mark.parametrize("shape", ["array", "object"])
def test_event_nested_too_deep_is_an_unmarshal_error(lab, runtime, shape):
    """awslambdaric: ``Unable to unmarshal input: <the parser's message>``, no stack trace; simplejson says "string"."""
    if shape == "array":
        event = b"[" * DEEP + b"]" * DEEP
    else:
        event = b'{"a":' * DEEP + b"1" + b"}" * DEEP
    assert len(event) < 6 * 1024 * 1024
    fn = lab.create_function("deep", GOOD, runtime=runtime)
    result = fn.invoke(event)
    assert result.error == {
        "errorType": "Runtime.UnmarshalError",
        "errorMessage": f"Unable to unmarshal input: maximum recursion depth exceeded while decoding a JSON {shape} "
                        "from a string",
        "requestId": result.request_id, "stackTrace": []}
    assert result.function_error == "Unhandled"
    assert not result.cold or result.init_duration_ms is not None
    _good(fn)
    assert fn.invoke({"case": "ok"}).environment_id == result.environment_id  # the runtime lived on


# ---------------------------------------------------------------------------------- shadowed modules
# Names the runtimes import for themselves: a copy of each in the task root must not be used by them.
SHADOWED = ("traceback", "logging", "json", "socket", "importlib", "linecache", "tokenize", "token", "re", "enum",
            "string", "threading", "warnings", "weakref", "contextlib", "textwrap", "decimal", "numbers",
            "simplejson", "functools", "collections", "selectors", "errno", "time")

SHADOW_HANDLER = """
import json, logging, traceback, decimal
import calendar  # not one of the runtime's modules: the task root's copy, as on Lambda
logging.getLogger().setLevel(logging.INFO)
logging.info("logged at init")
if calendar.MARK == "fail at init":
    raise LookupError("init failed on purpose")
def handler(event, context):
    logging.info("logged in the handler")
    if event.get("fail"):
        raise ValueError("failed on purpose")
    return {"calendar": calendar.MARK, "decimal": decimal.Decimal("1.5") == 1.5,
            "files": {m.__name__: m.__file__ for m in (json, logging, traceback, decimal)}}
"""


def _shadowing_task_root(root: Path, *, fail_at_init: bool = False, names: tuple[str, ...] = SHADOWED) -> Path:
    root.mkdir()
    for name in names:
        (root / f"{name}.py").write_text(f"raise RuntimeError('the task root copy of {name}.py was imported')\n")
    (root / "calendar.py").write_text(f"MARK = {'fail at init' if fail_at_init else 'task root'!r}\n")
    (root / "lambda_function.py").write_text(SHADOW_HANDLER)
    return root


def test_runtime_modules_win_over_the_task_root(lab, runtime, tmp_path):
    fn = lab.create_function("shadow", path=_shadowing_task_root(tmp_path / "code"), handler="lambda_function.handler",
                             runtime=runtime)
    result = fn.invoke({})
    assert result.error is None, result.error
    assert result.payload["calendar"] == "task root"
    assert result.payload["decimal"] is True
    stdlib = os.path.dirname(os.__file__)
    for name, file in result.payload["files"].items():
        assert file.startswith(stdlib + os.sep), (name, file)
    assert "\tlogged in the handler" in result.log

    failed = fn.invoke({"fail": True})
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "failed on purpose"
    assert any("lambda_function.py" in line and "in handler" in line for line in failed.error["stackTrace"])
    assert "[ERROR] ValueError: failed on purpose" in failed.log
    assert failed.environment_id == result.environment_id  # the runtime survived its own error path
    _good_shadowed(fn)


def _good_shadowed(fn) -> None:
    result = fn.invoke({})
    assert result.error is None, result.error
    assert result.payload["calendar"] == "task root"


def test_init_error_with_shadowed_modules_is_reported(lab, runtime, tmp_path):
    """The init error path too. awslambdaric imports ``http.client`` (hence ``socket``, ``selectors``, ``errno``)
    only when it posts an init error, so on Lambda a ``socket.py`` in the task root makes that path exit:
    python-ric does the same. lambdalab's runtime has those loaded before the task root is on the path."""
    ric_lazy = ("socket", "selectors", "errno")
    names = SHADOWED if runtime == "python" else tuple(n for n in SHADOWED if n not in ric_lazy)
    fn = lab.create_function("shadowinit", path=_shadowing_task_root(tmp_path / "code", fail_at_init=True, names=names),
                             handler="lambda_function.handler", runtime=runtime)
    result = fn.invoke({})
    assert result.error["errorType"] == "LookupError"
    assert result.error["errorMessage"] == "init failed on purpose"
    assert "LookupError: init failed on purpose" in fn.logs()
    if runtime == "python-ric":
        exits = lab.create_function("shadowsocket", path=_shadowing_task_root(tmp_path / "socket", fail_at_init=True),
                                    handler="lambda_function.handler", runtime=runtime).invoke({})
        assert exits.error["errorType"] == "Runtime.ExitError"
    good = lab.create_function("shadowgood", path=_shadowing_task_root(tmp_path / "fixed"),
                               handler="lambda_function.handler", runtime=runtime)
    _good_shadowed(good)


def test_bootstrap_names_cover_what_its_lazy_imports_load():
    """Every standard-library module that traceback, logging, importlib and decimal import is searched only there."""
    import subprocess

    code = ("import sys; import json, os, socket, time; before = set(sys.modules)\n"
            "import traceback, logging, importlib, decimal\n"
            "print(' '.join(sorted({m.split('.')[0] for m in set(sys.modules) - before})))")
    loaded = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30,
                            check=True).stdout.split()
    source = runtimes.BOOTSTRAP.read_text()
    import ast

    assigned = [node.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["NAMES"]]
    assert len(assigned) == 1 and isinstance(assigned[0], ast.Call), "the bootstrap has one NAMES = frozenset(...)"
    names = frozenset(ast.literal_eval(assigned[0].args[0]))
    missing = [m for m in loaded if m not in names and m not in sys.builtin_module_names]
    assert not missing, f"add to _RuntimeModules.NAMES: {missing}"


# ------------------------------------------------------------------------------------------ credentials
CREDENTIALS = """
import os, pwd, stat
def handler(event, context):
    import boto3, botocore.session
    session = botocore.session.Session()
    home = os.environ.get("HOME")
    info = os.stat(home)
    return {
        "home": home, "expanded": os.path.expanduser("~"), "home_mode": stat.S_IMODE(info.st_mode),
        "home_owner_is_me": info.st_uid == os.getuid(),
        "credentials_file": os.path.expanduser(session.get_config_variable("credentials_file")),
        "config_file": os.path.expanduser(session.get_config_variable("config_file")),
        "credentials": session.get_credentials() is not None,
        "boto3": boto3.__version__,
        "password_home": pwd.getpwuid(os.getuid()).pw_dir,
        "keys": sorted(k for k in os.environ if k.startswith("AWS_") and ("KEY" in k or "TOKEN" in k)),
    }
"""


def test_handler_has_no_credentials_and_a_private_home(lab, runtime, monkeypatch, tmp_path):
    owner_home = tmp_path / "owner"
    (owner_home / ".aws").mkdir(parents=True)
    (owner_home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIAOWNER\n"
                                                     "aws_secret_access_key = owner-secret\n")
    monkeypatch.setenv("HOME", str(owner_home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOWNERENV")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(owner_home / ".aws" / "credentials"))
    fn = lab.create_function("creds", CREDENTIALS, runtime=runtime, timeout_s=20)
    first = fn.invoke({})
    assert first.error is None, first.error
    seen = first.payload
    assert seen["credentials"] is False
    assert seen["keys"] == []
    assert seen["boto3"]  # the SDK still imports
    assert seen["home"] == seen["expanded"]
    assert Path(seen["home"]).name == "home" and seen["home_mode"] == 0o700 and seen["home_owner_is_me"]
    for path in (seen["credentials_file"], seen["config_file"]):
        assert path == os.devnull
        assert not path.startswith((str(owner_home), seen["password_home"] + os.sep))
    assert not seen["home"].startswith((str(owner_home), seen["password_home"] + os.sep))
    other = lab.create_function("creds2", CREDENTIALS, runtime=runtime, timeout_s=20).invoke({}).payload
    assert other["home"] != seen["home"]  # one home per environment
    _good(lab.create_function("credsgood", GOOD, runtime=runtime))


def test_pass_env_still_passes_chosen_names_on_purpose(runtime, monkeypatch, tmp_path):
    import lambdalab

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPASSED")
    monkeypatch.setenv("HOME", str(tmp_path))
    with lambdalab.Lab(pass_env=("AWS_ACCESS_KEY_ID", "HOME")) as lab:
        seen = lab.create_function("passed", "import os\ndef handler(e, c):\n    return dict(os.environ)\n",
                                   runtime=runtime).invoke({}).payload
    assert seen["AWS_ACCESS_KEY_ID"] == "AKIAPASSED"
    assert seen["HOME"] == str(tmp_path)


def _fake_environment(tmp_path: Path) -> SimpleNamespace:
    (tmp_path / "env" / "tmp").mkdir(parents=True)
    return SimpleNamespace(code_dir=tmp_path / "code", tmp=tmp_path / "env" / "tmp",
                           pool=SimpleNamespace(spec=SimpleNamespace(version="$LATEST")),
                           stream=SimpleNamespace(name="2026/01/01/[$LATEST]abc"))


def test_role_credentials_are_set_as_lambda_sets_them(tmp_path):
    from lambdalab.config import FunctionConfig

    config = FunctionConfig(name="f", handler="lambda_function.handler")
    kwargs = dict(environment=_fake_environment(tmp_path), port=1, init_type="on-demand", region="us-east-1",
                  pass_env=(), log_group="/aws/lambda/f")
    plain = runtimes.environment_variables(config, **kwargs)
    assert not {"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(plain)
    home = tmp_path / "env" / "home"
    assert plain["HOME"] == str(home) and stat.S_IMODE(home.stat().st_mode) == 0o700
    assert plain["AWS_SHARED_CREDENTIALS_FILE"] == plain["AWS_CONFIG_FILE"] == os.devnull
    role = {"AccessKeyId": "ASIAROLE", "SecretAccessKey": "role-secret", "SessionToken": "role-token"}
    given = runtimes.environment_variables(config, credentials=role, **kwargs)
    assert (given["AWS_ACCESS_KEY_ID"], given["AWS_ACCESS_KEY"], given["AWS_SECRET_ACCESS_KEY"],
            given["AWS_SESSION_TOKEN"]) == ("ASIAROLE", "ASIAROLE", "role-secret", "role-token")
    with pytest.raises(ValueError, match="unknown credential"):
        runtimes.environment_variables(config, credentials={"aws_access_key_id": "x"}, **kwargs)


# ------------------------------------------------------------------------------------------- trace id
TRACE = """
import os, subprocess, sys
def handler(event, context):
    child = None
    if event.get("child"):
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('_X_AMZN_TRACE_ID'))"],
                               env=os.environ, capture_output=True, text=True, timeout=10).stdout.strip()
    return {"pid": os.getpid(), "trace": os.environ.get("_X_AMZN_TRACE_ID"), "getenv": os.getenv("_X_AMZN_TRACE_ID"),
            "child": child}
"""


def test_trace_id_reaches_the_handler_without_growing_the_process(lab):
    fn = lab.create_function("trace", TRACE)
    first, second = fn.invoke({"child": True}).payload, fn.invoke({}).payload
    assert first["trace"].startswith("Root=1-") and first["trace"] == first["getenv"] == first["child"]
    assert second["trace"].startswith("Root=1-") and second["trace"] != first["trace"]
    for _ in range(500):  # settle the allocator
        fn.invoke({})
    process = psutil.Process(first["pid"])
    before = process.memory_full_info().uss
    invokes = 4000
    for _ in range(invokes):
        last = fn.invoke({}).payload
    grown = process.memory_full_info().uss - before
    assert last["pid"] == first["pid"]
    # setenv kept every value: ~160 bytes per invoke (640 KB here); now flat
    assert grown < 128 * 1024, f"grew {grown} bytes over {invokes} invokes"


# --------------------------------------------------------------------------------------------- SIGCONT
SIGCONT_HANDLER = """
import os, signal
seen = []
def on_cont(signum, frame):
    seen.append(signum)
    if os.environ.get("RAISE"):
        raise RuntimeError("SIGCONT handler ran")
signal.signal(signal.SIGCONT, on_cont)
def handler(event, context):
    if event.get("self"):
        os.kill(os.getpid(), signal.SIGCONT)  # a SIGCONT of the handler's own still reaches it
    return len(seen)
"""


@pytest.mark.parametrize("raises", [False, True])
def test_sigcont_handler_of_user_code_does_not_run_on_thaw(lab, raises):
    """lambdalab's runtime keeps the thaw's SIGCONT from user handlers (Lambda's freezer sends none)."""
    fn = lab.create_function("cont", SIGCONT_HANDLER, env_vars={"RAISE": "1"} if raises else {})
    counts = [fn.invoke({}) for _ in range(4)]
    assert [r.error for r in counts] == [None] * 4
    assert [r.payload for r in counts] == [0, 0, 0, 0]
    assert len({r.environment_id for r in counts}) == 1
    if not raises:
        assert fn.invoke({"self": True}).payload == 1
    _good(lab.create_function("contgood", GOOD))


def test_sigcont_handler_under_awslambdaric_documents_the_thaw(lab):
    """awslambdaric (unchanged) lets the thaw's SIGCONT reach a user handler when freezing is by signals.

    With the cgroup freezer no signal is sent and the count stays 0; with SIGSTOP/SIGCONT it counts thaws.
    Either way every invoke succeeds.
    """
    fn = lab.create_function("contric", SIGCONT_HANDLER, runtime="python-ric")
    counts = [fn.invoke({}) for _ in range(4)]
    assert [r.error for r in counts] == [None] * 4
    payloads = [r.payload for r in counts]
    assert payloads == sorted(payloads) and payloads[-1] in (0, 3, 4), payloads
    _good(lab.create_function("contricgood", GOOD, runtime="python-ric"))


def test_password_database_home_is_not_the_handlers(lab, runtime):
    """Without HOME an SDK falls back to the password database's home: the owner's ``~/.aws``."""
    seen = lab.create_function("pwhome", "import os\ndef handler(e, c):\n    return os.path.expanduser('~')\n",
                               runtime=runtime).invoke({}).payload
    assert seen != pwd.getpwuid(os.getuid()).pw_dir


def test_role_credentials_reach_the_handler_only_when_given_on_purpose():
    src = ("import os\ndef handler(event, context):\n"
           "    return [os.environ.get(k) for k in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN')]\n")
    given = {"AccessKeyId": "AKIDEXAMPLE", "SecretAccessKey": "secret", "SessionToken": "token"}
    with lambdalab.Lab(role_credentials=given) as lab:
        assert lab.create_function("creds", src).invoke({}).payload == ["AKIDEXAMPLE", "secret", "token"]
    with lambdalab.Lab() as lab:
        assert lab.create_function("creds", src).invoke({}).payload == [None, None, None]
    with pytest.raises(lambdalab.ConfigError, match="role_credentials"):
        lambdalab.Lab(role_credentials={"aws_access_key_id": "x"})
