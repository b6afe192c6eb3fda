"""The service's past jobs, from Slurm accounting (`sacct`): id, state, exit code and signal,
node, partition, start, elapsed, and why each ended. Newest first; it follows the readings as
they come. Where the cluster gives no accounting, it says so."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...backends.accounting import PastJob
from ...readings import Reading
from ..format import STATE_STYLE
from ..messages import ReadingArrived

SOURCE = "accounting"
COLUMNS = ("id", "state", "exit:signal", "node", "partition", "start", "elapsed", "why it ended")


class HistoryScreen(Screen):
    BINDINGS = [("escape,h", "back", "Back")]

    def __init__(self, reading: Reading[list[PastJob]] | None) -> None:
        super().__init__()
        self.reading = reading

    def compose(self) -> ComposeResult:
        yield Static("past jobs", id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name)
        self.show(self.reading)

    @on(ReadingArrived)
    def _arrived(self, message: ReadingArrived) -> None:
        if message.source == SOURCE:
            self.show(message.reading)

    def show(self, reading: Reading[list[PastJob]] | None) -> None:
        self.reading = reading
        title = self.query_one("#history-title", Static)
        jobs = reading.value if reading is not None else None
        if jobs is None:
            why = (reading.note or reading.error) if reading is not None else ""
            title.update(Text(f"past jobs: {why or 'asking sacct…'}", style="dim" if not reading or reading.note
                              else "red"))
            return
        stale = f" · STALE: {reading.error}" if reading.stale else ""
        title.update(f"past jobs of the service from Slurm accounting (sacct): {len(jobs)} runs{stale}")
        table = self.query_one(DataTable)
        table.clear()
        for job in reversed(jobs):
            exit_text = "" if job.exit_code is None else f"{job.exit_code}:{job.signal or 0}"
            table.add_row(job.job_id, Text(job.state_text, style=STATE_STYLE.get(job.state, "")), exit_text,
                          job.node or "-", job.partition, job.start or "-", job.elapsed, job.why)

    def action_back(self) -> None:
        self.app.pop_screen()
