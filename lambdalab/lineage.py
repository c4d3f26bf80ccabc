"""Recursive loop detection: the X-Ray trace header's ``Lineage=`` field, carried and counted as Lambda does.

Lambda gives every invocation a trace header (``_X_AMZN_TRACE_ID`` inside the function, the Runtime API's
``Lambda-Runtime-Trace-Id``) that ends in ``Lineage=<hops>:<8 hex>:0``. An AWS SDK called from a handler sends that
header on with its requests (botocore's ``add_recursion_detection_header``: ``X-Amzn-Trace-Id``), SQS keeps it
with the message (the ``AWSTraceHeader`` system attribute) and Lambda reads it back when the message, the event or
the direct invoke reaches a function: the invocation runs one hop further down the chain. A function whose
recursive loop setting is ``Terminate`` (the default) is not invoked past ``MAX_HOPS`` (16) hops of one chain: a
direct invoke fails with ``RecursiveInvocationException``, an event or an SQS message goes to the on-failure
destination or dead-letter queue if there is one (AWS docs, "Lambda recursive loop detection"; the launch post:
"drops requests after exceeding 16 invocations").

The first number counts the chain's hops (1: invoked from outside any chain), the hash names the chain (the first
request's id), the last number is Lambda's request counter, always 0 here. lambdalab counts every hop of a chain,
whichever function it invokes; see docs/FIDELITY.md. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

MAX_HOPS: Final = 16  # invocations of one chain; the next one is stopped
MAX_COUNTER: Final = 32_767  # the largest hop count a lineage holds (the X-Ray propagator's bound)
TRACE_HEADER: Final = "X-Amzn-Trace-Id"  # what botocore sends from inside a function
SQS_TRACE_ATTRIBUTE: Final = "AWSTraceHeader"  # SQS's message system attribute
RECURSIVE_MESSAGE: Final = (
    "Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped "
    "your function's invocation."
)
_LINEAGE = re.compile(r"(\d{1,5}):([0-9a-fA-F]{8}):(\d{1,3})")
_ROOT = re.compile(r"1-[0-9a-fA-F]{1,8}-[0-9a-fA-F]{24}")
_HEX = re.compile(r"[0-9a-f]{8}")


def fields(header: str | None) -> dict[str, str]:
    """The ``key=value`` parts of a trace header (``Root``, ``Parent``, ``Sampled``, ``Lineage``, ...)."""
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            out.setdefault(key, value.strip())
    return out


def hops(header: str | None) -> int:
    """How many hops of its chain the invocation that carries ``header`` was (0: no lineage, or not a valid one)."""
    match = _LINEAGE.fullmatch(fields(header).get("Lineage", ""))
    return int(match.group(1)) if match else 0


def continued(incoming: str | None, request_id: str, submitted: float) -> tuple[str, int]:
    """The trace header an invocation runs with, and its hop: one past ``incoming``'s lineage (the header its caller
    sent: a handler's SDK call, an SQS message's ``AWSTraceHeader``), or a new chain (hop 1) when it has none.

    The root trace id is kept when ``incoming`` has a valid one; the parent is this request's."""
    parts = fields(incoming)
    rid = request_id.replace("-", "")
    match = _LINEAGE.fullmatch(parts.get("Lineage", ""))
    if match is not None:
        hop, chain = min(int(match.group(1)) + 1, MAX_COUNTER), match.group(2).lower()
    else:
        hop, chain = 1, _chain_hash(rid)
    root = parts.get("Root", "")
    if _ROOT.fullmatch(root) is None:
        root = f"1-{int(submitted):08x}-{_hex(rid, 24)}"
    sampled = "1" if parts.get("Sampled") == "1" else "0"
    return f"Root={root};Parent={_hex(rid[-16:], 16)};Sampled={sampled};Lineage={hop}:{chain}:0", hop


def stopped(hop: int, recursion: str) -> bool:
    """Whether an invocation at ``hop`` of its chain is stopped under the function's ``recursion`` setting."""
    return hop > MAX_HOPS and recursion != "Allow"


def _chain_hash(rid: str) -> str:
    head = rid[:8].lower()
    return head if _HEX.fullmatch(head) else hashlib.sha256(rid.encode()).hexdigest()[:8]


def _hex(text: str, length: int) -> str:
    """``length`` hex digits from ``text`` (a request id's own when they are hex, else a hash of it)."""
    head = text[:length].lower()
    if len(head) == length and all(c in "0123456789abcdef" for c in head):
        return head
    return hashlib.sha256(text.encode()).hexdigest()[:length]
