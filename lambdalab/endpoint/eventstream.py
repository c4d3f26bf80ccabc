"""AWS's event stream encoding (``application/vnd.amazon.eventstream``), as InvokeWithResponseStream answers in it.

One message is a 12-byte prelude (total length, headers length, both big-endian uint32, then the CRC32 of
those 8 bytes), the headers, the payload and the CRC32 of everything before it. Each header here is a string
(type 7): a 1-byte name length, the name, the type byte, a 2-byte value length, the value (UTF-8). botocore's
``EventStreamBuffer`` reads exactly this (``tests/endpoint/test_invoke_stream.py`` decodes with it).

Rules: pure; bytes in, bytes out.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

MAX_HEADERS_BYTES = 128 * 1024  # what botocore's decoder accepts
MAX_PAYLOAD_BYTES = 24 * 1024 * 1024
_STRING = 7
_PRELUDE = struct.Struct("!II")
_UINT32 = struct.Struct("!I")


def header_bytes(headers: Mapping[str, str]) -> bytes:
    """The headers, each as a string header, in the order given."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        if not 0 < len(raw_name) < 256:
            raise ValueError(f"an event stream header name is 1-255 bytes; got {name!r}")
        if len(raw_value) > 0xFFFF:
            raise ValueError(f"an event stream header value is at most 65,535 bytes; {name!r} has {len(raw_value)}")
        out += bytes((len(raw_name),)) + raw_name + bytes((_STRING,)) + struct.pack("!H", len(raw_value)) + raw_value
    return bytes(out)


def message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message: prelude, prelude CRC, headers, payload, message CRC."""
    head = header_bytes(headers)
    if len(head) > MAX_HEADERS_BYTES or len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"an event stream message holds at most {MAX_HEADERS_BYTES} header and {MAX_PAYLOAD_BYTES} payload bytes"
        )
    prelude = _PRELUDE.pack(_PRELUDE.size + 4 + len(head) + len(payload) + 4, len(head))
    prelude += _UINT32.pack(zlib.crc32(prelude))
    body = prelude + head + payload
    return body + _UINT32.pack(zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """An ``event`` message of ``event_type`` (the member of the operation's event stream union it fills)."""
    return message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)
