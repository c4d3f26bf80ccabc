"""Layers and vendored folders: a real store on disk, real merges, real processes importing from them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lambdalab.errors import ConfigError
from lambdalab.packages.layers import (
    LayerError,
    LayerStore,
    LayerValidationError,
    LayerVersion,
    LayerVersionNotFoundError,
    UnknownLayerError,
    check_layer_refs,
    check_total_size,
    folder_zip,
    load_layer_map,
    merge,
)
from lambdalab.packages.vendored import inspect_task_root, lambda_zip_view
from tests.packages import make_tree, zip_bytes

REGION, ACCOUNT = "us-east-1", "123456789012"
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    return LayerStore(tmp_path / "store", REGION, ACCOUNT)


# -------------------------------------------------------------------------------------------- the store
def test_publish_numbers_versions_and_reports_the_archive_as_lambda_does(tmp_path: Path, store: LayerStore) -> None:
    folder = make_tree(tmp_path / "deps", {"python/shared.py": "WHO = 'folder'\n"})
    v1 = store.publish("deps", folder, description="first", compatible_runtimes=["python3.11"], license_info="MIT")
    archive = folder_zip(folder)
    assert v1.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps:1"
    assert v1.code_sha256 == base64.b64encode(hashlib.sha256(archive).digest()).decode()
    assert v1.code_size == len(archive) and v1.unzipped_size == len("WHO = 'folder'\n")
    assert (v1.content / "python" / "shared.py").read_text() == "WHO = 'folder'\n"
    assert v1.describe() == {
        "Content": {"CodeSha256": v1.code_sha256, "CodeSize": v1.code_size},
        "LayerArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps",
        "LayerVersionArn": v1.arn,
        "Description": "first",
        "CreatedDate": v1.created_date,
        "Version": 1,
        "CompatibleRuntimes": ["python3.11"],
        "LicenseInfo": "MIT",
    }
    assert time.strptime(v1.created_date[:19], "%Y-%m-%dT%H:%M:%S") and v1.created_date.endswith("+0000")

    data = zip_bytes({"python/shared.py": "WHO = 'zip'\n"})
    v2 = store.publish("deps", data)
    assert v2.version == 2 and v2.code_size == len(data)
    assert v2.code_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    v3 = store.publish(f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:deps", folder)  # the layer ARN works as a name
    assert v3.version == 3 and v3.content == v1.content  # same bytes, unpacked once
    (tmp_path / "layer.zip").write_bytes(data)
    v4 = store.publish("deps", str(tmp_path / "layer.zip"))  # a .zip file, named by a str
    assert v4.version == 4 and v4.content == v2.content and v4.code_sha256 == v2.code_sha256


def test_get_list_and_delete_behave_as_lambdas_api(tmp_path: Path, store: LayerStore) -> None:
    a1 = store.publish("a", zip_bytes({"python/a.py": "1"}), compatible_runtimes=["python3.11"])
    a2 = store.publish("a", zip_bytes({"python/a.py": "2"}), compatible_runtimes=["python3.12"])
    b1 = store.publish("b", zip_bytes({"python/b.py": "1"}))
    assert store.get(a1.arn) == a1 and store.get("a", 2) == a2 and store.get(a2.layer_arn, 2) == a2
    assert [v.arn for v in store.list_layers()] == [a2.arn, b1.arn]
    assert [v.version for v in store.list_versions("a")] == [2, 1]
    assert [v.version for v in store.list_versions("a", "python3.11")] == [1]
    assert [v.arn for v in store.list_layers("python3.11")] == [a1.arn]
    assert store.list_versions("nobody") == []

    store.delete("a", 2)
    store.delete("a", 2)  # idempotent, as on Lambda
    with pytest.raises(LayerVersionNotFoundError) as caught:
        store.get(a2.arn)
    assert (caught.value.code, caught.value.status) == ("ResourceNotFoundException", 404)
    assert caught.value.message == "The resource you requested does not exist."
    assert a2.content.is_dir()  # functions already using it keep their files
    assert store.publish("a", zip_bytes({"python/a.py": "3"})).version == 3  # numbers are never reused

    again = LayerStore(store.root, REGION, ACCOUNT)  # the index is on disk
    assert [v.version for v in again.list_versions("a")] == [3, 1] and again.get(b1.arn) == b1


def test_concurrent_publishes_get_distinct_versions(tmp_path: Path, store: LayerStore) -> None:
    got: list[LayerVersion] = []
    threads = [
        threading.Thread(target=lambda i=i: got.append(store.publish("same", zip_bytes({"f": str(i)}))))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(v.version for v in got) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("name", ["bad name", "a/b", "abc\n", "", "x" * 141, "arn:aws:lambda:us-east-1:1:layer:x"])
def test_invalid_layer_names_are_refused_as_lambda_refuses_them(store: LayerStore, name: str) -> None:
    with pytest.raises(LayerValidationError) as caught:
        store.publish(name, zip_bytes({"f": "x"}))
    assert caught.value.code == "ValidationException"
    assert caught.value.message.startswith(f"1 validation error detected: Value '{name}' at 'layerName' failed")


def test_an_archive_that_climbs_out_is_refused(store: LayerStore) -> None:
    with pytest.raises(ConfigError, match="Could not unzip uploaded file"):
        store.publish("evil", zip_bytes({"../outside.py": "x"}))
    assert store.list_versions("evil") == []


# -------------------------------------------------------------------------------------------- references and limits
def test_references_resolve_to_published_local_and_mapped_layers(tmp_path: Path, store: LayerStore) -> None:
    published = store.publish("pub", zip_bytes({"python/p.py": ""}))
    local = make_tree(tmp_path / "my-layer", {"python/l.py": ""})
    mapped = make_tree(tmp_path / "mapped", {"python/m.py": ""})
    foreign = "arn:aws:lambda:eu-west-1:999999999999:layer:Klayers-requests:7"
    layers = store.resolve_all([published.arn, local, foreign], layer_map={foreign.rsplit(":", 1)[0]: mapped})
    assert layers[0] == published
    assert layers[1].source == "local" and layers[1].version == 0 and layers[1].name.startswith("my-layer-")
    assert (layers[1].content / "python" / "l.py").exists() and store.get(layers[1].arn) == layers[1]
    assert layers[2].arn == foreign and layers[2].source == "layer-map" and layers[2].version == 7
    assert store.resolve(local) == layers[1]  # the same folder maps to the same layer

    with pytest.raises(UnknownLayerError) as caught:
        store.resolve("arn:aws:lambda:us-east-1:123456789012:layer:missing:1")
    assert caught.value.message == "Layer version arn:aws:lambda:us-east-1:123456789012:layer:missing:1 does not exist."
    assert caught.value.code == "InvalidParameterValueException" and "layer map" in str(caught.value)
    with pytest.raises(LayerValidationError, match="at 'layers' failed to satisfy constraint"):
        store.resolve("arn:aws:lambda:us-east-1:123456789012:layer:noversion")
    with pytest.raises(ConfigError, match="neither a layer version ARN nor an existing folder"):
        store.resolve(str(tmp_path / "nowhere"))


def test_lambdas_limits_on_a_functions_layers() -> None:
    arns = [f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1" for i in range(6)]
    check_layer_refs(arns[:5])
    with pytest.raises(LayerError) as caught:
        check_layer_refs(arns)
    assert caught.value.message == "Cannot reference more than 5 layers."
    twice = ["arn:aws:lambda:us-east-1:123456789012:layer:x:1", "arn:aws:lambda:us-east-1:123456789012:layer:x:2"]
    with pytest.raises(
        LayerError,
        match="Two different versions of the same layer are not allowed to be referenced "
        "in the same function. .*:x:1 and .*:x:2 are versions of the same layer.",
    ):
        check_layer_refs(twice)


def test_code_and_layers_together_must_fit_in_250_mb(tmp_path: Path) -> None:
    layer = LayerVersion(
        "big", 1, "arn:aws:lambda:us-east-1:123456789012:layer:big:1", tmp_path, "", 0, 200 * 1024 * 1024
    )
    assert check_total_size(1000, [layer]) == 200 * 1024 * 1024 + 1000
    with pytest.raises(LayerError) as caught:
        check_total_size(60 * 1024 * 1024, [layer])
    assert caught.value.message == (
        "Function code combined with layers exceeds the maximum allowed size of "
        "262144000 bytes. The actual size is 272629760 bytes."
    )


def test_a_layer_map_reads_json_and_yaml_relative_to_itself(tmp_path: Path) -> None:
    make_tree(tmp_path / "layers" / "req", {"python/r.py": ""})
    arn = "arn:aws:lambda:us-east-1:111122223333:layer:req:4"
    (tmp_path / "map.json").write_text(json.dumps({arn: "layers/req"}))
    (tmp_path / "map.yaml").write_text(f"{arn}: ./layers/req\n")
    expected = {arn: (tmp_path / "layers" / "req").resolve()}
    assert load_layer_map(tmp_path / "map.json") == expected == load_layer_map(tmp_path / "map.yaml")
    (tmp_path / "bad.yaml").write_text(f"{arn}: ./layers/nope\n")
    with pytest.raises(ConfigError, match="which does not exist"):
        load_layer_map(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("not-an-arn: ./layers/req\n")
    with pytest.raises(ConfigError, match="is not 'layer ARN: local path'"):
        load_layer_map(tmp_path / "bad2.yaml")


# -------------------------------------------------------------------------------------------- /opt
def test_merge_puts_layers_in_order_and_later_wins(tmp_path: Path, store: LayerStore) -> None:
    first = store.publish(
        "first",
        make_tree(
            tmp_path / "l1",
            {
                "python/shared.py": "WHO = 'first'\n",
                "python/only_first.py": "",
                "lib/libx.so.1": "elf",
                "thing/inside.txt": "a folder in the first layer",
            },
        ),
    )
    second = store.publish(
        "second",
        make_tree(
            tmp_path / "l2",
            {
                f"python/lib/{PY}/site-packages/shared.py": "WHO = 'second-site'\n",
                "python/shared.py": "WHO = 'second'\n",
                "bin/tool": "#!/bin/sh\necho tool from the second layer\n",
                "thing": "now a file",
            },
            executable=("bin/tool",),
        ),
    )
    opt = store.view([first, second])
    assert opt.python_paths == (opt.root / "python" / "lib" / PY / "site-packages", opt.root / "python")
    assert (opt.bin_dir, opt.lib_dir, opt.extensions_dir) == (
        opt.root / "bin",
        opt.root / "lib",
        opt.root / "extensions",
    )
    assert (opt.root / "python" / "shared.py").read_text() == "WHO = 'second'\n"
    assert (opt.root / "python" / "only_first.py").exists() and (opt.lib_dir / "libx.so.1").exists()
    assert (opt.root / "thing").read_text() == "now a file"
    assert os.stat(opt.root / "python" / "shared.py").st_ino == os.stat(second.content / "python/shared.py").st_ino
    assert opt.layers == (first.arn, second.arn) and opt.files == 6

    reversed_view = store.view([second, first])
    assert (reversed_view.root / "python" / "shared.py").read_text() == "WHO = 'first'\n"
    assert (reversed_view.root / "thing" / "inside.txt").exists()
    t0 = time.perf_counter()
    assert store.view([first, second]) == opt  # built once, then reused
    assert time.perf_counter() - t0 < 0.05

    # a real process sees the layers as a Lambda runtime would: site-packages first, then python/, bin/ on PATH
    env = {"PATH": f"{opt.bin_dir}:/usr/bin:/bin", "LD_LIBRARY_PATH": str(opt.lib_dir)}
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]; import shared, subprocess; print(shared.WHO); "
        "print(subprocess.run(['tool'], capture_output=True, text=True).stdout.strip())"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, *map(str, opt.python_paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.split("\n")[:2] == ["second-site", "tool from the second layer"], done.stderr


def test_merge_into_a_folder_replaces_an_older_view(tmp_path: Path, store: LayerStore) -> None:
    one = store.publish("one", zip_bytes({"python/m.py": "X = 1"}))
    two = store.publish("two", zip_bytes({"python/n.py": "X = 2"}))
    merge([one], tmp_path / "opt")
    view = merge([two], tmp_path / "opt")
    assert sorted(p.name for p in (view.root / "python").iterdir()) == ["n.py"]


# -------------------------------------------------------------------------------------------- vendored folders
def test_a_task_root_adds_only_itself_and_says_what_lambda_would_not_import(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "fn",
        {
            "app.py": "",
            "alpha/__init__.py": "",
            "alpha-1.0.dist-info/METADATA": "",
            "package/beta/__init__.py": "",
            "package/beta-2.0.dist-info/METADATA": "",
            ".python_packages/lib/site-packages/gamma/__init__.py": "",
            "vendor/delta/__init__.py": "",
            "vendor/delta-3.dist-info/METADATA": "",
        },
    )
    layout = inspect_task_root(root)
    assert layout.import_paths == (root,) and layout.library_paths == (root, root / "lib")
    assert layout.vendored == ("alpha",) and layout.package_dir == root / "package"
    assert layout.not_on_path == (root / ".python_packages/lib/site-packages", root / "vendor")
    assert any("Azure Functions" in note for note in layout.notes)
    assert any(note.startswith("package/ holds packages installed with pip --target (beta)") for note in layout.notes)

    make_tree(tmp_path / "plain", {"package/__init__.py": "", "package/x-1.dist-info/METADATA": ""})
    assert inspect_task_root(tmp_path / "plain").package_dir is None  # an ordinary Python package named package


def test_the_aws_docs_zip_layout_makes_package_importable(tmp_path: Path) -> None:
    folder = make_tree(
        tmp_path / "fn",
        {
            "lambda_function.py": "import beta\nWHO = beta.WHO\n",
            "package/beta/__init__.py": "WHO = 'vendored'\n",
            "package/beta-2.0.dist-info/METADATA": "",
            "package/lambda_function.py": "WHO = 'a dependency'\n",
        },
    )
    code = "import sys; sys.path[:0] = [sys.argv[1]]; import lambda_function; print(lambda_function.WHO)"
    raw = subprocess.run([sys.executable, "-I", "-c", code, str(folder)], capture_output=True, text=True, timeout=30)
    assert "ModuleNotFoundError: No module named 'beta'" in raw.stderr  # as the folder itself would on Lambda
    view = lambda_zip_view(folder, tmp_path / "view")
    assert not (view / "package").exists() and (view / "beta-2.0.dist-info").is_dir()
    done = subprocess.run([sys.executable, "-I", "-c", code, str(view)], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "vendored", done.stderr  # and the function's own file won over package/'s
