"""A spare environment: its folder, its cgroups and a launcher already inside them, waiting for a runtime.

Most of a fast runtime's cold start here is not the runtime: a process's first move into a v1 cgroup
waits for an RCU grace period (5-20 ms on an idle machine; a Go runtime itself starts in 2 ms). So
after each cold start the control plane makes one spare ahead of need (``refill``): a folder with
its ``/tmp`` tmpfs, its memory and pids groups, and the launcher (``runtimes/launch.c`` in its
``@stdin`` mode) that has joined them and its mount namespace and waits on a pipe. The next new
environment takes it (``take``): its memory limit is set, and the runtime's command goes down the
pipe, so the runtime is exec'd at once, born inside its limits, as a pre-warmed sandbox is on Lambda.

The spare is no lifecycle state: the core never sees it, records nothing of it, and an environment
made from it behaves as any other. Rules: at most one spare per Lab; it holds one slot of the
process's descriptor budget; it is only made where the launcher is built and a spare can serve
(default ``/tmp`` size); a spare that dies unused is cleaned up and made again at the next cold
start; ``close`` ends it with the Lab. ``LAMBDALAB_SPARES=0`` turns spares off.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambdalab.engine import launcher, mounts
from lambdalab.engine.fd_budget import FdBudget
from lambdalab.engine.limits import Limits
from lambdalab.engine.reaper import Reaper, remove_tree
from lambdalab.engine.sandbox import Sandbox, marked_environment

ENVIRONMENTS = "environments"  # the Lab's folder of environment folders
STORAGE_MB = 512  # the /tmp size a spare is made with: Lambda's default ephemeral storage
REFILL_DELAY_S = 0.02  # after a cold start: its runtime's start, init and first invoke come first
PLACEHOLDER_MB = 10_240  # the spare's memory limit until it is taken (the largest a function may have)


@dataclass
class Spare:
    """One waiting environment: its name (of its folder and groups), its /tmp, its groups, its launcher."""

    name: str
    tmp: Path
    cgroups: list[Path]
    sandbox: Sandbox
    marker: str
    address: str = "127.0.0.1"  # what sandbox.localdomain means inside it (``write_hosts``)


class Spares:
    """The Lab's spare environment: made after a cold start, taken by the next new environment."""

    def __init__(
        self,
        *,
        workdir: Path,
        limits: Limits,
        reaper: Reaper,
        budget: FdBudget,
        marker: str,
        shared: tuple[str, ...] = (),
    ) -> None:
        self._workdir = workdir
        self._shared = shared
        self._limits = limits
        self._reaper = reaper
        self._budget = budget
        self._marker = marker
        self._spare: Spare | None = None
        self._count = 0
        self._closed = False
        self.enabled = os.environ.get("LAMBDALAB_SPARES", "1") != "0" and launcher.path() is not None
        self.taken = 0  # how many environments started from a spare (for tests and benchmarks)

    def take(self, memory_mb: int, storage_mb: int) -> Spare | None:
        """The spare for a new environment of ``memory_mb`` with a /tmp of ``storage_mb``, or None."""
        spare = self._spare
        if spare is None or storage_mb != STORAGE_MB or spare.sandbox.returncode is not None:
            return None
        self._spare = None
        self._limits.create(spare.name, memory_mb)  # the groups exist: this sets the function's limit
        self.taken += 1
        return spare

    def refill(self) -> None:
        """Make a spare soon if there is none: a little after the cold start that took the last one is done
        with the loop and the CPU (making one costs about 1.5 ms of the loop's time and a process start)."""
        if self.enabled and self._spare is None and not self._closed:
            asyncio.get_running_loop().call_later(REFILL_DELAY_S, self._make)

    def _make(self) -> None:
        if self._spare is not None or self._closed or not self._budget.acquire():
            return
        self._count += 1
        name = f"spare-{self._count}"
        folder = self._workdir / ENVIRONMENTS / name
        tmp = folder / "tmp"
        cgroups: list[Path] = []
        try:
            tmp.mkdir(parents=True, mode=0o700)
            address = write_hosts(folder)
            mounts.mount_tmpfs(tmp, STORAGE_MB)
            cgroups = self._limits.create(name, PLACEHOLDER_MB)
            for path in cgroups:
                self._reaper.watch_cgroup(path)
            marker = f"{self._marker}{name}/0/"
            sandbox = Sandbox(
                [],
                cwd=self._workdir,
                env_vars=marked_environment({}, marker),
                on_output=_discard,
                on_exit=self._died(name),
                mounts=(str(tmp), None),
                cgroups=cgroups,
                waiting=True,
                shared=self._shared,
                hide=str(self._workdir / ENVIRONMENTS),
            )
        except Exception:  # noqa: BLE001 - no spare this time: cold starts take the ordinary path
            self._budget.release()
            self._limits.remove(cgroups)
            remove_tree(folder)
            return
        sandbox.guard(self._reaper, cgroups, marker)
        self._spare = Spare(name, tmp, cgroups, sandbox, marker, address)

    def _died(self, name: str) -> Callable[[int], None]:
        """A spare's exit before it was taken: its folder, groups and budget slot go (once taken, not called)."""

        def died(_code: int) -> None:
            spare = self._spare
            if spare is None or spare.name != name:
                return
            self._spare = None
            self._budget.release()
            self._limits.remove(spare.cgroups)
            remove_tree(spare.tmp.parent)

        return died

    @property
    def alive(self) -> bool:
        """Whether a spare process is still there (the Lab waits for it to go when it closes)."""
        return self._spare is not None

    def close(self) -> None:
        """End the spare with the Lab (its exit cleans up)."""
        self._closed = True
        if self._spare is not None:
            self._spare.sandbox.kill()


HOSTS = "hosts"  # an environment folder's /etc/hosts, bound there by the launcher (runtimes/launch.c)
SANDBOX_NAMES = "sandbox.localdomain sandbox"


def loopback_address(folder: Path) -> str:
    """An environment's own loopback address (all of 127.0.0.0/8 is loopback on Linux), from its folder's path:
    two environments' extensions can then both listen on ``sandbox.localdomain:4243``."""
    digest = hashlib.sha256(os.fsencode(folder)).digest()
    return f"127.{64 + digest[0] % 128}.{digest[1]}.{1 + digest[2] % 254}"


def write_hosts(folder: Path) -> str:
    """The environment's ``/etc/hosts`` (the machine's, and ``sandbox.localdomain`` on its own loopback address)
    in its folder, where the launcher binds it; the address."""
    address = loopback_address(folder)
    try:
        with open("/etc/hosts", encoding="utf-8", errors="replace") as f:
            machine = f.read()
    except OSError:
        machine = "127.0.0.1\tlocalhost\n"
    if not machine.endswith("\n"):
        machine += "\n"
    (folder / HOSTS).write_text(f"{machine}{address}\t{SANDBOX_NAMES}\n", encoding="utf-8")
    return address


def _discard(_data: bytes) -> None:
    """A waiting launcher writes only if it fails (its exit says so); nothing to keep."""
