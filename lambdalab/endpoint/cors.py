"""A function URL's CORS configuration, applied as Lambda applies it (the ``Cors`` of a FunctionUrlConfig).

No configuration (the default): the platform adds no CORS header and answers no preflight; an
``OPTIONS`` request goes to the function like any other, and a browser on another origin cannot
read the answer unless the function itself returns ``Access-Control-Allow-Origin``. With one: a
preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered by the
platform without invoking the function, with only the configured headers; any other request with an
``Origin`` gets the configured headers added to the function's own (Lambda adds both, so a function
that also sets them sends them twice). An origin not in ``AllowOrigins`` gets no CORS header.

Rules: pure data and header maps; no aiohttp, no engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdalab.endpoint import wire
from lambdalab.endpoint.guard import normal_origin

# field → (API name, item count limit, item length limit): botocore's model for Cors
_LISTS = {
    "allow_origins": ("AllowOrigins", 100, 253),
    "allow_methods": ("AllowMethods", 6, 6),
    "allow_headers": ("AllowHeaders", 100, 1024),
    "expose_headers": ("ExposeHeaders", 100, 1024),
}
_KEYS = {
    **{api.lower(): field for field, (api, _, _) in _LISTS.items()},
    "maxage": "max_age",
    "allowcredentials": "allow_credentials",
}


class Cors:
    """``AllowOrigins``, ``AllowMethods``, ``AllowHeaders``, ``ExposeHeaders``, ``MaxAge``, ``AllowCredentials``."""

    __slots__ = (
        "allow_origins",
        "allow_methods",
        "allow_headers",
        "expose_headers",
        "max_age",
        "allow_credentials",
        "_origins",
        "_any_origin",
    )

    def __init__(
        self,
        allow_origins: tuple[str, ...] = (),
        allow_methods: tuple[str, ...] = (),
        allow_headers: tuple[str, ...] = (),
        expose_headers: tuple[str, ...] = (),
        max_age: int | None = None,
        allow_credentials: bool | None = None,
    ) -> None:
        self.allow_origins, self.allow_methods = allow_origins, allow_methods
        self.allow_headers, self.expose_headers = allow_headers, expose_headers
        self.max_age, self.allow_credentials = max_age, allow_credentials
        self._origins = frozenset(normal_origin(o) for o in allow_origins)
        self._any_origin = "*" in allow_origins

    @classmethod
    def parse(cls, value: Any) -> Cors | None:
        """From the API's ``Cors`` object (``AllowOrigins``..., or ``allow_origins``...); raises ``wire.ApiError``."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise wire.invalid(
                f"Cors must be an object with AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders, "
                f"MaxAge, AllowCredentials; got {value!r}"
            )
        fields: dict[str, Any] = {}
        for key, item in value.items():
            field = _KEYS.get(str(key).replace("_", "").lower())
            if field is None:
                raise wire.invalid(
                    f"Cors has no field {key!r}; expected AllowOrigins, AllowMethods, AllowHeaders, "
                    "ExposeHeaders, MaxAge, AllowCredentials"
                )
            fields[field] = item
        for field, (api, count, length) in _LISTS.items():
            items = fields.get(field, ())
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise wire.invalid(f"Cors.{api} must be a list of strings; got {items!r}")
            name = "cors." + api[0].lower() + api[1:]
            if len(items) > count:
                raise wire.validation(str(list(items)), name, f"Member must have length less than or equal to {count}")
            for item in items:
                if len(item) > length or any(c in item for c in "\r\n\0"):
                    raise wire.validation(item, name, f"Member must have length less than or equal to {length}")
            fields[field] = tuple(items)
        max_age = fields.get("max_age")
        if max_age is not None and (type(max_age) is not int or not 0 <= max_age <= 86400):
            raise wire.validation(str(max_age), "cors.maxAge", "Member must have value less than or equal to 86400")
        credentials = fields.get("allow_credentials")
        if credentials is not None and not isinstance(credentials, bool):
            raise wire.invalid(f"Cors.AllowCredentials must be true or false; got {credentials!r}")
        return cls(**fields)

    def shape(self) -> dict[str, Any]:
        """As FunctionUrlConfig's ``Cors`` returns it."""
        data: dict[str, Any] = {}
        for field, (api, _, _) in _LISTS.items():
            if getattr(self, field):
                data[api] = list(getattr(self, field))
        if self.max_age is not None:
            data["MaxAge"] = self.max_age
        if self.allow_credentials is not None:
            data["AllowCredentials"] = self.allow_credentials
        return data

    def _allowed(self, origin: str) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for ``origin``, or None when it is not allowed."""
        if normal_origin(origin) in self._origins:
            return origin
        if self._any_origin:
            return origin if self.allow_credentials else "*"
        return None

    def preflight(self, origin: str) -> dict[str, str]:
        """The headers of the platform's answer to a preflight from ``origin`` (none when not allowed)."""
        return self._headers(
            origin,
            {
                "Access-Control-Allow-Methods": self.allow_methods,
                "Access-Control-Allow-Headers": self.allow_headers,
                "Access-Control-Max-Age": (str(self.max_age),) if self.max_age else (),
            },
        )

    def response(self, origin: str) -> dict[str, str]:
        """The headers added to a function's answer to a request from ``origin`` (none when not allowed)."""
        return self._headers(origin, {"Access-Control-Expose-Headers": self.expose_headers})

    def _headers(self, origin: str, lists: dict[str, tuple[str, ...]]) -> dict[str, str]:
        """Allow-Origin, Vary and Allow-Credentials, then each non-empty list joined with ``", "``."""
        allowed = self._allowed(origin)
        if allowed is None:
            return {}
        headers = {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        headers.update((name, ", ".join(values)) for name, values in lists.items() if values)
        return headers
