"""Neo4j: Bolt health, round-trip latency sparkline, version when known."""

from __future__ import annotations

from rich.text import Text

from ...models import GraphHealth
from ..format import num
from .probe import ProbePanel


class GraphPanel(ProbePanel):
    key = "graph"

    def __init__(self, **kwargs) -> None:
        super().__init__("Neo4j", **kwargs)

    def show(self, health: GraphHealth | None, history: tuple[float, ...], error: str = "",
             note: str = "") -> None:
        if health is None:
            return self.draw(self.missing(error, note), history)
        # Neo4j reports "5.26.0 community"; other Bolt servers only their agent string.
        label = f"Neo4j {health.version}" if " " in health.version else health.server
        dbs = f"  dbs: {', '.join(health.databases)}" if health.databases else ""
        text = Text.assemble(("HEALTHY", "bold green"),
                             f"  RETURN 1 in {num(health.latency_ms, '{:.1f}', ' ms')}\n", label + dbs)
        self.draw(text, history)
