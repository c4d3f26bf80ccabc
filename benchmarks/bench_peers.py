"""lambdalab side by side with the local Lambda tools people use instead: serverless-offline and python-lambda-local.

The same Python handlers go through each tool: a trivial one (``return {}``), one whose module
sleeps 300 ms at import (the init), and a probe (a module-level counter, the pid, and its own RSS/USS from
``/proc/self/smaps_rollup``). lambdalab (``lab.serve()`` + the function URL) and serverless 3 +
serverless-offline 13 (``serverless offline start``: the Invoke API on its lambdaPort, an
``httpApi`` route on its httpPort; the handlers under this interpreter through ``VIRTUAL_ENV``)
each run as a server in a child process, started the same way. Cold start: spawn to the ports
accepting, then the first invoke of the trivial and of the 300 ms-init function by HTTP (3 restarts
each, alternating). Warm, in interleaved blocks (lambdalab, serverless-offline, lambdalab...):
p50/p99 on one raw HTTP/1.1 keep-alive connection (Invoke API, 2 s), by boto3 (sequential
``invoke``, 2 s), and invokes/s with 8 raw keep-alive connections, 5 s each, on the Invoke API and on
the HTTP route (function URL vs ``httpApi``); the clients are child processes (bench_endpoint's
raw client). Memory per environment: USS/RSS of each worker process (lambdalab's runtimes,
serverless-offline's Python workers) after the 8-connection runs, and what the probe reports from
inside. python-lambda-local has no server: its CLI (one process per invoke) gives its cold start,
its ``lambda_local.main.call`` API (a forked process per invoke) its warm latency and its
throughput (8 threads, 5 s). Fidelity: Init Duration and Max Memory Used in the invoke's log
(``X-Amz-Log-Type: Tail``), module state kept between two invokes, distinct environments for 4
concurrent 300 ms invokes. Ratios are peer ÷ lambdalab.

Installs nothing: run ``bash benchmarks/install_peers.sh`` first (``make bench-peers`` does both); the
peers live in ``benchmarks/.peers/`` or ``$LAMBDALAB_PEERS_DIR``. Not in run_all's default list.

    python benchmarks/bench_peers.py [--blocks 2] [--write]

Why one module past 500 lines: about 150 of them are the text of what runs elsewhere (three handlers,
serverless.yml, the lambdalab server, the boto3 client, the python-lambda-local driver), kept
beside the code that starts them so one file shows the whole comparison.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import datetime
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psutil  # noqa: E402

from _common import PY, emit, leftover_children, write_section  # noqa: E402
from bench_endpoint import boto3_client, raw  # noqa: E402

MiB = 1024 * 1024
NAMES = ("noop", "slow", "probe")
SOURCES = {
    "noop": "def handler(event, context):\n    return {}\n",
    "slow": "import time\n\ntime.sleep(0.3)\n\n\ndef handler(event, context):\n    return {}\n",
    "probe": '''import os
import time

COUNT = 0


def _memory():
    rss = uss = 0
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0]) * 1024
            elif key in ("Private_Clean", "Private_Dirty"):
                uss += int(value.split()[0]) * 1024
    return rss, uss


def handler(event, context):
    global COUNT
    COUNT += 1
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(event["sleep"])
    rss, uss = _memory()
    return {"count": COUNT, "pid": os.getpid(), "rss": rss, "uss": uss}
''',
}

# ----------------------------------------------------------------------------------------------- servers
_LAB_SERVER = r"""
import json, signal, sys, threading
import lambdalab
folder = sys.argv[1]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with lambdalab.Lab() as lab:
    for name in ("noop", "slow", "probe"):
        lab.create_function(name, open(f"{folder}/{name}.py").read())
    url = lab.serve()
    furl = lab.function("noop").url()
    print(json.dumps({"url": url, "furl": furl}), flush=True)
    stop.wait()
"""

_SERVERLESS_YML = """service: peers
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: us-east-1
  stage: dev
