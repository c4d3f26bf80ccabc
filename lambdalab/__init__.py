"""lambdalab: see how AWS Lambda runs code, with real processes on your own machine.

``import lambdalab`` imports no IPython, ipywidgets or plotly; the notebook layer loads with
``%load_ext lambdalab``.
"""

from lambdalab._version import __version__
from lambdalab.api import EnvironmentInfo, Function, InvocationResult, Lab
from lambdalab.config import FunctionConfig
from lambdalab.errors import (
    CallerError, ConfigError, FunctionError, LabClosedError, LambdaLabError, RequestTooLargeException,
    TooManyRequestsException, UnknownFunctionError,
)

__all__ = [
    "CallerError", "ConfigError", "EnvironmentInfo", "Function", "FunctionConfig", "FunctionError",
    "InvocationResult", "Lab", "LabClosedError", "LambdaLabError", "RequestTooLargeException",
    "TooManyRequestsException", "UnknownFunctionError", "__version__",
]
