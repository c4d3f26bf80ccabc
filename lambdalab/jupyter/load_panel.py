"""``lambdalab.panel(fn)``: a load panel with live charts, laid out to fit a 1366×768 screen.

Left column (``LEFT_PX`` wide): controls for the load (pattern, rate, duration, clients) and the
function (memory, reserved and provisioned concurrency, keep-alive), Start/Stop, a progress bar,
the status line, a line that explains a cold-start cascade when one happens, and the live
environment board (``lambdalab.jupyter.board``). Right: the charts in tabs (plotly FigureWidgets
from ``lambdalab.viz``, ``FIGURE_PX`` wide), every time chart on one x range from the load's start.
The whole panel stays under ``PANEL_PX`` tall.

The load runs on its own thread (``lambdalab.load.start``); the charts are refreshed from the
kernel's main thread by a task on the kernel's event loop a few times a second (only the tab in
view; the others when they are opened, and all of them at the end), so the kernel keeps answering
cells while the load runs. The panel only reads: ``Lab.spans()``, the run's snapshot; the buttons
call the same API a script would. A function on AWS Lambda gets a cost line and a "Confirm cost" box, charts
from the run's own rows and, at the end, from CloudWatch Logs, and a board that says environments cannot be
seen there (``lambdalab.jupyter.remote_panel``). The knobs are built, laid out and read back as the
function's settings by ``lambdalab.jupyter.panel_controls``; the sizes, empty charts and board are
``panel_parts``'.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
import time
from typing import Any

import ipywidgets as widgets
import pandas  # noqa: F401 - imported here, on the main thread, before a worker thread can half-import it

from lambdalab import load
from lambdalab.errors import CallerError
from lambdalab.jupyter import loop as kernel_loop
from lambdalab.jupyter import remote_panel, targets
from lambdalab.jupyter.panel_controls import changed_settings, layout, make_controls
from lambdalab.jupyter.panel_parts import CHARTS, FIGURE_PX, LEFT_PX, TITLE_Y, is_done, new_board, new_figure, rest
from lambdalab.jupyter.panel_parts import MARGIN_LEFT_PX as MARGIN_LEFT_PX  # re-exported: the panel's sizes
from lambdalab.jupyter.panel_parts import PANEL_PX as PANEL_PX
from lambdalab.jupyter.panel_text import STYLE, TAB_TITLES, cascade_line, status_text, warm_environments
from lambdalab.jupyter.patterns import KNOB_PATTERNS, make_pattern
from lambdalab.viz.colours import ERROR_COLOUR


class Panel:
    """The widget tree (``.widget``), its figures (``.figures``), the board and the running load (``.handle``).

    Python equivalent of the start button: ``lambdalab.load.start(fn, pattern, duration_s=...)``.
    """

    def __init__(
        self,
        fn: Any,  # a lambdalab.Function, or a lambdalab.aws.Function
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
        board: bool = True,
    ) -> None:
        if pattern not in KNOB_PATTERNS:
            raise CallerError(f"invalid pattern: {pattern!r}; expected one of {', '.join(KNOB_PATTERNS)}")
        self.fn, self.count, self.seed, self.event, self.refresh_s = fn, count, seed, event, refresh_s
        self.remote = targets.is_remote(fn)
        self.cost = remote_panel.CostGate(fn) if self.remote else None
        self._final: tuple[Any, Any] | None = None  # a remote run's frames from CloudWatch Logs, read once at its end
        if self.remote and charts == CHARTS:
            charts = remote_panel.REMOTE_CHARTS
        self.handle: Any = None
        self.refreshes = 0
        self.refresh_times: list[float] = []  # monotonic clock, when each refresh ended
        self.refresh_durations: list[float] = []  # seconds each refresh took on the kernel's thread
        self.cascade_text = ""  # the explanation shown in the cascade line ("" when there is none)
        self._started_at = 0.0
        self._redeployed_at: list[float] = []  # when this panel's Start redeployed the function (epoch s)
        self._warm_at_start = 0
        self._held: float | None = None  # the progress a stopped run keeps
        self._frames_now: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._drawing = threading.Lock()  # outside a kernel the refresher has a thread of its own: one draw at a time
        self._ticking = False
        self.controls = make_controls(fn, self.remote, pattern, rate, duration_s, concurrency)
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        for button in (self.start_button, self.stop_button):
            button.layout.width = "90px"
        self.start_button.on_click(lambda _: self._guarded(self.start))
        self.stop_button.on_click(lambda _: self._guarded(self.stop))
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
        self.progress.style.description_width = "60px"
        self.progress.layout.width = f"{LEFT_PX - 200}px"
        self.progress.add_class("lambdalab-progress")
        self.status = widgets.HTML(value=f"<b>{fn.name}</b>: ready")
        self.status.add_class("lambdalab-status")
        self.status.layout.min_height = "40px"
        self.cascade = widgets.HTML(value=STYLE)  # hidden (but styling) until a cascade happens
        self.cascade.layout.display = "none"
        self.figures = {kind: new_figure(kind) for kind in charts}
        self.board = new_board(fn) if board else None
        self.tabs = widgets.Tab(children=list(self.figures.values()))
        self.tabs.titles = tuple(TAB_TITLES.get(kind, kind) for kind in self.figures)
        self.tabs.observe(self._on_tab, names="selected_index")
        if self.cost is not None:
            for key in ("pattern", "rate", "duration", "concurrency"):
                self.controls[key].observe(lambda _: self._estimate(), names="value")
            self._estimate()
        below: list[widgets.Widget] = [widgets.HBox([self.start_button, self.stop_button, self.progress])]
        below += [self.cost.widget] if self.cost is not None else []
        self.widget = layout(self.controls, [*below, self.status, self.cascade], self.board, self.tabs)

    # -- display --------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Panel {self.fn.name} running={self.running}>"

    # -- actions --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None and not is_done(self.handle)

    def start(self) -> Any:
        """Apply the function settings, start the load on its own thread, refresh the charts live."""
        if self.running:
            raise CallerError("a load is already running in this panel; stop it first")
        redeployed = self._apply_settings()
        if redeployed:
            self._redeployed_at.append(time.time())
        self._warm_at_start = 0 if redeployed else warm_environments(self.fn)
        controls = self.controls
        pattern, duration = self._planned()
        if self.cost is not None:  # the panel asks (its box), so the run does not: confirm=True
            self.cost.check(pattern, duration, self.count)
        self._started_at = time.time()
        self._held, self.cascade_text, self._final = None, "", None
        with self._lock:  # against the refresh task resting the board of the run before (see _tick)
            self.handle = load.start(
                self.fn, pattern, duration_s=duration, count=self.count, event=self.event, confirm=self.remote
            )
            if self.board is not None:
                self.board.start()
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.progress.bar_style = ""
        self.status.value = f"<b>{self.fn.name}</b>: running · {controls['pattern'].value} load starting"
        self._start_ticking()
        return self.handle

    def _planned(self) -> tuple[Any, float]:
        """The pattern and the duration the controls describe now."""
        duration = float(self.controls["duration"].value)
        pattern = make_pattern(
            self.controls["pattern"].value,
            rate=float(self.controls["rate"].value),
            clients=int(self.controls["concurrency"].value),
            seed=self.seed,
            duration_s=duration,
        )
        return pattern, duration

    def _estimate(self) -> None:
        """A remote panel's cost line, for the run the controls describe now."""
        if self.cost is not None:
            with contextlib.suppress(CallerError):  # a value being typed: the line stays as it was
                self.cost.estimate(*self._planned(), self.count)

    def stop(self) -> None:
        """Stop the load early (requests in flight finish); the charts keep the final state."""
        if self.handle is not None:
            if self._held is None and self.running:
                self._held = self.progress.value = self._fraction(None)  # the bar stays where the run was stopped
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

    @property
    def shown(self) -> tuple[Any, Any] | None:
        """The spans and the run's report the charts show now (None before the first draw)."""
        return self._frames_now

    def points(self) -> int:
        """How many data points the charts show now (a cheap measure of change)."""
        total = 0
        for fig in self.figures.values():
            for trace in fig.data:
                values = getattr(trace, "x", None)
                total += len(values) if values is not None else 0
        return total

    def _apply_settings(self) -> bool:
        """Deploy the settings that changed (a redeploy: every environment retires); whether there were any."""
        changes = changed_settings(self.fn, self.controls, self.remote)
        if changes:
            self.fn.update(**changes)
        return bool(changes)

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except CallerError as exc:  # a button shows a caller's mistake in the status line
            self.status.value = f"<b>{self.fn.name}</b>: <span style='color:{ERROR_COLOUR}'>{exc}</span>"

    # -- live refresh (kernel main thread) ------------------------------------------------------
    def _start_ticking(self) -> None:
        with self._lock:
            if self._ticking:
                return
            self._ticking = True
        kernel_loop.run_on_main(self._tick)

    async def _tick(self) -> None:
        """Follow runs until none is left: a run started during the last pass is followed by this same task.

        Deciding to end and ending (the board's rest, ``_ticking`` cleared) happen under the lock that ``start``
        holds while it starts a run and its board, so a run is never left without a refresh or a live board (a
        new task spawned from here could land on a loop that is closing, outside a kernel)."""
        try:
            while True:
                done = not self.running
                began = time.monotonic()
                frames = await asyncio.get_running_loop().run_in_executor(None, self._frames)  # off the main thread
                self._draw(*frames, every=done)  # widgets change only here, on the kernel's main thread
                if done:
                    with self._lock:
                        if not self.running:
                            if self.board is not None:  # the board rests with the run's last picture
                                rest(self.board)
                            self._ticking = False
                            break
                    continue  # a new run started during the last pass: keep following it
                await asyncio.sleep(max(0.02, self.refresh_s - (time.monotonic() - began)))  # a steady rate
        except BaseException:
            self._ticking = False  # a failed refresh: the next start begins a new one
            raise
        finally:
            self.start_button.disabled, self.stop_button.disabled = self.running, not self.running

    def refresh(self) -> None:
        """Redraw every chart, the progress and the status now, from the Lab's spans and the run's snapshot."""
        self._draw(*self._frames(), every=True)

    def _on_tab(self, change: Any) -> None:
        """A tab opened: draw its chart from the latest data (the live refresh draws only the tab in view)."""
        if change["new"] is None:
            return
        fig = self.figures[list(self.figures)[change["new"]]]
        with self._drawing:
            if self._frames_now is not None:
                self._draw_chart(list(self.figures)[change["new"]], *self._frames_now)
            # plotly placed the title while the tab was hidden (no size to measure): place it again, now
            fig.layout.title.y = TITLE_Y + 1e-4 if fig.layout.title.y == TITLE_Y else TITLE_Y

    def _draw(self, spans: Any, snapshot: Any, *, every: bool = False) -> None:
        began = time.monotonic()
        with self._drawing:
            self._frames_now = (spans, snapshot)
            index, kinds = self.tabs.selected_index, list(self.figures)
            for kind in kinds if every or index is None else [kinds[index]]:
                self._draw_chart(kind, spans, snapshot)
            self._update_status(snapshot)
        self.refreshes += 1
        self.refresh_times.append(time.monotonic())
        self.refresh_durations.append(self.refresh_times[-1] - began)

    def _draw_chart(self, kind: str, spans: Any, snapshot: Any) -> None:
        from lambdalab import viz

        invocations = snapshot.invocations if snapshot is not None else None
        options: dict[str, Any] = {}
        if viz.KINDS.get(kind, (None, False))[1] and self._started_at:
            options = {"origin": self._started_at, "x_range": (0.0, self._x_end(spans, snapshot))}
        if kind == "timeline":
            options["width"] = FIGURE_PX[0]
        if kind == "concurrency":
            options["limit"] = getattr(self.fn.config, "reserved_concurrency", None)
        viz.update(self.figures[kind], kind, spans=spans, invocations=invocations, **options)

    def _x_end(self, spans: Any, snapshot: Any) -> float:
        """Where every time chart's x axis ends: the planned duration while the run goes, then the data's end."""
        planned = float(self.controls["duration"].value)
        last = 0.0
        if spans is not None and len(spans):
            last = float(spans["end"].max()) - self._started_at
        if snapshot is not None and snapshot.finished:
            return max(last, float(snapshot.duration_s), 0.1) * 1.02
        return max(planned, last, time.time() - self._started_at) * 1.02

    def _frames(self) -> tuple[Any, Any]:
        """This function's spans since the run started, and the run's report so far (or None).

        A remote function's spans are read once, when its run has ended (None until then)."""
        if self.remote:
            snapshot = self.handle.snapshot() if self.handle is not None else None
            if snapshot is None or not snapshot.finished or snapshot.in_flight:
                return None, snapshot
            if self._final is None:
                self._final = remote_panel.final_frames(self.fn, self._started_at, snapshot)
            return self._final
        spans = self.fn.lab.spans()
        spans = spans[(spans["function"] == self.fn.name) & (spans["end"] >= self._started_at)].copy()
        spans["start"] = spans["start"].clip(lower=self._started_at)  # the run's window only
        spans["duration_ms"] = (spans["end"] - spans["start"]) * 1000.0
        snapshot = self.handle.snapshot() if self.handle is not None else None
        return spans.reset_index(drop=True), snapshot

    def _fraction(self, snapshot: Any) -> float:
        """How far the run is: by the clock against the duration, or by requests sent against ``count``."""
        elapsed = time.time() - self._started_at if self._started_at else 0.0
        fraction = elapsed / max(float(self.controls["duration"].value), 1e-6)
        if self.count and snapshot is not None:
            fraction = max(fraction, snapshot.sent / self.count)
        return min(fraction, 1.0)

    def _update_status(self, snapshot: Any) -> None:
        if snapshot is None:
            self.progress.value = 0.0
            return
        if snapshot.stopped and self._held is None:  # stopped from elsewhere (handle.stop()): hold where it was
            self._held = self.progress.value
        if snapshot.finished and not snapshot.stopped:
            self.progress.value, self.progress.bar_style = 1.0, "success"
        elif snapshot.stopped:
            self.progress.value = self._held if self._held is not None else self.progress.value
            self.progress.bar_style = "warning"
        else:
            self.progress.value = self._fraction(snapshot)
        self.status.value = f"<b>{self.fn.name}</b>: " + status_text(snapshot, time.time() - self._started_at)
        self._update_cascade(snapshot)

    def _update_cascade(self, snapshot: Any) -> None:
        spans = self._frames_now[0] if self._frames_now is not None else None
        text = cascade_line(snapshot.invocations, self._started_at, self._redeployed_at, self._warm_at_start, spans)
        if text != self.cascade_text:
            self.cascade_text = text
            self.cascade.value = STYLE + html.escape(text)
            self.cascade.layout.display = "" if text else "none"
            if text:
                self.cascade.add_class("lambdalab-cascade")
            else:
                self.cascade.remove_class("lambdalab-cascade")