plugins:
  - serverless-offline
custom:
  serverless-offline:
    noPrependStageInUrl: true
functions:
  noop:
    name: noop
    handler: noop.handler
    events:
      - httpApi: {method: POST, path: /noop}
  slow:
    name: slow
    handler: slow.handler
  probe:
    name: probe
    handler: probe.handler
"""

_PLL_DRIVER = r"""
import concurrent.futures, json, logging, sys, threading, time
from lambda_local.context import Context
from lambda_local.main import call, load_source
folder, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
logging.disable(logging.CRITICAL)  # its per-invoke log lines would go to our stdout
def fn(name):
    return load_source("bench", f"{folder}/{name}.py", "handler")
result = {}
if mode == "warm":
    noop = fn("noop")
    lat = []
    for i in range(int(sys.argv[4]) + 20):
        t0 = time.perf_counter(); call(noop, {}, Context(3)); t = time.perf_counter() - t0
        if i >= 20: lat.append(t)
    lat.sort()
    result = {"p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)], "n": len(lat)}
elif mode == "rate":
    noop, seconds = fn("noop"), float(sys.argv[4])
    count, lock, stop_at = [0], threading.Lock(), time.perf_counter() + seconds
    def loop():
        while time.perf_counter() < stop_at:
            call(noop, {}, Context(3))
            with lock: count[0] += 1
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(loop) for _ in range(8)]: f.result()
    result = {"rate": count[0] / (time.perf_counter() - t0), "n": count[0]}
elif mode == "probe":
    probe = fn("probe")
    first, _ = call(probe, {}, Context(3))
    second, _ = call(probe, {}, Context(3))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        pids = {r[0]["pid"] for r in pool.map(lambda _: call(probe, {"sleep": 0.3}, Context(3)), range(4))}
    result = {"first": first, "second": second, "pids": len(pids)}
json.dump(result, open(out, "w"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"port {port} not accepting") from None
            time.sleep(0.005)


class Server:
    """One tool's server in a child process (its own session), with its Invoke API and HTTP route."""

    proc: subprocess.Popen[Any]

    def __init__(self, kind: str, folder: Path, peers: Path) -> None:
        self.kind = kind
        self.log = tempfile.TemporaryFile()
        t0 = time.perf_counter()
        if kind == "lambdalab":
            self.proc = subprocess.Popen([PY, "-c", _LAB_SERVER, str(folder)], stdout=subprocess.PIPE,
                                         stderr=self.log, start_new_session=True, text=True)
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise SystemExit(f"lambdalab server failed: {self.output()[-2000:]}")
            urls = json.loads(line)
            self.invoke_port = int(urls["url"].rsplit(":", 1)[1])
            self.route_port = int(urls["furl"].rstrip("/").rsplit(":", 1)[1])
            self.route_path = "/"
        else:
            self.invoke_port, self.route_port = free_port(), free_port()
            self.route_path = "/noop"
            env = {**os.environ, "VIRTUAL_ENV": str(Path(PY).parent.parent), "SLS_TELEMETRY_DISABLED": "1",
                   "SLS_NOTIFICATIONS_MODE": "off", "SLS_DEPRECATION_DISABLE": "*", "AWS_ACCESS_KEY_ID": "bench",
                   "AWS_SECRET_ACCESS_KEY": "bench"}
            self.proc = subprocess.Popen(
                [str(peers / "node_modules" / ".bin" / "serverless"), "offline", "start", "--noTimeout",
                 "--httpPort", str(self.route_port), "--lambdaPort", str(self.invoke_port),
                 "--websocketPort", str(free_port()), "--albPort", str(free_port())],
                cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                wait_port(self.invoke_port, deadline)
                wait_port(self.route_port, deadline)
            except TimeoutError:
                self.stop()
                raise SystemExit(f"serverless-offline did not start: {self.output()[-3000:]}") from None
        self.ready_s = time.perf_counter() - t0

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def invoke(self, name: str, event: Any = None, tail: bool = False) -> tuple[float, Any, str]:
        """One Invoke API call on a new connection: (seconds, payload, decoded log tail or '')."""
        body = json.dumps(event or {}).encode()
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.invoke_port, timeout=30)
        try:
            conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body,
                         {"X-Amz-Log-Type": "Tail"} if tail else {})
            response = conn.getresponse()
            data = response.read()
            log = response.getheader("X-Amz-Log-Result") or ""
        finally:
            conn.close()
        elapsed = time.perf_counter() - t0
        if response.status != 200:
            raise SystemExit(f"{self.kind}: invoke {name} -> {response.status} {data[:300]!r}")
        return elapsed, json.loads(data or b"null"), base64.b64decode(log).decode(errors="replace") if log else ""

    def workers(self) -> list[psutil.Process]:
        """The processes that run handlers (lambdalab's runtimes, serverless-offline's invoke.py)."""
        mark = "python_bootstrap.py" if self.kind == "lambdalab" else "invoke.py"
        out = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                argv = child.cmdline()
                # serverless-offline starts each worker through `/bin/sh -c`: count the Python process only
                if argv and not argv[0].endswith("sh") and any(mark in part for part in argv):
                    out.append(child)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of the group that outlived the server
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


