"""Durable functions: executions checkpointed by the AWS Durable Execution SDK, replayed by lambdalab.

A function created with ``durable=True`` runs a handler decorated with the SDK's ``@durable_execution``
(``requirements=["aws-durable-execution-sdk-python"]``). ``fn.invoke(event)`` starts an execution and answers with
the workflow's result, as Lambda's synchronous invoke of a durable function does; in between, the SDK inside the
function checkpoints each step, wait and callback through this Lab's endpoint (``AWS_ENDPOINT_URL_LAMBDA``,
``lambdalab/endpoint/durable_apis.py``), and after every wait, retry delay or callback the service invokes the
function again from the top: each replay is one ordinary invocation (placed, billed, in ``lab.invocations()``).

``lab.durable_executions()`` lists the executions, ``fn.durable_history(execution)`` is one execution's checkpoint
log with its replays, ``lambdalab.viz.durable.replays(fn)`` draws them. ``Lab(time_scale=N)`` runs the durable
clock N times faster (``clock.py``); the tables and the chart say so.

Modules: ``service.py`` (the service: the local runner's executor as a library, starting and waiting),
``executions.py`` (the store naming executions with Lambda's ARNs, the answers carrying them), ``invoker.py``
(a replay as a Lab invocation), ``replays.py`` (what each replay skipped and ran), ``clock.py`` (virtual time),
``tables.py`` (the frames). This module imports none of them until a Lab needs durable functions, so
``import lambdalab`` does not import the SDK or its local runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdalab.errors import ConfigError

if TYPE_CHECKING:
    from lambdalab.api import Lab
    from lambdalab.durable.service import DurableService

__all__ = ["service_for"]

MISSING = (
    "durable functions need the AWS Durable Execution SDK's local runner on this machine (lambdalab runs its "
    "checkpoint service): pip install 'aws-durable-execution-sdk-python-testing>=1.4' (or lambdalab[durable])"
)


def service_for(lab: Lab) -> DurableService:
    """``lab``'s durable service, made on first use and closed with the Lab; ``ConfigError`` if the SDK's local
    runner is not installed."""
    try:
        from lambdalab.durable import service
    except ImportError:
        raise ConfigError(MISSING) from None
    return service.service_for(lab)
