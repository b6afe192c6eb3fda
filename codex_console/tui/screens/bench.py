"""Benchmark panel: texts/s per batch size through the tunnel, next to the old setup's rows."""

from __future__ import annotations

from typing import Awaitable, Callable

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static
from textual_plotext import PlotextPlot

from ...backends.bench import Progress
from ...benchmark_spec import BATCH_SIZES, REFERENCE
from ...models import BenchPoint

RunBenchmark = Callable[[Progress], Awaitable[list[BenchPoint]]]


class BenchScreen(Screen):
    BINDINGS = [("escape,b", "app.pop_screen", "Back"), ("enter", "run", "Run again")]
    DEFAULT_CSS = """
    BenchScreen #bench-top { height: 3; }
    BenchScreen ProgressBar { width: 50; }
    BenchScreen PlotextPlot { height: 1fr; min-height: 10; }
    BenchScreen #bench-table { height: auto; }
    """

    def __init__(self, run: RunBenchmark, last: list[BenchPoint]) -> None:
        super().__init__()
        self.run_benchmark = run
        self.results = last

    def compose(self) -> ComposeResult:
        with Horizontal(id="bench-top"):
            yield Static("benchmark", id="bench-status")
            yield ProgressBar(total=len(BATCH_SIZES), id="bench-progress", show_eta=False)
        yield PlotextPlot(id="bench-plot")
        yield Static(id="bench-table")
        yield Footer()

    def on_mount(self) -> None:
        if self.results:
            self.draw(self.results, "last results")
        elif not getattr(self.app, "readonly", False):
            self.action_run()
        else:
            self.query_one("#bench-status", Static).update("read-only: no benchmark")

    def action_run(self) -> None:
        if not getattr(self.app, "readonly", False):
            self.bench()

    @work(exclusive=True, group="bench", exit_on_error=False)
    async def bench(self) -> None:
        status = self.query_one("#bench-status", Static)
        progress = self.query_one("#bench-progress", ProgressBar)
        progress.update(progress=0)
        status.update("running…")
        points: list[BenchPoint] = []

        def step(done: int, total: int, point: BenchPoint) -> None:
            points.append(point)
            progress.update(total=total, progress=done)
            self.draw(points, f"running {done}/{total}")

        try:
            result = await self.run_benchmark(step)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            status.update(f"[red]benchmark failed: {exc}[/red]")
            return
        self.results[:] = result
        self.draw(result, "done")

    def draw(self, points: list[BenchPoint], state: str) -> None:
        self.query_one("#bench-status", Static).update(f"benchmark: {state}")
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.title("texts/s per batch size")
        xs = list(range(len(BATCH_SIZES)))
        for row in REFERENCE:
            plt.plot(xs, [row.texts_per_s[s] for s in BATCH_SIZES], label=row.label, marker="dot")
        got = {p.batch_size: p.texts_per_s for p in points}
        if got:
            plt.plot([xs[BATCH_SIZES.index(s)] for s in BATCH_SIZES if s in got],
                     [got[s] for s in BATCH_SIZES if s in got], label="this run", marker="hd")
        plt.xticks(xs, [str(s) for s in BATCH_SIZES])
        plot.refresh()
        table = Table(box=None, expand=False)
        table.add_column("texts/s")
        for s in BATCH_SIZES:
            table.add_column(f"b{s}", justify="right")
        table.add_row("this run", *[f"{got[s]:.1f}" if s in got else "…" for s in BATCH_SIZES])
        for row in REFERENCE:
            table.add_row(row.label, *[f"{row.texts_per_s[s]:g}" for s in BATCH_SIZES])
        self.query_one("#bench-table", Static).update(table)
