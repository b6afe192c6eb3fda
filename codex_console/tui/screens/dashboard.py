"""The dashboard: jobs, GPUs, embed, Neo4j, tunnels and the status line on one screen.

It draws only what it is handed: each ReadingArrived goes to the panels of that source and to
the status line.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header

from ...readings import Reading
from ..messages import ReadingArrived
from ..widgets.gpus import GpuPanel
from ..widgets.jobs import JobsPanel
from ..widgets.panel import SourcePanel
from ..widgets.services import EmbedPanel, Neo4jPanel
from ..widgets.status import StatusLine
from ..widgets.tunnels import TunnelsPanel


class DashboardScreen(Screen):
    def __init__(self, *, local: bool = False, note: str = "") -> None:
        super().__init__()
        self.local = local
        self.note = note

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            yield JobsPanel(id="jobs-panel")
            with Grid(id="panels"):
                yield GpuPanel(id="gpu-panel")
                yield EmbedPanel(id="embed-panel")
                yield Neo4jPanel(id="neo4j-panel")
                yield TunnelsPanel(local=self.local, id="tunnels-panel")
        yield StatusLine(note=self.note, id="status")
        yield Footer()

    def on_mount(self) -> None:
        for source, reading in getattr(self.app, "readings", {}).items():
            self.show(source, reading)

    @on(ReadingArrived)
    def _arrived(self, message: ReadingArrived) -> None:
        self.show(message.source, message.reading)

    def show(self, source: str, reading: Reading) -> None:
        for panel in self.query(SourcePanel):
            if panel.source == source:
                panel.reading = reading
        self.query_one(StatusLine).show(source, reading)