# ----------------------------------------------------------------------------------------------- clients


def pll(folder: Path, peers: Path, mode: str, *args: object) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "PYTHONPATH": str(peers / "py")}
        proc = subprocess.run([PY, "-c", _PLL_DRIVER, str(folder), mode, out.name, *map(str, args)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=180, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"python-lambda-local {mode} failed: {proc.stderr[-2000:]}")
        return json.loads(Path(out.name).read_text())


def pll_cli(folder: Path, peers: Path, name: str) -> float:
    """Wall time of one ``python -m lambda_local`` run (a new process: import, init, invoke, exit)."""
    event = folder / "event.json"
    env = {**os.environ, "PYTHONPATH": str(peers / "py")}
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "lambda_local", "-f", "handler", "-t", "3", str(folder / f"{name}.py"), str(event)],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------- phases
def cold(kind: str, folder: Path, peers: Path) -> dict:
    server = Server(kind, folder, peers)
    try:
        noop_s, _, _ = server.invoke("noop")
        slow_s, _, _ = server.invoke("slow")
        return {"ready": server.ready_s, "noop": noop_s, "slow": slow_s}
    finally:
        server.stop()


def fidelity(server: Server) -> dict:
    _, first, log = server.invoke("probe", tail=True)
    _, second, _ = server.invoke("probe")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: server.invoke("probe", {"sleep": 0.3})[1], range(4)))
    return {"state_kept": second["count"] == first["count"] + 1, "pids": len({a["pid"] for a in answers}),
            "log": log, "tail": log, "inside_rss": first["rss"], "inside_uss": first["uss"]}


def block(server: Server, seconds: dict) -> dict:
    raw1 = raw(server.invoke_port, 1, seconds["latency"])
    boto = boto3_client(f"http://127.0.0.1:{server.invoke_port}", seconds["latency"])
    raw8 = raw(server.invoke_port, 8, seconds["rate"])
    route8 = raw(server.route_port, 8, seconds["rate"], server.route_path)
    return {"raw_p50": raw1["p50"], "raw_p99": raw1["p99"], "boto_p50": boto["p50"], "boto_p99": boto["p99"],
            "rate": raw8["rate"], "route_rate": route8["rate"]}


def memory(server: Server) -> dict:
    uss, rss = [], []
    for p in server.workers():
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()
            uss.append(info.uss)
            rss.append(info.rss)
    main = psutil.Process(server.proc.pid)
    procs = [main, *main.children(recursive=True)]
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().uss
    return {"workers": len(uss), "uss": statistics.mean(uss) if uss else float("nan"),
            "rss": statistics.mean(rss) if rss else float("nan"), "total_uss": total}


