"""Reaping that a handler, a dead reaper or a forked owner cannot defeat (issue 12, item 6).

Every case runs real processes; the leak check of tests/conftest.py then scans the whole machine
for this session's marker, so an escaped process fails the test that left it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import lambdalab
from lambdalab.engine import reaper as reaper_mod
from tests.conftest import gone, marked_processes, start_owner

pytestmark = pytest.mark.slow

MODES = [pytest.param(True, id="cgroups"), pytest.param(False, id="no-cgroups")]

# A handler whose child leaves the session (setsid) and whose grandchild is re-parented away
# (double fork); the grandchild counts in a file until it is stopped or killed.
ESCAPE = textwrap.dedent("""
    import os, time
    def handler(event, context):
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.setsid()
            if event.get("double") and os.fork() != 0:
                os._exit(0)
            n = 0
            while True:
                n += 1
                with open(event["path"] + ".tmp", "w") as f:
                    f.write(str(n))
                os.replace(event["path"] + ".tmp", event["path"])
                if n == 1:  # counting has begun
                    os.write(w, str(os.getpid()).encode())
                time.sleep(0.005)
        if event.get("double"):
            os.waitpid(child, 0)
        time.sleep(event.get("sleep", 0))
        return int(os.read(r, 32))
""")

SETPGID = textwrap.dedent("""
    import os, subprocess
    def handler(event, context):
        return subprocess.Popen(["sleep", "60"], process_group=0).pid
""")


def _count(path: Path) -> int:
    for _ in range(50):
        try:
            return int(path.read_text())
        except (FileNotFoundError, ValueError):
            time.sleep(0.01)
    raise AssertionError(f"no count in {path}")


def _lab(use_cgroups: bool) -> lambdalab.Lab:
    lab = lambdalab.Lab(use_cgroups=use_cgroups)
    if use_cgroups and lab.cgroups != "cgroup-v1":
        lab.close()
        pytest.skip("no writable cgroup v1 here")
    return lab


# -- 5. escaped descendants die in every mode ------------------------------------------------------
@pytest.mark.parametrize("use_cgroups", MODES)
@pytest.mark.parametrize("double", [False, True], ids=["setsid", "double-fork"])
def test_escaped_children_die_at_close(use_cgroups, double, tmp_path):
    lab = _lab(use_cgroups)
    with lab:
        fn = lab.create_function("escape", ESCAPE, timeout_s=5)
        escaped = fn.invoke({"path": str(tmp_path / "n"), "double": double}).payload
        assert isinstance(escaped, int) and psutil.pid_exists(escaped)
        runtime = {s.pid for e in lab._plane.environments.values() for s in e.sandboxes.values()}
        assert os.getsid(escaped) not in runtime  # it really left the session
        assert escaped in marked_processes(lab._plane.marker)  # the machine-wide scan sees it
    assert gone([escaped], 2.0) == []


@pytest.mark.parametrize("use_cgroups", MODES)
def test_a_setpgid_child_dies_at_close(use_cgroups):
    lab = _lab(use_cgroups)
    with lab:
        child = lab.create_function("pg", SETPGID).invoke().payload
        assert os.getpgid(child) == child
    assert gone([child], 2.0) == []


@pytest.mark.parametrize("use_cgroups", MODES)
def test_escaped_children_die_when_their_runtime_is_killed(use_cgroups, tmp_path):
    with _lab(use_cgroups) as lab:
        fn = lab.create_function("escape", ESCAPE, timeout_s=5)
        escaped = fn.invoke({"path": str(tmp_path / "n"), "double": True}).payload
        fn.kill()  # the environment's shutdown, not the Lab's
        assert gone([escaped], 2.0) == []


# -- 6. freeze stops the whole environment ---------------------------------------------------------
@pytest.mark.parametrize("use_cgroups", MODES)
def test_a_setsid_child_does_not_advance_while_its_environment_is_frozen(use_cgroups, tmp_path):
    path = tmp_path / "n"
    with _lab(use_cgroups) as lab:
        fn = lab.create_function("escape", ESCAPE, timeout_s=5)
        fn.invoke({"path": str(path)})  # returns frozen: the child must be stopped too
        time.sleep(0.05)
        first = _count(path)
        time.sleep(0.3)
        assert _count(path) == first, "the setsid child ran while its environment was frozen"
        fn.invoke({"path": str(tmp_path / "m"), "sleep": 0.3})  # a thaw continues it...
        frozen_again = _count(path)
        assert frozen_again > first, "thaw did not continue the escaped child"
        time.sleep(0.3)
        assert _count(path) == frozen_again  # ...and it is stopped again once the invoke ends


# -- 4. nothing is killed by a bare id that may have been reused -----------------------------------
def test_a_group_whose_leader_has_gone_is_not_signalled():
    """The group id is ours only while its leader is: once the leader is reaped, killpg is refused."""
    leader = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                               "print(subprocess.Popen(['sleep', '30']).pid, flush=True)"],
                              stdout=subprocess.PIPE, start_new_session=True, text=True)
    member = int(leader.stdout.readline())
    fd = os.pidfd_open(leader.pid)
    try:
        leader.wait(5)
        assert os.getpgid(member) == leader.pid  # the group lives on without its leader
        reaper_mod.killpg_if_alive(leader.pid, fd, signal.SIGKILL)
        time.sleep(0.1)
        assert psutil.Process(member).status() != psutil.STATUS_ZOMBIE
    finally:
        os.close(fd)
        os.kill(member, signal.SIGKILL)
        leader.stdout.close()


def test_cgroup_members_are_checked_after_their_pidfd_is_opened(tmp_path):
    """A pid listed in cgroup.procs that is not (or no longer) a member is never returned."""
    fake = tmp_path / "memory" / "lambdalab-x" / "e"
    fake.mkdir(parents=True)
    (fake / "cgroup.procs").write_text(f"{os.getpid()}\n")  # we are not in that group
    assert reaper_mod.cgroup_members(str(fake)) == []
    real = Path("/sys/fs/cgroup/pids") / f"lambdalab-test-{os.getpid()}"
    try:
        real.mkdir()
    except OSError:
        pytest.skip("no writable pids cgroup")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert reaper_mod.cgroup_members(str(real)) == []
        (real / "cgroup.procs").write_text(str(sleeper.pid))
        members = reaper_mod.cgroup_members(str(real))
        assert [pid for pid, _ in members] == [sleeper.pid]
        for _, fd in members:
            os.close(fd)
    finally:
        sleeper.kill()
        sleeper.wait()
        real.rmdir()


def test_leftovers_in_the_group_die_before_the_runtime_is_reaped(lab):
    fn = lab.create_function("crash", textwrap.dedent("""
        import os, subprocess
        def handler(event, context):
            child = subprocess.Popen(["sleep", "60"])
            print("child", child.pid, flush=True)
            os._exit(3)
    """))
    result = fn.invoke()
    assert result.error["errorType"] == "Runtime.ExitError"
    child = int(next(line.split()[1] for line in result.log.splitlines() if line.startswith("child ")))
    assert gone([child], 2.0) == []


# -- 1. the reaper's death is detected; the owner's death is enough --------------------------------
def test_a_killed_reaper_is_respawned_and_told_everything(lab):
    fn = lab.create_function("a", "import os\ndef handler(e, c):\n    return os.getpid()\n")
    pid = fn.invoke().payload
    old = lab._plane.reaper.pid
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while lab._plane.reaper.pid == old and time.monotonic() < deadline:
        time.sleep(0.01)
    new = lab._plane.reaper.pid
    assert new != old and psutil.Process(new).ppid() == os.getpid()
    assert lab._plane.reaper.respawns == 1
    # the new reaper holds the runtime's leader pidfd (it was sent again over SCM_RIGHTS)
    deadline = time.monotonic() + 2
    held: list[int] = []
    while not held and time.monotonic() < deadline:
        held = _pidfds_held(new)
        time.sleep(0.02)
    assert pid in held
    assert fn.invoke().payload == pid  # the platform carries on


def _pidfds_held(pid: int) -> list[int]:
    """The pids whose pidfds ``pid`` holds (an fd closed while we look is skipped)."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[pidfd]":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except FileNotFoundError:
            continue
        if "Pid:" in info:
            held.append(int(info.split("Pid:")[1].split()[0]))
    return held


