"""One ``Lab`` per kernel, closed at exit; and, once asked for, one AWS Lab, closed with it.

The magics and the panel all use ``default_lab()``. A graceful kernel shutdown runs ``atexit``,
which closes the Lab (its environments shut down, its files go); a killed kernel is covered by
the engine's own reaper, which ends the environments when their owner dies.

The AWS target (``%lambda target aws``, ``%%lambda NAME --on aws``) is one ``lambdalab.aws.Lab`` per kernel,
made the first time a cell deploys there (``aws_lab()``), never before: nothing reaches AWS unless the user
named the target. It is closed with ``delete=True`` (every function, layer, role and log group it made is
deleted) when the kernel's local Lab closes. ``lab_for(name)`` is the Lab that deployed a function last.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from lambdalab.api import Lab

LOCAL, AWS = "local", "aws"
TARGETS = (LOCAL, AWS)

_lock = threading.Lock()
_lab: Lab | None = None
_aws: Any = None  # the kernel's lambdalab.aws.Lab, once made
_aws_settings: dict[str, Any] = {}  # region, prefix, role_arn for the AWS Lab (None: boto3's and the Lab's defaults)
_target = LOCAL
_owners: dict[str, str] = {}  # function name -> the target that deployed it last
_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(close_default_lab)
        _atexit_registered = True


def default_lab() -> Lab:
    """The kernel's Lab, created on first use (again after it was closed).

    Python equivalent: ``lab = lambdalab.Lab()`` once, and ``lab.close()`` at the end.
    """
    global _lab
    with _lock:
        if _lab is None or _lab.closed:
            _lab = Lab()
        _register_atexit()
        return _lab


def close_default_lab() -> None:
    """Close the kernel's Lab if one was created, and the AWS Lab with ``delete=True``; the target is local again.

    The next ``default_lab()`` makes a new Lab.
    """
    global _lab, _aws, _target
    with _lock:
        lab, _lab = _lab, None
        remote, _aws = _aws, None
        _target = LOCAL
        _aws_settings.clear()
        _owners.clear()
    try:
        if remote is not None and not remote.closed:
            remote.close(delete=True)
    finally:
        if lab is not None:
            lab.close()


def close_aws_lab() -> None:
    """Close the kernel's AWS Lab, if one was made, with ``delete=True``; its functions are forgotten here."""
    global _aws
    with _lock:
        remote, _aws = _aws, None
        for name in [name for name, where in _owners.items() if where == AWS]:
            del _owners[name]
    if remote is not None and not remote.closed:
        remote.close(delete=True)


def target() -> str:
    """Where ``%%lambda`` cells deploy now: ``"local"`` or ``"aws"``."""
    return _target


def aws_settings() -> dict[str, Any]:
    """The settings the AWS Lab is (or will be) made with: ``region``, ``prefix``, ``role_arn`` (given ones only)."""
    return dict(_aws_settings)


def set_target(name: str, **settings: Any) -> None:
    """Deploy later cells to ``name``; for ``"aws"``, with ``settings`` (``region``, ``prefix``, ``role_arn``).

    Settings that differ from those of an AWS Lab already made replace it only while it holds no function;
    otherwise ``ValueError`` says which differ (its functions would be orphaned).
    """
    global _target, _aws
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}")
    given = {key: value for key, value in settings.items() if value is not None}
    with _lock:
        if name == AWS and given:
            changed = {key for key, value in given.items() if _aws_settings.get(key) != value}
            if changed and _aws is not None and not _aws.closed:
                if _aws.functions():
                    raise ValueError(", ".join(sorted(changed)))
                stale, _aws = _aws, None
                stale.close(delete=True)
            _aws_settings.update(given)
        _target = name
        _register_atexit()


def existing_aws_lab() -> Any:
    """The kernel's AWS Lab if one was made (and is open), else None; makes none."""
    with _lock:
        return _aws if _aws is not None and not _aws.closed else None


def aws_lab() -> Any:
    """The kernel's ``lambdalab.aws.Lab``, made on first use with the target's settings.

    Python equivalent: ``lab = lambdalab.aws.Lab(region=..., prefix=..., role_arn=...)`` once, and
    ``lab.close(delete=True)`` at the end.
    """
    global _aws
    with _lock:
        if _aws is None or _aws.closed:
            import lambdalab.aws  # here, not at the top: a kernel that never names the target imports no boto3

            _aws = lambdalab.aws.Lab(**_aws_settings)
        _register_atexit()
        return _aws


def note_deployed(name: str, where: str) -> None:
    """Remember that ``where`` deployed function ``name`` last."""
    with _lock:
        _owners[name] = where


def owner(name: str) -> str:
    """The target that deployed ``name`` last (``"local"`` for a function no cell deployed)."""
    with _lock:
        where = _owners.get(name, LOCAL)
    return where if where == LOCAL or existing_aws_lab() is not None else LOCAL


def lab_for(name: str) -> Any:
    """The Lab that deployed ``name`` last: the AWS Lab, or the local one (also for names no cell deployed)."""
    return aws_lab() if owner(name) == AWS else default_lab()
