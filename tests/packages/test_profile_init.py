"""``Function.profile_init``: one cold start with import timing on, on real runtime processes.

The handler's module (sleeping 50 ms at import) is timed as a whole and attributed to the package, as
is a vendored module; ``json`` is the standard library's, a layer's module the layer's, ``boto3`` the
runtime's. The profiling cold start happens in a throwaway Lab: the function's own environments,
records and logs stay as they were, so its next invoke is cold (or warm) exactly as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError
from lambdalab.init_profile import MODULES_MARKER
from tests.packages import make_tree

HANDLER = (
    "import time\nimport json\nimport vendored_helper\nimport layer_helper\n"
    "time.sleep(0.05)\n\ndef handler(event, context):\n    return vendored_helper.VALUE + layer_helper.VALUE\n"
)


def _package(tmp_path: Path) -> tuple[Path, Path]:
    code = make_tree(
        tmp_path / "code", {"lambda_function.py": HANDLER, "vendored_helper.py": "import decimal\nVALUE = 1\n"}
    )
    layer = make_tree(tmp_path / "layer", {"python/layer_helper.py": "VALUE = 2\n"})
    return code, layer


def _row(table, module: str):
    rows = table[table["module"] == module]
    assert len(rows) == 1, f"{module}: {len(rows)} rows in {list(table['module'])}"
    return rows.iloc[0]


def test_profile_init_times_the_handler_module_and_says_where_each_import_came_from(
    lab: lambdalab.Lab, tmp_path: Path
) -> None:
    code, layer = _package(tmp_path)
    fn = lab.create_function("profiled", path=code, layers=[layer])
    table = fn.profile_init()

    handler = _row(table, "lambda_function")
    assert handler["cumulative_ms"] >= 50.0 and handler["origin"] == "package" and handler["depth"] == 0
    assert table.iloc[0]["module"] == "lambda_function"  # the slowest import is listed first
    assert _row(table, "vendored_helper")["origin"] == "package"
    assert _row(table, "vendored_helper")["parent"] == "lambda_function"
    assert _row(table, "layer_helper")["origin"] == "layer"
    assert _row(table, "json")["origin"] == "stdlib"
    assert _row(table, "decimal")["origin"] == "stdlib" and _row(table, "decimal")["parent"] == "vendored_helper"
    assert set(table.columns) >= {"module", "parent", "depth", "self_ms", "cumulative_ms", "origin", "file"}
    assert table.attrs["error"] is None and table.attrs["init_duration_ms"] >= 50.0
    assert MODULES_MARKER in table.attrs["log"]


def test_profile_init_leaves_the_function_as_it_was(lab: lambdalab.Lab, tmp_path: Path) -> None:
    code, layer = _package(tmp_path)
    fn = lab.create_function("untouched", path=code, layers=[layer])
    fn.profile_init()  # before any invoke: the next invoke is still the function's first cold start
    assert fn.environments() == [] and len(lab.invocations()) == 0 and fn.logs() == ""
    first = fn.invoke({})
    assert first.error is None and first.payload == 3 and first.cold
    table = fn.profile_init()  # with a frozen environment: the next invoke is still warm, in it
    assert _row(table, "lambda_function")["cumulative_ms"] >= 50.0
    second = fn.invoke({})
    assert not second.cold and second.record.environment_id == first.record.environment_id
    records = lab.invocations()
    assert len(records) == 2 and set(records["function"]) == {"untouched"}
    assert MODULES_MARKER not in fn.logs() and "import time:" not in fn.logs()
    assert lab.functions() == ["untouched"] and len(fn.environments()) == 1


def test_the_handler_never_sees_the_profiling_variable(lab: lambdalab.Lab) -> None:
    source = (
        "import os\nSEEN = sorted(k for k in os.environ if k.startswith('_LAMBDALAB'))\n"
        "def handler(event, context):\n    return SEEN\n"
    )
    fn = lab.create_function("environ", source)
    table = fn.profile_init()
    assert table.attrs["error"] is None
    assert '"SEEN"' not in table.attrs["log"]  # nothing printed; the invoke's own answer is checked next
    assert fn.invoke({}).payload == []


def test_profile_init_of_a_failing_init_still_lists_what_was_imported(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("broken", "import json\nimport not_shipped_anywhere\n\ndef handler(e, c):\n    return 1\n")
    table = fn.profile_init()
    assert table.attrs["error"]["errorType"] == "Runtime.ImportModuleError"
    assert _row(table, "json")["origin"] == "stdlib"
    assert _row(table, "not_shipped_anywhere")["origin"] == "not found"  # failed imports are timed too
    assert _row(table, "lambda_function")["origin"] == "not found"
    assert len(lab.invocations()) == 0


def test_the_runtime_sdk_is_the_runtime_s(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("sdk", "import boto3\n\ndef handler(e, c):\n    return 1\n")
    table = fn.profile_init()
    assert _row(table, "boto3")["origin"] == "runtime"
    assert _row(table, "botocore")["origin"] == "runtime"


def test_python_ric_is_refused_with_a_clear_message(lab: lambdalab.Lab) -> None:
    fn = lab.create_function("ric", "def handler(e, c):\n    return 1\n", runtime="python-ric")
    with pytest.raises(ConfigError, match="profile_init needs runtime 'python'"):
        fn.profile_init()
    assert fn.environments() == []
