"""Neo4j: Bolt health, round-trip latency sparkline, version when known."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Sparkline, Static

from ...models import GraphHealth
from ..format import num
from .panel import Panel


class GraphPanel(Panel):
    def __init__(self, **kwargs) -> None:
        super().__init__("Neo4j", **kwargs)

    def compose(self):
        yield Static("waiting for endpoints", id="graph-text")
        yield Sparkline([], id="graph-spark")

    def show(self, health: GraphHealth | None, history: tuple[float, ...], error: str = "",
             note: str = "") -> None:
        text = Text()
        if health is None:
            text.append("DOWN" if error else (note or "waiting"), style="bold red" if error else "dim")
            if error:
                text.append(f"  {error}"[:70])
        else:
            text.append("HEALTHY", style="bold green")
            text.append(f"  RETURN 1 in {num(health.latency_ms, '{:.1f}', ' ms')}\n")
            # Neo4j reports "5.26.0 community"; other Bolt servers only their agent string.
            label = f"Neo4j {health.version}" if " " in health.version else health.server
            text.append(label + (f"  dbs: {', '.join(health.databases)}" if health.databases else ""))
        self.query_one("#graph-text", Static).update(text)
        self.query_one("#graph-spark", Sparkline).data = list(history) or [0]
