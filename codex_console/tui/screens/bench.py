"""Benchmark panel: texts/s per batch size through the tunnel, next to the old T4/P100 rows."""

from __future__ import annotations

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static
from textual_plotext import PlotextPlot

from ...models import BenchPoint

# Measured on the old setup (Qwen3-Embedding-0.6B), design notes.
REFERENCE = {
    "T4": {1: 16, 10: 139, 50: 370, 100: 415, 200: 575, 500: 562},
    "P100": {1: 19.5, 10: 190, 50: 417, 100: 454, 200: 468, 500: 422},
}


class BenchScreen(Screen):
    BINDINGS = [("escape,b", "app.pop_screen", "Back"), ("enter", "run", "Run again")]
    DEFAULT_CSS = """
    BenchScreen #bench-top { height: 3; }
    BenchScreen ProgressBar { width: 50; }
    BenchScreen PlotextPlot { height: 1fr; min-height: 10; }
    BenchScreen #bench-table { height: auto; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="bench-top"):
            yield Static("benchmark", id="bench-status")
            yield ProgressBar(total=6, id="bench-progress", show_eta=False)
        yield PlotextPlot(id="bench-plot")
        yield Static(id="bench-table")
        yield Footer()

    def on_mount(self) -> None:
        if self.app.bench_results:
            self.draw(self.app.bench_results, "last results")
        elif not self.app.readonly:
            self.action_run()
        else:
            self.query_one("#bench-status", Static).update("read-only: no benchmark")

    def action_run(self) -> None:
        if self.app.readonly:
            return
        self.run_bench()

    @work(exclusive=True, group="bench", exit_on_error=False)
    async def run_bench(self) -> None:
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
            result = await self.app.cluster.benchmark(step)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            status.update(f"[red]benchmark failed: {exc}[/red]")
            return
        self.app.bench_results = result
        self.draw(result, "done")

    def draw(self, points: list[BenchPoint], state: str) -> None:
        self.query_one("#bench-status", Static).update(f"benchmark: {state}")
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.title("texts/s per batch size")
        sizes = [1, 10, 50, 100, 200, 500]
        xs = list(range(len(sizes)))
        for name, row in REFERENCE.items():
            plt.plot(xs, [row[s] for s in sizes], label=f"{name} (old)", marker="dot")
        if points:
            plt.plot([sizes.index(p.batch_size) for p in points if p.batch_size in sizes],
                     [p.texts_per_s for p in points if p.batch_size in sizes], label="now",
                     marker="hd")
        plt.xticks(xs, [str(s) for s in sizes])
        plot.refresh()
        table = Table(box=None, expand=False)
        table.add_column("texts/s")
        for s in sizes:
            table.add_column(f"b{s}", justify="right")
        got = {p.batch_size: p.texts_per_s for p in points}
        table.add_row("now", *[f"{got[s]:.1f}" if s in got else "…" for s in sizes])
        for name, row in REFERENCE.items():
            table.add_row(f"{name} (old)", *[f"{row[s]:g}" for s in sizes])
        self.query_one("#bench-table", Static).update(table)
