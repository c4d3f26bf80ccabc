"""How many Managed Instances environments were alive when: the history behind the scaling rule (``core/groups.py``,
rule 3: at most twice the environments alive 5 minutes earlier). Pure; ``at`` is passed in."""

from __future__ import annotations

from collections import deque
from typing import Final

SCALE_WINDOW_S: Final = 300.0  # "traffic that more than doubles within 5 minutes"


class GroupHistory:
    """How many groups were alive at each moment of the last ``window_s`` seconds (rule 3), as change points."""

    def __init__(self, before: int, window_s: float = SCALE_WINDOW_S) -> None:
        self.window_s = window_s
        self.before = before  # the groups "alive" before the first change point kept
        self.changes: deque[tuple[float, int]] = deque()  # (at, groups alive from then on), in time order

    def note(self, at: float, groups: int) -> None:
        changes = self.changes
        changes.append((at, groups))
        edge = at - self.window_s
        while len(changes) >= 2 and changes[1][0] <= edge:  # the oldest no longer decides any query to come
            self.before = changes.popleft()[1]

    def alive(self, at: float) -> int:
        """The groups alive at ``at`` (not before the last change noted minus the window)."""
        value = self.before
        for when, groups in self.changes:
            if when > at:
                break
            value = groups
        return value

    def allowed(self, at: float, least: int) -> int:
        """How many groups may be alive at ``at``: max(min_environments, 2 x max(1, those alive 5 minutes ago))."""
        return max(least, 2 * max(1, self.alive(at - self.window_s)))
