"""The reaper: a tiny watchdog process that ends a Lab's environments when its owner dies.

The owner (the Python process holding the ``Lab``: a script, pytest, a Jupyter kernel) tells the
reaper, over a pipe, each process group, cgroup and directory it creates. When the pipe reaches
EOF (``Lab.close()``, a normal exit, or the owner being SIGKILLed) the reaper SIGKILLs every group
and cgroup member, removes the cgroups and directories, and exits. It runs in its own session, so
killing the owner's process group does not kill it, and it imports almost nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROGRAM = r"""
import os, signal, sys, shutil, time
groups, cgroups, dirs = set(), [], []
for line in sys.stdin:
    kind, _, arg = line.rstrip("\n").partition(" ")
    if kind == "g": groups.add(int(arg))
    elif kind == "u": groups.discard(int(arg))
    elif kind == "c": cgroups.append(arg)
    elif kind == "d": dirs.append(arg)
def sweep():
    for g in groups:
        try: os.killpg(g, signal.SIGKILL)
        except OSError: pass
    for c in cgroups:
        try:
            for pid in open(os.path.join(c, "cgroup.procs")).read().split():
                try: os.kill(int(pid), signal.SIGKILL)
                except OSError: pass
        except OSError: pass
sweep()
for _ in range(50):
    left = []
    for c in reversed(cgroups):
        try: os.rmdir(c)
        except FileNotFoundError: pass
        except OSError: left.append(c)
    if not left: break
    time.sleep(0.02); sweep()
for d in dirs: shutil.rmtree(d, ignore_errors=True)
"""


class Reaper:
    """Owner-side handle: register what must not outlive the owner."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _PROGRAM], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            close_fds=True, text=True, bufsize=1,
        )
        self.pid = self._proc.pid

    def _say(self, line: str) -> None:
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.write(line + "\n")
            except (BrokenPipeError, ValueError):
                pass

    def watch_group(self, pgid: int) -> None:
        self._say(f"g {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._say(f"u {pgid}")

    def watch_cgroup(self, path: Path) -> None:
        self._say(f"c {path}")

    def watch_dir(self, path: Path) -> None:
        self._say(f"d {path}")

    def close(self, timeout: float = 5.0) -> None:
        """Let the reaper sweep everything it was told about, and wait for it."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
