"""lambdalab: see how AWS Lambda runs code, with real processes on your own machine.

``import lambdalab`` imports no IPython, ipywidgets or plotly; the notebook layer loads with
``%load_ext lambdalab``.
"""

from typing import Any

from lambdalab import endpoint, frontends, sqs
from lambdalab.api import Lab
from lambdalab.config import FunctionConfig
from lambdalab.errors import (
    CallerError,
    ConfigError,
    FunctionError,
    InvalidRequestContentException,
    LabClosedError,
    LambdaLabError,
    RequestTooLargeException,
    TooManyRequestsException,
    UnknownFunctionError,
)
from lambdalab.function import Function
from lambdalab.results import AsyncInvocation, EnvironmentInfo, InvocationResult, VersionInfo

from ._version import __version__

# The front-ends import the API, never the reverse: the package plugs them in behind lab.serve(), fn.url() and
# lab.sqs_queue() (lambdalab.endpoint imports aiohttp only when it first serves).
frontends.plug_in(serve=endpoint.serve, function_url=endpoint.function_url, sqs_queue=sqs.SqsQueue)

__all__ = [
    "AsyncInvocation",
    "CallerError",
    "ConfigError",
    "EnvironmentInfo",
    "Function",
    "FunctionConfig",
    "FunctionError",
    "InvalidRequestContentException",
    "InvocationResult",
    "Lab",
    "LabClosedError",
    "LambdaLabError",
    "RequestTooLargeException",
    "TooManyRequestsException",
    "UnknownFunctionError",
    "VersionInfo",
    "__version__",
    "default_lab",
    "load_ipython_extension",
    "panel",
]


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
