"""SnapStart restore: a prepared restore spare -> the restored runtime's first GET /next, against a cold start.

Figure: median over 30 restores per function of the time from ``Snapshots.restore`` (the engine hands a prepared
spare its log pipe and variables) to the restored runtime's ``GET /runtime/invocation/next`` arriving at the
Runtime API, stamped on the engine's loop (the runtime's after-restore part and its reconnection included). Functions:
"small" (an empty handler) and "1 s init" (``time.sleep(1)`` at import). Each template is lambdalab's Python
runtime started through the launcher in its own cgroups and mount namespace (``engine/snapshot.py``); every restore
waits for its spare to be ready first (the time a spare takes to get ready is given as context: the cost of a
burst). Floor: a bare ``os.fork()`` of a Python process with the runtime's modules imported (json, socket,
logging, urllib, decimal, uuid): fork -> the child writes one byte on a pipe -> the parent reads it, 30 samples
before and 30 after the restores, same interpreter. Against: the same functions' cold starts in a Lab
(``init_duration_ms``: runtime start -> first ``/next``, and create + first invoke wall), 5 each.

    python benchmarks/bench_snapstart.py [--n 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import snapshot_restore_py  # noqa: E402
from _common import PY, emit, leftover_children, median, pct  # noqa: E402

import lambdalab  # noqa: E402
from lambdalab.engine import mounts  # noqa: E402
from lambdalab.engine.limits import Limits  # noqa: E402
from lambdalab.engine.reaper import Reaper, remove_tree  # noqa: E402
from lambdalab.engine.runtimes import BOOTSTRAP  # noqa: E402
from lambdalab.engine.sandbox import Sandbox, lab_marker, marked_environment  # noqa: E402
from lambdalab.engine.snapshot import Snapshots  # noqa: E402

FUNCTIONS = {
    "small": "def handler(event, context):\n    return None\n",
    "1 s init": "import time\ntime.sleep(1)\n\ndef handler(event, context):\n    return None\n",
}
FORK_FLOOR = r"""
import json, os, socket, sys, time, logging, urllib.request, decimal, uuid
out = []
for _ in range(int(sys.argv[1])):
    r, w = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.write(w, b"x")
        os._exit(0)
    os.read(r, 1)
    out.append(time.perf_counter() - t0)
    os.waitpid(pid, 0)
    os.close(r)
    os.close(w)
print(json.dumps(out))
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def fork_floor(n: int) -> list[float]:
    done = subprocess.run([PY, "-I", "-S", "-c", FORK_FLOOR, str(n)], capture_output=True, text=True, check=True)
    return [float(x) for x in json.loads(done.stdout)]


class RuntimeAPI(asyncio.Protocol):
    """The least a template and its restored runtimes need: ``/restore/next`` answered, ``/next`` stamped and held."""

    nexts: list[tuple[float, int]] = []  # (perf_counter, peer port) of each GET /invocation/next
    waiter: asyncio.Future[None] | None = None  # resolved by the next GET /invocation/next
    snapshots = 0  # GET /restore/next seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buf = rest[length:]
            path = head.split(b" ", 2)[1]
            if path.endswith(b"/invocation/next"):
                RuntimeAPI.nexts.append((time.perf_counter(), self.transport.get_extra_info("peername")[1]))
                if RuntimeAPI.waiter is not None and not RuntimeAPI.waiter.done():
                    RuntimeAPI.waiter.set_result(None)
            else:  # /restore/next, /init/error, /restore/error
                RuntimeAPI.snapshots += path.endswith(b"/restore/next")
                status = b"200 OK" if path.endswith(b"/restore/next") else b"202 Accepted"
                self.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")  # type: ignore[attr-defined]


