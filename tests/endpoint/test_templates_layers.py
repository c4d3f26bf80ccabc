"""SAM templates' layers: a local ``LayerVersion``, ``Layers: [!Ref ...]``, Globals, and ARNs from a ``--layer-map``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import lambdalab
from lambdalab.endpoint.templates import load_template

from .conftest import cli_env, client, serve_cli

EXTERNAL = "arn:aws:lambda:us-east-1:999999999999:layer:powertools:7"
UNMAPPED = "arn:aws:lambda:us-east-1:999999999999:layer:nowhere:3"

TEMPLATE = f"""\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Layers:
      - !Ref SharedLayer
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared-deps
      ContentUri: shared/
      CompatibleRuntimes: [python3.11]
  S3Layer:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: {{S3Bucket: my-bucket, S3Key: layer.zip}}
  UsesShared:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
  UsesExternal:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.external
      Layers:
        - {EXTERNAL}
  UsesUnmapped:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Layers:
        - {UNMAPPED}
"""

APP = """\
import shared_mod

def handler(event, context):
    return shared_mod.VALUE

def external(event, context):
    import ext_mod
    return [shared_mod.VALUE, ext_mod.VALUE]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "shared" / "python").mkdir(parents=True)
    (root / "shared" / "python" / "shared_mod.py").write_text("VALUE = 'shared-from-template-layer'\n")
    (root / "external" / "python").mkdir(parents=True)
    (root / "external" / "python" / "ext_mod.py").write_text("VALUE = 'external-from-layer-map'\n")
    (root / "app").mkdir()
    (root / "app" / "app.py").write_text(APP)
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "layers.yaml").write_text(f"{EXTERNAL}: ./external\n")
    return root


def test_template_layers_are_published_and_referenced(project: Path) -> None:
    with lambdalab.Lab() as lab:
        lab.map_layers(project / "layers.yaml")
        names, notes = load_template(lab, project / "template.yaml")
        assert names == ["UsesShared", "UsesExternal"]
        assert any(n.startswith("S3Layer:") and "S3" in n and "not published" in n for n in notes)
        unmapped = [n for n in notes if n.startswith("UsesUnmapped:")]
        assert len(unmapped) == 1 and UNMAPPED in unmapped[0] and "--layer-map" in unmapped[0]
        assert "not served" in unmapped[0]
        published = lab.layers.list_versions("shared-deps")
        assert [v.version for v in published] == [1] and published[0].compatible_runtimes == ("python3.11",)
        shared = lab.function("UsesShared")
        assert [layer.arn for layer in shared.layer_versions()] == [published[0].arn]
        assert shared.invoke().payload == "shared-from-template-layer"
        external = lab.function("UsesExternal")  # Globals' layer first, then its own
        assert [layer.arn for layer in external.layer_versions()] == [published[0].arn, EXTERNAL]
        assert external.invoke().payload == ["shared-from-template-layer", "external-from-layer-map"]


def test_template_without_the_map_skips_the_function_naming_the_arn(project: Path) -> None:
    with lambdalab.Lab() as lab:
        names, notes = load_template(lab, project / "template.yaml")
        assert names == ["UsesShared"]
        assert any(n.startswith("UsesExternal:") and EXTERNAL in n and "not served" in n for n in notes)


@pytest.fixture
def serving(project: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``lambdalab serve --template ... --layer-map ... --port 0``; yields (endpoint URL, its output); its stderr
    names the unmapped ARN."""
    with serve_cli(["--template", str(project / "template.yaml"), "--layer-map", str(project / "layers.yaml"),
                    "--port", "0", "--no-urls"], cli_env(tmp_path)) as run:
        yield run.url, run.output
    assert UNMAPPED in run.stderr and "UsesUnmapped" in run.stderr and "not served" in run.stderr


@pytest.mark.slow
def test_serve_a_template_with_layers_over_the_cli(serving: tuple[str, str]) -> None:
    url, output = serving
    c = client(url)
    answer = c.invoke(FunctionName="UsesShared", Payload=b"{}")
    assert "FunctionError" not in answer and json.loads(answer["Payload"].read()) == "shared-from-template-layer"
    answer = c.invoke(FunctionName="UsesExternal", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == ["shared-from-template-layer", "external-from-layer-map"]
    config = c.get_function(FunctionName="UsesExternal")["Configuration"]
    assert [layer["Arn"] for layer in config["Layers"]][1] == EXTERNAL and config["Runtime"] == "python3.11"
    layers = c.list_layers()["Layers"]
    assert [(item["LayerName"], item["LatestMatchingVersion"]["Version"]) for item in layers] == [("shared-deps", 1)]
    assert sorted(f["FunctionName"] for f in c.list_functions()["Functions"]) == ["UsesExternal", "UsesShared"]