def _nothing_left(info: dict, timeout: float) -> None:
    assert gone(info["pids"], timeout) == []
    deadline = time.monotonic() + timeout
    while marked_processes(info["marker"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marked_processes(info["marker"]) == []
    lab_id = info["marker"].split("/")[1]
    while time.monotonic() < deadline and (
            Path(info["workdir"]).exists() or list(Path("/sys/fs/cgroup").glob(f"*/lambdalab-{lab_id}"))):
        time.sleep(0.02)
    assert not Path(info["workdir"]).exists()
    assert list(Path("/sys/fs/cgroup").glob(f"*/lambdalab-{lab_id}")) == []


def test_a_killed_owner_takes_its_runtimes_along_even_with_its_reaper_stopped():
    """PR_SET_PDEATHSIG: the kernel kills the runtimes (busy and frozen) when the owner dies."""
    owner, info = start_owner("wait")
    reaper = info["reaper"]
    try:
        os.kill(reaper, signal.SIGSTOP)  # the reaper cannot act
        busy = [p for p in marked_processes(info["marker"]) if p not in info["pids"]]
        assert busy
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(5)
        assert gone(info["pids"] + busy, 2.0) == []
    finally:
        with_reaper = psutil.pid_exists(reaper)
        if with_reaper:
            os.kill(reaper, signal.SIGCONT)  # it sees its owner gone and sweeps the rest
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    _nothing_left(info, 3.0)


@pytest.mark.parametrize("mode", ["fork", "inherit"])
def test_a_child_of_the_owner_does_not_keep_environments_alive(mode):
    owner, info = start_owner(mode)
    try:
        owner.wait(10)
        assert psutil.pid_exists(info["forked"])  # the owner's child outlives it
        _nothing_left(info, 3.0)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if info.get("forked") and psutil.pid_exists(info["forked"]):
            os.kill(info["forked"], signal.SIGKILL)