async def restores(n: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RuntimeAPI, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    lab_id = f"bench-snap-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-snapstart-", dir=mounts.work_base()))
    environments = workdir / "environments"
    mounts.share(workdir)
    limits, reaper = Limits(lab_id), Reaper(loop)
    snapshots = Snapshots(workdir=workdir, limits=limits, reaper=reaper, hide=str(environments))
    if not snapshots.available():
        raise SystemExit("SnapStart restores need the launcher, v1 cgroups and Linux 6.15+")
    times: dict[str, list[float]] = {}
    ready: dict[str, list[float]] = {}
    templates: list[Sandbox] = []
    try:
        for name, source in FUNCTIONS.items():
            key = (name, "1")
            task_root = workdir / "code" / name.replace(" ", "_")
            task_root.mkdir(parents=True)
            (task_root / "app.py").write_text(source)
            tmp = environments / f"template-{len(templates)}" / "tmp"
            tmp.mkdir(parents=True)
            mounts.mount_tmpfs(tmp, 512)
            groups = limits.create(tmp.parent.name, 256)
            fd, variables = snapshots.template_channel(key)
            marker = f"{lab_marker(lab_id)}{tmp.parent.name}/1/"
            env = {
                "AWS_LAMBDA_RUNTIME_API": address,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
                "LAMBDA_TASK_ROOT": str(task_root),
                "_HANDLER": "app.handler",
                "_LAMBDALAB_PATH": str(Path(snapshot_restore_py.__file__).parent),
                "PATH": "/usr/bin:/bin",
                **variables,
            }
            template = Sandbox(
                [PY, "-B", "-I", "-S", "-u", str(BOOTSTRAP)],
                cwd=task_root,
                env_vars=marked_environment(env, marker),
                on_output=lambda data: None,
                on_exit=lambda code: None,
                mounts=(str(tmp), None),
                cgroups=groups,
                shared=(str(task_root),),
                hide=str(environments),
                pass_fds=[fd],
            )
            templates.append(template)
            template.guard(reaper, groups, marker)
            snapshots.template_started(key, template, tmp, marker)
            while RuntimeAPI.snapshots < len(templates):  # its init, then /restore/next is answered
                await asyncio.sleep(0.01)
            snapshots.taken(key)
            times[name], ready[name] = [], []
            for _ in range(n + 2):
                spare = await snapshots.wait_spare(key, 128)
                await asyncio.sleep(0.02)  # spaced as cold starts are, not back to back
                seen = len(RuntimeAPI.nexts)
                exits: list[int] = []
                RuntimeAPI.waiter = loop.create_future()
                t0 = time.perf_counter()
                sandbox = snapshots.restore(
                    spare, env={"AWS_LAMBDA_RUNTIME_API": address}, on_output=lambda d: None, on_exit=exits.append
                )
                try:
                    await asyncio.wait_for(RuntimeAPI.waiter, 10)
                except TimeoutError:
                    raise SystemExit(f"no /next from a restored {name!r}") from None
                times[name].append(RuntimeAPI.nexts[seen][0] - t0)
                ready[name].append(spare.ready_at - spare.made_at)
                sandbox.guard(reaper, spare.cgroups, spare.marker)
                sandbox.kill()
                while not exits:
                    await asyncio.sleep(0.001)
                limits.remove(spare.cgroups)
                remove_tree(spare.tmp.parent)
            del times[name][:2], ready[name][:2]
    finally:
        snapshots.close()
        for template in templates:
            while template.returncode is None:
                await asyncio.sleep(0.01)
        for _ in range(300):
            for path in sorted(limits.lab_dirs()[0].glob("*/"), reverse=True) if limits.lab_dirs() else ():
                limits.remove([path, *(p / path.name for p in limits.lab_dirs()[1:])])
            limits.remove_lab()
            if not any(p.exists() for p in limits.lab_dirs()):
                break
            await asyncio.sleep(0.01)
        reaper.close()
        server.close()
        remove_tree(workdir)
    return times, ready


def cold_starts(n: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    inits: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    walls: dict[str, list[float]] = {name: [] for name in FUNCTIONS}
    with lambdalab.Lab() as lab:
        for i in range(n):
            for name, source in FUNCTIONS.items():
                t0 = time.perf_counter()
                fn = lab.create_function(f"cold{i}-{name.replace(' ', '')}", source, handler="lambda_function.handler")
                result = fn.invoke({})
                walls[name].append(time.perf_counter() - t0)
                if not result.cold or result.error:
                    raise SystemExit(f"unexpected first result: {result!r}")
                inits[name].append(result.init_duration_ms / 1000)
    return inits, walls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--cold", type=int, default=5)
    args = parser.parse_args()
    floor = fork_floor(args.n)
    times, ready = asyncio.run(restores(args.n))
    floor += fork_floor(args.n)
    inits, walls = cold_starts(args.cold) if args.cold else ({k: [float("nan")] for k in FUNCTIONS},) * 2
    leftover = leftover_children()

    f = median(floor)
    print(f"floor, os.fork() -> child writes a pipe -> parent reads (runtime's modules imported): median {ms(f)} "
          f"(p10 {ms(pct(floor, 0.1))}, p90 {ms(pct(floor, 0.9))}, n={len(floor)})")
    rows = []
    for name in FUNCTIONS:
        r = median(times[name])
        print(f"{name:9s}: restore -> first /next median {ms(r)} (p10 {ms(pct(times[name], 0.1))}, "
              f"p90 {ms(pct(times[name], 0.9))}), ratio to fork floor {r / f:.2f}; cold start init median "
              f"{ms(median(inits[name]))} ({median(inits[name]) / r:.0f}x the restore), create + first invoke "
              f"{ms(median(walls[name]))}; spare ready in {ms(median(ready[name]))}")
        rows.append({"name": f"SnapStart restore, {name}", "figure": ms(r), "floor": ms(f), "ratio": f"{r / f:.2f}",
                     "target": "≤ 2× fork floor" + (", ≤ 5 ms" if name == "small" else ""),
                     "met": r <= 2 * f and (r <= 0.005 or name != "small")})
        rows.append({"name": f"cold start init, {name}", "figure": ms(median(inits[name])), "floor": ms(r),
                     "ratio": f"{median(inits[name]) / r:.1f}", "target": "restore ≪ init", "met": None})
    context = [f"a spare gets ready (fork, cgroups, setsid, namespace, /tmp copy) in {ms(median(ready['small']))} "
               "median: a second restore within that time of the first waits for it (the burst cost)",
               "cold start figures from a Lab: init_duration_ms (runtime start -> first /next), median of "
               f"{args.cold}"]
    emit("bench_snapstart", __doc__.split("\n\n")[1].replace("\n", " "), rows, context, leftover)


if __name__ == "__main__":
    main()