# ----------------------------------------------------------------------------------------------- runs
def measure(folder: Path, peers: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure: cold starts (alternating restarts), then both servers up for the interleaved warm blocks."""
    colds: dict[str, list[dict]] = {"lambdalab": [], "sls": []}
    pll_cold: dict[str, list[float]] = {"noop": [], "slow": []}
    for _ in range(args.cold_samples):
        for kind in colds:
            colds[kind].append(cold(kind, folder, peers))
        for name in pll_cold:
            pll_cold[name].append(pll_cli(folder, peers, name))
    cold_med = {kind: {k: statistics.median(c[k] for c in samples) for k in ("ready", "noop", "slow")}
                for kind, samples in colds.items()}
    cold_med["pll"] = {name: statistics.median(values) for name, values in pll_cold.items()}
    print("cold starts done", flush=True)

    servers = {"lambdalab": Server("lambdalab", folder, peers), "sls": Server("sls", folder, peers)}
    try:
        fid = {kind: fidelity(server) for kind, server in servers.items()}
        fid["pll"] = pll(folder, peers, "probe")
        seconds = {"rate": args.rate_seconds, "latency": args.latency_seconds}
        blocks: dict[str, list[dict]] = {"lambdalab": [], "sls": [], "pll": []}
        for b in range(args.blocks):
            for kind, server in servers.items():
                blocks[kind].append(block(server, seconds))
                print(f"block {b + 1}/{args.blocks} {kind}: {blocks[kind][-1]}", flush=True)
            warm = pll(folder, peers, "warm", 300)
            rate = pll(folder, peers, "rate", args.rate_seconds)
            blocks["pll"].append({"raw_p50": warm["p50"], "raw_p99": warm["p99"], "rate": rate["rate"]})
        mem = {kind: memory(server) for kind, server in servers.items()}
        fid["sls"]["log"] += servers["sls"].output()  # its console: where a REPORT line would be
    finally:
        for server in servers.values():
            server.stop()
    warm_med = {kind: {k: statistics.median(b[k] for b in rows) for k in rows[0]} for kind, rows in blocks.items()}
    return {"cold": cold_med, "warm": warm_med, "fidelity": fid, "memory": mem}


# ----------------------------------------------------------------------------------------------- report
Row = tuple[str, float, "float | None", "float | None", str]  # metric, lambdalab, sls, pll, unit

TARGETS = {"throughput, 8 raw keep-alive connections, Invoke API": ("≥ 1.5× serverless-offline", 1.5),
           "throughput, 8 raw keep-alive connections, HTTP route (function URL / httpApi)":
               ("≥ 1.5× serverless-offline", 1.5),
           "warm p50, one raw keep-alive connection (Invoke API)": ("≤ serverless-offline", 1.0)}


def figures(m: dict[str, Any]) -> list[Row]:
    warm, cold_, mem, fid = m["warm"], m["cold"], m["memory"], m["fidelity"]

    def w(key: str, pll_too: bool = True) -> tuple[float, float, float | None]:
        return warm["lambdalab"][key], warm["sls"][key], warm["pll"][key] if pll_too else None

    return [
        ("warm p50, one raw keep-alive connection (Invoke API)", *w("raw_p50"), "s"),
        ("warm p99, one raw keep-alive connection (Invoke API)", *w("raw_p99"), "s"),
        ("warm p50, boto3 invoke", *w("boto_p50", False), "s"),
        ("warm p99, boto3 invoke", *w("boto_p99", False), "s"),
        ("throughput, 8 raw keep-alive connections, Invoke API", *w("rate"), "/s"),
        ("throughput, 8 raw keep-alive connections, HTTP route (function URL / httpApi)", *w("route_rate", False),
         "/s"),
        ("server ready (spawn to ports accepting)", cold_["lambdalab"]["ready"], cold_["sls"]["ready"], None, "s"),
        ("cold start, first invoke after start (trivial handler)", cold_["lambdalab"]["noop"], cold_["sls"]["noop"],
         cold_["pll"]["noop"], "s"),
        ("cold start, first invoke after start (300 ms init)", cold_["lambdalab"]["slow"], cold_["sls"]["slow"],
         cold_["pll"]["slow"], "s"),
        ("memory per environment, worker USS (mean)", mem["lambdalab"]["uss"], mem["sls"]["uss"], None, "B"),
        ("memory per environment, worker RSS (mean)", mem["lambdalab"]["rss"], mem["sls"]["rss"], None, "B"),
        ("memory per environment, USS seen by the handler", fid["lambdalab"]["inside_uss"], fid["sls"]["inside_uss"],
         fid["pll"]["first"]["uss"], "B"),
        ("whole server USS after the 8-connection runs (all its processes)", mem["lambdalab"]["total_uss"],
         mem["sls"]["total_uss"], None, "B"),
    ]


def fidelity_table(fid: dict[str, Any]) -> list[str]:
    lab, sls, pll_ = fid["lambdalab"], fid["sls"], fid["pll"]
    yes = {True: "yes", False: "no"}
    rows = [
        ("Init Duration in the REPORT line", yes["Init Duration" in lab["log"]], yes["Init Duration" in sls["log"]],
         "no (its REPORT line has Duration only)"),
        ("Max Memory Used in the REPORT line", yes["Max Memory Used" in lab["log"]],
         yes["Max Memory Used" in sls["log"]], "no"),
        ("log tail (X-Amz-Log-Type: Tail → X-Amz-Log-Result)", yes[bool(lab["tail"])], yes[bool(sls["tail"])],
         "n/a (no server)"),
        ("module state kept between invokes", yes[lab["state_kept"]], yes[sls["state_kept"]],
         yes[pll_["second"]["count"] == pll_["first"]["count"] + 1] + " (a fork per invoke)"),
        ("distinct environments for 4 concurrent invokes", f"{lab['pids']} of 4", f"{sls['pids']} of 4",
         f"{pll_['pids']} of 4 (a fork each, none reused)"),
    ]
    return ["| fidelity | lambdalab | serverless-offline | python-lambda-local |", "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)]


def show(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1e3:,.2f} ms" if value < 0.01 else f"{value * 1e3:,.1f} ms"
    return f"{value:,.0f}/s" if unit == "/s" else f"{value / MiB:.2f} MiB"


def ratio(peer: float | None, lab: float) -> str:
    return "—" if peer is None or lab == 0 else f"{peer / lab:.2f}"


def figures_table(table: list[Row], versions: dict[str, str]) -> list[str]:
    lines = [f"| metric | lambdalab | serverless-offline {versions['serverless-offline']} | peer ÷ lambdalab | "
             f"python-lambda-local {versions['python-lambda-local']} (no server: see below) | peer ÷ lambdalab |",
             "|---|---|---|---|---|---|"]
    for metric, lab_v, sls_v, pll_v, unit in table:
        lines.append(f"| {metric} | {show(lab_v, unit)} | {show(sls_v, unit)} | {ratio(sls_v, lab_v)} | "
                     f"{show(pll_v, unit)} | {ratio(pll_v, lab_v)} |")
    return lines


def result_rows(table: list[Row]) -> list[dict[str, Any]]:
    """The rows of the RESULT line: figure = lambdalab, floor = the peers, ratio = peer ÷ lambdalab."""
    rows = []
    for metric, lab_v, sls_v, pll_v, unit in table:
        target, met = "—", None
        if metric in TARGETS and sls_v:
            target, factor = TARGETS[metric]
            met = lab_v >= factor * sls_v if unit == "/s" else lab_v <= factor * sls_v
        rows.append({"name": f"peers: {metric}", "figure": show(lab_v, unit),
                     "floor": f"serverless-offline {show(sls_v, unit)}; python-lambda-local {show(pll_v, unit)}",
                     "ratio": f"{ratio(sls_v, lab_v)} / {ratio(pll_v, lab_v)} (peer ÷ lambdalab)", "target": target,
                     "met": met})
    return rows


def peer_versions(peers: Path) -> dict[str, str]:
    if not (peers / "node_modules" / ".bin" / "serverless").exists() or not (peers / "py" / "lambda_local").exists():
        raise SystemExit(f"the peers are not installed in {peers}: run `bash benchmarks/install_peers.sh` "
                         "(or `make bench-peers`)")
    versions = {name: json.loads((peers / "node_modules" / name / "package.json").read_text())["version"]
                for name in ("serverless", "serverless-offline")}
    versions["python-lambda-local"] = next((p.name.removesuffix(".dist-info").split("-")[-1]
                                            for p in (peers / "py").glob("python_lambda_local-*.dist-info")), "?")
    versions["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True,
                                      check=False).stdout.strip()
    return versions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=2, help="interleaved warm blocks per server")
    parser.add_argument("--rate-seconds", type=float, default=5.0)
    parser.add_argument("--latency-seconds", type=float, default=2.0)
    parser.add_argument("--cold-samples", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="replace the '## Peers' section of RESULTS.md")
    args = parser.parse_args()
    peers = Path(os.environ.get("LAMBDALAB_PEERS_DIR", HERE / ".peers")).resolve()
    versions = peer_versions(peers)
    started, load = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        folder = Path(tmp)
        for name, source in SOURCES.items():
            (folder / f"{name}.py").write_text(source)
        (folder / "event.json").write_text("{}")
        (folder / "serverless.yml").write_text(_SERVERLESS_YML)
        (folder / "node_modules").symlink_to(peers / "node_modules")
        m = measure(folder, peers, args)
    leftover = leftover_children()

    table = figures(m)
    lines = [*figures_table(table, versions), "", *fidelity_table(m["fidelity"])]
    notes = [
        "peer ÷ lambdalab: above 1 the peer takes longer or uses more memory (lambdalab ahead); for throughput, "
        "above 1 the peer serves more per second (the peer ahead).",
        "python-lambda-local has no HTTP server: its warm figures are `lambda_local.main.call` in-process (a forked "
        "process per invoke), its throughput 8 threads calling it, its cold start one `python -m lambda_local` "
        "process (import, init, invoke, exit) per invoke.",
        f"workers measured after the runs: lambdalab {m['memory']['lambdalab']['workers']}, serverless-offline "
        f"{m['memory']['sls']['workers']} (Python processes running the handlers).",
        f"cold starts: median of {args.cold_samples} restarts each; warm figures: median of {args.blocks} "
        "interleaved blocks.",
        f"serverless {versions['serverless']} + serverless-offline {versions['serverless-offline']} on Node "
        f"{versions['node']}; python-lambda-local {versions['python-lambda-local']}; handlers under "
        f"{platform.python_implementation()} {platform.python_version()} in all three.",
    ]
    print("\n".join(lines))
    for note in notes:
        print("- " + note)
    method = __doc__.split("\n\n")[1].replace("\n", " ")
    if args.write:
        command = " ".join(["python benchmarks/bench_peers.py", *sys.argv[1:]])
        write_section(HERE / "RESULTS.md", "Peers", [
            "## Peers", "", f"From `{command}` ({started:%Y-%m-%d %H:%M} UTC, nproc={os.cpu_count()}, 1-min load "
            f"average at start {load:.2f}). {method}", "", *lines, "", *("- " + n for n in notes),
            f"- Children left: {leftover}.", ""])
        print(f"wrote the Peers section of {HERE / 'RESULTS.md'}")
    emit("bench_peers", method, result_rows(table), notes, leftover)


if __name__ == "__main__":
    main()
