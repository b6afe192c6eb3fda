"""The dashboard: jobs, GPUs, embed, Neo4j, tunnels and the status line on one screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header

from ...backends.cluster import Cluster
from ..widgets.embed import EmbedPanel
from ..widgets.gpus import GpuPanel
from ..widgets.graph import GraphPanel
from ..widgets.jobs import JobsTable
from ..widgets.panel import Panel
from ..widgets.status import StatusLine
from ..widgets.tunnels import TunnelsPanel


class DashboardScreen(Screen):
    composed = False  # readings that arrive earlier are drawn by on_mount

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            with Panel("Jobs", id="jobs-panel"):
                yield JobsTable(id="jobs")
            with Grid(id="panels"):
                yield GpuPanel(id="gpu-panel")
                yield EmbedPanel(id="embed-panel")
                yield GraphPanel(id="graph-panel")
                yield TunnelsPanel(id="tunnels-panel")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.composed = True
        for name in ("jobs", "gpu", "embed", "neo4j", "tunnels"):
            self.show_source(name)

    @property
    def cluster(self) -> Cluster:
        return self.app.cluster  # type: ignore[attr-defined]

    def show_source(self, name: str) -> None:
        """Re-render the part of the screen that shows `name`."""
        c, now = self.cluster, self.app.clock()  # type: ignore[attr-defined]
        if name in ("jobs", "endpoints"):
            self.query_one(JobsTable).show(c.jobs.reading.value or [])
            self.query_one("#jobs-panel", Panel).mark(c.jobs.reading, now)
        elif name == "gpu":
            r = c.gpus.reading
            panel = self.query_one(GpuPanel)
            panel.show(r.value, r.history, r.error or r.note)
            panel.mark(r, now)
        elif name in ("embed", "neo4j"):
            source, kind = ((c.embed_health, EmbedPanel) if name == "embed"
                            else (c.graph_health, GraphPanel))
            r = source.reading
            panel = self.query_one(kind)
            panel.show(r.value if not r.stale else None, r.history, r.error, r.note)
            panel.mark(r, now)
        elif name == "tunnels":
            r = c.tunnel_status.reading
            panel = self.query_one(TunnelsPanel)
            panel.show(r.value if not c.cfg.login.local else None, self.app.wallclock())  # type: ignore[attr-defined]
            panel.mark(r, now)
        self.show_status()

    def show_status(self) -> None:
        c = self.cluster
        readings = {s.name: s.reading for s in c.sources}
        note = "read-only" if self.app.readonly else ""  # type: ignore[attr-defined]
        self.query_one(StatusLine).show(readings, self.app.clock(), note)  # type: ignore[attr-defined]
