"""``lambdalab.panel(fn)``: a load panel with live charts.

Controls for the load (pattern, rate, duration, concurrency) and the function (memory, reserved
and provisioned concurrency, keep-alive), start/stop buttons, a progress bar, and plotly
FigureWidgets from ``lambdalab.viz``. The load runs on its own thread (``lambdalab.load.start``);
the charts are refreshed from the kernel's main thread by a task on the kernel's event loop, a few
times a second, so the kernel keeps answering cells while the load runs. The panel only reads:
``Lab.spans()``, the run's snapshot; the buttons call the same API a script would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import ipywidgets as widgets
import pandas  # noqa: F401 - imported here, on the main thread, before a worker thread can half-import it

from lambdalab import load
from lambdalab.api import Function
from lambdalab.errors import CallerError
from lambdalab.jupyter import loop as kernel_loop
from lambdalab.jupyter.patterns import KNOB_PATTERNS, make_pattern

CHARTS = ("timeline", "latency_over_time", "concurrency")
_SCALING = (
    ("reserved", "reserved_concurrency", int),
    ("provisioned", "provisioned_concurrency", int),
    ("keep_alive", "keep_alive_s", float),
)


class Panel:
    """The widget tree (``.widget``), its figures (``.figures``) and the running load (``.handle``).

    Python equivalent of the start button: ``lambdalab.load.start(fn, pattern, duration_s=...)``.
    """

    def __init__(
        self,
        fn: Function,
        *,
        pattern: str = "constant",
        rate: float = 10.0,
        duration_s: float = 10.0,
        concurrency: int = 4,
        count: int | None = None,
        seed: int | None = None,
        event: Any = None,
        charts: tuple[str, ...] = CHARTS,
        refresh_s: float = 0.25,
    ) -> None:
        if pattern not in KNOB_PATTERNS:
            raise CallerError(f"invalid pattern: {pattern!r}; expected one of {', '.join(KNOB_PATTERNS)}")
        self.fn, self.count, self.seed, self.event, self.refresh_s = fn, count, seed, event, refresh_s
        self.handle: Any = None
        self.refreshes = 0
        self.refresh_times: list[float] = []  # monotonic clock, when each refresh ended
        self.refresh_durations: list[float] = []  # seconds each refresh took on the kernel's thread
        self._started_at = 0.0
        self._lock = threading.Lock()
        self._ticking = False
        self.controls = self._make_controls(pattern, rate, duration_s, concurrency)
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.start_button.on_click(lambda _: self._guarded(self.start))
        self.stop_button.on_click(lambda _: self._guarded(self.stop))
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
        self.status = widgets.HTML(value=f"<b>{fn.name}</b>: ready")
        self.figures = {kind: _new_figure(kind) for kind in charts}
        self.widget = self._layout()

    # -- display --------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Panel {self.fn.name} running={self.running}>"

    def _make_controls(
        self, pattern: str, rate: float, duration_s: float, concurrency: int
    ) -> dict[str, widgets.Widget]:
        config = self.fn.config
        controls: dict[str, widgets.Widget] = {
            "pattern": widgets.Dropdown(options=list(KNOB_PATTERNS), value=pattern, description="pattern"),
            "rate": widgets.BoundedFloatText(value=rate, min=0.1, max=10_000, description="rate /s"),
            "duration": widgets.BoundedFloatText(value=duration_s, min=0.1, max=3600, description="duration s"),
            "concurrency": widgets.BoundedIntText(value=concurrency, min=1, max=1000, description="clients"),
            "memory": widgets.BoundedIntText(
                value=config.memory_mb, min=128, max=10_240, step=64, description="memory MB"
            ),
        }
        for key, field, _ in _SCALING:
            value = getattr(config, field)
            controls[key] = widgets.Text(
                value="" if value is None else str(value), placeholder="default", description=key.replace("_", "-")
            )
        for control in controls.values():
            control.style.description_width = "80px"
            control.layout.width = "200px"
        return controls

    def _layout(self) -> widgets.VBox:
        controls = self.controls
        rows = [
            widgets.HBox([controls["pattern"], controls["rate"], controls["duration"], controls["concurrency"]]),
            widgets.HBox([controls["memory"], controls["reserved"], controls["provisioned"], controls["keep_alive"]]),
            widgets.HBox([self.start_button, self.stop_button, self.progress]),
            self.status,
            *self.figures.values(),
        ]
        box = widgets.VBox(rows)
        box.add_class("lambdalab-panel")
        return box

    # -- actions --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None and not _is_done(self.handle)

    def start(self) -> Any:
        """Apply the function settings, start the load on its own thread, refresh the charts live."""
        if self.running:
            raise CallerError("a load is already running in this panel; stop it first")
        self._apply_settings()
        controls = self.controls
        duration = float(controls["duration"].value)
        pattern = make_pattern(
            controls["pattern"].value,
            rate=float(controls["rate"].value),
            clients=int(controls["concurrency"].value),
            seed=self.seed,
            duration_s=duration,
        )
        self._started_at = time.time()
        self.handle = load.start(self.fn, pattern, duration_s=duration, count=self.count, event=self.event)
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.status.value = f"<b>{self.fn.name}</b>: running {controls['pattern'].value} load"
        self._start_ticking()
        return self.handle

    def stop(self) -> None:
        """Stop the load early (requests in flight finish); the charts keep the final state."""
        if self.handle is not None:
            self.handle.stop()

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run (blocking this thread, so the charts pause) and refresh once: the report."""
        report = self._handle().result(timeout)
        self.refresh()
        return report

    async def wait_done(self, timeout: float | None = None) -> Any:
        """Wait for the run without blocking the kernel (``await panel.wait_done()``): the report."""
        handle = self._handle()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"the load did not finish within {timeout} s")
            await asyncio.sleep(0.05)
        while self._ticking:  # let the refresh task draw the final state
            await asyncio.sleep(0.02)
        return handle.result(5)

    def _handle(self) -> Any:
        if self.handle is None:
            raise CallerError("no load has been started in this panel; call start() or press Start")
        return self.handle

    def points(self) -> int:
        """How many data points the charts show now (a cheap measure of change)."""
        total = 0
        for fig in self.figures.values():
            for trace in fig.data:
                values = getattr(trace, "x", None)
                total += len(values) if values is not None else 0
        return total

    def _apply_settings(self) -> None:
        controls, config = self.controls, self.fn.config
        changes: dict[str, Any] = {}
        if int(controls["memory"].value) != config.memory_mb:
            changes["memory_mb"] = int(controls["memory"].value)
        for key, field, kind in _SCALING:
            text = controls[key].value.strip()
            try:
                value = kind(text) if text else None
            except ValueError:
                raise CallerError(f"invalid {key.replace('_', '-')}: {text!r} is not a number") from None
            if value != getattr(config, field):
                changes[field] = value
        if changes:
            self.fn.update(**changes)

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except CallerError as exc:  # a button shows a caller's mistake in the status line
            self.status.value = f"<b>{self.fn.name}</b>: <span style='color:#c0392b'>{exc}</span>"

    # -- live refresh (kernel main thread) ------------------------------------------------------
    def _start_ticking(self) -> None:
        with self._lock:
            if self._ticking:
                return
            self._ticking = True
        kernel_loop.run_on_main(self._tick)

    async def _tick(self) -> None:
        try:
            while True:
                done = not self.running
                began = time.monotonic()
                frames = await asyncio.get_running_loop().run_in_executor(None, self._frames)  # off the main thread
                self._draw(*frames)  # widgets change only here, on the kernel's main thread
                if done:
                    break
                await asyncio.sleep(max(0.02, self.refresh_s - (time.monotonic() - began)))  # a steady rate
        finally:
            self._ticking = False
            self.start_button.disabled, self.stop_button.disabled = self.running, not self.running
            if self.running:  # a new run started during the last pass: keep following it
                self._start_ticking()

    def refresh(self) -> None:
        """Redraw the charts, progress and status now, from the Lab's spans and the run's snapshot."""
        self._draw(*self._frames())

    def _draw(self, spans: Any, snapshot: Any) -> None:
        from lambdalab import viz

        began = time.monotonic()
        invocations = snapshot.invocations if snapshot is not None else None
        for kind, fig in self.figures.items():
            timed = viz.KINDS.get(kind, (None, False))[1]
            options = {"origin": self._started_at} if timed and self._started_at else {}
            viz.update(fig, kind, spans=spans, invocations=invocations, **options)
        self._update_status(snapshot)
        self.refreshes += 1
        self.refresh_times.append(time.monotonic())
        self.refresh_durations.append(self.refresh_times[-1] - began)

    def _frames(self) -> tuple[Any, Any]:
        """This function's spans since the run started, and the run's report so far (or None)."""
        spans = self.fn.lab.spans()
        spans = spans[(spans["function"] == self.fn.name) & (spans["end"] >= self._started_at)].copy()
        spans["start"] = spans["start"].clip(lower=self._started_at)  # the run's window only
        spans["duration_ms"] = (spans["end"] - spans["start"]) * 1000.0
        snapshot = self.handle.snapshot() if self.handle is not None else None
        return spans.reset_index(drop=True), snapshot

    def _update_status(self, snapshot: Any) -> None:
        duration = float(self.controls["duration"].value)
        elapsed = time.time() - self._started_at if self._started_at else 0.0
        running = self.running
        self.progress.value = min(elapsed / max(duration, 1e-6), 1.0) if running else (1.0 if snapshot else 0.0)
        if snapshot is None:
            return
        s = snapshot.summary
        p50 = "-" if s.latency_p50_ms != s.latency_p50_ms else f"{s.latency_p50_ms:.1f} ms"  # NaN: none yet
        state = "running" if running else ("stopped" if snapshot.stopped else "done")
        self.status.value = (
            f"<b>{self.fn.name}</b>: {state} · {s.requests} requests · {snapshot.in_flight} in "
            f"flight · {s.cold_starts} cold · {s.errors} errors · {s.throttles} throttled · "
            f"p50 {p50} · {elapsed:.1f} s"
        )


def _is_done(handle: Any) -> bool:
    done = handle.done
    return bool(done() if callable(done) else done)


def _new_figure(kind: str) -> Any:
    """An empty live chart of one kind: a plotly FigureWidget made by ``lambdalab.viz``."""
    from lambdalab import viz

    fig = viz.figure(kind, widget=True)
    fig.layout.height = 300
    return fig
