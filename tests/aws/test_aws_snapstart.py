"""``lambdalab.aws.Lab.create_function(snap_start=True)`` sends ``SnapStart={"ApplyOn": "PublishedVersions"}``
(against the stand-in: a local Lab's endpoint), and ``update`` turns it off; the local rules apply first."""

from __future__ import annotations

import pytest

import lambdalab.aws
from lambdalab.errors import ConfigError

CELL = "def handler(event, context):\n    return event\n"


def test_snap_start_reaches_lambda_as_snapstart(aws_lab: lambdalab.aws.Lab) -> None:
    fn = aws_lab.create_function("snappy", CELL, snap_start=True)
    assert fn.config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    fn.update(snap_start=False)
    assert fn.config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    plain = aws_lab.create_function("plain", CELL)
    assert plain.config["SnapStart"]["ApplyOn"] == "None"


def test_snap_start_rules_are_checked_before_anything_is_sent(aws_lab: lambdalab.aws.Lab) -> None:
    with pytest.raises(ConfigError, match="ephemeral storage greater than 512 MB"):
        aws_lab.create_function("big", CELL, snap_start=True, ephemeral_storage_mb=1024)
    assert aws_lab.functions() == []
