"""Recursive loop detection: the X-Ray trace header's ``Lineage=``, carried as Lambda carries it, counted per function.

Lambda gives every invocation a trace header (``_X_AMZN_TRACE_ID`` inside the function, the Runtime API's
``Lambda-Runtime-Trace-Id``) that ends in ``Lineage=<count>:<8 hex>:<request counter>`` (seen on Lambda:
``Lineage=1:deb21ef2:0``). An AWS SDK called from a handler sends that header on with its requests (botocore's
``add_recursion_detection_header``: ``X-Amzn-Trace-Id``), SQS keeps it with the message (the ``AWSTraceHeader``
system attribute) and Lambda reads it back when the message, the event or the direct invoke reaches a function. A
function whose recursive loop setting is ``Terminate`` (the default) is not invoked past ``MAX_HOPS`` (16)
invocations *of that function* in one chain of requests ("your function being invoked as part of a recursive loop",
the PutFunctionRecursionConfig reference; the launch post: "drops requests after exceeding 16 invocations"): a direct
invoke fails with ``RecursiveInvocationException``, an event or an SQS message goes to the on-failure destination or
dead-letter queue if there is one. A pipeline of distinct functions is no loop and is never stopped.

The header's form is the single-entry one Lambda sends today, ``<count>:<8 hex>:0``, because it is what clients pass
through unchanged: botocore quotes the header keeping ``:`` and ``;`` (``|`` of the older multi-entry form
``hash:count|hash:count`` would become ``%7C``), and the OpenTelemetry X-Ray propagator keeps a ``Lineage`` only in
this form (12 to 18 characters, two colons, a count up to 32,767, 8 hex digits, a request counter up to 255). What
the fields mean here (Lambda does not document them): the count is how many times the invoked function has run in
this chain so far, this invocation included; the 8 hex digits name this invocation's place in the chain, under which
``Lineages`` (kept by the control plane) remembers every function's count along the path to it; the request counter
is always 0. A header lambdalab did not make (its 8 hex unknown: another client's, or forgotten past ``KEPT`` places)
is read as a loop of the function it reaches: its count continues. Pure: no I/O, no clock.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

MAX_HOPS: Final = 16  # invocations of one function in one chain; its next one is stopped
MAX_COUNTER: Final = 32_767  # the largest count a lineage holds (the X-Ray propagator's bound)
KEPT: Final = 65_536  # places in chains remembered (the oldest are forgotten first)
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
    """The count ``header``'s lineage carries: how many times the function that made it had run in its chain (0: no
    lineage, or not a valid one)."""
    match = _LINEAGE.fullmatch(fields(header).get("Lineage", ""))
    return int(match.group(1)) if match else 0


def place(header: str | None) -> str | None:
    """The 8 hex digits of ``header``'s lineage (lower case), or None."""
    match = _LINEAGE.fullmatch(fields(header).get("Lineage", ""))
    return match.group(2).lower() if match else None


def stopped(hop: int, recursion: str) -> bool:
    """Whether a function's ``hop``-th invocation in a chain is stopped under its ``recursion`` setting."""
    return hop > MAX_HOPS and recursion != "Allow"


@dataclasses.dataclass(frozen=True)
class Step:
    """One invocation's place in its chain: the trace header it runs with and how many times its function has run in
    the chain (``hop``, this one included); ``counts`` is every function's along the path (kept by ``Lineages.keep``
    once the invocation is let through)."""

    trace: str
    hop: int
    place: str
    counts: Mapping[str, int]


class Lineages:
    """The places of the chains' invocations, each with every function's count along the path to it: what the single
    ``Lineage`` entry of a header points at. Bounded (``KEPT``, oldest forgotten first)."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        # a place's counts; a new chain's first place keeps only its function's name (its count is 1): less memory
        self._places: collections.OrderedDict[str, Mapping[str, int] | str] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._places)

    def counts(self, incoming: str | None, function: str) -> Mapping[str, int]:
        """Every function's count along the path to the caller that sent ``incoming`` (empty: a new chain); a lineage
        lambdalab did not make is taken as ``function``'s own (a loop of it)."""
        at = place(incoming)
        if at is None:
            return {}
        known = self._places.get(at)
        if known is None:
            return {function: hops(incoming)}
        return {known: 1} if isinstance(known, str) else known

    def hop(self, incoming: str | None, function: str) -> int:
        """How many times ``function`` would have run in the chain, were it invoked now with ``incoming``."""
        return min(self.counts(incoming, function).get(function, 0) + 1, MAX_COUNTER)

    def step(self, incoming: str | None, function: str, request_id: str, submitted: float) -> Step:
        """The place an invocation of ``function`` takes one hop past ``incoming``'s (the header its caller sent: a
        handler's SDK call, an SQS message's ``AWSTraceHeader``), or at the start of a new chain when it has no
        lineage. The root trace id is kept when ``incoming`` has a valid one; the parent is this request's. Not kept
        until ``keep``."""
        parts = fields(incoming)
        rid = request_id.replace("-", "")
        counts = dict(self.counts(incoming, function))
        hop = counts[function] = min(counts.get(function, 0) + 1, MAX_COUNTER)
        at = self._free_place(rid)
        root = parts.get("Root", "")
        if _ROOT.fullmatch(root) is None:
            root = f"1-{int(submitted):08x}-{_hex(rid, 24)}"
        sampled = "1" if parts.get("Sampled") == "1" else "0"
        trace = f"Root={root};Parent={_hex(rid[-16:], 16)};Sampled={sampled};Lineage={hop}:{at}:0"
        return Step(trace, hop, at, MappingProxyType(counts))

    def begin(self, function: str, request_id: str) -> bool:
        """The cheap step of an invocation that starts a new chain (its caller sent no lineage): its place is its
        request id's first 8 hex digits, which the Runtime API's own trace header for it names
        (``engine/runtimes.py``), kept with ``function``'s count of 1 and no header built. False, keeping nothing,
        when those digits are not hex or are another place's: then ``step`` and ``keep`` it."""
        at = request_id[:8].lower()
        if _HEX.fullmatch(at) is None or at in self._places:
            return False
        places = self._places
        places[at] = function
        if len(places) > self._kept:
            places.popitem(last=False)
        return True

    def keep(self, step: Step) -> None:
        """Remember ``step``'s place (its invocation runs), forgetting the oldest past the bound."""
        self._places[step.place] = step.counts
        while len(self._places) > self._kept:
            self._places.popitem(last=False)

    def _free_place(self, rid: str) -> str:
        """8 hex digits no kept place has: the request id's first ones (a new chain's, as Lambda's look), else a hash
        of it (an event's retry reuses its request id)."""
        head = rid[:8].lower()
        candidate, n = (head if _HEX.fullmatch(head) else _digest(rid, 0)), 0
        while candidate in self._places:
            n += 1
            candidate = _digest(rid, n)
        return candidate


def _digest(rid: str, n: int) -> str:
    return hashlib.sha256(f"{rid}:{n}".encode()).hexdigest()[:8]


def _hex(text: str, length: int) -> str:
    """``length`` hex digits from ``text`` (a request id's own when they are hex, else a hash of it)."""
    head = text[:length].lower()
    if len(head) == length and all(c in "0123456789abcdef" for c in head):
        return head
    return hashlib.sha256(text.encode()).hexdigest()[:length]
