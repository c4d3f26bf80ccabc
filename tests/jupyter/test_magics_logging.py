"""The logging options of the magics (--log-format, --log-level, --system-log-level), and the result card and
``%lambda logs`` on JSON logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from IPython.core.error import UsageError

from lambdalab.config import LOG_LEVEL_NEEDS_JSON

HANDLER = """import logging
log = logging.getLogger("cell")
def handler(event, context):
    log.debug("cell debug")
    log.info("cell info")
    log.warning("cell warning")
    if event.get("fail"):
        raise KeyError("action")
    return "done"
"""

pytestmark = pytest.mark.slow


def test_cell_options_set_the_json_format_and_levels(ip: Any, html: Any, capsys: Any) -> None:
    fn = ip.run_cell_magic("lambda", "structured --log-format json --log-level DEBUG --system-log-level WARN", HANDLER)
    assert (fn.config.log_format, fn.config.application_log_level, fn.config.system_log_level) == (
        "JSON",
        "DEBUG",
        "WARN",
    )
    result = fn.invoke({"fail": True})
    messages = [json.loads(line).get("message") for line in result.log.splitlines()]
    assert messages[:3] == ["cell debug", "cell info", "cell warning"]
    card = html(result)
    assert "cell warning" in card and "KeyError" in card and "platform.start" not in card  # WARN: no platform record

    ip.run_line_magic("lambda", "config structured --log-level ERROR --system-log-level INFO")
    assert (fn.config.application_log_level, fn.config.system_log_level) == ("ERROR", "INFO")
    fn.invoke({"fail": True})
    capsys.readouterr()
    ip.run_line_magic("lambda", "logs structured --tail 3")
    printed = capsys.readouterr().out.splitlines()
    assert [json.loads(line).get("type") for line in printed] == ["platform.start", None, "platform.report"]
    assert json.loads(printed[1])["errorType"] == "KeyError"

    # running the cell again without the options: back to the default Text format
    fn = ip.run_cell_magic("lambda", "structured", HANDLER)
    assert fn.config.log_format == "Text" and fn.config.application_log_level is None
    assert fn.invoke({}).log.startswith("START RequestId: ")


def test_a_level_without_json_is_lambdas_refusal(ip: Any) -> None:
    with pytest.raises(UsageError) as caught:
        ip.run_cell_magic("lambda", "textual --log-level DEBUG", HANDLER)
    assert str(caught.value) == LOG_LEVEL_NEEDS_JSON
    with pytest.raises(UsageError):
        ip.run_cell_magic("lambda", "textual --log-format XML", HANDLER)
