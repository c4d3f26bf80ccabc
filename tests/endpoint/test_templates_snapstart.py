"""SAM templates' ``SnapStart: {ApplyOn: PublishedVersions}``, on a function and in Globals; with
``AutoPublishAlias`` the published version is snapshotted (a failed snapshot leaves the function out, noted)."""

from __future__ import annotations

from pathlib import Path

import lambdalab
from lambdalab.endpoint.templates import load_template

from .conftest import snapshots_here

APP = "def handler(event, context):\n    return 'ok'\n"
HOOKED = """
from snapshot_restore_py import register_before_snapshot

@register_before_snapshot
def refuse():
    raise RuntimeError("no snapshot today")

def handler(event, context):
    return "ok"
"""
TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: .
    SnapStart:
      ApplyOn: PublishedVersions
Resources:
  FromGlobals:
    Type: AWS::Serverless::Function
  TurnedOff:
    Type: AWS::Serverless::Function
    Properties:
      SnapStart: {ApplyOn: None}
  NoGlobals:
    Type: AWS::Serverless::Function
    IgnoreGlobals: [SnapStart]
  Bad:
    Type: AWS::Serverless::Function
    Properties:
      SnapStart: {ApplyOn: Always}
  Hooked:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hooked/
      AutoPublishAlias: live
"""


def test_template_snap_start(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "hooked").mkdir()
    (tmp_path / "hooked" / "app.py").write_text(HOOKED)
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, tmp_path / "template.yaml")
        hooked_served = [] if snapshots_here() else ["Hooked"]  # no snapshot here: its hook never runs
        assert names == ["FromGlobals", "TurnedOff", "NoGlobals", *hooked_served], notes
        assert lab.function("FromGlobals").config.snap_start is True
        assert lab.function("TurnedOff").config.snap_start is False
        assert lab.function("NoGlobals").config.snap_start is False
        assert any(note.startswith("Bad: ") and "SnapStart" in note for note in notes), notes
        if hooked_served:
            return
        hooked = [note for note in notes if note.startswith("Hooked: AutoPublishAlias live: ")]
        assert len(hooked) == 1 and "Runtime.BeforeSnapshotError" in hooked[0], notes
        assert "Hooked" not in lab.functions()
