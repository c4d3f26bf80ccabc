"""``%%lambda --per-environment N`` (Lambda Managed Instances) and ``--max-environments N``."""

from __future__ import annotations

import time
from typing import Any

import pytest
from IPython.core.error import UsageError

HANDLER = """import os
def handler(event, context):
    return os.getpid()
"""


@pytest.mark.timeout(60)
def test_per_environment_makes_a_managed_instances_function(ip: Any) -> None:
    fn = ip.run_cell_magic("lambda", "managed --per-environment 2 --max-environments 3", HANDLER)
    config = fn.config
    assert (config.max_concurrency_per_environment, config.max_environments) == (2, 3)
    assert (config.log_format, config.freeze) == ("JSON", False)  # Managed Instances: JSON logs, no freeze
    assert isinstance(fn.invoke({}).payload, int)
    # the cell again with a new cap: a scaling setting, changed in place
    fn = ip.run_cell_magic("lambda", "managed --per-environment 2 --max-environments 1", HANDLER)
    assert fn.config.max_environments == 1
    # the mode is fixed at creation: neither dropped nor changed by a re-run
    for line in ("managed", "managed --per-environment 3"):
        with pytest.raises(UsageError, match="max_concurrency_per_environment cannot be changed"):
            ip.run_cell_magic("lambda", line, HANDLER)
    assert ip.user_ns["managed"].config.max_concurrency_per_environment == 2


@pytest.mark.timeout(30)
def test_managed_options_refused_where_they_do_not_apply(ip: Any) -> None:
    with pytest.raises(UsageError, match="--per-environment N too"):
        ip.run_cell_magic("lambda", "capped --max-environments 2", HANDLER)
    with pytest.raises(UsageError, match="JSON logs only"):
        ip.run_cell_magic("lambda", "texty --per-environment 2 --log-format text", HANDLER)
    with pytest.raises(UsageError, match="--per-environment"):
        ip.run_cell_magic("lambda", "remote --per-environment 2 --on aws", HANDLER)
    with pytest.raises(UsageError, match="max_concurrency_per_environment"):
        ip.run_cell_magic("lambda", "zero --per-environment 0", HANDLER)
    assert not {"capped", "texty", "remote", "zero"} & set(ip.user_ns)


@pytest.mark.timeout(60)
def test_config_changes_the_cap_in_place(ip: Any) -> None:
    fn = ip.run_cell_magic("lambda", "capped --per-environment 2", HANDLER)
    first = fn.invoke({})
    assert not first.record.cold  # Managed Instances: its environments started with the function
    ip.run_line_magic("lambda", "config capped --max-environments 1")
    assert fn.config.max_environments == 1
    assert not fn.invoke({}).record.cold  # no redeploy: the environment stayed warm
    ip.run_line_magic("lambda", "config capped --max-environments none")
    assert fn.config.max_environments is None
    plain = ip.run_cell_magic("lambda", "plain", HANDLER)
    with pytest.raises(UsageError, match="max_environments"):
        ip.run_line_magic("lambda", "config plain --max-environments 2")
    assert plain.config.max_environments is None


@pytest.mark.timeout(60)
def test_cards_say_managed_instances(ip: Any, html: Any) -> None:
    fn = ip.run_cell_magic("lambda", "cards --per-environment 3 --max-environments 2", HANDLER)
    result = fn.invoke({})
    card = html(result)
    assert ">worker<" in card
    assert "no duration charge: instances + 15 % fee + requests" in card  # Lambda bills the instances
    assert not result.record.cold  # its environments started with the function (two: the minimum, capped)
    deadline = time.monotonic() + 10
    while len(fn.environments()) < 6 and time.monotonic() < deadline:  # every worker up
        time.sleep(0.05)
    card = html(fn)
    assert "3 workers per environment, at most 2 environments" in card
    assert "2 (6 workers)" in card and "freeze" not in card
