"""Charts at 1,000 / 10,000 / 100,000 invocations: build, update, payload size and browser draw time.

Standalone (not in run_all.py's registry):

    /work/main/.venv/bin/python benchmarks/bench_charts.py [--sizes 1000,10000,100000] [--write] [--no-browser]

Synthetic DataFrames shaped like ``lab.spans()`` / ``lab.invocations()``: N invocations at
500/s over N/50 environments (each environment: one init, then invoke/frozen alternating, then
a shutdown), so about 2N + 2·N/50 spans. For each chart:

- build: ``lambdalab.viz.<chart>(...)`` (numpy work + plotly validation), median of repeats;
- update: ``lambdalab.viz.update(fig, kind, ...)`` with a second data set of the same size;
- payload: ``len(fig.to_json())`` (what a notebook or HTML page ships to the browser);
- browser: ``Plotly.newPlot`` of that JSON in headless Chromium (playwright, software WebGL),
  one ``Plotly.relayout`` zoom after it (a proxy for "responsive"), and ``Plotly.react`` with the
  second data set (the page's side of a live update). Skipped without playwright.

Floors, measured in the same run: ``go.Figure()`` (an empty figure), ``df.groupby("environment_id")
.size()`` on the same spans, and ``Plotly.newPlot`` of an empty figure. The timeline is also
drawn the other way the issue suggests (one ``go.Bar`` trace per phase with ``base``, i.e. SVG
bars), at 10,000 invocations, to show why it is WebGL lines. Prints a markdown table; ``--write`` puts it in
``benchmarks/RESULTS.md`` under "## Charts" (replacing an earlier one). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import write_section  # noqa: E402 - benchmarks/ is this script's folder

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np
import pandas as pd

from lambdalab import viz

CHARTS = ("timeline", "latency_over_time", "latency_histogram", "concurrency", "reuse", "init_durations",
          "timeline window_s=30", "latency_over_time window_s=30")  # the last two: a live panel's view


# ------------------------------------------------------------------------------------------ data
def synthetic(n: int, seed: int = 0, t0: float = 1.8e9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(spans, invocations) for n invocations at 500/s over n/50 environments, round robin."""
    rng = np.random.default_rng(seed)
    envs = max(1, n // 50)
    env_ids = np.array([f"{i:032x}" for i in rng.integers(0, 2**62, envs)])
    submitted = t0 + np.sort(rng.uniform(0, n / 500.0, n))
    env = np.arange(n) % envs
    cold = np.arange(n) < envs
    init_ms = np.where(cold, rng.normal(60, 10, n).clip(20), np.nan)
    duration_ms = rng.lognormal(np.log(5), 0.8, n)
    start = submitted + np.where(cold, init_ms / 1000.0, 0.0)
    end = start + duration_ms / 1000.0
    billed = np.ceil(duration_ms + np.nan_to_num(init_ms)).astype(int)
    invocations = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(n)], "function": "f", "version": "$LATEST",
        "environment_id": env_ids[env], "cold": cold, "init_duration_ms": init_ms, "init_suppressed": False,
        "duration_ms": duration_ms, "billed_duration_ms": billed, "memory_size_mb": 128,
        "max_memory_used_mb": 30, "status": "success", "error_type": None, "start": start, "end": end,
        "submitted": submitted, "reset": False, "latency_ms": (end - submitted) * 1000.0,
    })
    # spans: init (cold rows), invoke (every row), frozen (between an environment's invocations), shutdown
    parts = [pd.DataFrame({"environment_id": env_ids[env[cold]], "phase": "init", "start": submitted[cold],
                           "end": start[cold], "request_id": None}),
             pd.DataFrame({"environment_id": env_ids[env], "phase": "invoke", "start": start, "end": end,
                           "request_id": invocations["request_id"]})]
    order = np.lexsort((start, env))
    same = env[order][1:] == env[order][:-1]
    parts.append(pd.DataFrame({"environment_id": env_ids[env[order][1:][same]], "phase": "frozen",
                               "start": end[order][:-1][same], "end": start[order][1:][same], "request_id": None}))
    last = np.append(~same, True)
    parts.append(pd.DataFrame({"environment_id": env_ids[env[order][last]], "phase": "shutdown",
                               "start": end[order][last], "end": end[order][last] + 0.005, "request_id": None}))
    spans = pd.concat(parts, ignore_index=True)
    spans.insert(1, "function", "f")
    spans.insert(2, "version", "$LATEST")
    spans["duration_ms"] = (spans["end"] - spans["start"]) * 1000.0
    spans = spans.sort_values(["start", "environment_id"], kind="stable").reset_index(drop=True)
    return spans, invocations


