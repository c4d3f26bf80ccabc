"""The magics through IPython's test shell: register, invoke, update, subcommands, help, bad input."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from typing import Any

import pytest
from IPython.core.error import UsageError

import lambdalab
import lambdalab.jupyter
from lambdalab.jupyter import commands
from lambdalab.viz.colours import ERROR_COLOUR

HANDLER = """count = 0
EXECUTED_IN_KERNEL = True   # must not appear in the kernel's namespace

def handler(event, context):
    global count
    count += 1
    return {"count": count, "event": event}
"""

pytestmark = pytest.mark.slow


def register(ip: Any, line: str = "hello", cell: str = HANDLER) -> Any:
    return ip.run_cell_magic("lambda", line, cell)


def test_import_lambdalab_imports_no_notebook_stack() -> None:
    code = (
        "import lambdalab, sys; heavy = {'IPython', 'ipywidgets', 'plotly', 'pandas', 'ipykernel'} & "
        "set(sys.modules); assert not heavy, heavy; assert callable(lambdalab.load_ipython_extension)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_default_lab_is_one_per_process_and_renewed_after_close() -> None:
    try:
        lab = lambdalab.default_lab()
        assert lambdalab.default_lab() is lab
        lambdalab.jupyter.close_default_lab()
        assert lab.closed
        assert lambdalab.default_lab() is not lab
    finally:
        lambdalab.jupyter.close_default_lab()


def test_cell_registers_binds_name_and_is_not_executed(ip: Any, html: Any) -> None:
    fn = register(ip, "hello --memory 256 --timeout 5 --env GREETING=hi --env BB=2")
    assert isinstance(fn, lambdalab.Function)
    assert ip.user_ns["hello"] is fn
    assert "EXECUTED_IN_KERNEL" not in ip.user_ns and "count" not in ip.user_ns
    c = fn.config
    assert (c.memory_mb, c.timeout_s, dict(c.env_vars), c.freeze) == (256, 5.0, {"GREETING": "hi", "BB": "2"}, True)
    card = html(fn)
    assert "lambdalab-function" in card
    for text in ("python", "256 MB", "5 s", "$LATEST", "environments", "0 (0 frozen)"):
        assert text in card
    assert re.search(r"<b>[0-9a-f]{12}</b>", card), "code hash shown"
    assert "lambdalab-packages" not in card and "inherited" not in card  # isolated, nothing shipped: no line


def test_function_card_shows_what_the_package_ships_and_inherited_packages(ip: Any, html: Any, tmp_path: Any) -> None:
    layer = tmp_path / "layer" / "python"
    layer.mkdir(parents=True)
    (layer / "helper.py").write_text("VALUE = 1\n")
    fn = register(ip, f"shipped --inherit-packages --layer {tmp_path / 'layer'}")
    card = html(fn)
    assert "lambdalab-packages" in card
    assert "inherited from this kernel (differs from Lambda)" in card
    assert re.search(r">layers</span> <b>1</b>", card)
    assert "requirements" not in card
    isolated = html(register(ip, f"isolated --layer {tmp_path / 'layer'}"))
    assert re.search(r">layers</span> <b>1</b>", isolated) and "inherited" not in isolated


def test_invoke_json_variable_and_empty(ip: Any, html: Any) -> None:
    register(ip)
    cold = ip.run_line_magic("lambda", 'invoke hello {"name": "Ada", "n": [1, 2]}')
    assert cold.cold and cold.payload == {"count": 1, "event": {"name": "Ada", "n": [1, 2]}}
    ip.user_ns["evt"] = {"flag": True, "none": None}
    warm = ip.run_line_magic("lambda", "invoke hello $evt")
    assert not warm.cold and warm.payload == {"count": 2, "event": {"flag": True, "none": None}}
    assert ip.run_line_magic("lambda", "invoke hello").payload["event"] == {}
    card = html(cold)
    assert "lambdalab-result" in card and ">cold<" in card and "&quot;Ada&quot;" in card
    for label in ("Duration", "Billed", "Memory", "Max used", "Init"):
        assert label in card
    assert "<svg" in card and "phase-init" in card and "phase-invoke" in card and "phase-frozen" in card
    assert "why is this init slow? <code>hello.profile_init()</code>" in card  # a cold start links the profile
    warm_card = html(warm)
    assert ">warm<" in warm_card and "phase-init" not in warm_card and "phase-invoke" in warm_card
    assert "profile_init" not in warm_card
    assert ip.display_formatter.formatters["text/plain"](cold) == repr(cold)  # text/plain stays the repr


def test_error_result_card(ip: Any, html: Any) -> None:
    register(ip, "boom", "def handler(event, context):\n    raise ValueError('nope')\n")
    result = ip.run_line_magic("lambda", "invoke boom")
    assert result.error["errorType"] == "ValueError"
    card = html(result)
    assert "lambdalab-error" in card and "ValueError: nope" in card and f"background:{ERROR_COLOUR}" in card


def test_timeout_card_shows_the_reset(ip: Any, html: Any) -> None:
    register(ip, "sleepy --timeout 1", "import time\ndef handler(event, context):\n    time.sleep(5)\n")
    result = ip.run_line_magic("lambda", "invoke sleepy")
    assert result.error["errorType"] == "Sandbox.Timedout"
    card = html(result)
    assert "Sandbox.Timedout" in card and "phase-shutdown" in card and "phase-frozen" not in card
    assert "reset …" in card  # the rest after a reset: the process stopped


def test_invoke_option_invokes_right_away(ip: Any) -> None:
    result = register(ip, """hello --invoke '{"a": 1}'""")
    assert isinstance(result, lambdalab.InvocationResult) and result.payload["event"] == {"a": 1}
    assert isinstance(ip.user_ns["hello"], lambdalab.Function)


def test_rerun_edited_cell_deploys_new_code_and_retires_environments(ip: Any, html: Any) -> None:
    fn = register(ip)
    first = ip.run_line_magic("lambda", "invoke hello")
    old_hash = re.search(r"<b>([0-9a-f]{12})</b>", html(fn)).group(1)
    again = register(ip, "hello --memory 512", HANDLER.replace('"count": count', '"count": -count'))
    assert again is fn and fn.config.memory_mb == 512
    old = [e.state for e in fn.environments() if e.environment_id == first.environment_id]
    assert set(old) <= {"shutting_down", "terminated"}, old  # retiring (asynchronously), never reused
    second = ip.run_line_magic("lambda", "invoke hello")
    assert second.cold and second.payload["count"] == -1
    assert re.search(r"<b>([0-9a-f]{12})</b>", html(fn)).group(1) != old_hash


def test_list_envs_logs(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    register(ip)
    register(ip, "other --memory 1024", "def handler(e, c):\n    print('line from handler')\n    return 1\n")
    result = ip.run_line_magic("lambda", "invoke other")
    table = ip.run_line_magic("lambda", "list")
    assert list(table["name"]) == ["hello", "other"] and list(table["memory_mb"]) == [128, 1024]
    envs = ip.run_line_magic("lambda", "envs other")
    assert list(envs.columns) == ["environment_id", "state", "frozen", "invocations"]
    assert list(envs["environment_id"]) == [result.environment_id] and envs["invocations"][0] == 1
    assert ip.run_line_magic("lambda", "envs hello").empty
    capsys.readouterr()
    ip.run_line_magic("lambda", f"logs other --env {result.environment_id[:8]}")
    out = capsys.readouterr().out
    assert "START RequestId" in out and "line from handler" in out and "REPORT RequestId" in out
    ip.run_line_magic("lambda", "logs other --tail 1")
    assert capsys.readouterr().out.startswith("REPORT RequestId")


def test_kill_retires_environments(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    register(ip)
    ip.run_line_magic("lambda", "invoke hello")
    assert len(ip.run_line_magic("lambda", "envs hello")) == 1
    ip.run_line_magic("lambda", "kill hello")
    assert "1 environment(s) retired" in capsys.readouterr().out
    states = set(ip.run_line_magic("lambda", "envs hello")["state"])
    assert states <= {"shutting_down", "terminated"}, states  # retiring: none of them takes requests
    assert ip.run_line_magic("lambda", "invoke hello").cold


def test_config_shows_and_changes(ip: Any) -> None:
    fn = register(ip)
    assert ip.run_line_magic("lambda", "config hello") is fn and fn.config.memory_mb == 128
    ip.run_line_magic("lambda", "config hello --memory 640 --timeout 9 --env AA=1 --no-freeze")
    c = fn.config
    assert (c.memory_mb, c.timeout_s, dict(c.env_vars), c.freeze) == (640, 9.0, {"AA": "1"}, False)
    assert ip.run_line_magic("lambda", "invoke hello").payload["count"] == 1
    with pytest.raises(UsageError, match="memory_mb"):
        ip.run_line_magic("lambda", "config hello --memory 5")
    assert fn.config.memory_mb == 640


def test_scaling_options_pass_through_only_when_given(ip: Any) -> None:
    fields = {f.name: f.default for f in dataclasses.fields(lambdalab.FunctionConfig)}
    if not {"reserved_concurrency", "provisioned_concurrency", "keep_alive_s"} <= set(fields):
        pytest.skip("FunctionConfig has no scaling fields in this checkout")
    fn = register(ip, "scaled --reserved 3 --keep-alive 30")
    assert (fn.config.reserved_concurrency, fn.config.keep_alive_s) == (3, 30.0)
    assert fn.config.provisioned_concurrency == fields["provisioned_concurrency"]
    ip.run_line_magic("lambda", "config scaled --reserved 5")
    assert fn.config.reserved_concurrency == 5 and fn.config.keep_alive_s == 30.0


def test_package_options_requirements_layers_and_inherit(
    ip: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.packages import make_wheel

    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    make_wheel(tmp_path / "wheels", "tinydep", "1.0")
    for name, text in (("one", "NAME = 'one'"), ("two", "NAME = 'two'")):
        (tmp_path / name / "python").mkdir(parents=True)
        (tmp_path / name / "python" / "which.py").write_text(text + "\n")
    cell = "import tinydep, which\n\ndef handler(e, c):\n    return [tinydep.VERSION, which.NAME]\n"
    line = (
        f"pkg --requirements 'tinydep==1.0' --pip-args '--no-index --find-links {tmp_path / 'wheels'}' "
        f"--layer {tmp_path / 'one'} --layer {tmp_path / 'two'}"
    )
    fn = register(ip, line, cell)
    assert fn.config.requirements == ("tinydep==1.0",) and len(fn.config.layers) == 2
    assert "tinydep" in capsys.readouterr().out  # pip's progress, printed
    assert ip.run_line_magic("lambda", "invoke pkg").payload == ["1.0", "two"]
    ip.run_line_magic("lambda", f"config pkg --layer {tmp_path / 'one'}")
    assert fn.config.requirements == ("tinydep==1.0",) and ip.run_line_magic("lambda", "invoke pkg").payload == [
        "1.0",
        "one",
    ]
    yaml_cell = "import yaml\n\ndef handler(e, c):\n    return yaml.__name__\n"
    assert register(ip, "venv", yaml_cell).invoke().error["errorType"] == "Runtime.ImportModuleError"
    fn = register(ip, "venv --inherit-packages", yaml_cell)
    assert fn.config.inherit_packages and fn.invoke().payload == "yaml"
    ip.run_line_magic("lambda", "config venv --no-inherit-packages")
    assert not fn.config.inherit_packages and fn.invoke().error is not None


BAD_LINES = [
    ("bad --memory lots", "invalid int value"),
    ("bad --memory 64", "memory_mb"),
    ("bad --timeout 0", "timeout_s"),
    ("bad --runtime cobol", "runtime"),
    ("bad --runtime python3.12", "python3.12 is not installed here"),
    ("bad --layer /no/such/layer", "/no/such/layer"),
    ("bad --env NOEQUALS", "KEY=VALUE"),
    ("bad --env AWS_REGION=x", "env_vars"),
    ("bad --invoke {oops", "invalid event"),
    ("bad --invoke $missing", "no variable"),
    ("bad --bogus 1", "unrecognized arguments"),
    ("'bad name'", "name"),
    ("", "required"),
    ("bad --env 'unbalanced", "cannot split"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES, ids=[b[0] or "<empty>" for b in BAD_LINES])
def test_bad_options_are_usage_errors_and_register_nothing(ip: Any, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        register(ip, line)
    assert lambdalab.default_lab().functions() == []
    assert "bad" not in ip.user_ns


def test_usage_error_shows_one_line_without_traceback(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    result = ip.run_cell("%%lambda bad --memory 64\ndef handler(e, c):\n    return 1\n")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "UsageError: invalid memory_mb: 64" in text and "Traceback" not in text
    assert "bad" not in ip.user_ns


def test_bad_line_subcommands(ip: Any) -> None:
    register(ip)
    cases = {
        "nope": "unknown subcommand",
        "invoke": "usage",
        "invoke ghost": "Function not found",
        "invoke hello {bad": "invalid event",
        "envs": "required",
        "logs hello --tail x": "invalid int",
        "config hello --memory 1": "memory_mb",
        "kill ghost": "Function not found",
        "list extra": "no arguments",
        "load hello --pattern zigzag": "invalid choice",
    }
    for line, message in cases.items():
        with pytest.raises(UsageError, match=re.escape(message)):
            ip.run_line_magic("lambda", line)


def test_help_lists_every_option_and_subcommand(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cell_doc = ip.find_cell_magic("lambda").__doc__
    assert "%%lambda [" in cell_doc
    for option in (
        "--memory",
        "--timeout",
        "--handler",
        "--runtime",
        "--env",
        "--reserved",
        "--provisioned",
        "--keep-alive",
        "--no-freeze",
        "--invoke",
        "--requirements",
        "--layer",
        "--inherit-packages",
        "Python equivalent",
    ):
        assert option in cell_doc, option
    line_doc = ip.find_line_magic("lambda").__doc__
    for sub in ("invoke", "list", "envs", "logs", "kill", "config", "load", "panel"):
        assert f"%lambda {sub}" in line_doc, sub
    for command in commands.SUBCOMMANDS.values():
        assert command.__doc__.strip().splitlines()[-1].strip().startswith(("Python equivalent", "(")), command
    ip.run_line_magic("lambda", "")
    assert "%lambda invoke NAME" in capsys.readouterr().out
    ip.run_cell("%%lambda?")  # the pager path must not fail


def test_unload_removes_magics(ip: Any) -> None:
    ip.run_line_magic("unload_ext", "lambdalab")
    try:
        assert ip.find_cell_magic("lambda") is None and ip.find_line_magic("lambda") is None
    finally:
        ip.run_line_magic("load_ext", "lambdalab")
    assert ip.find_cell_magic("lambda") is not None
