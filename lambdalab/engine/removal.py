"""Removing what a function has, on the engine's loop: the function itself, one version, one alias, and the
asynchronous-invocation settings that change without a redeploy. ``Lab`` and ``Function`` call these through
``LabEngine.call``; the scheduler's tables are touched here, in the engine, not by the API.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lambdalab.core.scheduler import FunctionEntry
from lambdalab.engine.control_plane import ControlPlane
from lambdalab.errors import ConfigError, UnknownFunctionError


def entry(plane: ControlPlane, name: str) -> FunctionEntry:
    """The scheduler's entry of function ``name``; ``UnknownFunctionError`` once it is deleted (not a KeyError)."""
    plane.function(name)
    return plane.scheduler.entry(name)


def delete_function(plane: ControlPlane, name: str) -> None:
    """Shut every environment of ``name`` down now and forget the function (its records stay)."""
    plane.kill(name)
    plane.scheduler.functions.pop(name, None)
    plane.configs.pop(name, None)
    plane.destinations.pop(name, None)  # its code stays in the tables: a spawn under way may read it


def delete_alias(plane: ControlPlane, name: str, alias: str) -> None:
    if entry(plane, name).aliases.pop(alias, None) is None:
        raise UnknownFunctionError(f"Alias not found: {plane.arn(name, alias)}")


def delete_version(plane: ControlPlane, name: str, version: str) -> None:
    """Retire published ``version`` (idle environments go now, busy ones after their invocation); refused, as on
    Lambda, for a version an alias routes to."""
    found = entry(plane, name)
    if version not in found.pools:
        raise UnknownFunctionError(f"Function not found: {plane.arn(name, version)}")
    users = sorted(a.name for a in found.aliases.values() if version == a.version or version in a.weights)
    if users:
        raise ConfigError(f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]")
    pool = found.pools.pop(version)
    effects = pool.retire(plane.now())
    found.retired.append(pool)
    found.refresh()
    plane.perform(effects)


def set_async_options(plane: ControlPlane, name: str, changes: dict[str, Any]) -> None:
    """The queue reads retries and maximum age from the function's configuration: change them in place."""
    plane.configs[name] = dataclasses.replace(plane.function(name), **changes)
