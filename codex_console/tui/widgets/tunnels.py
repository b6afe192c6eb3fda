"""Tunnels: each forward (local port -> node:port), up/down, pid, age, last check."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...models import Tunnel
from ..format import age
from .panel import Panel


class TunnelsPanel(Panel):
    def __init__(self, **kwargs) -> None:
        super().__init__("Tunnels", **kwargs)

    def compose(self):
        yield Static("no tunnels", id="tunnel-table")

    def show(self, tunnels: list[Tunnel] | None, now: float | None = None) -> None:
        now = now or time.time()
        if not tunnels:
            self.query_one("#tunnel-table", Static).update(Text("local mode: no tunnels", style="dim"))
            return
        grid = Table.grid(padding=(0, 1))
        for t in tunnels:
            state = Text("up", style="bold green") if t.up else Text(
                "down" if t.pid else "closed", style="bold red" if t.pid else "dim")
            target = f"{t.remote_host or '?'}:{t.remote_port}"
            grid.add_row(t.name, f":{t.local_port}→{target}", state, f"pid {t.pid}" if t.pid else "",
                         age(now - t.started) if t.started else "", t.error[:30])
        self.query_one("#tunnel-table", Static).update(grid)
