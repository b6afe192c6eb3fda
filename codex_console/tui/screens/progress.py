"""A benchmark's progress, the same on every benchmark screen: the bar, and the table drawn again
with each result as it comes."""

from __future__ import annotations

from typing import Any, Callable

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
