"""What every benchmark screen shares: a first visit runs the benchmark (unless read-only) and a
later one shows the record; the progress bar, and the table drawn again with each result as it
comes."""

from __future__ import annotations

from typing import Any, Callable

from textual.screen import Screen
from textual.widgets import ProgressBar


def stepper(bar: ProgressBar, draw: Callable[[list[Any], str], None]) -> Callable[[int, int, Any], None]:
    """The callback a benchmark calls after each measurement (done, total, what it measured)."""
    bar.update(progress=0)
    points: list[Any] = []

    def step(done: int, total: int, point: Any) -> None:
        points.append(point)
        bar.update(total=total, progress=done)
        draw(points, f"running {done}/{total}")

    return step


class BenchmarkScreen(Screen):
    """A benchmark's screen; subclasses say how to start a run, what to say over an earlier run,
    and how to draw (the run in progress, and a state line)."""

    readonly: bool
    runs: list[Any]  # oldest first; the app's record, kept across visits

    def start(self) -> None:
        raise NotImplementedError

    def resting_state(self) -> str:
        """The state line over the record when the screen is shown again."""
        raise NotImplementedError

    def draw(self, running: list[Any], state: str) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        if self.runs:
            self.draw([], self.resting_state())
        elif not self.readonly:
            self.action_run()
        else:
            self.draw([], "read-only: no benchmark")

    def action_run(self) -> None:
        if not self.readonly:
            self.start()
