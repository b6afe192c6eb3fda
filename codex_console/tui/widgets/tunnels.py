"""Tunnels: each forward (local port -> node:port), up/down, age, restarts, the last error."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ...models import Tunnel
from ...readings import Reading
from ..format import age
from .panel import SourcePanel


class TunnelsPanel(SourcePanel):
    source = "tunnels"

    def __init__(self, local: bool = False, **kwargs) -> None:
        super().__init__("Tunnels", **kwargs)
        self.local = local

    def compose(self) -> ComposeResult:
        yield Static("local mode: no tunnels" if self.local else "no tunnels", id="tunnel-table")

    def show(self, reading: Reading[list[Tunnel]]) -> None:
        tunnels = reading.value or []
        table = self.query_one("#tunnel-table", Static)
        if not any(t.pid or t.error for t in tunnels):
            table.update(Text("closed: press t to open", style="dim"))
            return
        now = self.wallclock()
        grid = Table.grid(padding=(0, 1))
        for t in tunnels:
            state = Text("up", style="bold green") if t.up else Text("down", style="bold red")
            grid.add_row(t.name, f":{t.local_port}→{t.remote_host or '?'}:{t.remote_port}", state,
                         age(now - t.started) if t.started else "", f"↻{t.restarts}" if t.restarts else "",
                         t.error[:40])
        table.update(grid)
