"""lambdalab: see how AWS Lambda runs code, with real processes on your own machine.

``import lambdalab`` imports no IPython, ipywidgets or plotly; the notebook layer loads with
``%load_ext lambdalab``. The subpackages ``lambdalab.load`` (load generation), ``lambdalab.viz``
(charts), ``lambdalab.sim`` (the simulator) and ``lambdalab.events`` (sample trigger events) are
attributes of the package, imported on first use (PEP 562), so ``import lambdalab`` then
``lambdalab.load.run(...)`` works and costs nothing until then.
"""

import importlib
from typing import TYPE_CHECKING, Any

from lambdalab import devcheck, durable, endpoint, frontends, sqs
from lambdalab.api import Lab
from lambdalab.config import FunctionConfig
from lambdalab.errors import (
    CallerError,
    ConfigError,
    FunctionError,
    InvalidParameterValueException,
    InvalidRequestContentException,
    LabClosedError,
    LambdaLabError,
    RecursiveInvocationException,
    RequestTooLargeException,
    TooManyRequestsException,
    UnknownFunctionError,
)
from lambdalab.function import Function
from lambdalab.results import AsyncInvocation, EnvironmentInfo, InvocationResult, VersionInfo

from ._version import __version__

# An editable install whose compiled core is older than its source would run the old code: say so (make dev).
devcheck.warn_if_stale()

# The front-ends import the API, never the reverse: the package plugs them in behind lab.serve(), fn.url() and
# lab.sqs_queue() (lambdalab.endpoint imports aiohttp only when it first serves).
frontends.plug_in(
    serve=endpoint.serve,
    function_url=endpoint.function_url,
    sqs_queue=sqs.SqsQueue,
    serve_api=endpoint.serve_api,
    durable=durable.service_for,
)

__all__ = [
    "AsyncInvocation",
    "CallerError",
    "ConfigError",
    "EnvironmentInfo",
    "Function",
    "FunctionConfig",
    "FunctionError",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "InvocationResult",
    "Lab",
    "LabClosedError",
    "LambdaLabError",
    "RecursiveInvocationException",
    "RequestTooLargeException",
    "TooManyRequestsException",
    "UnknownFunctionError",
    "VersionInfo",
    "__version__",
    "default_lab",
    "load_ipython_extension",
    "panel",
]


if TYPE_CHECKING:  # what __getattr__ returns, for type checkers
    from lambdalab import events as events
    from lambdalab import load as load
    from lambdalab import sim as sim
    from lambdalab import viz as viz

# imported on first access by __getattr__ (PEP 562); none of them imports IPython, ipywidgets or plotly
LAZY_SUBPACKAGES = ("events", "load", "sim", "viz")


def __getattr__(name: str) -> Any:
    """``lambdalab.load``, ``.viz``, ``.sim``, ``.events``: the subpackage, imported now."""
    if name in LAZY_SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")  # also binds it in this module's namespace
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY_SUBPACKAGES))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext lambdalab``: the magics, result cards and panel (imports IPython only now)."""
    from lambdalab.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from lambdalab.jupyter import unload_ipython_extension as unload

    unload(ipython)


def default_lab() -> Lab:
    """The one Lab of this kernel (or process), created on first use, closed at exit."""
    from lambdalab.jupyter.session import default_lab as get

    return get()


def panel(fn: Function, **kwargs: Any) -> Any:
    """A load panel for ``fn`` with live charts (needs ipywidgets and plotly)."""
    from lambdalab.jupyter import panel as make

    return make(fn, **kwargs)
