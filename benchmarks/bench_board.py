"""The environment board: 200 environments changing state 2,000 times a second, live in JupyterLab.

Standalone (not in run_all.py's registry: it needs Chromium and JupyterLab):

    /work/main/.venv/bin/python benchmarks/bench_board.py [--write] [--seconds 10] [--refresh S]
        [--no-browser] [--no-load] [--no-listing]

Four measurements:

- browser: a real JupyterLab (``tests/browser/harness.py``) runs a notebook whose kernel shows
  ``lambdalab.jupyter.board.Board`` over ``Synthetic`` (below: 200 environments whose states change 2,000
  times a second, with ~1 % of the changes ending an environment and starting a new one), started as
  ``%lambda board`` starts it (the default ``refresh_s``). In headless Debian Chromium (Playwright) it counts,
  over ``--seconds``, the animation frames in which the board changed tiles (the board's ``data-frames``),
  every animation frame the page drew (the most the board could get), long tasks, and the bytes of the
  kernel's websocket frames that carry the board's deltas (what is sent to the front-end). Target: >= 10
  frames/s.
- browser, real load: the same in a second notebook whose kernel runs a real Lab under ``lambdalab.load``
  (50 requests/s of a 100 ms handler: 5 busy at once when warm, more during the first cold starts) with the
  board on its function.
- kernel: the same ``Synthetic`` in this process; the median time of one snapshot's diff
  (``Board.apply``: listing -> delta) and the delta's JSON size, per tick.
- listing: ``Function.environments()`` on a real Lab with 200 environments (200 concurrent cold starts,
  then frozen), median of 200 calls; floor: ``Function.statistics()``, the other cheap poll, which
  makes the same hop to the engine's loop and counts without listing.

Prints a table; ``--write`` puts it in ``benchmarks/RESULTS.md`` under "## Board" (replacing an earlier
one; run_all.py keeps that section). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import write_section  # noqa: E402 - benchmarks/ is this script's folder

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from lambdalab.results import EnvironmentInfo  # noqa: E402

TARGET_FPS = 10.0
ENVIRONMENTS = 200
CHANGES_PER_S = 2000
# what each environment does next: init -> invoke -> frozen -> invoke -> frozen ...
STEPS = {
    "init": ("invoke", "invoking", False),
    "invoke": ("frozen", "idle", True),
    "frozen": ("invoke", "invoking", False),
}


class Synthetic:
    """A stand-in for a ``Function``: ``environments()`` lists ``n`` environments that change state ``rate``
    times a second in all (the changes due since the last call are applied when it is called); about 1 %
    of the changes of a frozen environment end it, and a new one starts initialising in its place."""

    def __init__(self, n: int = ENVIRONMENTS, rate: float = CHANGES_PER_S, seed: int = 1) -> None:
        self.name = "synthetic"
        self.rate = rate
        self.random = random.Random(seed)
        self.changes = 0
        self._made = 0
        self._owed = 0.0
        self._last = time.monotonic()
        self.envs: list[list[Any]] = [self._new(self._last) for _ in range(n)]

    def _new(self, now: float) -> list[Any]:
        self._made += 1
        # [id, phase, state, frozen, request id, since, born, invocations]
        return [f"{self._made:08x}{self.random.getrandbits(96):024x}", "init", "initializing", False, None, now, now, 0]

    def environments(self) -> list[EnvironmentInfo]:
        now = time.monotonic()
        self._owed += (now - self._last) * self.rate
        self._last = now
        due, self._owed = int(self._owed), self._owed - int(self._owed)
        envs, rnd = self.envs, self.random
        for _ in range(due):
            i = rnd.randrange(len(envs))
            env = envs[i]
            if env[1] == "frozen" and rnd.random() < 0.01:
                envs[i] = self._new(now)
                continue
            phase, state, frozen = STEPS[env[1]]
            env[1], env[2], env[3], env[5] = phase, state, frozen, now
            if phase == "invoke":
                env[4] = f"{rnd.getrandbits(128):032x}"
                env[4] = f"{env[4][:8]}-{env[4][8:12]}-{env[4][12:16]}-{env[4][16:20]}-{env[4][20:]}"
            else:
                env[4] = None
                env[7] += env[1] == "frozen"
        self.changes += due
        return [
            EnvironmentInfo(e[0], "$LATEST", e[2], e[3], False, e[7], e[1], e[4], now - e[5], now - e[6]) for e in envs
        ]


# ------------------------------------------------------------------------------------------ kernel side
def kernel_side(seconds: float = 3.0, refresh_s: float = 0.08) -> dict[str, float]:
    """Board.apply over Synthetic at the live rate, in this process: median ms per tick and delta bytes."""
    from lambdalab.jupyter.board import Board

    source = Synthetic()
    board = Board(source, refresh_s=refresh_s)
    sizes: list[int] = []
    durations: list[float] = []
    end = time.monotonic() + seconds
    board.refresh()
    while time.monotonic() < end:
        time.sleep(refresh_s)
        infos = source.environments()
        t0 = time.perf_counter()
        board.apply(infos)  # the diff alone, without the listing
        durations.append(time.perf_counter() - t0)
        sizes.append(len(json.dumps(board.delta, separators=(",", ":"))))
    t0 = time.perf_counter()
    for _ in range(20):
        source.environments()
    listing = (time.perf_counter() - t0) / 20
    board.close()
    return {
        "diff_ms": statistics.median(durations) * 1000,
        "diff_p95_ms": sorted(durations)[int(0.95 * (len(durations) - 1))] * 1000,
        "delta_bytes": statistics.median(sizes),
        "synthetic_listing_ms": listing * 1000,
        "ticks": len(durations),
    }


# ------------------------------------------------------------------------------------------ listing cost
def listing_cost(n: int = ENVIRONMENTS, calls: int = 200) -> dict[str, float]:
    """Function.environments() with n real environments (all frozen after one concurrent burst)."""
    import lambdalab

    with lambdalab.Lab() as lab:
        fn = lab.create_function(
            "board", source="import time\ndef handler(event, context):\n    time.sleep(event['s'])\n    return 1\n"
        )
        t0 = time.monotonic()
        futures = [fn.submit({"s": 1.0}) for _ in range(n)]
        for future in futures:
            future.result(timeout=300)
        made = time.monotonic() - t0
        count = len(fn.environments())

        def timed(call: Any) -> float:
            for _ in range(10):
                call()
            samples = []
            for _ in range(calls):
                t = time.perf_counter()
                call()
                samples.append(time.perf_counter() - t)
            return statistics.median(samples)

        environments = timed(fn.environments)
        stats = timed(fn.statistics)
    return {"environments": count, "listing_ms": environments * 1000, "statistics_ms": stats * 1000, "made_s": made}


# ------------------------------------------------------------------------------------------ browser
SYNTHETIC_CELLS = [
    "import sys\nsys.path.insert(0, {bench!r})\n"
    "from bench_board import Synthetic\nfrom lambdalab.jupyter.board import board",
    "source = Synthetic()\nb = board(source{refresh})\nb",
]
# a real Lab under load: LOAD_RATE requests/s, each sleeping LOAD_SLEEP_S (5 busy at once, more while cold)
LOAD_RATE, LOAD_SLEEP_S = 50, 0.1
LOAD_CELLS = [
    "import lambdalab, lambdalab.load as load\nfrom lambdalab.jupyter.board import board\nlab = lambdalab.Lab()\n"
    "fn = lab.create_function('busy', source='import time\\ndef handler(event, context):\\n    time.sleep(event)\\n')",
    "b = board(fn{refresh})\nb",
    "run = load.start(fn, load.Constant({rate}), duration_s={duration}, event={sleep})",
]
BOARD_JS = """() => { const b = document.querySelector('.lambdalab-board');
    return b ? [+b.dataset.tiles, +b.dataset.frames] : [0, 0]; }"""
# every animation frame the page draws, and long tasks, counted from now on
PAGE_COUNTERS_JS = """() => {
    window.__lambdalab = {frames: 0, long: 0, longMs: 0};
    const tick = () => { window.__lambdalab.frames++; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    try {
        new PerformanceObserver((list) => { for (const e of list.getEntries()) { window.__lambdalab.long++;
            window.__lambdalab.longMs += e.duration; } }).observe({type: 'longtask', buffered: false});
    } catch (e) {}
    return true;
}"""
SNAPSHOT_JS = """() => { const b = document.querySelector('.lambdalab-board');
    const tiles = [...document.querySelectorAll('.lambdalab-board .lambdalab-tile')];
    const colours = new Set(tiles.map(t => getComputedStyle(t).backgroundColor));
    return {t: performance.now(), frames: +b.dataset.frames, tiles: tiles.length,
            states: [...new Set(tiles.map(t => t.dataset.state))].sort(), colours: colours.size,
            all: window.__lambdalab.frames, long: window.__lambdalab.long, longMs: window.__lambdalab.longMs,
            invoking: tiles.filter(t => t.dataset.state === 'invoke' && /request [0-9a-f-]{36}/.test(t.title)
                                        && /age /.test(t.title)).length}; }"""


class Wire:
    """Counts the bytes of the kernel's websocket frames to the page: all, and those carrying board deltas."""

    def __init__(self) -> None:
        self.bytes = self.frames = self.all_bytes = 0

    def on_frame(self, payload: Any) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.all_bytes += len(data)
        if b'"delta"' in data and b'"seq"' in data:
            self.bytes += len(data)
            self.frames += 1

    def read(self) -> tuple[int, int, int]:
        return self.bytes, self.frames, self.all_bytes


def notebook(root: Path, name: str, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)


def measure(page: Any, wire: Wire, seconds: float, min_tiles: int) -> dict[str, Any]:
    """Run the open notebook, wait for ``min_tiles`` tiles, then count over ``seconds`` (after 2 s of warm-up)."""
    sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
    import harness

    errors = harness.run_all_cells(page, timeout_s=120)
    if errors:
        raise RuntimeError(f"the notebook failed: {errors}")
    page.wait_for_function(f"() => ({BOARD_JS})()[0] >= {min_tiles}", timeout=60_000)
    page.evaluate(PAGE_COUNTERS_JS)
    time.sleep(2.0)  # warm up
    before, (bytes0, msgs0, all0) = page.evaluate(SNAPSHOT_JS), wire.read()
    time.sleep(seconds)
    after, (bytes1, msgs1, all1) = page.evaluate(SNAPSHOT_JS), wire.read()
    elapsed = (after["t"] - before["t"]) / 1000
    return {
        "fps": (after["frames"] - before["frames"]) / elapsed,
        "page_fps": (after["all"] - before["all"]) / elapsed,
        "long_tasks": after["long"] - before["long"],
        "long_ms": after["longMs"] - before["longMs"],
        "bytes_per_s": (bytes1 - bytes0) / elapsed,
        "messages_per_s": (msgs1 - msgs0) / elapsed,
        "all_bytes_per_s": (all1 - all0) / elapsed,
        "tiles": after["tiles"],
        "states": after["states"],
        "colours": after["colours"],
        "invoking_titled": after["invoking"],
        "seconds": elapsed,
        "page_errors": list(harness.page_errors(page)),
    }


def browser_side(seconds: float, refresh_s: float | None, real_load: bool) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
    import harness

    refresh = "" if refresh_s is None else f", refresh_s={refresh_s}"
    root = Path(tempfile.mkdtemp(prefix="lambdalab-bench-board-"))
    notebook(root, "synthetic.ipynb", [c.format(bench=str(HERE), refresh=refresh) for c in SYNTHETIC_CELLS])
    duration = seconds + 15  # its warm-up, the page's 2 s and the window
    notebook(
        root,
        "load.ipynb",
        [c.format(refresh=refresh, rate=LOAD_RATE, duration=duration, sleep=LOAD_SLEEP_S) for c in LOAD_CELLS],
    )
    out = {}
    wire = Wire()
    with harness.jupyter_lab(root) as base_url, harness.chromium((1366, 768)) as page:
        page.on("websocket", lambda ws: ws.on("framereceived", wire.on_frame))
        harness.open_notebook(page, base_url, "synthetic.ipynb")
        out["synthetic"] = measure(page, wire, seconds, int(ENVIRONMENTS * 0.9))
        if real_load:
            harness.shutdown_kernels(base_url)
            harness.open_notebook(page, base_url, "load.ipynb")
            out["load"] = measure(page, wire, seconds, 10)
    return out


# ------------------------------------------------------------------------------------------ main
def fmt_bytes(n: float) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def main() -> None:
    from lambdalab.jupyter.board import REFRESH_S

    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="put the table in benchmarks/RESULTS.md")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the browser measures")
    parser.add_argument("--refresh", type=float, default=None, help=f"the board's refresh_s (default {REFRESH_S})")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-load", action="store_true", help="skip the board over a real Lab under load")
    parser.add_argument("--no-listing", action="store_true", help="skip the 200 real environments")
    args = parser.parse_args()
    refresh_s = REFRESH_S if args.refresh is None else args.refresh

    rows: list[list[str]] = []
    context: list[str] = []
    if not args.no_browser:
        measured = browser_side(args.seconds, args.refresh, not args.no_load)
        print(json.dumps(measured), flush=True)
        for kind, b in measured.items():
            what = (
                f"{ENVIRONMENTS} synthetic environments, {CHANGES_PER_S:,} changes/s"
                if kind == "synthetic"
                else f"a real Lab under load, {LOAD_RATE} requests/s of {LOAD_SLEEP_S * 1000:.0f} ms"
            )
            rows.append(
                [
                    f"frames/s in the browser ({what}; refresh_s {refresh_s})",
                    f"{b['fps']:.1f}",
                    f"{b['page_fps']:.0f} (page frames/s)",
                    f"{b['fps'] / TARGET_FPS:.2f}× target",
                    f"≥ {TARGET_FPS:.0f}",
                    "yes" if b["fps"] >= TARGET_FPS else "**no**",
                ]
            )
            rows.append(
                [
                    f"bytes/s sent to the front-end ({what})",
                    f"{fmt_bytes(b['bytes_per_s'])}/s",
                    f"{b['messages_per_s']:.1f} messages/s",
                    "",
                    "",
                    "—",
                ]
            )
            context.append(
                f"browser, {what}: {b['seconds']:.1f} s measured after 2 s of warm-up; {b['tiles']} tiles in "
                f"{b['colours']} colours; states seen {', '.join(b['states'])}; {b['invoking_titled']} invoking tiles "
                f"with a request id and age in their title; {b['long_tasks']} long tasks ({b['long_ms']:.0f} ms); "
                f"all kernel websocket frames {fmt_bytes(b['all_bytes_per_s'])}/s; page errors: {len(b['page_errors'])}"
            )
    k = kernel_side(refresh_s=refresh_s)
    print(json.dumps(k), flush=True)
    rows.append(
        [
            f"kernel: one snapshot's diff (200 environments, {refresh_s * 1000:.0f} ms of changes)",
            f"{k['diff_ms']:.2f} ms",
            f"{k['synthetic_listing_ms']:.2f} ms (building the listing)",
            f"{k['diff_ms'] / k['synthetic_listing_ms']:.1f}×",
            "",
            "—",
        ]
    )
    context.append(
        f"kernel: {k['ticks']} ticks; diff p95 {k['diff_p95_ms']:.2f} ms; delta JSON median "
        f"{fmt_bytes(k['delta_bytes'])} per tick"
    )
    if not args.no_listing:
        lc = listing_cost()
        print(json.dumps(lc), flush=True)
        rows.append(
            [
                f"Function.environments() with {lc['environments']} real environments",
                f"{lc['listing_ms']:.2f} ms",
                f"{lc['statistics_ms']:.2f} ms (Function.statistics())",
                f"{lc['listing_ms'] / lc['statistics_ms']:.1f}×",
                "",
                "—",
            ]
        )
        context.append(
            f"listing: {lc['environments']} environments made by one burst of concurrent cold starts in "
            f"{lc['made_s']:.1f} s; medians of 200 calls"
        )

    header = ["measure", "figure", "floor", "ratio", "target", "met?"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    python = f"{platform.python_implementation()} {platform.python_version()}"
    section = [
        "## Board",
        "",
        (
            f"From `benchmarks/bench_board.py` (standalone; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
            f"nproc={os.cpu_count()}, {python}, 1-min load average {os.getloadavg()[0]:.2f}). The environment board in "
            "a real JupyterLab (headless Debian Chromium via Playwright) over a synthetic function of "
            f"{ENVIRONMENTS} environments changing state {CHANGES_PER_S:,} times a second; frames/s = animation frames "
            "that changed tiles, floor = all frames the page drew; bytes = the kernel's websocket frames carrying the "
            "board's deltas. Kernel and listing rows: medians in this process."
        ),
        "",
        *table,
        "",
        *[f"- {c}" for c in context],
        "",
    ]
    print()
    print("\n".join(section))
    print("RESULT " + json.dumps({"rows": [dict(zip(header, r, strict=True)) for r in rows], "context": context}))
    if args.write:
        write_section(HERE / "RESULTS.md", "Board", section)


if __name__ == "__main__":
    main()
