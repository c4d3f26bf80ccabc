"""An invocation's event and client context as the Invoke API takes them, refused as Lambda refuses them.

``encode_event`` turns what ``Function.invoke``/``submit`` were given (any JSON-serialisable value,
``None`` for ``{}``, or ``bytes``/``str`` holding JSON) into the payload's bytes; an event Lambda could
not parse (not JSON, ``NaN``, ``Infinity``, ``1e999``) is its ``InvalidRequestContentException`` (400,
also a ``ConfigError``), raised before anything starts. ``encode_client_context`` encodes the mobile SDK's
client context the same way. ``request_too_large`` is Lambda's answer to a payload over the Invoke API's
limit, for the engine and the endpoint alike.

Rules: plain values only; no engine, no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lambdalab.errors import ConfigError, InvalidRequestContentException, RequestTooLargeException


def encode_client_context(context: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not context:
        return None
    try:
        return {"client_context": json.dumps(context, allow_nan=False)}
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"invalid client_context: not JSON-serialisable ({exc})") from None


def request_too_large(limit: int) -> RequestTooLargeException:
    """Lambda's answer to an Invoke request over ``limit`` bytes (6 MB synchronous, 1 MB ``Event``)."""
    return RequestTooLargeException(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


_UNPARSABLE = "Could not parse request body into json: Could not parse payload into json: "


def _not_json(detail: str) -> InvalidRequestContentException:
    """Lambda's 400 for an event it cannot parse (also a ``ConfigError``: an invalid event)."""
    return InvalidRequestContentException(_UNPARSABLE + detail)


def _reject_constant(name: str) -> Any:
    raise _not_json(f"Non-standard token '{name}': not a JSON number (invalid event)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _not_json(f"Number {text} is out of range for a JSON number (invalid event)")
    return value


def encode_event(event: Any) -> bytes:
    """The event as JSON bytes, refused as Lambda refuses it: not JSON, ``NaN``, ``Infinity``, ``1e999``."""
    if event is None:
        return b"{}"
    if isinstance(event, (bytes, bytearray)):
        data = bytes(event)
    elif isinstance(event, str):
        try:
            data = event.encode()
        except UnicodeEncodeError as exc:
            raise _not_json(f"{exc} (invalid event: not UTF-8)") from None
    else:
        try:
            return json.dumps(event, allow_nan=False).encode()
        except ValueError as exc:  # NaN or ±Infinity: JSON has no such numbers
            raise _not_json(f"{exc} (invalid event: NaN and Infinity are not JSON)") from None
        except (TypeError, RecursionError) as exc:
            raise ConfigError(f"invalid event: not JSON-serialisable ({exc})") from None
    try:
        json.loads(data or b"{}", parse_constant=_reject_constant, parse_float=_finite_float)
    except InvalidRequestContentException:
        raise
    except RecursionError:
        pass  # valid as far as Lambda's front door goes; the runtime answers Runtime.UnmarshalError if it cannot parse
    except ValueError as exc:
        raise _not_json(f"{exc} (invalid event: bytes and str events must hold JSON)") from None
    return data or b"{}"
