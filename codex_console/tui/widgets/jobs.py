"""The service job(s): a table whose rows stay in place; cells are updated, never refilled."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from ...models import Job
from ...readings import Reading
from ..format import STATE_STYLE
from .panel import SourcePanel

COLUMNS = ("id", "state", "elapsed / limit", "left", "node", "partition", "gpus", "reason")


class JobsTable(DataTable):
    DEFAULT_CSS = "JobsTable { height: auto; max-height: 6; }"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, jobs: list[Job]) -> None:
        wanted = {j.job_id for j in jobs}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        present = {k.value for k in self.rows}
        changed = False
        for job in jobs:
            gpus = job.gpus_per_job and f"{job.gpus_per_job}/job" or job.gpus and f"{job.gpus}/node" or "-"
            cells = {
                "id": job.job_id,
                "state": Text(job.state.name, style=STATE_STYLE.get(job.state, "")),
                "elapsed / limit": f"{job.elapsed or '-'} / {job.time_limit or '-'}",
                "left": job.time_left or "-", "node": job.node or "-", "partition": job.partition,
                "gpus": gpus, "reason": job.reason or "",
            }
            if job.job_id in present:
                for column, value in cells.items():
                    if self.get_cell(job.job_id, column) != value:
                        self.update_cell(job.job_id, column, value)
                        changed = True
            else:
                self.add_row(*cells.values(), key=job.job_id)
        if changed:
            self.drop_stale_renders()

    def drop_stale_renders(self) -> None:
        """DataTable keys its render caches by an update counter, so after an update every entry is
        dead but stays until 10,000 cells (and 1,000 rows and lines) have been cached: with the
        elapsed time changing every second that is megabytes of a console left open for days.
        `_clear_caches` is DataTable's own (pyproject pins Textual 8; a test watches the caches)."""
        self._clear_caches()


class JobsPanel(SourcePanel):
    source = "jobs"

    def __init__(self, **kwargs) -> None:
        super().__init__("Jobs", **kwargs)

    def compose(self) -> ComposeResult:
        yield JobsTable(id="jobs")

    def show(self, reading: Reading[list[Job]]) -> None:
        self.query_one(JobsTable).show(reading.value or [])
