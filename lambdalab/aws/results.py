"""What an invocation on AWS gives back: ``RemoteResult``, with the public attributes of the local
``lambdalab.results.InvocationResult`` (``payload``, ``error``, ``raw``, ``record``, ``log`` and the record's
numbers), so a cell, a card or a load run reads either the same way.

The record comes from the REPORT line in the log tail Lambda returns with a ``LogType=Tail`` invoke
(``lambdalab.aws.records.record_from_tail``). The environment is not in that tail: ``environment_id`` is
``""`` here, and the Lab's ``invocations()`` fills it from CloudWatch Logs (one stream per environment).
In a notebook a ``RemoteResult`` shows as a result card (``lambdalab.jupyter.remote_card``) with only what
AWS reports, and says what it does not.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from lambdalab.core.records import InvocationRecord
from lambdalab.result_view import RecordView


@dataclasses.dataclass(frozen=True)
class RemoteResult(RecordView):
    """The outcome of one synchronous invocation on AWS Lambda, with what its REPORT line says."""

    payload: Any
    error: dict[str, Any] | None
    raw: bytes
    record: InvocationRecord
    log: str = dataclasses.field(repr=False, default="")  # the decoded tail (the last 4 KB of the log)
    function_error: str | None = None  # X-Amz-Function-Error ("Unhandled")
    region: str = ""  # the Lab's region: where the function ran ("" when not known)

    @property
    def target(self) -> str:
        """Where it ran: ``"AWS Lambda (us-east-1)"`` (a result card says so)."""
        return f"AWS Lambda ({self.region})" if self.region else "AWS Lambda"

    def __repr__(self) -> str:
        kind = "cold" if self.cold else "warm"
        what = f"error={self.error.get('errorType')!r}" if self.error else f"payload={self.payload!r:.60}"
        return f"<RemoteResult {kind} {what} duration={self.duration_ms:.2f}ms request={self.request_id[:8]}>"


def decode_payload(raw: bytes, function_error: str | None) -> tuple[Any, dict[str, Any] | None]:
    """(payload, error) from an Invoke response's body, as the local result decodes the engine's."""
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode("utf-8", "replace")
    if not function_error:
        return payload, None
    if isinstance(payload, dict):
        return payload, payload
    return payload, {"errorType": function_error, "errorMessage": str(payload)}
