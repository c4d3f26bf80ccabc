"""What an SQS queue and its event source mapping accept (``lambdalab.sqs``), checked as SQS and Lambda check it.

- A queue name is 1-80 ASCII letters, digits, ``-`` or ``_`` (FIFO queues, ``.fifo``, are not modelled).
- A message is at most ``MAX_MESSAGE_BYTES`` (1 MiB, SQS's limit since August 2025; 256 KiB before): its body's
  UTF-8 bytes plus each message attribute's name, data type and value, as SQS counts them. Its body holds only
  the characters SQS allows (``#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF``), so
  its JSON in an event is at most three times its size and always fits Lambda's 6 MB invoke payload.
- The mapping's settings: ``batch_size`` 1-10,000 (over 10 needs ``batching_window_s`` >= 1), a window 0-300 s,
  a visibility timeout at least the function's timeout, ``max_receive_count`` >= 1 or None, ``max_concurrency``
  2-1,000.

Rules: pure; every refusal is a ``ConfigError`` naming the field, the value and what is allowed (a message's in
SQS's own words).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from lambdalab.errors import ConfigError

MAX_MESSAGE_BYTES = 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
UPDATABLE = ("batch_size", "batching_window_s", "max_concurrency", "report_batch_item_failures", "enabled")


def check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"invalid {name}: {value!r}; expected True or False")
    return value


def _attribute_size(name: str, value: Any) -> int:
    """One message attribute's bytes as SQS counts them: name, data type and value."""
    if isinstance(value, Mapping):
        kind = str(value.get("dataType", ""))
        if "binaryValue" in value:
            raw = value["binaryValue"]
            try:
                size = len(raw) if isinstance(raw, (bytes, bytearray)) else len(base64.b64decode(str(raw)))
            except (binascii.Error, ValueError):
                size = len(str(raw))
        else:
            size = len(str(value.get("stringValue", "")).encode())
    elif isinstance(value, (bytes, bytearray)):
        kind, size = "Binary", len(value)
    else:
        kind = "Number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "String"
        size = len(str(value).encode())
    return len(name.encode()) + len(kind.encode()) + size


def check_message(body: str, attributes: Mapping[str, Any]) -> None:
    """``ConfigError`` in SQS's words for a message SQS would refuse (a character it does not allow, or over
    ``MAX_MESSAGE_BYTES`` with its attributes)."""
    bad = _FORBIDDEN.search(body)
    if bad is not None:
        raise ConfigError(
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, the set of allowed "
            "characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
        )
    size = len(body.encode()) + sum(_attribute_size(str(k), v) for k, v in attributes.items())
    if size > MAX_MESSAGE_BYTES:
        raise ConfigError(f"One or more parameters are invalid. Reason: Message must be shorter than "
                          f"{MAX_MESSAGE_BYTES} bytes.")  # fmt: skip


def validate(
    name: str,
    batch_size: int,
    window: float,
    visibility: float,
    max_receive: int | None,
    concurrency: int,
    function_timeout: float,
) -> None:
    """``ConfigError`` for a queue name or mapping setting SQS or Lambda would refuse."""

    def check(ok: bool, field: str, value: object, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"invalid {field}: {value!r}; expected {allowed}")

    check(isinstance(name, str) and bool(_NAME.fullmatch(name)), "name", name, "1-80 ASCII letters, digits, '-' or '_'")
    whole = isinstance(batch_size, int) and not isinstance(batch_size, bool)
    check(whole and 1 <= batch_size <= 10_000, "batch_size", batch_size, "1 to 10000")
    number = isinstance(window, (int, float)) and not isinstance(window, bool)
    check(number and 0 <= window <= 300, "batching_window_s", window, "0 to 300 seconds")
    check(
        batch_size <= 10 or window >= 1,
        "batching_window_s",
        window,
        "at least 1 second when batch_size is over 10 (as Lambda requires)",
    )
    check(visibility > 0, "visibility_timeout_s", visibility, "seconds > 0")
    check(
        visibility >= function_timeout,
        "visibility_timeout_s",
        visibility,
        f"at least the function's timeout ({function_timeout} s), as Lambda requires",
    )
    check(
        max_receive is None or (isinstance(max_receive, int) and max_receive >= 1),
        "max_receive_count",
        max_receive,
        "None (no dead-letter queue) or a whole number >= 1",
    )
    check(
        isinstance(concurrency, int) and not isinstance(concurrency, bool) and 2 <= concurrency <= 1000,
        "max_concurrency",
        concurrency,
        "2 to 1000",
    )
