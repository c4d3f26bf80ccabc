"""lambdalab on real AWS Lambda: the same cells, records and charts past one machine.

    import lambdalab.aws
    with lambdalab.aws.Lab() as lab:                 # or inside lambdalab.aws.StandIn() without an account
        fn = lab.create_function("hello", "def handler(event, context):\\n    return event")
        fn.invoke({"x": 1})                          # cold, then warm
        lab.invocations(), lab.spans()               # the local Lab's columns, read from CloudWatch Logs

- ``Lab`` / ``Function`` (``lab.py``, ``function.py``): the local Lab's surface (``lambdalab.protocol``) on boto3.
- ``cleanup`` (``cleanup.py``): find and remove what Labs left (``lambdalab aws cleanup``).
- ``StandIn`` (``standin.py``): a local Lab's endpoint (Lambda, CloudWatch Logs) and moto's IAM, for no account.
- ``has_credentials``: whether boto3 finds credentials, without a network call.
- ``CostConfirmationRequired``: a planned load above ``confirm_above_usd`` that nobody confirmed (``cost.py``).

Nothing here reaches AWS until a Lab's method needs it: importing this package makes no call and opens no socket.
docs/AWS.md is the user's page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdalab.aws.cleanup import cleanup
from lambdalab.aws.clients import has_credentials
from lambdalab.aws.cost import CostConfirmationRequired
from lambdalab.aws.function import Function
from lambdalab.aws.lab import Lab
from lambdalab.aws.results import RemoteResult

if TYPE_CHECKING:
    from lambdalab.aws.standin import StandIn

__all__ = ["CostConfirmationRequired", "Function", "Lab", "RemoteResult", "StandIn", "cleanup", "has_credentials"]


def __getattr__(name: str) -> Any:
    if name == "StandIn":  # moto and flask load only when a stand-in is asked for
        from lambdalab.aws.standin import StandIn

        return StandIn
    raise AttributeError(f"module 'lambdalab.aws' has no attribute {name!r}")
