"""The embed server and Neo4j: one panel shape for both (state, detail, charts over time)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ...models import EmbedHealth, Neo4jHealth, ServiceHealth
from ...readings import History, Reading, percentile
from ...units import human_bytes, human_count
from ..format import NA, age, num
from .chart import Line, TimeChart
from .panel import SourcePanel


class ServicePanel(SourcePanel):
    def compose(self) -> ComposeResult:
        yield Static("waiting for endpoints", classes="service-text panel-text")
        yield from self.charts()

    def charts(self) -> list[TimeChart]:
        return [TimeChart("latency", "ms", classes="latency-chart")]

    def show(self, reading: Reading[ServiceHealth]) -> None:
        health = reading.fresh_value
        now = self.wallclock()
        latencies = [p.mean for p in reading.history["latency_ms"].window(300, now)]
        if health is None:
            text = (Text.assemble(("DOWN", "bold red"), f"  {reading.error}") if reading.error
                    else Text(reading.note or "waiting", style="dim"))
        else:
            text = self.describe(health, latencies)
        self.query_one(".service-text", Static).update(text)
        self.draw_charts(reading.history, now)

    def draw_charts(self, history: History, now: float) -> None:
        points = history["latency_ms"].window(86400, now)
        self.query_one(".latency-chart", TimeChart).draw(
            [Line("p50", points, "p50"), Line("p95", points, "p95")], self.window(), now)

    def describe(self, health: ServiceHealth, latencies: list[float]) -> Text:
        raise NotImplementedError


class EmbedPanel(ServicePanel):
    source = "embed"

    def __init__(self, **kwargs) -> None:
        super().__init__("Embed", **kwargs)

    def charts(self) -> list[TimeChart]:
        return super().charts() + [TimeChart("throughput", "per s", classes="rate-chart"),
                                   TimeChart("errors, 429s, queue", "", classes="error-chart")]

    def draw_charts(self, history: History, now: float) -> None:
        super().draw_charts(history, now)
        window, day = self.window(), 86400
        self.query_one(".rate-chart", TimeChart).draw(
            [Line("requests", history["requests"].window(day, now)), Line("texts", history["texts"].window(day, now))],
            window, now)
        self.query_one(".error-chart", TimeChart).draw(
            [Line("5xx/s", history["errors"].window(day, now)), Line("429/s", history["rejected"].window(day, now)),
             Line("queue", history["queue"].window(day, now), "p95")], window, now)

    def describe(self, health: EmbedHealth, latencies: list[float]) -> Text:  # type: ignore[override]
        return Text.assemble(
            ("READY" if health.ready else "NOT READY", "bold green" if health.ready else "bold red"),
            f"  {health.model}  {health.dimension or '?'}d  {health.device}\n",
            f"p50 {num(percentile(latencies, 50), unit=' ms')}  p95 {num(percentile(latencies, 95), unit=' ms')}"
            f"  queue {num(health.queue_depth)}  5xx {num(health.errors)}  429 {num(health.rejected)}")


class Neo4jPanel(ServicePanel):
    source = "neo4j"

    def __init__(self, **kwargs) -> None:
        super().__init__("Neo4j", **kwargs)

    def describe(self, health: Neo4jHealth, latencies: list[float]) -> Text:  # type: ignore[override]
        # Neo4j reports "5.26.0 community"; other Bolt servers only their agent string.
        dbs = f"  dbs: {', '.join(health.databases)}" if health.databases else ""
        dumped = "N/A" if health.last_dump is None else age(self.wallclock() - health.last_dump) + " ago"
        return Text.assemble(("HEALTHY", "bold green"),
                             f"  RETURN 1 in {num(health.latency_ms, '{:.1f}', ' ms')}\n", health.server_label + dbs,
                             f"\n{human_count(health.nodes)} nodes {human_count(health.relationships)} rels"
                             f"  store {human_bytes(health.store_bytes)}",
                             f"\ndump {dumped}  heap {health.heap or NA}  cache {health.pagecache or NA}")