def args_for(chart: str, spans: pd.DataFrame, inv: pd.DataFrame) -> dict[str, Any]:
    if chart == "timeline":
        return {"spans": spans}
    if chart == "concurrency":
        return {"spans": spans, "invocations": inv}
    return {"invocations": inv}


def options_of(chart: str) -> tuple[str, dict[str, Any]]:
    """("timeline window_s=30") -> ("timeline", {"window_s": 30.0})."""
    kind, *rest = chart.split()
    return kind, {k: float(v) for k, v in (item.split("=") for item in rest)}


def build(chart: str, spans: pd.DataFrame, inv: pd.DataFrame) -> Any:
    kind, options = options_of(chart)
    kw = args_for(kind, spans, inv)
    fn = getattr(viz, kind)
    if kind == "timeline":
        return fn(kw["spans"], **options)
    if kind == "concurrency":
        return fn(kw["spans"], kw["invocations"], **options)
    return fn(kw["invocations"], **options)


def update(fig: Any, chart: str, spans: pd.DataFrame, inv: pd.DataFrame) -> Any:
    kind, options = options_of(chart)
    return viz.update(fig, kind, **args_for(kind, spans, inv), **options)


def timed(fn: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def bar_timeline(spans: pd.DataFrame) -> Any:
    """The alternative timeline: one go.Bar per phase with base (SVG rectangles)."""
    import plotly.graph_objects as go

    rows, _ = pd.factorize(spans["environment_id"])
    origin = float(spans["start"].min())
    fig = go.Figure()
    for phase, colour in viz.PHASE_COLOURS.items():
        m = (spans["phase"] == phase).to_numpy()
        fig.add_trace(go.Bar(orientation="h", base=spans["start"].to_numpy()[m] - origin,
                             x=(spans["end"] - spans["start"]).to_numpy()[m], y=rows[m], name=phase,
                             marker_color=colour))
    fig.update_layout(barmode="overlay", yaxis_autorange="reversed")
    return fig


# --------------------------------------------------------------------------------------- browser
class Browser:
    """Headless Chromium with plotly.js; draws figure JSON on a fresh page each time and times it there.

    A fresh page per sample: re-plotting WebGL traces into one purged div got ~40 s slower per
    draw here (SwiftShader), which measures the harness, not the chart.
    """

    def __init__(self) -> None:
        import plotly
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
        self._browser = self._pw.chromium.launch(
            executable_path=exe, args=["--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader",
                                       "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"])
        self._bundle = str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js")
        page = self._page()
        self.webgl = page.evaluate("!!document.createElement('canvas').getContext('webgl')")
        page.close()

    def _page(self) -> Any:
        page = self._browser.new_page(viewport={"width": 1200, "height": 800})
        page.set_content("<html><body><div id='g' style='width:1150px;height:700px'></div></body></html>")
        page.add_script_tag(path=self._bundle)
        return page

    def draw(self, fig_json: str, update_json: str | None = None, repeat: int = 3) -> tuple[float, float, float]:
        """Medians (ms) of: Plotly.newPlot, one zoom (relayout), Plotly.react with update_json; each + a frame."""
        samples = [self._draw_once(fig_json, update_json or fig_json) for _ in range(repeat)]
        return tuple(statistics.median(s[i] for s in samples) for i in range(3))  # type: ignore[return-value]

    def _draw_once(self, fig_json: str, update_json: str) -> tuple[float, float, float]:
        page = self._page()
        try:
            return tuple(page.evaluate(
                """async ([text, text2]) => {
                    const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
                    const g = document.getElementById('g');
                    const t0 = performance.now();
                    const spec = JSON.parse(text);
                    await Plotly.newPlot(g, spec.data, spec.layout);
                    await frame();
                    const t1 = performance.now();
                    const r = g._fullLayout.xaxis.range;
                    await Plotly.relayout(g, {'xaxis.range': [r[0], r[0] + (r[1] - r[0]) / 2]});
                    await frame();
                    const t2 = performance.now();
                    const next = JSON.parse(text2);
                    await Plotly.react(g, next.data, next.layout);
                    await frame();
                    return [t1 - t0, t2 - t1, performance.now() - t2];
                }""", [fig_json, update_json]))
        finally:
            page.close()

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


# ------------------------------------------------------------------------------------------ main
def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def fmt_bytes(n: int) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--write", action="store_true", help="put the table in benchmarks/RESULTS.md")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import plotly
    import plotly.graph_objects as go

    browser = None
    if not args.no_browser:
        try:
            browser = Browser()
        except Exception as exc:  # noqa: BLE001 - a benchmark without a browser still reports the rest
            print(f"(no browser measurements: {exc.__class__.__name__}: {str(exc)[:200]})")
    empty_floor = timed(lambda: go.Figure(), 20)
    empty_draw = gl_draw = None
    if browser:
        browser.draw(go.Figure(go.Scattergl(x=[0, 1], y=[0, 1])).to_json(), repeat=1)  # warm up
        empty_draw = browser.draw(go.Figure().to_json(), repeat=5)[0]
        gl_draw = browser.draw(go.Figure(go.Scattergl(x=[0, 1], y=[0, 1])).to_json(), repeat=5)[0]

    rows: list[list[str]] = []
    context: list[str] = []
    for n in sizes:
        spans, inv = synthetic(n, seed=1)
        spans2, inv2 = synthetic(n, seed=2)
        repeat = 5 if n <= 10_000 else 3
        groupby = timed(lambda s=spans: s.groupby("environment_id").size(), repeat)
        context.append(f"{n:,} invocations: {len(spans):,} spans, {inv['environment_id'].nunique():,} environments; "
                       f"floors: go.Figure() {fmt_ms(empty_floor)}, spans.groupby('environment_id').size() "
                       f"{fmt_ms(groupby)}" + (f", Plotly.newPlot(empty) {empty_draw:,.0f} ms, Plotly.newPlot(2-point "
                                                  f"scattergl: the WebGL set-up) {gl_draw:,.0f} ms" if browser else ""))
        for chart in CHARTS:
            b = timed(lambda c=chart, s=spans, i=inv: build(c, s, i), repeat)
            fig = build(chart, spans, inv)
            u = timed(lambda f=fig, c=chart, s=spans2, i=inv2: update(f, c, s, i), repeat)
            text = fig.to_json()
            draw = browser.draw(text, build(chart, spans2, inv2).to_json()) if browser else None
            rows.append([f"{n:,}", chart, fmt_ms(b), f"{b / groupby:.1f}×", fmt_ms(u), fmt_bytes(len(text)),
                         *([f"{v:,.0f} ms" for v in draw] if draw else ["n/a"] * 3)])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
        if browser and n == 10_000:  # at 100,000 one SVG draw takes minutes here
            alt = bar_timeline(spans)
            t = timed(lambda s=spans: bar_timeline(s), 1)
            text = alt.to_json()
            draw = browser.draw(text, repeat=1)
            context.append(f"{n:,} invocations, timeline as go.Bar with base (SVG, the alternative): build "
                           f"{fmt_ms(t)}, payload {fmt_bytes(len(text))}, newPlot {draw[0]:,.0f} ms, zoom "
                           f"{draw[1]:,.0f} ms, react {draw[2]:,.0f} ms")
    if browser:
        context.append(f"browser: headless Chromium via playwright, WebGL {'on (software, SwiftShader)' if browser.webgl else 'off'}; "
                       f"times include one animation frame")
        browser.close()

    header = ["invocations", "chart", "build", "build / groupby", "update", "payload", "browser newPlot",
              "browser zoom", "browser react"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    python = f"{platform.python_implementation()} {platform.python_version()}"
    section = [
        "## Charts",
        "",
        (f"From `benchmarks/bench_charts.py` (standalone; {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
        f"nproc={os.cpu_count()}, {python}, plotly {plotly.__version__}). Synthetic spans/invocations "
        "(500 requests/s, 50 invocations per environment). build = the chart function, update = "
        "`lambdalab.viz.update` with a new data set of the same size (medians); payload = `len(fig.to_json())`; "
        "browser = `Plotly.newPlot`, then one zoom, then `Plotly.react` with the second data set (what a live "
        "update costs the page), each on a fresh page in headless Chromium (software WebGL, SwiftShader), medians of 3. "
        "Floors per size below; build / groupby = build time over `spans.groupby('environment_id').size()`."),
        "",
        *table,
        "",
        *[f"- {c}" for c in context],
        "",
    ]
    print()
    print("\n".join(section))
    print("RESULT " + json.dumps({"rows": [dict(zip(header, r)) for r in rows], "context": context}))
    if args.write:
        write_section(HERE / "RESULTS.md", "Charts", section)


if __name__ == "__main__":
    main()
