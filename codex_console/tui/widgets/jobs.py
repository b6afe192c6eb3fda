"""The service job(s): a table whose rows stay in place; cells are updated, never refilled."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...models import Job
from ..format import STATE_STYLE

COLUMNS = ("id", "state", "elapsed / limit", "node", "partition", "gpus", "reason")


class JobsTable(DataTable):
    DEFAULT_CSS = "JobsTable { height: auto; max-height: 6; }"

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = False
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, jobs: list[Job]) -> None:
        wanted = {j.job_id for j in jobs}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        for job in jobs:
            cells = {
                "id": job.job_id,
                "state": Text(job.state.name, style=STATE_STYLE.get(job.state, "")),
                "elapsed / limit": f"{job.elapsed or '-'} / {job.time_limit or '-'}",
                "node": job.node or "-", "partition": job.partition, "gpus": job.gpus or "-",
                "reason": job.reason or "",
            }
            if job.job_id in {k.value for k in self.rows}:
                for column, value in cells.items():
                    if self.get_cell(job.job_id, column) != value:
                        self.update_cell(job.job_id, column, value)
            else:
                self.add_row(*cells.values(), key=job.job_id)
