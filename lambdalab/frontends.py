"""Where the front-ends plug into the facade: ``Lab.serve``, ``Function.url``, ``Lab.sqs_queue``, ``Lab.serve_api``.

The API imports no front-end; the front-ends import the API. ``lambdalab/__init__.py``, which runs before
any module of the package, hands the front-ends' entry points to ``plug_in``, and the facade's methods call
them through ``front_ends``. ``serve(lab, port=, host=, allow_remote=, **options)`` and
``function_url(lab, name, qualifier)`` return URLs; ``sqs_queue(lab, name, function, **options)`` makes a
queue, which the Lab then attaches (``Lab.attach``: closed before the engine).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, cast

from lambdalab.errors import ConfigError


class Closeable(Protocol):
    """What a front-end ties to a Lab with ``Lab.attach``: closed (idempotent, never raising) before the engine."""

    def close(self) -> None: ...


@dataclasses.dataclass
class FrontEnds:
    """The front-ends' entry points, each None until plugged in."""

    serve: Callable[..., str] | None = None
    function_url: Callable[..., str] | None = None
    sqs_queue: Callable[..., Closeable] | None = None
    serve_api: Callable[..., str] | None = None
    durable: Callable[..., Any] | None = None  # durable functions' service of a Lab (lambdalab.durable.service_for)

    def get(self, name: str) -> Callable[..., Any]:
        hook = getattr(self, name)
        if hook is None:
            raise ConfigError(f"{name} is not available: import lambdalab (the package plugs its front-ends in)")
        return cast("Callable[..., Any]", hook)


front_ends = FrontEnds()


def plug_in(
    *,
    serve: Callable[..., str] | None = None,
    function_url: Callable[..., str] | None = None,
    sqs_queue: Callable[..., Closeable] | None = None,
    serve_api: Callable[..., str] | None = None,
    durable: Callable[..., Any] | None = None,
) -> None:
    """For the package: provide the front-ends behind ``Lab.serve``, ``Function.url``, ``Lab.sqs_queue`` and
    ``Lab.serve_api``, and durable functions' service (``lambdalab.durable``)."""
    hooks = (
        ("serve", serve),
        ("function_url", function_url),
        ("sqs_queue", sqs_queue),
        ("serve_api", serve_api),
        ("durable", durable),
    )
    for name, hook in hooks:
        if hook is not None:
            setattr(front_ends, name, hook)
