"""Both Labs and both Functions have the surface of ``lambdalab.protocol``: every member, and every parameter the
protocol names accepted by both, of the same kind and with the same default."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import lambdalab
import lambdalab.aws
from lambdalab.protocol import FunctionLike, LabLike

PAIRS = [
    (LabLike, lambdalab.Lab, lambdalab.aws.Lab),
    (FunctionLike, lambdalab.Function, lambdalab.aws.Function),
]


def _members(protocol: type) -> list[str]:
    own = {name for name in vars(protocol) if not name.startswith("_")}
    return sorted(own)


@pytest.mark.parametrize(("protocol", "local", "remote"), PAIRS, ids=["Lab", "Function"])
def test_every_member_of_the_protocol_is_on_both(protocol: type, local: type, remote: type) -> None:
    members = _members(protocol)
    assert len(members) >= 11
    for cls in (local, remote):
        missing = [name for name in members if not hasattr(cls, name)]
        assert missing == [], f"{cls.__module__}.{cls.__name__} lacks {missing}"
        for name in members:  # a property stays a property (read without calling)
            if isinstance(inspect.getattr_static(protocol, name), property):
                assert isinstance(inspect.getattr_static(cls, name), property), f"{cls.__name__}.{name}"


def _parameters(function: Any) -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(function).parameters.items() if n != "self"}


@pytest.mark.parametrize(("protocol", "local", "remote"), PAIRS, ids=["Lab", "Function"])
def test_parameters_the_protocol_names_are_taken_alike(protocol: type, local: type, remote: type) -> None:
    checked = 0
    for name in _members(protocol):
        wanted = inspect.getattr_static(protocol, name)
        if isinstance(wanted, property):
            continue
        for cls in (local, remote):
            have = _parameters(getattr(cls, name))
            takes_any_keyword = any(p.kind is p.VAR_KEYWORD for p in have.values())
            for pname, param in _parameters(wanted).items():
                if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                    assert any(p.kind is param.kind for p in have.values()), (cls, name, pname)
                    continue
                found = have.get(pname)
                assert found is not None or takes_any_keyword, f"{cls.__name__}.{name} lacks {pname}"
                if found is None:
                    continue
                assert found.default == param.default, f"{cls.__name__}.{name}({pname}=) default {found.default!r}"
                positional = param.kind is param.POSITIONAL_OR_KEYWORD
                assert (found.kind is param.POSITIONAL_OR_KEYWORD) == positional, f"{cls.__name__}.{name}({pname})"
                checked += 1
    assert checked > 20


def test_instances_are_recognised_by_the_runtime_checkable_protocols(aws_lab: lambdalab.aws.Lab) -> None:
    with lambdalab.Lab() as local:
        fn = local.create_function("p", "def handler(event, context):\n    return 1\n")
        assert isinstance(local, LabLike) and isinstance(fn, FunctionLike)
    remote = aws_lab.create_function("p", "def handler(event, context):\n    return 1\n")
    assert isinstance(aws_lab, LabLike) and isinstance(remote, FunctionLike)
    assert not isinstance(object(), LabLike)
