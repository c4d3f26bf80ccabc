"""``path=`` folders copied into a task root: a symbolic link that cannot be followed is a ConfigError naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import lambdalab
from lambdalab.packages import zips as package
from lambdalab.errors import ConfigError

APP = "def handler(event, context):\n    return {'ok': True}\n"


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "lambda_function.py").write_text(APP)
    (src / "pkg" / "data.txt").write_text("data\n")
    return src


def test_a_dangling_symlink_is_a_config_error_naming_it(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    os.symlink(tmp_path / "gone.txt", src / "pkg" / "missing.txt")
    with pytest.raises(ConfigError, match=r"'pkg/missing.txt' is a symbolic link to .*gone.txt, which does not exist"):
        package.copy_folder(src, tmp_path / "dest")


def test_a_symlink_to_itself_is_a_config_error_naming_it(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    os.symlink("self", src / "self")
    with pytest.raises(ConfigError, match=r"'self' is a symbolic link loop"):
        package.copy_folder(src, tmp_path / "dest")


@pytest.mark.parametrize("target", [".", "..", "../pkg"])
def test_a_symlink_to_a_folder_it_is_in_is_a_loop_refused_at_once(tmp_path: Path, target: str) -> None:
    src = _folder(tmp_path)
    os.symlink(target, src / "pkg" / "again")
    with pytest.raises(ConfigError, match=r"'pkg/again' is a symbolic link loop"):
        package.copy_folder(src, tmp_path / "dest")
    assert not (tmp_path / "dest" / "pkg" / "again").exists()  # refused before anything was copied through it


def test_a_loop_through_two_links_is_refused(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    os.symlink("pkg", src / "a")
    os.symlink("../a", src / "pkg" / "b")  # pkg/b -> a -> pkg
    with pytest.raises(ConfigError, match=r"symbolic link loop"):
        package.copy_folder(src, tmp_path / "dest")


def test_followable_links_are_still_copied_as_files(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    outside = tmp_path / "shared"
    outside.mkdir()
    (outside / "lib.txt").write_text("lib\n")
    os.symlink(outside, src / "shared")
    os.symlink("pkg/data.txt", src / "alias.txt")
    copied = package.copy_folder(src, tmp_path / "dest")
    dest = tmp_path / "dest"
    assert (dest / "shared" / "lib.txt").read_text() == "lib\n" and not (dest / "shared").is_symlink()
    assert (dest / "alias.txt").read_text() == "data\n" and not (dest / "alias.txt").is_symlink()
    assert copied == len(APP) + 2 * len("data\n") + len("lib\n")


def test_create_function_refuses_such_a_folder_with_the_entry_named(tmp_path: Path) -> None:
    src = _folder(tmp_path)
    os.symlink("nowhere", src / "broken")
    with lambdalab.Lab() as lab:
        with pytest.raises(ConfigError, match=r"'broken' is a symbolic link to .*nowhere, which does not exist"):
            lab.create_function("f", path=src)
        assert lab.functions() == []
