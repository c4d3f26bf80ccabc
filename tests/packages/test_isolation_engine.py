"""What a handler can import, on real runtime processes: its package, its dependencies, its layers, the runtime.

Nothing of the owner's venv (``yaml`` is installed there) unless ``inherit_packages=True``; ``boto3``
comes with the runtime; a vendored copy wins over a layer's and the venv's; later layers win; a layer's
``bin/`` is on ``PATH`` and its ``lib/`` on ``LD_LIBRARY_PATH``; ``requirements=`` builds with pip (offline,
from a wheel made here) and the second build is a cache hit.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import lambdalab
from lambdalab.errors import ConfigError
from tests.packages import make_tree, make_wheel, offline

IMPORT_YAML = "import yaml\n\ndef handler(event, context):\n    return yaml.__name__\n"


def test_a_package_only_in_the_venv_is_not_importable_by_default(lab: lambdalab.Lab, runtime: str) -> None:
    import yaml  # noqa: F401 - the precondition: the owner's venv has it

    result = lab.create_function("isolated", IMPORT_YAML, runtime=runtime).invoke({})
    assert result.error is not None and result.error["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'yaml'" in result.error["errorMessage"]


def test_inherit_packages_puts_the_venv_on_the_path(lab: lambdalab.Lab, runtime: str) -> None:
    fn = lab.create_function("inherits", IMPORT_YAML, runtime=runtime, inherit_packages=True)
    assert fn.config.inherit_packages is True
    result = fn.invoke({})
    assert result.error is None and result.payload == "yaml"


def test_boto3_comes_with_the_runtime(lab: lambdalab.Lab, runtime: str) -> None:
    import boto3

    source = (
        "import boto3, botocore\n\ndef handler(event, context):\n    return [boto3.__version__, botocore.__file__]\n"
    )
    result = lab.create_function("sdk", source, runtime=runtime).invoke({})
    assert result.error is None, result.error
    assert result.payload[0] == boto3.__version__
    runtimes = lab.runtimes()
    assert runtimes[0]["identifier"] == "python3.11" and runtimes[0]["sdk"]["boto3"] == boto3.__version__


def test_a_vendored_package_wins_over_a_layer_and_the_venv(lab: lambdalab.Lab, tmp_path: Path, runtime: str) -> None:
    code = make_tree(
        tmp_path / "code",
        {
            "yaml/__init__.py": "WHO = 'vendored'\n",
            "lambda_function.py": "import yaml\n\ndef handler(e, c):\n    return yaml.WHO\n",
        },
    )
    layer = make_tree(tmp_path / "layer", {"python/yaml/__init__.py": "WHO = 'layer'\n"})
    fn = lab.create_function("vendored", path=code, layers=[str(layer)], runtime=runtime, inherit_packages=True)
    assert fn.invoke({}).payload == "vendored"
    (code / "yaml" / "__init__.py").unlink()
    (code / "yaml").rmdir()
    fn.update(path=code)
    assert fn.invoke({}).payload == "layer"  # and the layer over the inherited venv


def test_a_layers_module_binary_and_library_folder_are_found(lab: lambdalab.Lab, tmp_path: Path, runtime: str) -> None:
    layer = make_tree(
        tmp_path / "tools",
        {
            "python/layermod.py": "VALUE = 41\n",
            "bin/hello-tool": "#!/bin/sh\necho hi-$1\n",
            "lib/libfake.so.1": "not really\n",
        },
    )
    (layer / "bin" / "hello-tool").chmod(0o755 | stat.S_IXUSR)
    source = (
        "import os, subprocess, layermod\n\ndef handler(e, c):\n"
        "    out = subprocess.run(['hello-tool', 'x'], capture_output=True, text=True, timeout=5).stdout.strip()\n"
        "    paths = os.environ['LD_LIBRARY_PATH'].split(':')\n"
        "    libs = [d for d in paths if os.path.exists(os.path.join(d, 'libfake.so.1'))]\n"
        "    return [layermod.VALUE + 1, out, len(libs)]\n"
    )
    version = lab.publish_layer_version("tools", layer, description="tools")
    assert version.arn.endswith(":layer:tools:1") and lab.layers.get(version.arn) == version
    fn = lab.create_function("tooled", source, layers=[version.arn], runtime=runtime)
    result = fn.invoke({})
    assert result.error is None, result.error
    assert result.payload == [42, "hi-x", 1]
    assert [v.arn for v in fn.layer_versions()] == [version.arn]
    assert fn.code_size == len(source)


def test_a_later_layer_wins(lab: lambdalab.Lab, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"python/which.py": "NAME = 'one'\n", "python/only_one.py": "X = 1\n"})
    two = make_tree(tmp_path / "two", {"python/which.py": "NAME = 'two'\n"})
    source = "import which, only_one\n\ndef handler(e, c):\n    return [which.NAME, only_one.X]\n"
    fn = lab.create_function("ordered", source, layers=[str(one), str(two)])
    assert fn.invoke({}).payload == ["two", 1]
    fn.update(layers=[str(two), str(one)])
    assert fn.invoke({}).payload == ["one", 1]


def test_six_layers_and_an_unknown_arn_are_refused(lab: lambdalab.Lab, tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "l", {"python/m.py": ""})
    with pytest.raises(ConfigError, match=r"^Cannot reference more than 5 layers\.$"):
        lab.create_function("many", "def handler(e, c):\n    return 1\n", layers=[str(folder)] * 6)
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:nowhere:3"
    with pytest.raises(ConfigError, match=f"Layer version {arn} does not exist"):
        lab.create_function("unknown", "def handler(e, c):\n    return 1\n", layers=[arn])
    assert lab.functions() == []
    lab.map_layers({arn: folder})
    assert (
        lab.create_function("mapped", "import m\ndef handler(e, c):\n    return 1\n", layers=[arn]).invoke().payload
        == 1
    )


def test_requirements_are_built_and_a_second_build_is_a_cache_hit(
    lab: lambdalab.Lab, tmp_path: Path, runtime: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tinydep", "1.2")
    pip_args = offline(wheels)
    source = "import tinydep\n\ndef handler(e, c):\n    return tinydep.VERSION\n"
    lines: list[str] = []
    fn = lab.create_function(
        "deps", source, requirements=["tinydep==1.2"], pip_args=pip_args, progress=lines.append, runtime=runtime
    )
    assert lines and lab._packages["deps"].dependencies.cache_hit is False
    assert fn.invoke({}).payload == "1.2"
    assert fn.code_size > len(source)
    for wheel in wheels.iterdir():  # any pip run would now fail
        wheel.unlink()
    again = lab.create_function("deps2", source, requirements="tinydep==1.2", pip_args=pip_args, runtime=runtime)
    assert lab._packages["deps2"].dependencies.cache_hit is True
    assert again.invoke({}).payload == "1.2"


def test_a_failed_build_deploys_nothing(lab: lambdalab.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalab.packages.deps import DependencyBuildError

    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "wheels").mkdir()
    with pytest.raises(DependencyBuildError, match="tinydep"):
        lab.create_function(
            "broken",
            "def handler(e, c):\n    return 1\n",
            requirements=["tinydep==9"],
            pip_args=offline(tmp_path / "wheels"),
        )
    assert lab.functions() == []


def test_a_requirements_txt_in_the_folder_is_built(
    lab: lambdalab.Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAMBDALAB_CACHE_DIR", str(tmp_path / "cache"))
    make_wheel(tmp_path / "wheels", "tinydep", "1.3")
    code = make_tree(
        tmp_path / "app",
        {
            "requirements.txt": "tinydep==1.3\n",
            "app.py": "import tinydep\n\ndef handler(e, c):\n    return tinydep.VERSION\n",
        },
    )
    fn = lab.create_function("fromfile", path=code, handler="app.handler", pip_args=offline(tmp_path / "wheels"))
    assert fn.invoke({}).payload == "1.3"


def test_another_python_version_is_refused_and_this_one_accepted(lab: lambdalab.Lab) -> None:
    with pytest.raises(ConfigError, match="python3.12 is not installed here: this machine runs python3.11"):
        lab.create_function("newer", "def handler(e, c):\n    return 1\n", runtime="python3.12")
    fn = lab.create_function(
        "same", "import sys\ndef handler(e, c):\n    return sys.version_info[:2]\n", runtime="python3.11"
    )
    assert fn.config.runtime == "python3.11" and fn.invoke({}).payload == [3, 11]
    assert lab.isolation in ("namespace", "tmpdir")
