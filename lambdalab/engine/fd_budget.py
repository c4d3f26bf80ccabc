"""The owner's file-descriptor budget: how many environment processes this process can hold open.

While its process lives, each environment costs the owner ``FDS_PER_ENVIRONMENT`` descriptors: the
runtime's output pipe, its pidfd, its ``/proc/<pid>/status`` handle, its ``pids.current`` handle (where
cgroups are used), the Runtime API's listening socket and the runtime's one connection to it
(``tests/reliability/test_fd_budget.py`` counts them). At the common soft limit of 1,024 about 170
environments would exhaust the table, and then every
``socket()``, ``pipe()`` and ``accept()`` of the owner fails at once, the endpoint and Jupyter's own
sockets included. So:

* the soft ``RLIMIT_NOFILE`` is raised to the hard limit once per process (``raise_soft_limit``);
* one process-wide ``FdBudget`` (every ``Lab`` of the process shares the descriptor table) keeps a
  reserve for everything else the owner opens (the endpoint's connections, a kernel's sockets,
  files) and counts the environments' slots; the engine tells the core how many slots are free
  before it places an invocation, and the core throttles one that would start a process when none
  is (``core.limits.CAPACITY_REASON``), so an environment is never half-created.
"""

from __future__ import annotations

import logging
import os
import resource
import threading

FDS_PER_ENVIRONMENT = 6
RESERVE_MIN, RESERVE_MAX = 64, 512  # descriptors kept for the rest of the owner: a quarter of the limit, within these

_log = logging.getLogger("lambdalab")


def raise_soft_limit() -> int:
    """Raise the soft open-file limit to the hard one (never above 1,048,576); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 1 << 20, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def open_descriptors() -> int:
    """How many descriptors this process has open now."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
    except OSError:
        return 0


class FdBudget:
    """Environment slots within the process's open-file limit, shared by every Lab of the process."""

    def __init__(self, limit: int | None = None, baseline: int | None = None) -> None:
        self.limit = raise_soft_limit() if limit is None else limit
        baseline = open_descriptors() if baseline is None else baseline
        self.reserve = baseline + max(RESERVE_MIN, min(RESERVE_MAX, self.limit // 4))
        self.capacity = max(0, (self.limit - self.reserve) // FDS_PER_ENVIRONMENT)
        self.used = 0
        self._lock = threading.Lock()
        self._warned = False

    def free(self) -> int:
        """Slots free now (a racy read is fine: ``acquire`` decides)."""
        return max(0, self.capacity - self.used)

    def acquire(self) -> bool:
        with self._lock:
            if self.used >= self.capacity:
                return False
            self.used += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.used = max(0, self.used - 1)

    def warn_full(self) -> None:
        """Say once per process that the budget is spent (not once per refused invocation)."""
        if not self._warned:
            self._warned = True
            _log.warning(
                "lambdalab: %d environments hold this process's file descriptors (open-file limit %d, "
                "%d kept for the rest of the process); new environments are throttled with %s until "
                "some end. Raise the limit (ulimit -n) to run more at once.",
                self.used,
                self.limit,
                self.reserve,
                "EnvironmentCapacityExceeded",
            )


_BUDGET: FdBudget | None = None
_BUDGET_LOCK = threading.Lock()


def process_budget() -> FdBudget:
    """The budget of this process, made (and the soft limit raised) on first use."""
    global _BUDGET
    with _BUDGET_LOCK:
        if _BUDGET is None:
            _BUDGET = FdBudget()
        return _BUDGET
