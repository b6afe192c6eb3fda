"""Benchmark panel: texts/s per batch size, labelled with what was measured, next to earlier
runs and to the old setup's rows (each labelled with its model and GPU)."""

from __future__ import annotations

import time
from typing import Awaitable, Callable

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, ProgressBar, Static
from textual_plotext import PlotextPlot

from ...backends.bench import Progress
from ...bench_log import BenchRun
from ...benchmark_spec import BATCH_SIZES, REFERENCE_ROWS
from ...models import BenchPoint
from .progress import BenchmarkScreen, stepper

RunBenchmark = Callable[[Progress], Awaitable[BenchRun]]
EARLIER = 3  # earlier runs shown beside the latest


def run_label(run: BenchRun) -> str:
    return f"{time.strftime('%m-%d %H:%M', time.localtime(run.at))} {run.label}"


class BenchScreen(BenchmarkScreen):
    BINDINGS = [("escape,b", "app.pop_screen", "Back"), ("enter", "run", "Run again"),
                ("n", "app.graph_bench", "Neo4j queries")]
    DEFAULT_CSS = """
    BenchScreen #bench-top { height: 3; }
    BenchScreen ProgressBar { width: 50; }
    BenchScreen PlotextPlot { height: 1fr; min-height: 10; }
    BenchScreen #bench-table { height: auto; }
    """

    def __init__(self, run: RunBenchmark, runs: list[BenchRun], readonly: bool = False) -> None:
        super().__init__()
        self.run_benchmark = run
        self.runs = runs  # oldest first; the app's record, kept across visits
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with Horizontal(id="bench-top"):
            yield Static("benchmark", id="bench-status")
            yield ProgressBar(total=len(BATCH_SIZES), id="bench-progress", show_eta=False)
        yield PlotextPlot(id="bench-plot")
        yield Static(id="bench-table")
        yield Footer()

    def resting_state(self) -> str:
        return f"last run {run_label(self.runs[-1])} (enter runs again)"

    def start(self) -> None:
        self.bench()

    @work(exclusive=True, group="bench", exit_on_error=False)
    async def bench(self) -> None:
        step = stepper(self.query_one("#bench-progress", ProgressBar), self.draw)
        self.draw([], "running…")
        try:
            run = await self.run_benchmark(step)
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            self.query_one("#bench-status", Static).update(f"[red]benchmark failed: {exc}[/red]")
            return
        self.runs.append(run)
        self.draw([], f"done: {run.label}, {run.dimension or '?'}d, {run.route} via {run.path}")

    def draw(self, running: list[BenchPoint], state: str) -> None:
        """The run in progress (if any), the latest runs, and the old setup's rows."""
        self.query_one("#bench-status", Static).update(f"benchmark: {state}")
        rows: list[tuple[str, dict[int, float], str]] = []
        if running:
            rows.append(("this run", {p.batch_size: p.texts_per_s for p in running}, "bold"))
        for i, run in enumerate(reversed(self.runs[-(EARLIER + 1):])):
            rows.append((run_label(run), {p.batch_size: p.texts_per_s for p in run.points},
                         "bold" if i == 0 and not running else "dim"))
        for ref in REFERENCE_ROWS:
            rows.append((f"{ref.label}: {ref.model} on {ref.gpu}", {b: ref.at(b) for b in BATCH_SIZES}, "italic"))
        plt = self.query_one(PlotextPlot).plt
        plt.clear_data()
        plt.title("texts/s per batch size")
        xs = list(range(len(BATCH_SIZES)))
        for label, got, _ in rows[:2] + rows[-len(REFERENCE_ROWS):]:
            sizes = [s for s in BATCH_SIZES if s in got]
            if sizes:
                plt.plot([BATCH_SIZES.index(s) for s in sizes], [got[s] for s in sizes], label=label[:40],
                         marker="hd")
        plt.xticks(xs, [str(s) for s in BATCH_SIZES])
        self.query_one(PlotextPlot).refresh()
        table = Table(box=None, expand=False)
        table.add_column("texts/s")
        for s in BATCH_SIZES:
            table.add_column(f"b{s}", justify="right")
        for label, got, style in rows:
            table.add_row(label, *[f"{got[s]:.1f}" if s in got else "…" for s in BATCH_SIZES], style=style)
        self.query_one("#bench-table", Static).update(table)
