"""Neo4j (and any one-endpoint service): its state and detail, and its latency over the chart
window; the text's figures and the chart are read from the same window of points."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...models import Neo4jHealth, ServiceHealth
from ...readings import Point, Reading, spread
from ...units import human_bytes, human_count
from ..format import NA, age, num
from .chart import Line, TimeChart
from .panel import PanelText, SourcePanel


class ServicePanel(SourcePanel):
    def compose(self) -> ComposeResult:
        yield PanelText("waiting for endpoints", classes="service-text panel-text")
        yield TimeChart("latency", "ms", classes="latency-chart")

    def show(self, reading: Reading[ServiceHealth]) -> None:
        health = reading.fresh_value
        now, window = self.wallclock(), self.window()
        points = reading.history["latency_ms"].window(window, now)
        if health is None:
            text = (Text.assemble(("DOWN", "bold red"), f"  {reading.error}") if reading.error
                    else Text(reading.note or "waiting", style="dim"))
        else:
            text = self.describe(health, points)
        self.query_one(".service-text", PanelText).show(text)
        self.query_one(".latency-chart", TimeChart).draw(
            [Line("p50", points, "p50"), Line("p95", points, "p95")], window, now)

    def describe(self, health: ServiceHealth, points: list[Point]) -> Text:
        raise NotImplementedError


class Neo4jPanel(ServicePanel):
    source = "neo4j"

    def __init__(self, **kwargs) -> None:
        super().__init__("Neo4j", **kwargs)

    def describe(self, health: Neo4jHealth, points: list[Point]) -> Text:  # type: ignore[override]
        # Neo4j reports "5.26.0 community"; other Bolt servers only their agent string.
        dbs = f"  dbs: {', '.join(health.databases)}" if health.databases else ""
        p50, p95 = spread(points)
        dumped = "N/A" if health.last_dump is None else age(self.wallclock() - health.last_dump) + " ago"
        return Text.assemble(("HEALTHY", "bold green"),
                             f"  RETURN 1 in {num(health.latency_ms, '{:.1f}', ' ms')}"
                             f"  p50 {num(p50, '{:.1f}')} p95 {num(p95, '{:.1f}', ' ms')}\n", health.server_label + dbs,
                             f"\n{human_count(health.nodes)} nodes {human_count(health.relationships)} rels"
                             f"  store {human_bytes(health.store_bytes)}",
                             f"\ndump {dumped}  heap {health.heap or NA}  cache {health.pagecache or NA}")
