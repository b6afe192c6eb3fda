"""Tunnels: each forward (local port -> node:port), up/down, age, restarts, the last error."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...models import Tunnel
from ...readings import Reading
from ..format import age, grid
from .panel import PanelText, SourcePanel


class TunnelsPanel(SourcePanel):
    source = "tunnels"

    def __init__(self, local: bool = False, **kwargs) -> None:
        super().__init__("Tunnels", **kwargs)
        self.local = local

    def compose(self) -> ComposeResult:
        yield PanelText("local mode: no tunnels" if self.local else "no tunnels", id="tunnel-table")

    def show(self, reading: Reading[list[Tunnel]]) -> None:
        tunnels = reading.value or []
        table = self.query_one("#tunnel-table", PanelText)
        if not any(t.pid or t.error for t in tunnels):
            table.show(Text("closed: press t to open", style="dim"))
            return
        now = self.wallclock()
        table.show(grid([[t.name, f":{t.local_port}→{t.remote_host or '?'}:{t.remote_port}",
                          Text("up", style="bold green") if t.up else Text("down", style="bold red"),
                          age(now - t.started) if t.started else "", f"↻{t.restarts}" if t.restarts else "",
                          t.error[:40]] for t in tunnels]))
