"""The dashboard: the job card and events, the jobs, GPUs, embed and Neo4j with their charts,
tunnels and availability, and the status line; it fills any terminal from 80x24 up.

It draws only what it is handed: every ReadingArrived goes to every panel (each keeps the
sources it shows) and to the status line. A source's first reading is drawn at once; later ones
are drawn together every two seconds (a frame), with the status line's ages and the charts'
waiting changes: one screen update a frame at most, however many sources polled in it. (Every
screen update costs the same few milliseconds whatever changed: with one a second, an idle
console used 1.1% of a core; with one every two, 0.9%.)
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Header

from ...backends.sources import SOURCE_NAMES
from ...readings import Reading
from ..messages import ReadingArrived
from ..widgets.availability import AvailabilityPanel
from ..widgets.catalogue import ServicesPanel
from ..widgets.chart import TimeChart
from ..widgets.embed import EmbedPanel
from ..widgets.events import EventsPane
from ..widgets.gpus import GpuPanel
from ..widgets.job_card import JobCard
from ..widgets.jobs import JobsPanel
from ..widgets.panel import SourcePanel
from ..widgets.services import Neo4jPanel
from ..widgets.status import StatusLine
from ..widgets.tunnels import TunnelsPanel

COMPACT_HEIGHT = 32  # below this, charts give way to text
NARROW_WIDTH = 120
FRAME = 2.0  # seconds between two drawings of what came in


class DashboardScreen(Screen):
    def __init__(self, *, local: bool = False, note: str = "") -> None:
        super().__init__()
        self.local = local
        self.note = note
        self.pending: dict[str, Reading] = {}  # the newest reading of each source not drawn yet
        self.drawn: set[str] = set()  # sources drawn at least once
        self.panels: list[SourcePanel] = []  # found at mount: they stay for the screen's life
        self.charts: list[TimeChart] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            with Horizontal(id="top"):
                yield JobCard(id="job-card")
                yield EventsPane(id="events")
            yield JobsPanel(id="jobs-panel")
            with Grid(id="charts"):
                yield GpuPanel(id="gpu-panel")
                yield EmbedPanel(id="embed-panel")
                yield Neo4jPanel(id="neo4j-panel")
            with Horizontal(id="bottom"):
                yield ServicesPanel(id="services-panel")
                yield TunnelsPanel(local=self.local, id="tunnels-panel")
                yield AvailabilityPanel(id="availability-panel")
        yield StatusLine(note=self.note, order=SOURCE_NAMES, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.panels = list(self.query(SourcePanel))
        self.charts = list(self.query(TimeChart))
        for source, reading in getattr(self.app, "readings", {}).items():
            self.show(source, reading)
        self.set_interval(FRAME, self.draw_frame)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.height < COMPACT_HEIGHT, "-compact")
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    @on(ReadingArrived)
    def _arrived(self, message: ReadingArrived) -> None:
        if message.source in self.drawn:
            self.pending[message.source] = message.reading
        else:
            self.show(message.source, message.reading)

    def draw_frame(self) -> None:
        """Everything that came in since the last frame, the status line's ages, and the charts'
        changes whose time has come, in one screen update."""
        pending, self.pending = self.pending, {}
        for source, reading in pending.items():
            self.show(source, reading)
        self.query_one(StatusLine).tick()
        for chart in self.charts:
            chart.draw_due()

    def show(self, source: str, reading: Reading) -> None:
        self.drawn.add(source)
        for panel in self.panels:
            panel.receive(source, reading)
        self.query_one(StatusLine).show(source, reading)
