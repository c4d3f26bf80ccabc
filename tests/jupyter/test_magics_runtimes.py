"""``%%lambda --runtime nodejs`` (a JavaScript cell) and ``--runtime provided`` (a bootstrap cell, or ``--path``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

import lambdalab
from lambdalab import runtime_catalog
from lambdalab.errors import ConfigError

pytestmark = pytest.mark.slow

NODE_CELL = """let count = 0;
export const handler = async (event, context) => {
  count += 1;
  console.log(`hello ${event.name}`);
  if (event.fail) throw new TypeError("no " + event.name);
  return { count, name: event.name, left: context.getRemainingTimeInMillis() > 0 };
};
"""

# a custom runtime: a curl loop on the Runtime API; $VARS must reach it unexpanded
BOOTSTRAP_CELL = r"""#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
COUNT=0
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  COUNT=$((COUNT + 1))
  echo "bootstrap saw $EVENT"
  BODY="{\"count\":$COUNT,\"event\":$EVENT,\"handler\":\"$_HANDLER\"}"
  curl -sS -o /dev/null -d "$BODY" "$API/invocation/$ID/response"
done
"""


def node_identifier() -> str:
    try:
        return runtime_catalog.resolve("nodejs").identifier
    except ConfigError as exc:
        pytest.skip(f"Node.js is not installed here: {exc}")


def test_nodejs_cell_registers_invokes_warm_and_shows_cards_and_logs(ip: Any, html: Any) -> None:
    identifier = node_identifier()
    result = ip.run_cell(f"%%lambda greet --runtime nodejs --memory 256\n{NODE_CELL}")
    assert result.error_in_exec is None, result.error_in_exec
    fn = ip.user_ns["greet"]
    assert isinstance(fn, lambdalab.Function)
    assert (fn.config.runtime, fn.config.full_handler, fn.config.memory_mb) == ("nodejs", "index.handler", 256)
    assert "count" not in ip.user_ns  # the JavaScript never ran in the kernel
    card = html(fn)
    assert "lambdalab-function" in card and "nodejs" in card and "256 MB" in card

    cold = ip.run_line_magic("lambda", 'invoke greet {"name": "Ada"}')
    warm = ip.run_line_magic("lambda", 'invoke greet {"name": "Grace"}')
    assert cold.cold and cold.payload == {"count": 1, "name": "Ada", "left": True}
    assert not warm.cold and warm.payload == {"count": 2, "name": "Grace", "left": True}
    cold_card = html(cold)
    assert "lambdalab-result" in cold_card and ">cold<" in cold_card and "phase-init" in cold_card

    failed = ip.run_line_magic("lambda", 'invoke greet {"name": "Bob", "fail": true}')
    assert failed.error["errorType"] == "TypeError" and failed.error["errorMessage"] == "no Bob"
    assert failed.error["trace"][0] == "TypeError: no Bob"
    assert "lambdalab-error" in html(failed) and "TypeError" in html(failed)

    logs = fn.logs()
    assert f"INIT_START Runtime Version: nodejs:{identifier.removeprefix('nodejs').removesuffix('.x')}.v1" in logs
    assert re.search(rf"\t{cold.request_id}\tINFO\thello Ada", logs), logs
    table = ip.run_line_magic("lambda", "list")
    assert list(table["runtime"]) == ["nodejs"] and list(table["handler"]) == ["index.handler"]


def test_nodejs_identifier_commonjs_and_a_named_handler(ip: Any) -> None:
    identifier = node_identifier()
    fn = ip.run_cell_magic(
        "lambda",
        f"cjs --runtime {identifier} --handler app.main",
        "exports.main = async (event) => ({ cjs: true, event });\n",
    )
    assert (fn.config.runtime, fn.config.full_handler) == (identifier, "app.main")
    assert fn.invoke({"k": 1}).payload == {"cjs": True, "event": {"k": 1}}
    # running the cell again with another body deploys it: the next invoke is cold
    ip.run_cell_magic(
        "lambda",
        f"cjs --runtime {identifier} --handler app.main",
        "exports.main = (event, context, callback) => callback(null, 'v2');\n",
    )
    again = fn.invoke({})
    assert again.cold and again.payload == "v2"


def test_provided_cell_is_the_bootstrap(ip: Any, html: Any) -> None:
    result = ip.run_cell(f"%%lambda shell --runtime provided --handler my.handler\n{BOOTSTRAP_CELL}")
    assert result.error_in_exec is None, result.error_in_exec
    fn = ip.user_ns["shell"]
    assert (fn.config.runtime, fn.config.full_handler) == ("provided", "my.handler")
    first = ip.run_line_magic("lambda", 'invoke shell {"x": 1}')
    second = ip.run_line_magic("lambda", "invoke shell [2]")
    assert first.cold and first.payload == {"count": 1, "event": {"x": 1}, "handler": "my.handler"}
    assert not second.cold and second.payload == {"count": 2, "event": [2], "handler": "my.handler"}
    assert "INIT_START Runtime Version: provided:al2023.v1" in fn.logs()
    assert 'bootstrap saw {"x": 1}' in fn.logs()
    assert ">cold<" in html(first) and "provided" in html(fn)


def test_provided_path_to_a_folder_or_a_single_script(ip: Any, tmp_path: Path) -> None:
    folder = tmp_path / "runtime"
    folder.mkdir()
    (folder / "bootstrap").write_text(BOOTSTRAP_CELL)
    (folder / "bootstrap").chmod(0o755)
    result = ip.run_cell(f"%%lambda fromfolder --runtime provided.al2023 --path {folder}\n# the bootstrap is there\n")
    assert result.error_in_exec is None, result.error_in_exec
    fn = ip.user_ns["fromfolder"]
    assert fn.config.runtime == "provided.al2023"
    assert fn.invoke({"a": 1}).payload == {"count": 1, "event": {"a": 1}, "handler": "handler"}

    script = tmp_path / "my-runtime.sh"  # one file: copied as the bootstrap, executable
    script.write_text(BOOTSTRAP_CELL)
    single = ip.run_cell_magic("lambda", f"fromfile --runtime provided --path {script}", "\n// a script\n\n")
    assert single.invoke(["s"]).payload == {"count": 1, "event": ["s"], "handler": "handler"}

    empty = tmp_path / "empty"
    empty.mkdir()
    missing = ip.run_cell_magic("lambda", f"nobootstrap --runtime provided --path {empty}", "#")
    assert missing.invoke({}).error["errorType"] == "Runtime.InvalidEntrypoint"


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("bad --runtime provided", "echo no shebang\n", "'#!' line"),
        ("bad --runtime provided --path /no/such/bootstrap", "# nothing", "/no/such/bootstrap"),
        ("bad --runtime nodejs --path /tmp", "// a note\nexports.handler = 1;\n", "only comments"),
        ("bad --runtime nodejs --requirements left-pad", "exports.handler = async () => 1;\n", "requirements"),
        ("bad --runtime nodejs --handler 'index.'", "exports.handler = async () => 1;\n", "handler"),
        ("bad --runtime nodejs99.x", "exports.handler = async () => 1;\n", "nodejs99.x is not installed here"),
        ("bad --runtime provided.al2099", "#!/bin/sh\n", "runtime"),
    ],
)
def test_bad_runtime_cells_are_usage_errors(ip: Any, line: str, cell: str, message: str) -> None:
    if "nodejs" in line:
        node_identifier()
    with pytest.raises(UsageError, match=re.escape(message)):
        ip.run_cell_magic("lambda", line, cell)
    assert lambdalab.default_lab().functions() == [] and "bad" not in ip.user_ns


def test_help_names_the_runtimes_and_path(ip: Any) -> None:
    cell_doc = ip.find_cell_magic("lambda").__doc__
    for text in ("--path", "'nodejs'", "'provided'", "nodejs20.x", "provided.al2023", "#!", "index.handler"):
        assert text in cell_doc, text
    assert "'nodejs'" in ip.find_line_magic("lambda").__doc__  # %lambda config --runtime
