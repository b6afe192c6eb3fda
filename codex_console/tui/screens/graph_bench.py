"""Neo4j query benchmark panel: p50/p95 latency and rows/s of each configured Cypher query, the
latest run above earlier ones, each labelled with its server, node and path, so that a Neo4j on
the compute node and one on the login node can be compared."""

from __future__ import annotations

import time
from typing import Awaitable, Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, ProgressBar, Static

from ...backends.graph_bench import EmptyGraph, QueryProgress
from ...bench_log import GraphBenchRun
from ...models import QueryPoint
from ...units import human_count
from ..format import NA, num
from .progress import BenchmarkScreen, stepper

RunGraphBenchmark = Callable[[QueryProgress, int], Awaitable[GraphBenchRun]]  # (progress, seed)
SEED = 1000  # test nodes for a run on an empty graph
EARLIER = 3


def run_label(run: GraphBenchRun) -> str:
    graph = f"test graph of {run.seeded}" if run.seeded else f"{human_count(run.nodes)} nodes"
    return (f"{time.strftime('%m-%d %H:%M', time.localtime(run.at))}  {run.label} · {graph} · {run.runs} runs"
            f" · {run.path}")


class GraphBenchScreen(BenchmarkScreen):
    BINDINGS = [("escape,b", "app.pop_screen", "Back"), ("enter", "run", "Run again"),
                ("s", "seeded", f"Run on a test graph of {SEED}")]
    DEFAULT_CSS = """
    GraphBenchScreen #graph-bench-top { height: 2; }
    GraphBenchScreen #graph-bench-status { width: 1fr; }
    GraphBenchScreen ProgressBar { width: 30; }
    GraphBenchScreen #graph-bench-table { height: 1fr; }
    """

    def __init__(self, run: RunGraphBenchmark, runs: list[GraphBenchRun], queries: int, readonly: bool = False) -> None:
        super().__init__()
        self.run_benchmark = run
        self.runs = runs  # oldest first; the app's record, kept across visits
        self.queries = queries
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with Horizontal(id="graph-bench-top"):
            yield Static("Neo4j queries", id="graph-bench-status")
            yield ProgressBar(total=self.queries, id="graph-bench-progress", show_eta=False)
        yield Static(id="graph-bench-table")
        yield Footer()

    def resting_state(self) -> str:
        return "enter runs again, s on a test graph"

    def start(self) -> None:
        self.bench(0)

    def action_seeded(self) -> None:
        if not self.readonly:
            self.bench(SEED)

    @work(exclusive=True, group="graph-bench", exit_on_error=False)
    async def bench(self, seed: int) -> None:
        step = stepper(self.query_one("#graph-bench-progress", ProgressBar), self.draw)

        self.draw([], f"running{f' on a test graph of {seed} nodes' if seed else ''}…")
        try:
            run = await self.run_benchmark(step, seed)
        except EmptyGraph:
            self.draw([], f"[yellow]the graph is empty: nothing to measure. s: run on a test graph of {SEED} "
                          "nodes (removed after)[/yellow]")
            return
        except Exception as exc:  # noqa: BLE001 - shown on the screen
            self.draw([], f"[red]benchmark failed: {exc}[/red]")
            return
        self.runs.append(run)
        self.draw([], f"done in {run.runs} runs each")

    def draw(self, running: list[QueryPoint], state: str) -> None:
        """The run in progress (if any), then the latest runs: a heading and a row per query."""
        self.query_one("#graph-bench-status", Static).update(f"Neo4j queries: {state}")
        groups: list[tuple[str, list[QueryPoint], str]] = []
        if running:
            groups.append(("this run", running, "bold"))
        for i, run in enumerate(reversed(self.runs[-(EARLIER + 1):])):
            groups.append((run_label(run), list(run.queries), "bold" if i == 0 and not running else "dim"))
        parts: list[Text | Table] = []
        for n, (label, points, style) in enumerate(groups):
            parts.append(Text(("\n" if n else "") + label, style=f"{style} italic", overflow="ellipsis", no_wrap=True))
            table = Table(box=None, expand=False, show_header=n == 0, style=style)
            for name, width in (("query", 14), ("p50 ms", 9), ("p95 ms", 9), ("rows/s", 10), ("rows", 7)):
                table.add_column(name, width=width, justify="left" if name == "query" else "right", no_wrap=True)
            for q in points:
                if q.error:
                    table.add_row(q.label, Text(q.error, style="red", no_wrap=True, overflow="ellipsis"))
                else:
                    table.add_row(q.label, num(q.p50_ms, "{:.2f}"), num(q.p95_ms, "{:.2f}"),
                                  num(q.rows_per_s, "{:.1f}"), str(q.rows) if q.runs else NA)
            parts.append(table)
        self.query_one("#graph-bench-table", Static).update(Group(*parts))
