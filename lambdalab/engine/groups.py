"""Worker groups: one Lambda Managed Instances environment as the engine runs it.

In Managed Instances mode (``EnvironmentSpec.per_environment`` = N > 0) one user-visible execution environment is
N runtime worker processes, as Lambda's Python runtime runs it: each worker is a core ``Environment`` of its own
(``Environment.group`` names the environment, ``Environment.worker`` its place in it) and an ``EngineEnvironment``
of its own, with its own Runtime API socket, incarnations and deadline. What makes them one environment is what
they share, held here: the folder mounted on ``/tmp`` (what one worker writes the others read), the cgroups (one
memory limit, ``memory_mb``, for all the workers together, as Lambda's "total memory = per-process memory times
processes"), the ``sandbox.localdomain`` address and the log stream (one stream per environment, the workers'
JSON records interleaved, each with its ``requestId``). The first worker made builds them (in the Lab's spare
where one serves); the others join; they are removed with the last worker to retire.

Rules: on the engine's loop; plain bookkeeping, no I/O of its own (the spawner makes and removes the folders and
groups).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lambdalab.core.logstream import LogStream


@dataclasses.dataclass(eq=False)
class Group:
    """What the workers of one Managed Instances environment share."""

    id: str  # the user-visible environment id (``Environment.group``)
    tmp: Path
    address: str
    cgroups: list[Path]
    stream: LogStream
    members: set[str] = dataclasses.field(default_factory=set)  # its workers' environment ids not yet retired
    oom_kills: int = 0  # OOM kills seen in its memory group so far (every worker's exit reads the same counter)


class Groups:
    """The Lab's Managed Instances environments, by group id, and each worker's group."""

    def __init__(self) -> None:
        self.by_id: dict[str, Group] = {}
        self.of: dict[str, Group] = {}  # worker environment id -> its group

    def get(self, group_id: str) -> Group | None:
        return self.by_id.get(group_id)

    def join(self, group: Group, environment_id: str) -> None:
        """A worker becomes a member (the first one's making registers the group)."""
        self.by_id.setdefault(group.id, group)
        group.members.add(environment_id)
        self.of[environment_id] = group

    def leave(self, environment_id: str) -> Group | None:
        """A worker retires; its group when it was the last, so the caller removes what they shared."""
        group = self.of.pop(environment_id, None)
        if group is None:
            return None
        group.members.discard(environment_id)
        if group.members:
            return None
        self.by_id.pop(group.id, None)
        return group

    def others(self, environment_id: str) -> list[str]:
        """The other workers of an environment's group (none for a classic environment)."""
        group = self.of.get(environment_id)
        return [] if group is None else [m for m in group.members if m != environment_id]
