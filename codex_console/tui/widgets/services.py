"""The embed server and Neo4j: one panel shape for both (status line, detail, latency sparkline)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from ...models import EmbedHealth, Neo4jHealth, ServiceHealth
from ...readings import Reading, percentile
from ..format import num
from .panel import SourcePanel


class ServicePanel(SourcePanel):
    def compose(self) -> ComposeResult:
        yield Static("waiting for endpoints", classes="service-text")
        yield Sparkline([], classes="service-spark")

    def show(self, reading: Reading[ServiceHealth]) -> None:
        health = reading.fresh_value
        latencies = [p.mean for p in reading.history["latency_ms"].window(300, self.wallclock())]
        if health is None:
            text = (Text.assemble(("DOWN", "bold red"), f"  {reading.error}") if reading.error
                    else Text(reading.note or "waiting", style="dim"))
        else:
            text = self.describe(health, latencies)
        self.query_one(".service-text", Static).update(text)
        self.query_one(".service-spark", Sparkline).data = latencies

    def describe(self, health: ServiceHealth, latencies: list[float]) -> Text:
        raise NotImplementedError


class EmbedPanel(ServicePanel):
    source = "embed"

    def __init__(self, **kwargs) -> None:
        super().__init__("Embed", **kwargs)

    def describe(self, health: EmbedHealth, latencies: list[float]) -> Text:  # type: ignore[override]
        return Text.assemble(
            ("READY" if health.ready else "NOT READY", "bold green" if health.ready else "bold red"),
            f"  {health.model}  {health.dimension or '?'}d  {health.device}\n",
            f"p50 {num(percentile(latencies, 50), unit=' ms')}  p95 {num(percentile(latencies, 95), unit=' ms')}"
            f"  req {num(health.requests)}  queue {num(health.queue_depth)}")


class Neo4jPanel(ServicePanel):
    source = "neo4j"

    def __init__(self, **kwargs) -> None:
        super().__init__("Neo4j", **kwargs)

    def describe(self, health: Neo4jHealth, latencies: list[float]) -> Text:  # type: ignore[override]
        # Neo4j reports "5.26.0 community"; other Bolt servers only their agent string.
        label = f"Neo4j {health.version}" if " " in health.version else health.server
        dbs = f"  dbs: {', '.join(health.databases)}" if health.databases else ""
        return Text.assemble(("HEALTHY", "bold green"),
                             f"  RETURN 1 in {num(health.latency_ms, '{:.1f}', ' ms')}\n", label + dbs)
