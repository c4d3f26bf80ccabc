"""The init profile chart: icicle and bars from a profile table, asserted on fig.to_dict()."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from lambdalab.errors import ConfigError
from lambdalab.init_profile import parse_importtime, profile_table
from lambdalab.viz.init_profile import ORIGIN_COLOURS, init_profile

PROFILE = """\
import time: self [us] | cumulative | imported package
import time:       300 |        300 |     _json
import time:       700 |       1000 |   json.decoder
import time:       500 |       1500 | json
import time:      2000 |       2000 |     jinja2.utils
import time:      9000 |      11000 |   jinja2
import time:      4000 |       4000 |   shared
import time:       300 |        300 |   simplejson
import time:     80000 |      95300 | app
import time:      1200 |       1200 | boto3
"""
FILES = {
    "_json": None,
    "json.decoder": "/py/lib/json/decoder.py",
    "json": "/py/lib/json/__init__.py",
    "jinja2.utils": "/deps/jinja2/utils.py",
    "jinja2": "/deps/jinja2/__init__.py",
    "shared": "/opt/python/shared.py",
    "app": "/var/task/app.py",
    "boto3": "/runtime/boto3/__init__.py",
}
ROOTS = {
    "package": ["/var/task"],
    "dependencies": ["/deps"],
    "layer": ["/opt/python"],
    "runtime": ["/runtime"],
    "stdlib": ["/py/lib"],
}


@pytest.fixture
def table() -> pd.DataFrame:
    return profile_table(parse_importtime(PROFILE), FILES, ROOTS)


def test_the_icicle_is_the_import_tree_under_one_root(table: pd.DataFrame) -> None:
    (trace,) = init_profile(table).to_dict()["data"]
    assert trace["type"] == "icicle" and trace["branchvalues"] == "remainder"
    labels, ids, parents = list(trace["labels"]), list(trace["ids"]), list(trace["parents"])
    assert len(set(ids)) == len(ids) == 10 and parents.count("") == 1
    assert "app" in labels  # the slowest module
    label_of = dict(zip(ids, labels, strict=True))
    parent_of = {labels[i]: label_of.get(parents[i]) for i in range(len(ids))}
    assert parent_of["jinja2.utils"] == "jinja2" and parent_of["jinja2"] == "app"
    assert parent_of["_json"] == "json.decoder"
    assert parent_of["app"] == parent_of["json"] == parent_of["boto3"] == "all imports"
    sizes = dict(zip(labels, trace["values"], strict=True))
    assert sizes["app"] == pytest.approx(80.0) and sizes["_json"] == pytest.approx(0.3)


def test_the_icicle_colours_each_module_by_its_origin(table: pd.DataFrame) -> None:
    fig = init_profile(table).to_dict()
    trace = fig["data"][0]
    colour = dict(zip(trace["labels"], trace["marker"]["colors"], strict=True))
    assert colour["app"] == ORIGIN_COLOURS["package"] and colour["jinja2"] == ORIGIN_COLOURS["dependencies"]
    assert colour["shared"] == ORIGIN_COLOURS["layer"] and colour["boto3"] == ORIGIN_COLOURS["runtime"]
    assert colour["json"] == colour["_json"] == ORIGIN_COLOURS["stdlib"]
    assert colour["simplejson"] == ORIGIN_COLOURS["not found"]
    legend = fig["layout"]["annotations"][0]["text"]
    assert all(origin in legend for origin in ("package", "dependencies", "layer", "runtime", "stdlib"))
    assert "98.0 ms in 9 imports" in fig["layout"]["title"]["text"]


def test_the_bars_show_the_slowest_modules_on_top_one_trace_per_origin(table: pd.DataFrame) -> None:
    fig = init_profile(table, kind="bar", top=4).to_dict()
    assert {t["type"] for t in fig["data"]} == {"bar"} and {t["orientation"] for t in fig["data"]} == {"h"}
    bars = {y: (t["name"], x) for t in fig["data"] for y, x in zip(t["y"], t["x"], strict=True)}
    assert set(bars) == {"app", "jinja2", "shared", "jinja2.utils"}
    assert bars["app"] == ("package", pytest.approx(80.0)) and bars["shared"][0] == "layer"
    assert list(fig["layout"]["yaxis"]["categoryarray"])[-1] == "app"  # the last category is drawn at the top
    assert {t["name"]: t["marker"]["color"] for t in fig["data"]}["dependencies"] == ORIGIN_COLOURS["dependencies"]


def test_the_bars_can_rank_by_cumulative_time(table: pd.DataFrame) -> None:
    fig = init_profile(table, kind="bar", top=2, by="cumulative_ms").to_dict()
    assert list(fig["layout"]["yaxis"]["categoryarray"]) == ["jinja2", "app"]


def test_a_table_without_index_columns_still_draws_its_tree(table: pd.DataFrame) -> None:
    (trace,) = init_profile(table[["module", "parent", "self_ms", "cumulative_ms", "origin"]]).to_dict()["data"]
    parent_of = dict(zip(trace["ids"], trace["parents"], strict=True))
    assert parent_of["jinja2.utils"] == "jinja2" and parent_of["app"] == "<init>"


def test_an_empty_profile_draws_an_empty_chart() -> None:
    empty = profile_table([], {}, ROOTS)
    assert list(init_profile(empty).to_dict()["data"][0]["ids"]) == ["<init>"]
    assert init_profile(empty, kind="bar").to_dict()["data"] == []


@pytest.mark.parametrize("options", [{"kind": "flame"}, {"kind": "bar", "top": 0}, {"by": "total"}])
def test_bad_options_are_refused(table: pd.DataFrame, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="invalid"):
        init_profile(table, **options)


def test_importing_the_modules_loads_neither_plotly_nor_pandas() -> None:
    code = (
        "import sys, lambdalab.init_profile, lambdalab.viz.init_profile; "
        "assert not {'plotly', 'pandas'} & set(sys.modules), sorted({'plotly', 'pandas'} & set(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
