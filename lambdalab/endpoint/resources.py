"""What Lambda keeps about a function that a Lab does not: tags, resource policies, event invoke configs.

One ``Extras`` per function name, held by the endpoint (``Endpoint.extras``) and dropped with the function
(DeleteFunction). Keys that depend on a qualifier use ``None`` for the unqualified function.

Rules: plain data; the operations that read and change it are ``tags.py``, ``policies.py``,
``invoke_config.py``, ``aliases.py`` and ``management.py`` (PublishVersion's record of what it published).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdalab.endpoint.server import Endpoint


@dataclasses.dataclass
class Policy:
    """A resource policy: its statements (Lambda's JSON, oldest first) and its revision id."""

    statements: list[dict[str, Any]]
    revision: str


@dataclasses.dataclass
class Extras:
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    policies: dict[str | None, Policy] = dataclasses.field(default_factory=dict)  # qualifier -> policy
    invoke_configs: dict[str | None, dict[str, Any]] = dataclasses.field(default_factory=dict)  # qualifier -> config
    published: dict[str, Any] = dataclasses.field(default_factory=dict)  # version -> what $LATEST was then
    alias_descriptions: dict[str, str] = dataclasses.field(default_factory=dict)
    alias_revisions: dict[str, str] = dataclasses.field(default_factory=dict)  # a new one at each change

    def forget(self, qualifier: str) -> None:
        """A version or alias is gone: so is what was kept for it."""
        self.policies.pop(qualifier, None)
        self.invoke_configs.pop(qualifier, None)
        self.published.pop(qualifier, None)
        self.alias_descriptions.pop(qualifier, None)
        self.alias_revisions.pop(qualifier, None)


def extras(endpoint: Endpoint, name: str) -> Extras:
    found = endpoint.extras.get(name)
    if found is None:
        found = endpoint.extras[name] = Extras()
    return found
